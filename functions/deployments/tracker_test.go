package deployments_test

// The client half of this test mirrors github/deployment-tracker's
// pkg/deploymentrecord (client.go, record.go) and the start-up sequence of
// its controller (internal/controller/reporting.go: processSyncEvents,
// makeSyncRecords, buildRecord, recordContainer) at commit 1a3f2f4
// (MIT licence): the same URLs, bodies, headers, status handling and job
// polling, so runtimelink is driven exactly as the tracker drives GitHub.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/functions/deployments"
	syncfn "github.com/runtimelink/runtimelink/functions/sync"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

// trackerBaseRecord is deploymentrecord.BaseRecord.
type trackerBaseRecord struct {
	Name           string            `json:"name"`
	Digest         string            `json:"digest"`
	Version        string            `json:"version,omitempty"`
	Status         string            `json:"status"`
	DeploymentName string            `json:"deployment_name"`
	RuntimeRisks   []string          `json:"runtime_risks,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
}

// trackerRecord is deploymentrecord.Record.
type trackerRecord struct {
	trackerBaseRecord
	LogicalEnvironment  string `json:"logical_environment"`
	PhysicalEnvironment string `json:"physical_environment"`
	Cluster             string `json:"cluster"`
}

// trackerJobResponse, trackerJobError and trackerJobStatus are
// deploymentrecord.JobResponse, JobError and JobStatus.
type trackerJobResponse struct {
	JobID  int64             `json:"job_id"`
	Errors []trackerJobError `json:"errors,omitempty"`
}

type trackerJobError struct {
	Name  string `json:"name"`
	Cause string `json:"cause"`
}

type trackerJobStatus struct {
	JobID      int64             `json:"job_id"`
	Status     string            `json:"status"`
	StartedAt  string            `json:"started_at,omitempty"`
	TotalCount int               `json:"total_count,omitempty"`
	Errors     []trackerJobError `json:"errors,omitempty"`
}

// The client's error kinds (ClientError, NoArtifactError,
// ClusterJobConflictError, ClusterNoRepositoriesError).
var (
	errClient       = errors.New("client error")
	errNoArtifact   = errors.New("no artifact found")
	errJobConflict  = errors.New("cluster job conflict")
	errNoClusterAPI = errors.New("async endpoint not available")
)

// trackerClient is deploymentrecord.Client with an API token (no GitHub
// App), its default 5 s timeout and 3 retries, the throttler left out.
type trackerClient struct {
	baseURL, org, token string
	http                *http.Client
	retries             int
	// pollDelay is WaitForClusterJob's initial delay (2 s in the tracker).
	pollDelay time.Duration
	// last404 is the body of the last 404, for the test to read.
	last404 string
}

func newTrackerClient(baseURL, org, token string) *trackerClient {
	return &trackerClient{baseURL: baseURL, org: org, token: token, http: &http.Client{Timeout: 5 * time.Second},
		retries: 3, pollDelay: 2 * time.Second}
}

// PostOne is Client.PostOne: the record with return_records false.
func (c *trackerClient) PostOne(ctx context.Context, r *trackerRecord) error {
	u := fmt.Sprintf("%s/orgs/%s/artifacts/metadata/deployment-record", c.baseURL, c.org)
	body, _ := json.Marshal(struct {
		trackerRecord
		ReturnRecords bool `json:"return_records"`
	}{*r, false})
	resp, status, err := c.do(ctx, http.MethodPost, u, body)
	switch {
	case errors.Is(err, errClient):
		return err
	case status >= 200 && status < 300:
		return nil
	case status == 404:
		c.last404 = string(resp)
		return errNoArtifact
	default:
		return fmt.Errorf("all retries exhausted: %w", err)
	}
}

// CreateClusterJob is Client.CreateClusterJob: the ClusterRecordsBody with
// partial_success true, environments from the first record.
func (c *trackerClient) CreateClusterJob(ctx context.Context, records []*trackerRecord, cluster string) (*trackerJobResponse, error) {
	u := fmt.Sprintf("%s/orgs/%s/artifacts/metadata/deployment-record/cluster/%s/jobs", c.baseURL, c.org, url.PathEscape(cluster))
	deps := make([]trackerBaseRecord, 0, len(records))
	for _, r := range records {
		deps = append(deps, r.trackerBaseRecord)
	}
	body, _ := json.Marshal(struct {
		LogicalEnvironment  string              `json:"logical_environment"`
		PhysicalEnvironment string              `json:"physical_environment"`
		PartialSuccess      bool                `json:"partial_success"`
		Deployments         []trackerBaseRecord `json:"deployments"`
	}{records[0].LogicalEnvironment, records[0].PhysicalEnvironment, true, deps})
	resp, status, err := c.do(ctx, http.MethodPost, u, body)
	switch {
	case status == 409:
		return nil, errJobConflict
	case status == 404:
		c.last404 = string(resp)
		return nil, errNoClusterAPI
	case err != nil:
		return nil, fmt.Errorf("cluster job creation failed: %w", err)
	case status >= 200 && status < 300:
		var jr trackerJobResponse
		if err := json.Unmarshal(resp, &jr); err != nil {
			return nil, fmt.Errorf("failed to parse job response: %w", err)
		}
		return &jr, nil
	default:
		return nil, fmt.Errorf("unexpected status code %d", status)
	}
}

// GetClusterJobStatus is Client.GetClusterJobStatus.
func (c *trackerClient) GetClusterJobStatus(ctx context.Context, cluster string, jobID int64) (*trackerJobStatus, error) {
	u := fmt.Sprintf("%s/orgs/%s/artifacts/metadata/deployment-record/cluster/%s/jobs/%d", c.baseURL, c.org, url.PathEscape(cluster), jobID)
	resp, status, err := c.do(ctx, http.MethodGet, u, nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("failed to get job status: %w", err)
	case status == 404:
		return nil, fmt.Errorf("job %d not found", jobID)
	case status >= 200 && status < 300:
		var s trackerJobStatus
		if err := json.Unmarshal(resp, &s); err != nil {
			return nil, fmt.Errorf("failed to parse job status: %w", err)
		}
		return &s, nil
	default:
		return nil, fmt.Errorf("unexpected status code %d", status)
	}
}

// WaitForClusterJob is Client.WaitForClusterJob: poll until completed or
// failed, the delay doubling up to 30 s.
func (c *trackerClient) WaitForClusterJob(ctx context.Context, cluster string, jobID int64) (*trackerJobStatus, int, error) {
	for attempt := 0; ; attempt++ {
		s, err := c.GetClusterJobStatus(ctx, cluster, jobID)
		if err != nil {
			return nil, attempt + 1, fmt.Errorf("polling job %d: %w", jobID, err)
		}
		if s.Status == "completed" || s.Status == "failed" {
			return s, attempt + 1, nil
		}
		delay := time.Duration(math.Min(float64(c.pollDelay)*math.Pow(2, float64(attempt)), float64(30*time.Second)))
		select {
		case <-ctx.Done():
			return nil, attempt + 1, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// do is Client.doWithRetry without the rate-limit waits: 2xx, 404 and 409
// end it; another 4xx is a client error unless it says rate limited;
// 5xx and transport errors are retried with backoff.
func (c *trackerClient) do(ctx context.Context, method, u string, body []byte) ([]byte, int, error) {
	var lastErr error
	for attempt := range c.retries + 1 {
		if attempt > 0 {
			time.Sleep(time.Duration(math.Pow(2, float64(attempt))) * 100 * time.Millisecond)
		}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, 0, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("User-Agent", "GitHub-Deployment-Tracker")
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("request failed: %w", err)
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300, resp.StatusCode == 404, resp.StatusCode == 409:
			return b, resp.StatusCode, nil
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			if resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-Ratelimit-Remaining") == "0" {
				lastErr = fmt.Errorf("rate limited, attempt %d", attempt)
				continue
			}
			return b, resp.StatusCode, fmt.Errorf("%w: status %d: %s", errClient, resp.StatusCode, b)
		default:
			lastErr = fmt.Errorf("server error, attempt %d", attempt)
		}
	}
	return nil, 0, lastErr
}

// pod is what buildRecord reads of a running pod's container.
type pod struct {
	namespace, workload, container, image, digest string
	risks                                         []string
	tags                                          map[string]string
}

// record is Controller.buildRecord with the default template
// "{{namespace}}/{{deploymentName}}/{{containerName}}" and
// ociutil.ExtractName (image name without tag, the tag as version).
func (p pod) record(status, logicalEnv, physicalEnv, cluster string) *trackerRecord {
	name, version := p.image, ""
	if i := strings.LastIndex(p.image, ":"); i > strings.LastIndex(p.image, "/") {
		name, version = p.image[:i], p.image[i+1:]
	}
	return &trackerRecord{
		trackerBaseRecord: trackerBaseRecord{Name: name, Digest: p.digest, Version: version, Status: status,
			DeploymentName: p.namespace + "/" + p.workload + "/" + p.container, RuntimeRisks: p.risks, Tags: p.tags},
		LogicalEnvironment: logicalEnv, PhysicalEnvironment: physicalEnv, Cluster: cluster,
	}
}

// appHost is the Functions host in front of the handler: it forwards every
// request (its original path; every route spells its "api/") and runs the sync queue's
// messages through the sync function, as the queue trigger does, while
// running is set.
type appHost struct {
	t       *testing.T
	handler http.Handler
	sync    *inventorytest.Sync
	mu      gosync.Mutex
	done    int
	seq     int
	hold    chan struct{} // closed: messages run
}

func (h *appHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seq++
	id := fmt.Sprint("inv-", h.seq)
	h.mu.Unlock()
	r.Header.Set(invocationtest.HeaderInvocationID, id)
	h.handler.ServeHTTP(w, r)
}

// pump delivers queued cluster-job messages to the sync function.
func (h *appHost) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.hold:
		}
		reqs := h.sync.Requests(queue.KindClusterJob)
		h.mu.Lock()
		next := reqs[min(h.done, len(reqs)):]
		h.done += len(next)
		h.mu.Unlock()
		for _, req := range next {
			body, _ := json.Marshal(req)
			for dequeue := 1; dequeue <= syncfn.MaxDequeueCount; dequeue++ {
				rec := httptest.NewRecorder()
				h.handler.ServeHTTP(rec, invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, body, dequeue).Request(syncfn.Function, "inv-q"))
				if rec.Code == http.StatusOK {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestDeploymentTrackerStartup drives runtimelink with deployment-tracker's
// start-up sequence: the cluster job with every running pod, polling it
// to its end, a second tracker refused with 409 while a job is pending,
// then single records for a new pod, a deleted workload and an invalid
// record, checking each answer against what GitHub gives.
func TestDeploymentTrackerStartup(t *testing.T) {
	store, _ := inventorytest.Store(t)
	sy := &inventorytest.Sync{}
	d := inventorytest.Deps(t, store, sy)
	srv := invocation.NewServer(nil)
	deployments.Register(srv, d)
	syncfn.Register(srv, d)
	host := &appHost{t: t, handler: srv.Handler(), sync: sy, hold: make(chan struct{})}
	ts := httptest.NewServer(host)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go host.pump(ctx)

	const (
		logical, physical, cluster = "production", "eastus", "aks-prod-eus"
	)
	digest := func(n int) string { return fmt.Sprintf("sha256:%064x", n) }
	running := []pod{
		{"shop", "checkout", "api", "octoacr.azurecr.io/checkout-api:1.4.2", digest(1), []string{"internet-exposed"}, map[string]string{"team": "payments"}},
		{"shop", "checkout", "sidecar", "docker.io/envoyproxy/envoy:v1.30.1", digest(2), nil, nil},
		{"batch", "report", "worker", "octoacr.azurecr.io/report-worker:0.9.0", digest(3), []string{"sensitive-data"}, map[string]string{"team": "data"}},
	}
	var snapshot []*trackerRecord
	for _, p := range running {
		snapshot = append(snapshot, p.record("deployed", logical, physical, cluster))
	}
	client := newTrackerClient(ts.URL+"/api", "octo-org", inventorytest.Token)

	// processSyncEvents: CreateClusterJob. The queue is held, so the job
	// stays pending and a second tracker of the same cluster is refused.
	jr, err := client.CreateClusterJob(ctx, snapshot, cluster)
	if err != nil || jr.JobID <= 0 || len(jr.Errors) != 0 {
		t.Fatalf("CreateClusterJob = %+v, %v", jr, err)
	}
	st, err := client.GetClusterJobStatus(ctx, cluster, jr.JobID)
	if err != nil || st.Status != "pending" || st.JobID != jr.JobID || st.StartedAt != "" {
		t.Errorf("status before the queue ran = %+v, %v", st, err)
	}
	if _, err := newTrackerClient(ts.URL+"/api", "octo-org", inventorytest.Token).CreateClusterJob(ctx, snapshot, cluster); !errors.Is(err, errJobConflict) {
		t.Errorf("second tracker's job = %v, want the 409 conflict", err)
	}
	// Another cluster's job is not blocked.
	if _, err := client.CreateClusterJob(ctx, snapshot[:1], "aks-other"); err != nil {
		t.Errorf("job for another cluster: %v", err)
	}

	// WaitForClusterJob polls until the queue has run it.
	close(host.hold)
	start := time.Now()
	final, polls, err := client.WaitForClusterJob(ctx, cluster, jr.JobID)
	if err != nil || final.Status != "completed" || final.TotalCount != len(snapshot) || len(final.Errors) != 0 || final.JobID != jr.JobID {
		t.Fatalf("WaitForClusterJob = %+v, %v", final, err)
	}
	if at, err := time.Parse(time.RFC3339, final.StartedAt); err != nil || at.After(time.Now()) {
		t.Errorf("started_at %q: %v", final.StartedAt, err)
	}
	t.Logf("job completed after %d polls, %v", polls, time.Since(start).Round(time.Millisecond))
	for _, p := range running {
		r := p.record("deployed", logical, physical, cluster)
		id := model.DeploymentWorkloadID("octo-org", logical, physical, cluster, r.DeploymentName)
		w, err := store.Workloads.Get(ctx, cluster, id)
		if err != nil || w.Status != model.WorkloadRunning || w.Digest != p.digest || w.Version != r.Version || !w.Production {
			t.Errorf("%s: workload %+v, %v", r.DeploymentName, w, err)
		}
	}
	// A new job for the cluster is accepted once the last one ended.
	jr2, err := client.CreateClusterJob(ctx, snapshot, cluster)
	if err != nil {
		t.Fatalf("job after the first completed: %v", err)
	}
	if final, _, err = client.WaitForClusterJob(ctx, cluster, jr2.JobID); err != nil || final.Status != "completed" {
		t.Errorf("second job = %+v, %v", final, err)
	}
	// A job id of another cluster, or unknown, is 404 (the client: "job not found").
	if _, err := client.GetClusterJobStatus(ctx, "aks-other", jr.JobID); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("job of another cluster: %v", err)
	}

	// Informer events after start-up: recordContainer → PostOne.
	added := pod{"shop", "cart", "api", "octoacr.azurecr.io/cart:2.0.0", digest(4), nil, map[string]string{"team": "payments"}}
	if err := client.PostOne(ctx, added.record("deployed", logical, physical, cluster)); err != nil {
		t.Errorf("PostOne new pod: %v", err)
	}
	if err := client.PostOne(ctx, running[2].record("decommissioned", logical, physical, cluster)); err != nil {
		t.Errorf("PostOne decommissioned: %v", err)
	}
	gone, _ := store.Workloads.Get(ctx, cluster, model.DeploymentWorkloadID("octo-org", logical, physical, cluster, "batch/report/worker"))
	if gone == nil || gone.Status != model.WorkloadGone {
		t.Errorf("decommissioned workload = %+v", gone)
	}
	// GitHub refuses a 101-character tag value with 422: a ClientError,
	// not retried.
	bad := added
	bad.workload, bad.tags = "bad", map[string]string{"team": strings.Repeat("x", 101)}
	if err := client.PostOne(ctx, bad.record("deployed", logical, physical, cluster)); !errors.Is(err, errClient) || !strings.Contains(err.Error(), "422") {
		t.Errorf("PostOne invalid: %v", err)
	}
	// A base URL without /api (or with /api/v3): the tracker reads the 404
	// as "no artifact"; the body says which base URL to set.
	for _, base := range []string{ts.URL, ts.URL + "/api/v3"} {
		wrong := newTrackerClient(base, "octo-org", inventorytest.Token)
		if err := wrong.PostOne(ctx, added.record("deployed", logical, physical, cluster)); !errors.Is(err, errNoArtifact) ||
			!strings.Contains(wrong.last404, "BASE_URL="+ts.URL+"/api") {
			t.Errorf("BASE_URL=%s: %v, body %s", base, err, wrong.last404)
		}
	}
}

// TestClusterJobSurvivesRestart: a job accepted by one handler process is
// run from its queue message by another (the first gone), whose status
// endpoint answers it; a job whose message keeps failing is retried by the
// queue and answers failed after the host's last attempt.
func TestClusterJobSurvivesRestart(t *testing.T) {
	store, _ := inventorytest.Store(t)
	sy := &inventorytest.Sync{}
	newHandler := func() http.Handler {
		srv := invocation.NewServer(nil)
		d := inventorytest.Deps(t, store, sy)
		deployments.Register(srv, d)
		syncfn.Register(srv, d)
		return srv.Handler()
	}
	call := func(h http.Handler, method, path, body string) (int, map[string]any) {
		req := invocationtest.ForwardedRequest(method, path, strings.NewReader(body), "inv")
		req.Header.Set("Authorization", bearer)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	first := newHandler()
	status, body := call(first, http.MethodPost, cluster+"aks-1/jobs", clusterBody(300, "staging"))
	if status != http.StatusAccepted || body["job_id"] == nil || !reflect.DeepEqual(body["errors"], []any{}) {
		t.Fatalf("create: %d %v", status, body)
	}
	jobPath := fmt.Sprintf("%saks-1/jobs/%d", cluster, int64(body["job_id"].(float64)))
	msgs := sy.Requests(queue.KindClusterJob)
	if len(msgs) != 1 {
		t.Fatalf("queued = %+v", msgs)
	}
	second := newHandler() // the first process is gone; state is in Cosmos DB and the queue
	if status, body = call(second, http.MethodGet, jobPath, ""); status != 200 || body["status"] != "pending" {
		t.Errorf("status after restart: %d %v", status, body)
	}
	msg, _ := json.Marshal(msgs[0])
	if r := invocationtest.Invoke(t, second, syncfn.Function, "inv-q", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, msg, 1)); r.Status != 200 {
		t.Fatalf("run: %d %v", r.Status, r.Logs)
	}
	if status, body = call(second, http.MethodGet, jobPath, ""); status != 200 || body["status"] != "completed" || body["total_count"] != float64(300) {
		t.Errorf("status after run: %d %v", status, body)
	}
	// Redelivered (the host lost the completion): nothing runs twice.
	if r := invocationtest.Invoke(t, second, syncfn.Function, "inv-q", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, msg, 2)); r.Status != 200 {
		t.Errorf("redelivery: %d %v", r.Status, r.Logs)
	}

	// A job whose deployments cannot be read fails every attempt: the
	// queue retries it, and the last attempt marks it failed.
	status, body = call(second, http.MethodPost, cluster+"aks-2/jobs", clusterBody(3, "staging"))
	if status != http.StatusAccepted {
		t.Fatalf("create: %d %v", status, body)
	}
	id := int64(body["job_id"].(float64))
	part := model.ClusterJobPartID(id, 0)
	if err := store.JobParts.Delete(context.Background(), part, part); err != nil {
		t.Fatal(err)
	}
	msg, _ = json.Marshal(sy.Requests(queue.KindClusterJob)[1])
	jobPath = fmt.Sprintf("%saks-2/jobs/%d", cluster, id)
	for dequeue := 1; dequeue <= syncfn.MaxDequeueCount; dequeue++ {
		r := invocationtest.Invoke(t, second, syncfn.Function, "inv-q", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, msg, dequeue))
		_, body = call(second, http.MethodGet, jobPath, "")
		switch {
		case dequeue < syncfn.MaxDequeueCount && (r.Status == 200 || body["status"] != "in_progress"):
			t.Errorf("attempt %d: %d, job %v; want a failed invocation and the job in progress", dequeue, r.Status, body)
		case dequeue == syncfn.MaxDequeueCount && (r.Status != 200 || body["status"] != "failed"):
			t.Errorf("last attempt: %d, job %v; want the job failed", r.Status, body)
		}
	}
	// The failed job frees its slot.
	if status, _ = call(second, http.MethodPost, cluster+"aks-2/jobs", clusterBody(3, "staging")); status != http.StatusAccepted {
		t.Errorf("job after a failed one: %d", status)
	}
}

// TestClusterRequestNeverLeftHalfStored cuts the store off midway through
// a synchronous cluster request of 1,000 deployments (as a dropped
// emulator connection did, leaving 436 stored and a 500): the request
// answers 500, and the job it queued first completes the set.
func TestClusterRequestNeverLeftHalfStored(t *testing.T) {
	store, cnt := inventorytest.Store(t)
	sy := &inventorytest.Sync{}
	srv := invocation.NewServer(nil)
	d := inventorytest.Deps(t, store, sy)
	deployments.Register(srv, d)
	syncfn.Register(srv, d)
	h := srv.Handler()

	stop := make(chan struct{})
	cut := make(chan int64, 1)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if n := cnt.Counts().Writes; n >= 700 {
				cnt.Fail(true)
				cut <- n
				return
			}
		}
	}()
	req := invocationtest.ForwardedRequest(http.MethodPost, cluster+"aks-big", strings.NewReader(clusterBody(1000, "production")), "inv")
	req.Header.Set("Authorization", bearer)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	close(stop)
	cnt.Fail(false)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d with the store cut off midway: %s", rec.Code, rec.Body.String()[:min(200, rec.Body.Len())])
	}
	t.Logf("store cut off after %d writes", <-cut)
	count := func() int {
		n := 0
		if err := store.Workloads.Query(context.Background(), cosmos.Query{SQL: "SELECT * FROM c", PartitionKey: "aks-big"}, func(*model.Workload) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n >= 1000 {
		t.Fatalf("%d workloads stored before the cut; the test cut nothing", n)
	}
	msgs := sy.Requests(queue.KindClusterJob)
	if len(msgs) != 1 || msgs[0].Cluster != "aks-big" {
		t.Fatalf("queued = %+v", msgs)
	}
	all, delays := sy.Requests(""), sy.Delays()
	for k := range all {
		if all[k].Kind == queue.KindClusterJob && (k >= len(delays) || delays[k] != deployments.RecoveryDelay) {
			t.Errorf("job queued with delays %v, want %v", delays, deployments.RecoveryDelay)
		}
	}
	body, _ := json.Marshal(msgs[0])
	if r := invocationtest.Invoke(t, h, syncfn.Function, "inv-q", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, body, 1)); r.Status != 200 {
		t.Fatalf("queued job: %d %v", r.Status, r.Logs)
	}
	if n := count(); n != 1000 {
		t.Errorf("%d of 1000 stored after the queued job ran", n)
	}
}
