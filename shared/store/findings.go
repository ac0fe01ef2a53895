package store

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The findings container is partitioned by /repository.
const (
	sqlFindingsOnDigest = "SELECT * FROM c WHERE ARRAY_CONTAINS(c.digests, @digest)"
)

// FindingsOnDigest lists the findings seen on an image digest, at most
// limit (limit <= 0: all); complete is false when there were more.
// Cross-partition: an image's findings are stored under the repository it
// maps to, which the digest does not say.
func (s *Store) FindingsOnDigest(ctx context.Context, digest string, limit int) (fs []model.Finding, complete bool, err error) {
	q := cosmos.Query{SQL: sqlFindingsOnDigest, Params: map[string]any{"@digest": digest}}
	fs, complete, err = collectBounded(ctx, s.db.Findings, q, limit)
	if err != nil {
		return nil, false, fmt.Errorf("findings on %s: %w", digest, err)
	}
	return fs, complete, nil
}
