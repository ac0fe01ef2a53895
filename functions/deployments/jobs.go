package deployments

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/store"
)

// Async cluster job routes (deployment-tracker submits its start-up
// snapshot this way and polls until the job ends).
const (
	RouteJobs      = "POST /api/orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}/jobs"
	RouteJobStatus = "GET /api/orgs/{org}/artifacts/metadata/deployment-record/cluster/{cluster}/jobs/{job_id}"
)

// JobStaleAfter is how long a pending or in-progress job may go without a
// write before a new job for its cluster and environments is accepted in
// its place (a job of 1,000 deployments writes within a minute; the queue
// retries a failed one within minutes).
const JobStaleAfter = 30 * time.Minute

// docsJobs is the documentation URL of the jobs endpoints' errors.
const docsJobs = deployrecord.DocsClusterRecords

// CreateJob accepts a cluster request to run asynchronously: 202 with the
// job's id, 409 while a job for the same cluster and environments is
// pending or in progress, 400/422 for a request the cluster form would
// refuse. The job is stored in Cosmos DB and run by the sync function
// (queue message kind cluster-job).
func (h *Handler) CreateJob(w http.ResponseWriter, r *http.Request) {
	org, body, ok := h.begin(w, r)
	if !ok {
		return
	}
	log := invocation.Logger(r.Context())
	cluster := r.PathValue("cluster")
	var req deployrecord.ClusterRequest
	if !decode(w, r, body, &req, deployrecord.ResourceDeploymentRecord, deployrecord.DocsClusterRecords, func() error { return req.Validate(cluster) }) {
		return
	}
	if h.Jobs == nil || h.Sync == nil {
		serverError(w, r, "cluster job", errors.New("jobs are not configured"))
		return
	}
	now := time.Now().UTC()
	job := &model.ClusterJob{JobID: newJobID(), Org: org, Cluster: cluster,
		LogicalEnvironment: req.LogicalEnvironment, PhysicalEnvironment: req.PhysicalEnvironment,
		Status: deployrecord.JobPending, CreatedAt: now, UpdatedAt: now}
	err := h.Jobs.SubmitClusterJob(r.Context(), job, req.Deployments, JobStaleAfter)
	if errors.Is(err, store.ErrJobConflict) {
		log.Warn("cluster job refused: another is pending", "org", org, "cluster", cluster,
			"logicalEnvironment", req.LogicalEnvironment, "physicalEnvironment", req.PhysicalEnvironment)
		writeJSON(w, http.StatusConflict, githubError{
			Message:          "A job is already pending or in progress for this cluster and environment",
			DocumentationURL: docsJobs, Status: "409"})
		return
	}
	if err != nil {
		serverError(w, r, "store cluster job", err)
		return
	}
	if err := h.Sync.EnqueueSync(r.Context(), queue.SyncRequest{Kind: queue.KindClusterJob, Org: org, Cluster: cluster, JobID: job.JobID}); err != nil {
		// Never queued: fail it, so its slot is free for the client's retry.
		_, _ = h.Jobs.UpdateClusterJob(r.Context(), job.JobID, func(j *model.ClusterJob) error {
			j.Status, j.UpdatedAt = deployrecord.JobFailed, time.Now().UTC()
			return nil
		})
		serverError(w, r, "enqueue cluster job", err)
		return
	}
	log.Info("cluster job accepted", "org", org, "cluster", cluster, "jobId", job.JobID, "deployments", len(req.Deployments))
	writeJSON(w, http.StatusAccepted, deployrecord.JobResponse{JobID: job.JobID, Errors: []deployrecord.JobError{}})
}

// JobStatus answers a job's status: 404 for a job id that is not a
// number, unknown, expired, or of another org or cluster.
func (h *Handler) JobStatus(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) {
		return
	}
	org, cluster := r.PathValue("org"), r.PathValue("cluster")
	id, err := strconv.ParseInt(r.PathValue("job_id"), 10, 64)
	if err != nil || id <= 0 || h.Jobs == nil {
		notFound(w, docsJobs)
		return
	}
	job, err := h.Jobs.ClusterJob(r.Context(), id)
	switch {
	case errors.Is(err, model.ErrNotFound):
		notFound(w, docsJobs)
		return
	case err != nil:
		serverError(w, r, "read cluster job", err)
		return
	}
	if !strings.EqualFold(job.Org, org) || job.Cluster != cluster {
		notFound(w, docsJobs)
		return
	}
	writeJSON(w, http.StatusOK, jobStatus(job))
}

func jobStatus(j *model.ClusterJob) deployrecord.JobStatus {
	out := deployrecord.JobStatus{JobID: j.JobID, Status: j.Status, TotalCount: j.TotalCount, Errors: []deployrecord.JobError{}}
	if !j.StartedAt.IsZero() {
		out.StartedAt = j.StartedAt.UTC().Format(time.RFC3339)
	}
	for _, e := range j.Errors {
		out.Errors = append(out.Errors, deployrecord.JobError{Name: e.Name, Cause: e.Cause})
	}
	return out
}

// newJobID is a random positive id below 2^53 (exact as a JSON number in
// every client).
func newJobID() int64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := int64(binary.BigEndian.Uint64(b[:]) >> 11)
	if id == 0 {
		id = 1
	}
	return id
}

func notFound(w http.ResponseWriter, docs string) {
	writeJSON(w, http.StatusNotFound, githubError{Message: "Not Found", DocumentationURL: docs, Status: "404"})
}
