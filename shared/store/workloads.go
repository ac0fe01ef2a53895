package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The workloads container is partitioned by /cluster. Gone workloads count
// for nothing in a score, so the "running" queries leave them out; the
// API's views show them with their status.
const (
	sqlWorkloadsRunning      = "SELECT * FROM c WHERE c.status != @gone AND ARRAY_CONTAINS(@digests, c.digest)"
	sqlWorkloadsRunningImage = "SELECT * FROM c WHERE c.status != @gone AND (c.image = @image OR ARRAY_CONTAINS(@digests, c.digest))"
	sqlWorkloadsRunningAny   = "SELECT * FROM c WHERE c.status != @gone AND (ARRAY_CONTAINS(@images, c.image) OR ARRAY_CONTAINS(@digests, c.digest))"
	sqlWorkloadsRunningRepo  = "SELECT * FROM c WHERE c.status != @gone AND (c.repository = @repo OR (c.repository = @name AND LOWER(c.org) = @owner) OR ARRAY_CONTAINS(@digests, c.digest))"
	sqlRunningWorkloads      = "SELECT * FROM c WHERE c.status != @gone"
	sqlWorkloadsNamingRepo   = "SELECT * FROM c WHERE c.repository = @repo"
	sqlWorkloadsOnDigests    = "SELECT * FROM c WHERE ARRAY_CONTAINS(@digests, c.digest)"
)

var gone = string(model.WorkloadGone)

// Workload reads one workload; the error wraps model.ErrNotFound when
// there is none. Partition: cluster.
func (s *Store) Workload(ctx context.Context, cluster, id string) (*model.Workload, error) {
	return s.db.Workloads.Get(ctx, cluster, id)
}

// WorkloadsRunning lists the workloads that are not gone and run one of
// digests, a query per hundred digests. Cross-partition: a digest runs
// in any cluster.
func (s *Store) WorkloadsRunning(ctx context.Context, digests []string) ([]model.Workload, error) {
	var out []model.Workload
	for chunk := range slices.Chunk(digests, digestChunk) {
		ws, err := collect(ctx, s.db.Workloads, cosmos.Query{SQL: sqlWorkloadsRunning,
			Params: map[string]any{"@gone": gone, "@digests": chunk}})
		if err != nil {
			return nil, fmt.Errorf("%s running %d digests: %w", "load workloads", len(chunk), err)
		}
		out = append(out, ws...)
	}
	return out, nil
}

// WorkloadsRunningImage lists the workloads that are not gone and run the
// image (normalized name) or one of its digests (at most a hundred: those
// a finding names). Cross-partition: an image runs in any cluster.
func (s *Store) WorkloadsRunningImage(ctx context.Context, image string, digests []string) ([]model.Workload, error) {
	ws, err := collect(ctx, s.db.Workloads, cosmos.Query{SQL: sqlWorkloadsRunningImage,
		Params: map[string]any{"@gone": gone, "@image": image, "@digests": nonNil(digests)}})
	if err != nil {
		return nil, fmt.Errorf("load workloads of image %s: %w", image, err)
	}
	return ws, nil
}

// WorkloadsRunningImages lists the workloads that are not gone and run
// one of images (normalized names) or one of digests: WorkloadsRunningImage
// for a batch of images at once, a query per hundred images and hundred
// digests. A workload may come twice. Cross-partition: an image runs in
// any cluster.
func (s *Store) WorkloadsRunningImages(ctx context.Context, images, digests []string) ([]model.Workload, error) {
	var out []model.Workload
	for len(images) > 0 || len(digests) > 0 {
		ni, nd := min(len(images), digestChunk), min(len(digests), digestChunk)
		ws, err := collect(ctx, s.db.Workloads, cosmos.Query{SQL: sqlWorkloadsRunningAny,
			Params: map[string]any{"@gone": gone, "@images": nonNil(images[:ni]), "@digests": nonNil(digests[:nd])}})
		if err != nil {
			return nil, fmt.Errorf("load workloads of %d images and %d digests: %w", ni, nd, err)
		}
		out = append(out, ws...)
		images, digests = images[ni:], digests[nd:]
	}
	return out, nil
}

// WorkloadsRunningRepository lists the workloads that are not gone and
// either name repo ("owner/name", normalized; also as a bare name with
// the owner as org) or run one of digests (the repository's artifacts).
// A workload may come twice. Cross-partition: the code of a repository
// runs in any cluster; one query, then one more per hundred digests past
// the first hundred.
func (s *Store) WorkloadsRunningRepository(ctx context.Context, repo string, digests []string) ([]model.Workload, error) {
	owner, name, _ := strings.Cut(repo, "/")
	n := min(len(digests), digestChunk)
	out, err := collect(ctx, s.db.Workloads, cosmos.Query{SQL: sqlWorkloadsRunningRepo, Params: map[string]any{
		"@gone": gone, "@repo": repo, "@name": name, "@owner": owner, "@digests": nonNil(digests[:n]),
	}})
	if err != nil {
		return nil, fmt.Errorf("load workloads of %s: %w", repo, err)
	}
	more, err := s.WorkloadsRunning(ctx, digests[n:])
	if err != nil {
		return nil, fmt.Errorf("load workloads of %s: %w", repo, err)
	}
	return append(out, more...), nil
}

// RunningWorkloads calls fn with every workload that is not gone: the
// runtime half of the code-to-runtime map. Streams page by page.
// Cross-partition: every cluster.
func (s *Store) RunningWorkloads(ctx context.Context, fn func(w *model.Workload) error) error {
	q := cosmos.Query{SQL: sqlRunningWorkloads, Params: map[string]any{"@gone": gone}}
	if err := s.db.Workloads.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("load workloads: %w", err)
	}
	return nil
}

// WorkloadsNamingRepository lists the workloads whose own record names
// repo, gone ones included, at most limit (limit <= 0: all); complete is
// false when there were more. Cross-partition: any cluster.
func (s *Store) WorkloadsNamingRepository(ctx context.Context, repo string, limit int) (ws []model.Workload, complete bool, err error) {
	q := cosmos.Query{SQL: sqlWorkloadsNamingRepo, Params: map[string]any{"@repo": repo}}
	return collectBounded(ctx, s.db.Workloads, q, limit, "load workloads of "+repo)
}

// WorkloadsOnDigests lists the workloads on one of digests, gone ones
// included, at most limit per hundred digests (limit <= 0: all); complete
// is false when a query had more. Cross-partition: any cluster.
func (s *Store) WorkloadsOnDigests(ctx context.Context, digests []string, limit int) (ws []model.Workload, complete bool, err error) {
	complete = true
	for chunk := range slices.Chunk(digests, digestChunk) {
		q := cosmos.Query{SQL: sqlWorkloadsOnDigests, Params: map[string]any{"@digests": chunk}}
		more, full, err := collectBounded(ctx, s.db.Workloads, q, limit, fmt.Sprintf("load workloads on %d digests", len(chunk)))
		if err != nil {
			return nil, false, err
		}
		complete = complete && full
		ws = append(ws, more...)
	}
	return ws, complete, nil
}
