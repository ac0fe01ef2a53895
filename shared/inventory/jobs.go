package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/model"
)

// ClusterJobs is where async cluster jobs are kept (store.Store in the
// app).
type ClusterJobs interface {
	ClusterJob(ctx context.Context, jobID int64) (*model.ClusterJob, error)
	ClusterJobDeployments(ctx context.Context, job *model.ClusterJob) ([]deployrecord.ClusterDeployment, error)
	UpdateClusterJob(ctx context.Context, jobID int64, fn func(j *model.ClusterJob) error) (*model.ClusterJob, error)
}

// RunClusterJob runs one async cluster job: it marks the job in_progress
// (started_at set on the first attempt), stores its deployments as
// ApplyCluster does, and marks it completed with the number of records
// stored. A job already completed or failed is left as it is, so a
// redelivered message does nothing.
//
// When storing fails the job stays in_progress and the error is returned,
// so the queue retries the message; every write is idempotent, and the
// retry completes the set without duplicating any of it. On the last
// attempt (lastAttempt) a failure marks the job failed instead, and the
// error is still returned for the log.
//
// It returns the job as it ends and, when this call stored them, the
// job's workloads in request order.
func (i *Inventory) RunClusterJob(ctx context.Context, jobs ClusterJobs, jobID int64, lastAttempt bool) (*model.ClusterJob, []model.Workload, error) {
	now := i.now()
	job, err := jobs.UpdateClusterJob(ctx, jobID, func(j *model.ClusterJob) error {
		if j.Status == deployrecord.JobCompleted || j.Status == deployrecord.JobFailed {
			return model.ErrSkip
		}
		j.Status, j.Attempts, j.UpdatedAt = deployrecord.JobInProgress, j.Attempts+1, now
		if j.StartedAt.IsZero() {
			j.StartedAt = now
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if job.Status != deployrecord.JobInProgress {
		return job, nil, nil
	}
	ws, runErr := i.runClusterJob(ctx, jobs, job)
	if runErr != nil && !lastAttempt {
		return job, nil, runErr
	}
	done, err := jobs.UpdateClusterJob(ctx, jobID, func(j *model.ClusterJob) error {
		j.UpdatedAt = i.now()
		if runErr != nil {
			j.Status = deployrecord.JobFailed
			return nil
		}
		j.Status, j.TotalCount = deployrecord.JobCompleted, len(ws)
		return nil
	})
	if err != nil {
		return job, nil, err
	}
	if runErr != nil {
		return done, nil, fmt.Errorf("job %d failed on its last attempt: %w", jobID, runErr)
	}
	return done, ws, nil
}

func (i *Inventory) runClusterJob(ctx context.Context, jobs ClusterJobs, job *model.ClusterJob) ([]model.Workload, error) {
	deployments, err := jobs.ClusterJobDeployments(ctx, job)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ws, err := i.ApplyCluster(ctx, job.Org, job.Cluster, deployrecord.ClusterRequest{
		LogicalEnvironment: job.LogicalEnvironment, PhysicalEnvironment: job.PhysicalEnvironment, Deployments: deployments,
	})
	if err != nil {
		return nil, fmt.Errorf("job %d: %w", job.JobID, err)
	}
	i.logger().Info("cluster job stored its deployments", "jobId", job.JobID, "org", job.Org, "cluster", job.Cluster,
		"deployments", len(ws), "seconds", time.Since(start).Seconds())
	return ws, nil
}
