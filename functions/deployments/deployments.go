// Package deployments is the adapter of the `deployments` function, a
// drop-in for GitHub's artifact-metadata deployment-record API under /api:
//
//	POST /api/orgs/{org}/artifacts/metadata/deployment-record
//	POST /api/orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}
//
// Same request bodies, same validation answers (422 naming the field, 400
// for a body that is not JSON) and the same response shape, so a CD step
// or GitHub's deployment-tracker can point its base URL here. Callers
// authenticate with "Authorization: Bearer <DEPLOYMENTS_TOKEN>". Records
// become workloads; the sync function forwards them to GitHub, enriched.
package deployments

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/store"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Routes, as the host forwards them (host.json routePrefix "", every
// function.json route spells its "api/").
const (
	RouteSingle  = "POST /api/orgs/{org}/artifacts/metadata/deployment-record"
	RouteCluster = "POST /api/orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}"
)

// maxBody bounds a request: a cluster post of 1,000 deployments with tags
// and risks stays well below it.
const maxBody = 8 << 20

// Register adds the function's routes to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	h := &Handler{Secrets: d.Secrets}
	if d.Config != nil {
		h.TokenSecret = d.Config.Secrets.DeploymentsToken
	}
	ing, err := d.TriageInventory()
	if err != nil {
		d.Logger.Error("deployments disabled", "error", err)
	}
	h.Inventory = ing
	if d.HasDatabase() {
		h.Jobs = d.State()
	}
	h.Sync = d.Sync
	srv.HandleHTTP(RouteSingle, http.HandlerFunc(h.Single))
	srv.HandleHTTP(RouteCluster, http.HandlerFunc(h.Cluster))
	srv.HandleHTTP(RouteJobs, http.HandlerFunc(h.CreateJob))
	srv.HandleHTTP(RouteJobStatus, http.HandlerFunc(h.JobStatus))
	srv.HandleHTTP(RouteStorage, http.HandlerFunc(h.Storage))
	srv.HandleHTTP(RouteListDeployments, http.HandlerFunc(h.ListDeployments))
	srv.HandleHTTP(RouteListStorage, http.HandlerFunc(h.ListStorage))
	for _, p := range []string{RouteUnknown, RouteV3, RouteNoPrefix} {
		srv.HandleHTTP(p, http.HandlerFunc(h.NoRoute))
	}
}

// Handler serves the deployment-record endpoints.
type Handler struct {
	Inventory *inventory.Inventory
	Secrets   keyvault.Provider
	// TokenSecret names the secret holding the bearer token.
	TokenSecret string
	// Jobs keeps async cluster jobs; Sync queues them for the sync function.
	Jobs *store.Store
	Sync queue.Sync
}

// Single stores one deployment record.
func (h *Handler) Single(w http.ResponseWriter, r *http.Request) {
	org, body, ok := h.begin(w, r)
	if !ok {
		return
	}
	var rec deployrecord.DeploymentRecord
	if !decode(w, r, body, &rec, deployrecord.ResourceDeploymentRecord, deployrecord.DocsDeploymentRecord, func() error { return rec.Validate() }) {
		return
	}
	ws, err := h.inventory(r).ApplyDeployments(ctx(r), org, []deployrecord.DeploymentRecord{rec})
	if err != nil {
		serverError(w, r, "store deployment record", err)
		return
	}
	invocation.Logger(r.Context()).Info("deployment record stored", "org", org, "workload", ws[0].ID, "status", rec.Status)
	respond(w, ws, rec.ReturnRecords)
}

// Cluster stores the deployments of one cluster request (creating or
// updating the records it names; see inventory.ApplyCluster).
func (h *Handler) Cluster(w http.ResponseWriter, r *http.Request) {
	org, body, ok := h.begin(w, r)
	if !ok {
		return
	}
	cluster := r.PathValue("cluster")
	var req deployrecord.ClusterRequest
	if !decode(w, r, body, &req, deployrecord.ResourceDeploymentRecord, deployrecord.DocsClusterRecords, func() error { return req.Validate(cluster) }) {
		return
	}
	var ws []model.Workload
	var err error
	if len(req.Deployments) == 0 || h.Jobs == nil || h.Sync == nil {
		ws, err = h.inventory(r).ApplyCluster(ctx(r), org, cluster, req)
	} else {
		ws, err = h.clusterAsJob(r, org, cluster, req)
	}
	if err != nil {
		serverError(w, r, "store cluster deployment records", err)
		return
	}
	invocation.Logger(r.Context()).Info("cluster deployment records stored", "org", org, "cluster", cluster,
		"deployments", len(ws))
	respond(w, ws, req.ReturnRecords)
}

// RecoveryDelay is how long the queued copy of a synchronous cluster
// request waits before it runs: long enough for the request itself to end
// (then the copy finds its job completed and does nothing), short enough
// that a request that failed midway is completed within minutes.
const RecoveryDelay = 2 * time.Minute

// clusterAsJob stores a cluster request as a job first, queues it with a
// delay, then runs it in this request. Cosmos DB has no transaction over
// a thousand documents, so a request that fails midway (a dropped
// connection, a timeout, a crash) leaves part of the set written; the
// queued job then writes the rest (every write is idempotent), so the set
// is never left half stored. The job holds no slot: the synchronous form
// is never refused for a pending job.
func (h *Handler) clusterAsJob(r *http.Request, org, cluster string, req deployrecord.ClusterRequest) ([]model.Workload, error) {
	now := time.Now().UTC()
	job := &model.ClusterJob{JobID: newJobID(), Org: org, Cluster: cluster,
		LogicalEnvironment: req.LogicalEnvironment, PhysicalEnvironment: req.PhysicalEnvironment,
		Status: deployrecord.JobPending, CreatedAt: now, UpdatedAt: now}
	if err := h.Jobs.StoreClusterJob(r.Context(), job, req.Deployments); err != nil {
		return nil, err
	}
	msg := queue.SyncRequest{Kind: queue.KindClusterJob, Org: org, Cluster: cluster, JobID: job.JobID}
	var err error
	if d, ok := h.Sync.(queue.Delayed); ok {
		err = d.EnqueueSyncAfter(r.Context(), msg, RecoveryDelay)
	} else {
		err = h.Sync.EnqueueSync(r.Context(), msg)
	}
	if err != nil {
		return nil, fmt.Errorf("queue the request's job: %w", err)
	}
	_, ws, err := h.inventory(r).RunClusterJob(ctx(r), h.Jobs, job.JobID, false)
	if err != nil {
		return nil, fmt.Errorf("%w (job %d, queued, completes the set)", err, job.JobID)
	}
	return ws, nil
}

func ctx(r *http.Request) context.Context { return triage.WithCache(r.Context()) }

func (h *Handler) inventory(r *http.Request) *inventory.Inventory {
	ing := *h.Inventory
	ing.Logger = invocation.Logger(r.Context())
	return &ing
}

// orgPattern is a GitHub login.
var orgPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,38})$`)

// begin authenticates the request and reads its body; on failure it has
// answered.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request) (org string, body []byte, ok bool) {
	if !h.authorized(w, r) {
		return "", nil, false
	}
	if h.Inventory == nil {
		serverError(w, r, "deployments endpoint", errors.New("not configured (see the start-up log)"))
		return "", nil, false
	}
	org = r.PathValue("org")
	if !orgPattern.MatchString(org) {
		writeJSON(w, http.StatusNotFound, githubError{Message: "Not Found", DocumentationURL: deployrecord.DocsDeploymentRecord, Status: "404"})
		return "", nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, githubError{Message: "Payload too large", Status: "413"})
			return "", nil, false
		}
		writeJSON(w, http.StatusBadRequest, githubError{Message: "Problems reading the request body", Status: "400"})
		return "", nil, false
	}
	return org, body, true
}

// githubError is GitHub's error body.
type githubError struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url,omitempty"`
	Status           string `json:"status"`
}

// authorized checks "Authorization: Bearer <token>" (GitHub's "token"
// scheme is accepted too) against the deployments token in constant time:
// both sides are hashed first, so neither their contents nor their lengths
// show in the timing.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	log := invocation.Logger(r.Context())
	scheme, given, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	given = strings.TrimSpace(given)
	if given == "" || !(strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="runtimelink"`)
		writeJSON(w, http.StatusUnauthorized, githubError{Message: "Requires authentication",
			DocumentationURL: "https://docs.github.com/rest", Status: "401"})
		return false
	}
	want, err := h.Secrets.Get(r.Context(), h.TokenSecret)
	if err != nil || want == "" {
		log.Error("cannot read the deployments token; refusing the request", "secret", h.TokenSecret, "error", err)
		writeJSON(w, http.StatusServiceUnavailable, githubError{Message: "Service unavailable", Status: "503"})
		return false
	}
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		log.Warn("deployments request with a wrong token", "remote", r.RemoteAddr)
		writeJSON(w, http.StatusUnauthorized, githubError{Message: "Bad credentials",
			DocumentationURL: "https://docs.github.com/rest", Status: "401"})
		return false
	}
	return true
}

// decode reads and validates the body as GitHub does; on failure it has
// answered (400 or 422).
func decode(w http.ResponseWriter, r *http.Request, body []byte, v any, resource, docs string, validate func() error) bool {
	err := deployrecord.Decode(body, v, resource, docs)
	if err == nil {
		err = validate()
	}
	if err == nil {
		return true
	}
	status, answer, ok := deployrecord.Refusal(err)
	switch {
	case !ok:
		serverError(w, r, "decode deployment record", err)
	case status == http.StatusBadRequest:
		invocation.Logger(r.Context()).Warn("deployment record is not JSON", "error", err)
		writeJSON(w, status, answer)
	default:
		invocation.Logger(r.Context()).Warn("deployment record rejected", "error", err)
		writeJSON(w, status, answer)
	}
	return false
}

// respond answers 200 with the stored records, GitHub's shape; the records
// are left out when the request set return_records to false.
func respond(w http.ResponseWriter, ws []model.Workload, returnRecords *bool) {
	out := deployrecord.DeploymentRecordsResponse{TotalCount: len(ws)}
	if returnRecords == nil || *returnRecords {
		out.DeploymentRecords = make([]deployrecord.StoredDeployment, 0, len(ws))
		for k := range ws {
			out.DeploymentRecords = append(out.DeploymentRecords, inventory.StoredDeployment(&ws[k]))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// serverError logs the cause and answers a fixed message: the client learns
// to retry, not our internals.
func serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	invocation.Logger(r.Context()).Error(what+" failed", slog.Any("error", err))
	writeJSON(w, http.StatusInternalServerError, githubError{Message: "Server Error", Status: "500"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"message":"Server Error","status":"500"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
