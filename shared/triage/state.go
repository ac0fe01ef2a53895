package triage

import (
	"context"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// What triage reads and writes, declared here so the domain imports no
// adapter: shared/store's *store.Store is the one implementation in the
// app, and a test may hand in anything with these methods. Each method
// answers one question; the store documents the query and the partition
// behind it. Errors wrap model.ErrNotFound for a missing document, and an
// update callback returns model.ErrSkip to write nothing.

// Findings is the findings container.
type Findings interface {
	Finding(ctx context.Context, repository, id string) (*model.Finding, error)
	UpdateFinding(ctx context.Context, repository, id string, fn func(f *model.Finding, exists bool) error) (*model.Finding, bool, error)
	FindingsOfGroup(ctx context.Context, repository, groupID string) ([]model.Finding, error)
	FindingsByID(ctx context.Context, ids []string) ([]model.Finding, error)
	FindingsNamingVulnerability(ctx context.Context, repository string, source model.Source, ids []string) ([]model.Finding, error)
	FindingsOfImages(ctx context.Context, images, digests []string) ([]model.Finding, error)
	FindingsOfRepository(ctx context.Context, repository string, fn func(f *model.Finding) error) error
	FindingsPage(ctx context.Context, pageSize int, cursor string) ([]model.Finding, string, error)
	// FindingsIn and SaveFinding are the two halves of a batch's
	// read-modify-writes: the findings of one partition read at once, then
	// each written only when its content changed, under the ETag it was
	// read with (model.ErrPreconditionFailed when another writer got
	// there first).
	FindingsIn(ctx context.Context, repository string, ids []string) ([]model.Finding, error)
	SaveFinding(ctx context.Context, f *model.Finding, exists bool) (bool, error)
}

// Groups is the groups container (one group = one GitHub issue).
type Groups interface {
	Group(ctx context.Context, repository, id string) (*model.Group, error)
	CreateGroup(ctx context.Context, g *model.Group) (bool, error)
	UpdateGroup(ctx context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (*model.Group, bool, error)
	GroupsBehind(ctx context.Context, stale time.Time, fn func(g *model.Group) error) error
	// GroupMembers reads groups of one partition with only their id,
	// repository, finding ids and last write time.
	GroupMembers(ctx context.Context, repository string, ids []string) ([]model.Group, error)
}

// Leases keeps the nightly run's lease.
type Leases interface {
	Lease(ctx context.Context, id string) (*model.Lease, error)
	UpdateLease(ctx context.Context, id string, fn func(l *model.Lease, exists bool) error) (*model.Lease, bool, error)
}

// Runtime is what runs where: the artifacts (which code an image digest
// was built from) and the workloads (which digest runs where).
type Runtime interface {
	ArtifactsBuiltFrom(ctx context.Context, repo string, limit int) ([]model.Artifact, bool, error)
	ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error)
	WorkloadsRunning(ctx context.Context, digests []string) ([]model.Workload, error)
	WorkloadsRunningImage(ctx context.Context, image string, digests []string) ([]model.Workload, error)
	WorkloadsRunningRepository(ctx context.Context, repo string, digests []string) ([]model.Workload, error)
	RunningWorkloads(ctx context.Context, fn func(w *model.Workload) error) error
}

// Store is all triage keeps its state in.
type Store interface {
	Findings
	Groups
	Leases
	Runtime
	// WorkloadsRunningImages is WorkloadsRunningImage for a batch's
	// images and digests at once (UpsertBatch).
	WorkloadsRunningImages(ctx context.Context, images, digests []string) ([]model.Workload, error)
}

// SyncQueue takes the groups whose GitHub issue must be brought in step
// (queue.GroupSyncs over the sync queue). A duplicate is harmless: the
// sync is level-triggered.
type SyncQueue interface {
	EnqueueGroupSync(ctx context.Context, repository, groupID string) error
}
