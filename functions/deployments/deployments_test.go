package deployments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/functions/api"
	"github.com/runtimelink/runtimelink/functions/deployments"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

const (
	single  = "/api/orgs/octo-org/artifacts/metadata/deployment-record"
	cluster = "/api/orgs/octo-org/artifacts/metadata/deployment-record/cluster/"
	bearer  = "Bearer " + inventorytest.Token
	// GitHub's own examples (docs.github.com/rest/orgs/artifact-metadata).
	docsSingle = `{
  "name": "awesome-image",
  "digest": "sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
  "status": "deployed",
  "logical_environment": "prod",
  "physical_environment": "pacific-east",
  "cluster": "moda-1",
  "deployment_name": "deployment-pod",
  "tags": {
    "data-access": "sensitive"
  }
}`
	docsCluster = `{
  "logical_environment": "prod",
  "physical_environment": "pacific-east",
  "deployments": [
    {
      "name": "awesome-image",
      "digest": "sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
      "version": "2.1.0",
      "status": "deployed",
      "deployment_name": "deployment-pod",
      "tags": {
        "owning-team": "platform"
      },
      "runtime_risks": [
        "sensitive-data"
      ]
    }
  ]
}`
)

type env struct{ *inventorytest.Function }

func newEnv(t testing.TB) *env { t.Helper(); return &env{inventorytest.Serve(t, deployments.Register)} }

func (e *env) post(t *testing.T, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req := invocationtest.ForwardedRequest(http.MethodPost, path, strings.NewReader(body), "inv-1")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer %d is not JSON: %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	return rec.Code, out
}

func sample(t *testing.T, key string) string {
	t.Helper()
	var all map[string]json.RawMessage
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &all); err != nil {
		t.Fatal(err)
	}
	return string(all[key])
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, auth string
		status     int
		message    string
	}{
		{"no header", "", 401, "Requires authentication"},
		{"empty bearer", "Bearer ", 401, "Requires authentication"},
		{"basic scheme", "Basic " + inventorytest.Token, 401, "Requires authentication"},
		{"wrong token", "Bearer not-the-token", 401, "Bad credentials"},
		{"token prefix only", "Bearer " + inventorytest.Token[:5], 401, "Bad credentials"},
		{"token longer", bearer + "x", 401, "Bad credentials"},
		{"bearer", bearer, 200, ""},
		{"token scheme, lower case", "token " + inventorytest.Token, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(t, single, tc.auth, docsSingle)
			if status != tc.status || (tc.message != "" && body["message"] != tc.message) {
				t.Errorf("%d %v, want %d %q", status, body, tc.status, tc.message)
			}
			if status == 401 && (body["status"] != "401" || body["documentation_url"] == nil) {
				t.Errorf("401 body = %v", body)
			}
		})
	}
	if n := e.Counter.Counts(); n.Total() == 0 {
		t.Error("the accepted requests stored nothing")
	}
}

func TestRejectedRequestsStoreNothing(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, path, body string
		status           int
		fields           []string // fields the 422 names
	}{
		{"not JSON", single, `{"name": "x",`, 400, nil},
		{"not an object", single, `["x"]`, 400, nil},
		{"missing fields", single, `{"name":"x"}`, 422, []string{"digest", "status", "logical_environment", "deployment_name"}},
		{"bad digest and risk", single, strings.Replace(strings.Replace(docsSingle, `"sha256:1bb1`, `"sha256:XYZ`, 1),
			`"tags"`, `"runtime_risks":["internet-exposed","internet-exposure"],"tags"`, 1), 422, []string{"digest", "runtime_risks"}},
		{"wrong type", single, strings.Replace(docsSingle, `"deployed"`, `42`, 1), 422, []string{"status"}},
		{"github_repository with owner", single, strings.Replace(docsSingle, `"tags"`, `"github_repository":"octo-org/app","tags"`, 1), 422, []string{"github_repository"}},
		{"cluster entry", cluster + "aks-1", `{"logical_environment":"prod","deployments":[{"name":"a","digest":"sha256:00"}]}`, 422,
			[]string{"deployments[0].digest", "deployments[0].deployment_name"}},
		{"cluster without deployments", cluster + "aks-1", `{"logical_environment":"prod"}`, 422, []string{"deployments"}},
		{"bad cluster name", cluster + "aks%20one", docsCluster, 422, []string{"cluster"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.post(t, tc.path, bearer, tc.body)
			if status != tc.status {
				t.Fatalf("status %d %v, want %d", status, body, tc.status)
			}
			if tc.status == 400 && (body["message"] != "Problems parsing JSON" || body["status"] != "400") {
				t.Errorf("400 body = %v", body)
			}
			if tc.status != 422 {
				return
			}
			if body["message"] != "Validation Failed" || body["status"] != "422" || body["documentation_url"] == nil {
				t.Errorf("422 body = %v", body)
			}
			var named []string
			for _, fe := range body["errors"].([]any) {
				f := fe.(map[string]any)
				if f["resource"] != "DeploymentRecord" || f["code"] == nil || f["message"] == nil {
					t.Errorf("field error %v", f)
				}
				if !slices.Contains(named, f["field"].(string)) {
					named = append(named, f["field"].(string))
				}
			}
			if !reflect.DeepEqual(named, tc.fields) {
				t.Errorf("fields named %v, want %v", named, tc.fields)
			}
		})
	}
	if w := e.Counter.Counts().Writes; w != 0 {
		t.Errorf("rejected requests wrote %d documents", w)
	}
	if status, body := e.post(t, "/api/orgs/not%20an%20org/artifacts/metadata/deployment-record", bearer, docsSingle); status != 404 || body["message"] != "Not Found" {
		t.Errorf("bad org: %d %v", status, body)
	}
}

// TestSingleRecordResponseShape posts the sample single record and checks
// GitHub's response shape field by field.
func TestSingleRecordResponseShape(t *testing.T) {
	e := newEnv(t)
	status, body := e.post(t, single, bearer, sample(t, "single"))
	if status != 200 {
		t.Fatalf("status %d %v", status, body)
	}
	if !reflect.DeepEqual(keys(body), []string{"deployment_records", "total_count"}) || body["total_count"] != float64(1) {
		t.Fatalf("body = %v", body)
	}
	recs := body["deployment_records"].([]any)
	if len(recs) != 1 {
		t.Fatalf("records = %v", recs)
	}
	r := recs[0].(map[string]any)
	id := model.DeploymentWorkloadID("octo-org", "production", "eastus", "aks-prod-eus", "shop-checkout-api-api")
	now := inventorytest.Now.Format(time.RFC3339)
	want := map[string]any{
		"id":                   float64(inventory.NumericID(id)),
		"digest":               "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
		"logical_environment":  "production",
		"physical_environment": "eastus",
		"cluster":              "aks-prod-eus",
		"deployment_name":      "shop-checkout-api-api",
		"tags":                 map[string]any{"team": "payments"},
		"runtime_risks":        []any{"internet-exposed"},
		"created_at":           now,
		"updated_at":           now,
		"attestation_id":       nil,
	}
	if !reflect.DeepEqual(keys(r), keys(want)) {
		t.Errorf("record fields %v, want %v", keys(r), keys(want))
	}
	for k, v := range want {
		if !reflect.DeepEqual(r[k], v) {
			t.Errorf("%s = %#v, want %#v", k, r[k], v)
		}
	}
	w, err := e.Store.Workloads.Get(context.Background(), "aks-prod-eus", id)
	if err != nil || !w.Production || w.Repository != "octo-org/checkout-api" || w.Org != "octo-org" || w.Version != "1.4.2" {
		t.Errorf("workload = %+v, %v", w, err)
	}
	if got := e.Sync.Requests(queue.KindDeployment); len(got) != 1 || got[0].WorkloadID != id {
		t.Errorf("deployment syncs = %v", got)
	}

	// Posting the same record again answers the same and writes nothing.
	before := e.Counter.Counts()
	status, again := e.post(t, single, bearer, sample(t, "single"))
	if status != 200 || !reflect.DeepEqual(again, body) {
		t.Errorf("second answer %d %v", status, again)
	}
	if d := e.Counter.Counts().Sub(before); d.Writes != 0 {
		t.Errorf("re-post wrote %d documents", d.Writes)
	}
	// return_records false: only the count.
	status, body = e.post(t, single, bearer, strings.Replace(sample(t, "single"), `"version"`, `"return_records": false, "version"`, 1))
	if status != 200 || !reflect.DeepEqual(body, map[string]any{"total_count": float64(1)}) {
		t.Errorf("return_records false: %d %v", status, body)
	}
}

func TestGitHubDocsExamples(t *testing.T) {
	e := newEnv(t)
	status, body := e.post(t, single, bearer, docsSingle)
	if status != 200 || body["total_count"] != float64(1) {
		t.Fatalf("single: %d %v", status, body)
	}
	r := body["deployment_records"].([]any)[0].(map[string]any)
	if r["cluster"] != "moda-1" || r["logical_environment"] != "prod" || r["deployment_name"] != "deployment-pod" ||
		!reflect.DeepEqual(r["tags"], map[string]any{"data-access": "sensitive"}) || r["runtime_risks"] != nil {
		t.Errorf("record = %v", r)
	}
	w, err := e.Store.Workloads.Get(context.Background(), "moda-1", model.DeploymentWorkloadID("octo-org", "prod", "pacific-east", "moda-1", "deployment-pod"))
	if err != nil || !w.Production || w.Image != "docker.io/library/awesome-image" || w.Repository != "" {
		t.Errorf("workload = %+v, %v", w, err)
	}

	status, body = e.post(t, cluster+"CLUSTER", bearer, docsCluster)
	if status != 200 || body["total_count"] != float64(1) {
		t.Fatalf("cluster: %d %v", status, body)
	}
	r = body["deployment_records"].([]any)[0].(map[string]any)
	if r["cluster"] != "CLUSTER" || !reflect.DeepEqual(r["runtime_risks"], []any{"sensitive-data"}) ||
		!reflect.DeepEqual(r["tags"], map[string]any{"owning-team": "platform"}) {
		t.Errorf("cluster record = %v", r)
	}
}

// TestClusterPostKeepsWhatItOmits: the cluster form creates or updates the
// records it names and, like GitHub's, leaves the cluster's other records
// as they are; decommissioned is what ends one.
func TestClusterPostKeepsWhatItOmits(t *testing.T) {
	e := newEnv(t)
	status, body := e.post(t, cluster+"aks-stg-weu", bearer, sample(t, "cluster"))
	if status != 200 || body["total_count"] != float64(1) {
		t.Fatalf("cluster: %d %v", status, body)
	}
	r := body["deployment_records"].([]any)[0].(map[string]any)
	if r["cluster"] != "aks-stg-weu" || r["logical_environment"] != "staging" || r["physical_environment"] != "westeurope" {
		t.Errorf("record = %v", r)
	}
	id := model.DeploymentWorkloadID("octo-org", "staging", "westeurope", "aks-stg-weu", "batch-report-worker-worker")
	w, _ := e.Store.Workloads.Get(context.Background(), "aks-stg-weu", id)
	if w.Production || w.Repository != "octo-org/report-worker" || w.Status != model.WorkloadRunning {
		t.Errorf("workload = %+v", w)
	}
	// The next post leaves it out: it still runs.
	status, body = e.post(t, cluster+"aks-stg-weu", bearer, `{"logical_environment":"staging","physical_environment":"westeurope","deployments":[]}`)
	if status != 200 || body["total_count"] != float64(0) {
		t.Fatalf("empty set: %d %v", status, body)
	}
	if w, _ = e.Store.Workloads.Get(context.Background(), "aks-stg-weu", id); w.Status != model.WorkloadRunning {
		t.Errorf("left-out workload status = %v", w.Status)
	}
	status, _ = e.post(t, cluster+"aks-stg-weu", bearer, strings.Replace(sample(t, "cluster"), `"status": "deployed"`, `"status": "decommissioned"`, 1))
	if w, _ = e.Store.Workloads.Get(context.Background(), "aks-stg-weu", id); status != 200 || w.Status != model.WorkloadGone {
		t.Errorf("decommissioned: %d, status %v", status, w.Status)
	}
	if got := e.Sync.Requests(queue.KindDeployment); len(got) != 2 {
		t.Errorf("deployment syncs = %v", got)
	}
}

func TestStorageFailureAnswers500(t *testing.T) {
	e := newEnv(t)
	e.Counter.Fail(true)
	status, body := e.post(t, single, bearer, docsSingle)
	if status != 500 || body["message"] != "Server Error" {
		t.Errorf("%d %v", status, body)
	}
	if bytes.Contains([]byte(body["message"].(string)), []byte("injected")) {
		t.Error("internal error leaked")
	}
}

// TestEnvironmentsKeptApart posts the same cluster and deployment name for
// staging and for production: GitHub keeps two records (its identity is
// logical + physical environment + cluster + deployment_name), and so does
// runtimelink; the code→runtime view of the repository shows both.
func TestEnvironmentsKeptApart(t *testing.T) {
	e := newEnv(t)
	srv := invocation.NewServer(nil)
	d := inventorytest.Deps(t, e.Store, e.Sync)
	deployments.Register(srv, d)
	api.Register(srv, d)
	h := srv.Handler()
	post := func(env string) map[string]any {
		body := strings.Replace(sample(t, "single"), `"logical_environment": "production"`, `"logical_environment": "`+env+`"`, 1)
		req := invocationtest.ForwardedRequest(http.MethodPost, single, strings.NewReader(body), "inv-"+env)
		req.Header.Set("Authorization", bearer)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("%s: %d %s", env, rec.Code, rec.Body)
		}
		return out["deployment_records"].([]any)[0].(map[string]any)
	}
	prod, stg := post("production"), post("staging")
	if prod["id"] == stg["id"] || prod["logical_environment"] != "production" || stg["logical_environment"] != "staging" {
		t.Errorf("records: %v and %v", prod, stg)
	}
	// Re-posting production updates its own record, not staging's.
	if again := post("production"); again["id"] != prod["id"] {
		t.Errorf("production re-post is record %v, was %v", again["id"], prod["id"])
	}

	req := invocationtest.ForwardedRequest(http.MethodGet, "/api/repos/octo-org/checkout-api/runtime", nil, "inv-view")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var view struct {
		Running      int      `json:"running"`
		Production   bool     `json:"production"`
		Environments []string `json:"environments"`
		Workloads    []struct {
			Cluster, DeploymentName, Environment, Status string
		} `json:"workloads"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &view); rec.Code != 200 || err != nil {
		t.Fatalf("code→runtime: %d %s", rec.Code, rec.Body)
	}
	envs := []string{}
	for _, w := range view.Workloads {
		if w.Cluster != "aks-prod-eus" || w.DeploymentName != "shop-checkout-api-api" || w.Status != "running" {
			t.Errorf("workload %+v", w)
		}
		envs = append(envs, w.Environment)
	}
	slices.Sort(envs)
	if view.Running != 2 || !view.Production || !reflect.DeepEqual(envs, []string{"production", "staging"}) ||
		!reflect.DeepEqual(view.Environments, []string{"production", "staging"}) {
		t.Errorf("code→runtime view = %+v", view)
	}
}
