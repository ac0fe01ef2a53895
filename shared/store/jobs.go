package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Async cluster jobs live in the jobs container (partition /id, every
// operation a point read or write): the job document, its deployments in
// parts (a part stays far below Cosmos DB's 2 MB item limit even at the
// API's longest fields), and one slot per org, cluster and environment
// pair naming the job that holds it.

// jobPartSize is how many deployments one part document holds: at the
// API's limits (names 256, tags 5 x 200 characters ...) a deployment is
// under 2 KB of JSON, so a part stays under 512 KB.
const jobPartSize = 250

// ErrJobConflict is SubmitClusterJob's answer when another job of the same
// org, cluster and environments is still pending or in progress.
var ErrJobConflict = errors.New("a job is already pending or in progress for this cluster and environment")

// StoreClusterJob stores a new job with its deployments, holding no slot
// (the synchronous cluster form keeps a job only so the queue can finish
// what a failed request left). Partition: each document its own id.
func (s *Store) StoreClusterJob(ctx context.Context, job *model.ClusterJob, deployments []deployrecord.ClusterDeployment) error {
	job.ID = model.ClusterJobDocID(job.JobID)
	job.Parts, job.Submitted = 0, len(deployments)
	for chunk := range slices.Chunk(deployments, jobPartSize) {
		body, err := json.Marshal(chunk)
		if err != nil {
			return fmt.Errorf("encode job %d deployments: %w", job.JobID, err)
		}
		part := &model.ClusterJobPart{ID: model.ClusterJobPartID(job.JobID, job.Parts), JobID: job.JobID, Deployments: body}
		if _, err := s.db.JobParts.Put(ctx, part); err != nil {
			return fmt.Errorf("store job %d part %d: %w", job.JobID, job.Parts, err)
		}
		job.Parts++
	}
	created, err := s.db.Jobs.Create(ctx, job)
	if err != nil {
		return fmt.Errorf("store job %d: %w", job.JobID, err)
	}
	if !created {
		return fmt.Errorf("store job %d: the id is taken", job.JobID)
	}
	return nil
}

// SubmitClusterJob stores a new job (status pending) with its deployments
// and claims its slot. When the slot's job is still active (pending or in
// progress, and written to within staleAfter) the new job is removed
// again and the error is ErrJobConflict; a job silent for longer than
// staleAfter is taken as abandoned. Partition: each document its own id.
func (s *Store) SubmitClusterJob(ctx context.Context, job *model.ClusterJob, deployments []deployrecord.ClusterDeployment, staleAfter time.Duration) error {
	if err := s.StoreClusterJob(ctx, job, deployments); err != nil {
		return err
	}
	slotID := model.ClusterJobSlotID(job.Org, job.Cluster, job.LogicalEnvironment, job.PhysicalEnvironment)
	_, _, err := s.db.JobSlots.Update(ctx, slotID, slotID, func(slot *model.ClusterJobSlot, exists bool) error {
		if exists && slot.JobID != 0 && slot.JobID != job.JobID {
			holder, err := s.ClusterJob(ctx, slot.JobID)
			switch {
			case errors.Is(err, model.ErrNotFound):
			case err != nil:
				return err
			case ClusterJobActive(holder, job.CreatedAt, staleAfter):
				return ErrJobConflict
			}
		}
		slot.ID, slot.JobID, slot.Since = slotID, job.JobID, job.CreatedAt
		return nil
	})
	if err == nil {
		return nil
	}
	// The job never ran: take it out again (best effort; the container's
	// TTL removes what a failure here leaves).
	_ = s.db.Jobs.Delete(ctx, job.ID, job.ID)
	for k := 0; k < job.Parts; k++ {
		id := model.ClusterJobPartID(job.JobID, k)
		_ = s.db.JobParts.Delete(ctx, id, id)
	}
	if errors.Is(err, ErrJobConflict) {
		return ErrJobConflict
	}
	return fmt.Errorf("claim the slot of job %d: %w", job.JobID, err)
}

// ClusterJobActive reports whether a job still holds its slot at now: it
// is pending or in progress and was written to within staleAfter.
func ClusterJobActive(j *model.ClusterJob, now time.Time, staleAfter time.Duration) bool {
	if j.Status != deployrecord.JobPending && j.Status != deployrecord.JobInProgress {
		return false
	}
	return now.Sub(j.UpdatedAt) < staleAfter
}

// ClusterJob reads a job; the error wraps model.ErrNotFound when there is
// none (never submitted, or expired). Partition: the job's id.
func (s *Store) ClusterJob(ctx context.Context, jobID int64) (*model.ClusterJob, error) {
	id := model.ClusterJobDocID(jobID)
	j, err := s.db.Jobs.Get(ctx, id, id)
	if err != nil {
		return nil, fmt.Errorf("read job %d: %w", jobID, err)
	}
	return j, nil
}

// ClusterJobDeployments reads a job's deployments, in request order.
// Partition: each part's id.
func (s *Store) ClusterJobDeployments(ctx context.Context, job *model.ClusterJob) ([]deployrecord.ClusterDeployment, error) {
	out := make([]deployrecord.ClusterDeployment, 0, job.Submitted)
	for k := 0; k < job.Parts; k++ {
		id := model.ClusterJobPartID(job.JobID, k)
		part, err := s.db.JobParts.Get(ctx, id, id)
		if err != nil {
			return nil, fmt.Errorf("read job %d part %d: %w", job.JobID, k, err)
		}
		var ds []deployrecord.ClusterDeployment
		if err := json.Unmarshal(part.Deployments, &ds); err != nil {
			return nil, fmt.Errorf("decode job %d part %d: %w", job.JobID, k, err)
		}
		out = append(out, ds...)
	}
	return out, nil
}

// UpdateClusterJob changes a job with fn (ETag-guarded; fn may run more
// than once and return model.ErrSkip to write nothing). Partition: the
// job's id.
func (s *Store) UpdateClusterJob(ctx context.Context, jobID int64, fn func(j *model.ClusterJob) error) (*model.ClusterJob, error) {
	id := model.ClusterJobDocID(jobID)
	j, _, err := s.db.Jobs.Update(ctx, id, id, func(j *model.ClusterJob, exists bool) error {
		if !exists {
			return model.ErrNotFound
		}
		return fn(j)
	})
	if err != nil {
		return nil, fmt.Errorf("update job %d: %w", jobID, err)
	}
	return j, nil
}
