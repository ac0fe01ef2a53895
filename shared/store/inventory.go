package store

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// What the runtime inventory (shared/inventory, shared/ghapp's build
// evidence, shared/artifactsync) reads and writes: artifacts by digest,
// workloads by cluster, and the findings it re-files when an image's
// source changes.
const (
	sqlArtifactsTagged   = "SELECT * FROM c WHERE c.image = @image AND ARRAY_CONTAINS(c.tags, @tag)"
	sqlArtifactsOfCommit = "SELECT * FROM c WHERE c.commit = @commit"

	sqlWorkloadsOfCluster       = "SELECT * FROM c WHERE LOWER(c.cluster) = @cluster OR LOWER(c.resourceId) = @rid"
	sqlWorkloadsWithRisksIn     = "SELECT * FROM c WHERE ARRAY_LENGTH(c.risks) > 0"
	sqlWorkloadsOnAttackPaths   = "SELECT * FROM c WHERE ARRAY_CONTAINS(@clusters, LOWER(c.cluster)) OR ARRAY_CONTAINS(@rids, LOWER(c.resourceId))"
	sqlWorkloadsWithRiskPrefix  = "SELECT * FROM c WHERE EXISTS(SELECT VALUE r FROM r IN c.risks WHERE STARTSWITH(r.source, @prefix))"
	sqlFindingsOfDefenderRecord = "SELECT * FROM c WHERE ARRAY_CONTAINS(c.defenderIds, @id)"
)

// UpdateArtifact is an ETag-guarded read-modify-write of the artifact of
// digest (see UpdateFinding): fn gets the stored artifact (a zero value
// and exists=false when there is none; it must then set ID and Digest to
// digest) or returns model.ErrSkip to write nothing. Partition: digest.
func (s *Store) UpdateArtifact(ctx context.Context, digest string, fn func(a *model.Artifact, exists bool) error) (a *model.Artifact, changed bool, err error) {
	return s.db.Artifacts.Update(ctx, digest, digest, fn)
}

// SaveArtifact writes an artifact read by ArtifactsOf (exists) or new,
// unless its content is what was read; an existing one is replaced under
// the ETag it was read with. The error wraps model.ErrPreconditionFailed
// when another writer got there first. Partition: a.Digest.
func (s *Store) SaveArtifact(ctx context.Context, a *model.Artifact, exists bool) (written bool, err error) {
	return s.db.Artifacts.Save(ctx, a, exists)
}

// ArtifactsTagged lists the digests of image (normalized name) that carry
// tag, at most limit (limit <= 0: all); complete is false when there were
// more. Cross-partition: an image has many digests, and a registry event
// that deletes a tag does not say which.
func (s *Store) ArtifactsTagged(ctx context.Context, image, tag string, limit int) (arts []model.Artifact, complete bool, err error) {
	q := cosmos.Query{SQL: sqlArtifactsTagged, Params: map[string]any{"@image": image, "@tag": tag}}
	return collectBounded(ctx, s.db.Artifacts, q, limit, fmt.Sprintf("find digests of %s:%s", image, tag))
}

// ArtifactsOfCommit calls fn with every artifact whose source commit is
// commit (the images a workflow run built). Cross-partition: a commit may
// have built several digests.
func (s *Store) ArtifactsOfCommit(ctx context.Context, commit string, fn func(a *model.Artifact) error) error {
	q := cosmos.Query{SQL: sqlArtifactsOfCommit, Params: map[string]any{"@commit": commit}}
	if err := s.db.Artifacts.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("find images of commit %s: %w", commit, err)
	}
	return nil
}

// UpdateWorkload is an ETag-guarded read-modify-write of one workload
// (see UpdateFinding). Partition: cluster.
func (s *Store) UpdateWorkload(ctx context.Context, cluster, id string, fn func(w *model.Workload, exists bool) error) (w *model.Workload, changed bool, err error) {
	return s.db.Workloads.Update(ctx, cluster, id, fn)
}

// WorkloadsOfCluster lists the workloads of a Kubernetes cluster, named
// by its cluster name or its Azure resource id (both matched lower case:
// pass them lower case), gone ones included, at most limit (limit <= 0:
// all); complete is false when there were more. Cross-partition: the
// partition key is the cluster name as the deployment record spelled it,
// and a Defender assessment names the cluster by its resource.
func (s *Store) WorkloadsOfCluster(ctx context.Context, cluster, resourceID string, limit int) (ws []model.Workload, complete bool, err error) {
	q := cosmos.Query{SQL: sqlWorkloadsOfCluster, Params: map[string]any{"@cluster": cluster, "@rid": resourceID}}
	return collectBounded(ctx, s.db.Workloads, q, limit, "find workloads of cluster "+cluster)
}

// DeleteWorkload removes one workload (one stored under an id it no
// longer has); a missing workload is not an error. Partition: cluster.
func (s *Store) DeleteWorkload(ctx context.Context, cluster, id string) error {
	return s.db.Workloads.Delete(ctx, cluster, id)
}

// WorkloadsWithRisksIn lists workloads stored under cluster that carry a
// risk, at most limit (limit <= 0: all). Partition: cluster.
func (s *Store) WorkloadsWithRisksIn(ctx context.Context, cluster string, limit int) (ws []model.Workload, complete bool, err error) {
	q := cosmos.Query{SQL: sqlWorkloadsWithRisksIn, PartitionKey: cluster}
	return collectBounded(ctx, s.db.Workloads, q, limit, "read risks of cluster "+cluster)
}

// WorkloadsOnClusters calls fn with every workload whose cluster name is
// one of clusters or whose cluster resource id is one of resourceIDs (both
// matched lower case: pass them lower case), page by page.
// Cross-partition: the clusters an attack path names, by name or resource.
func (s *Store) WorkloadsOnClusters(ctx context.Context, clusters, resourceIDs []string, fn func(w *model.Workload) error) error {
	q := cosmos.Query{SQL: sqlWorkloadsOnAttackPaths, Params: map[string]any{"@clusters": nonNil(clusters), "@rids": nonNil(resourceIDs)}}
	if err := s.db.Workloads.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("find workloads on clusters: %w", err)
	}
	return nil
}

// WorkloadsWithRiskFrom calls fn with every workload carrying a risk whose
// source starts with prefix (mapping.RiskSourceAttackPathPrefix: the
// workloads an attack path reached), page by page. Cross-partition: any
// cluster.
func (s *Store) WorkloadsWithRiskFrom(ctx context.Context, prefix string, fn func(w *model.Workload) error) error {
	q := cosmos.Query{SQL: sqlWorkloadsWithRiskPrefix, Params: map[string]any{"@prefix": prefix}}
	if err := s.db.Workloads.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("find workloads with %s risk: %w", prefix, err)
	}
	return nil
}

// FindingsOnDigestIn lists the findings stored under repository that were
// seen on digest, at most limit (limit <= 0: all); complete is false when
// there were more. Partition: repository.
func (s *Store) FindingsOnDigestIn(ctx context.Context, repository, digest string, limit int) (fs []model.Finding, complete bool, err error) {
	q := cosmos.Query{SQL: sqlFindingsOnDigest, Params: map[string]any{"@digest": digest}, PartitionKey: repository}
	return collectBounded(ctx, s.db.Findings, q, limit, fmt.Sprintf("find findings of %s in %s", digest, repository))
}

// FindingsOfDefenderRecord lists the findings resting on a Defender record
// (a sub-assessment or alert id in their defenderIds), at most limit
// (limit <= 0: all); complete is false when there were more.
// Cross-partition: a deleted sub-assessment says neither its image nor
// its repository.
func (s *Store) FindingsOfDefenderRecord(ctx context.Context, id string, limit int) (fs []model.Finding, complete bool, err error) {
	q := cosmos.Query{SQL: sqlFindingsOfDefenderRecord, Params: map[string]any{"@id": id}}
	return collectBounded(ctx, s.db.Findings, q, limit, "find findings of Defender record "+id)
}

// DeleteFinding removes one finding (re-filed under another repository);
// a missing finding is not an error. Partition: repository.
func (s *Store) DeleteFinding(ctx context.Context, repository, id string) error {
	return s.db.Findings.Delete(ctx, repository, id)
}
