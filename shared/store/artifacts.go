package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The artifacts container is partitioned by /digest (id = digest).
const (
	sqlArtifactsBuiltFrom = "SELECT * FROM c WHERE c.repository = @repo"
	sqlArtifactsOf        = "SELECT * FROM c WHERE ARRAY_CONTAINS(@digests, c.digest)"
)

// Artifact reads the artifact of one digest; the error wraps
// model.ErrNotFound when there is none. Partition: digest.
func (s *Store) Artifact(ctx context.Context, digest string) (*model.Artifact, error) {
	return s.db.Artifacts.Get(ctx, digest, digest)
}

// ArtifactsBuiltFrom lists the artifacts whose strongest evidence names
// repo (normalized "owner/name"), at most limit of them (limit <= 0: all);
// complete is false when there were more. Cross-partition: artifacts are
// partitioned by digest, and a repository builds many.
func (s *Store) ArtifactsBuiltFrom(ctx context.Context, repo string, limit int) (arts []model.Artifact, complete bool, err error) {
	q := cosmos.Query{SQL: sqlArtifactsBuiltFrom, Params: map[string]any{"@repo": repo}}
	return collectBounded(ctx, s.db.Artifacts, q, limit, "load artifacts of "+repo)
}

// ArtifactsOf reads the artifacts of digests (those that have one), a
// query per hundred digests. Cross-partition: one partition per digest.
func (s *Store) ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error) {
	var out []model.Artifact
	for chunk := range slices.Chunk(digests, digestChunk) {
		q := cosmos.Query{SQL: sqlArtifactsOf, Params: map[string]any{"@digests": chunk}}
		arts, err := collect(ctx, s.db.Artifacts, q)
		if err != nil {
			return nil, fmt.Errorf("load artifacts: %w", err)
		}
		out = append(out, arts...)
	}
	return out, nil
}
