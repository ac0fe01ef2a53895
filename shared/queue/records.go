package queue

import "context"

// RecordSyncs enqueues the artifact-metadata syncs on a Sync: the sync
// queue as the inventory sees it (inventory.SyncQueue). A nil Sync
// enqueues nothing (tools and tests that run without the queue).
type RecordSyncs struct{ Sync Sync }

// EnqueueDeploymentSync asks for one workload's deployment record to be
// pushed to the GitHub of org.
func (r RecordSyncs) EnqueueDeploymentSync(ctx context.Context, org, cluster, workloadID string) error {
	if r.Sync == nil {
		return nil
	}
	return r.Sync.EnqueueSync(ctx, DeploymentSync(org, cluster, workloadID))
}

// EnqueueStorageSync asks for the storage record of an image digest to be
// pushed to GitHub.
func (r RecordSyncs) EnqueueStorageSync(ctx context.Context, digest, repository string) error {
	if r.Sync == nil {
		return nil
	}
	return r.Sync.EnqueueSync(ctx, StorageSync(digest, repository))
}

// DeploymentSync is the request that pushes a workload's deployment record.
func DeploymentSync(org, cluster, workloadID string) SyncRequest {
	return SyncRequest{Kind: KindDeployment, Org: org, Cluster: cluster, WorkloadID: workloadID}
}

// StorageSync is the request that pushes the storage record of a digest.
func StorageSync(digest, repository string) SyncRequest {
	return SyncRequest{Kind: KindStorage, Digest: digest, Repository: repository}
}
