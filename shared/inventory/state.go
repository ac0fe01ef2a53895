package inventory

import (
	"context"

	"github.com/runtimelink/runtimelink/shared/model"
)

// What the inventory reads and writes, declared here so the domain imports
// no adapter: shared/store's *store.Store is the one implementation in the
// app (its doc comments say the query and the partition behind each
// method). Errors wrap model.ErrNotFound for a missing document; an update
// callback returns model.ErrSkip to write nothing. A method with a limit
// returns at most that many documents and whether that was all of them.

// Artifacts is the artifacts container: one document per image digest.
type Artifacts interface {
	Artifact(ctx context.Context, digest string) (*model.Artifact, error)
	UpdateArtifact(ctx context.Context, digest string, fn func(a *model.Artifact, exists bool) error) (*model.Artifact, bool, error)
	ArtifactsTagged(ctx context.Context, image, tag string, limit int) ([]model.Artifact, bool, error)
	// ArtifactsOf reads the artifacts of digests (those that have one);
	// SaveArtifact writes one it read (exists) or a new one, under the
	// ETag it was read with (model.ErrPreconditionFailed when another
	// writer got there first).
	ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error)
	SaveArtifact(ctx context.Context, a *model.Artifact, exists bool) (bool, error)
}

// Workloads is the workloads container, partitioned by cluster.
type Workloads interface {
	Workload(ctx context.Context, cluster, id string) (*model.Workload, error)
	UpdateWorkload(ctx context.Context, cluster, id string, fn func(w *model.Workload, exists bool) error) (*model.Workload, bool, error)
	WorkloadsOnDigests(ctx context.Context, digests []string, limit int) ([]model.Workload, bool, error)
	WorkloadsOfCluster(ctx context.Context, cluster, resourceID string, limit int) ([]model.Workload, bool, error)
	WorkloadsWithRisksIn(ctx context.Context, cluster string, limit int) ([]model.Workload, bool, error)
	WorkloadsOnClusters(ctx context.Context, clusters, resourceIDs []string, fn func(w *model.Workload) error) error
	WorkloadsWithRiskFrom(ctx context.Context, prefix string, fn func(w *model.Workload) error) error
	// WorkloadsRunningImage lists the workloads not gone that run an
	// image (normalized name) or one of digests, in any cluster.
	WorkloadsRunningImage(ctx context.Context, image string, digests []string) ([]model.Workload, error)
	DeleteWorkload(ctx context.Context, cluster, id string) error
	// WorkloadsWithLegacyIDIn lists a partition's workloads stored under
	// model.WorkloadID ids (before deployment records had
	// model.DeploymentWorkloadID ones).
	WorkloadsWithLegacyIDIn(ctx context.Context, cluster string, limit int) ([]model.Workload, bool, error)
	// WorkloadsIn and SaveWorkload are the two halves of a batch's
	// read-modify-writes in one partition: the documents with one of ids
	// in one read, then each written under the ETag it was read with
	// (model.ErrPreconditionFailed when another writer got there first).
	WorkloadsIn(ctx context.Context, cluster string, ids []string) ([]model.Workload, error)
	SaveWorkload(ctx context.Context, w *model.Workload, exists bool) (bool, error)
}

// Findings is what the inventory does to findings itself: finding those
// to re-file or resolve, and dropping a re-filed one from its old
// partition. Merges go through the FindingWriter.
type Findings interface {
	FindingsOnDigestIn(ctx context.Context, repository, digest string, limit int) ([]model.Finding, bool, error)
	FindingsOfDefenderRecord(ctx context.Context, id string, limit int) ([]model.Finding, bool, error)
	DeleteFinding(ctx context.Context, repository, id string) error
}

// Store is all the inventory keeps its state in.
type Store interface {
	Artifacts
	Workloads
	Findings
}

// SyncQueue takes the artifact-metadata records to push to GitHub
// (queue.RecordSyncs over the sync queue). A duplicate is harmless: the
// sync is level-triggered.
type SyncQueue interface {
	// EnqueueDeploymentSync asks for a workload's deployment record to be
	// pushed to the GitHub of org.
	EnqueueDeploymentSync(ctx context.Context, org, cluster, workloadID string) error
	// EnqueueStorageSync asks for the storage record of a digest to be
	// pushed to GitHub.
	EnqueueStorageSync(ctx context.Context, digest, repository string) error
}
