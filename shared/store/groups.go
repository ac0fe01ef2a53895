package store

import (
	"context"
	"fmt"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The groups container is partitioned by /repository, like the findings
// of a group.
const (
	// Only what a sync decision reads: a group's rendered body can be tens
	// of kilobytes, and a page holds a hundred groups. A group never
	// applied has no synced hash (omitempty), and comparing with an
	// undefined value is undefined in Cosmos DB SQL, not true: hence
	// IS_DEFINED (an open claimed but never recorded has a recent
	// synced.at and no hash).
	sqlGroupsBehind = "SELECT c.id, c.repository, {\"open\": c.desired.open, \"hash\": c.desired.hash} AS desired, " +
		"{\"issueNumber\": c.synced.issueNumber, \"hash\": c.synced.hash, \"at\": c.synced.at} AS synced " +
		"FROM c WHERE NOT IS_DEFINED(c.synced.hash) OR c.desired.hash != c.synced.hash OR c.synced.at < @stale"
	// Only what says whether a group is behind its findings: the rendered
	// body of a group of thousands of CVEs is large.
	sqlGroupMembers = "SELECT c.id, c.repository, c.findingIds, c._ts FROM c WHERE c.repository = @partition AND ARRAY_CONTAINS(@ids, c.id)"
)

// GroupMembers reads the groups of repository whose id is one of ids
// (those that exist) with only their id, repository, finding ids and last
// write time (Meta.TS) filled in, a query per thousand ids.
// Partition: repository.
func (s *Store) GroupMembers(ctx context.Context, repository string, ids []string) ([]model.Group, error) {
	return in(ctx, s.db.Groups, sqlGroupMembers, repository, ids)
}

// Group reads one group; the error wraps model.ErrNotFound when there is
// none. Partition: repository.
func (s *Store) Group(ctx context.Context, repository, id string) (*model.Group, error) {
	return s.db.Groups.Get(ctx, repository, id)
}

// CreateGroup writes g unless a group with its id exists (created false,
// no error: creates on deterministic ids are idempotent).
// Partition: g.Repository.
func (s *Store) CreateGroup(ctx context.Context, g *model.Group) (created bool, err error) {
	return s.db.Groups.Create(ctx, g)
}

// UpdateGroup is an ETag-guarded read-modify-write of one group (see
// UpdateFinding). Partition: repository.
func (s *Store) UpdateGroup(ctx context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (g *model.Group, changed bool, err error) {
	return s.db.Groups.Update(ctx, repository, id, fn)
}

// GroupsBehind calls fn with every group whose desired state differs
// from its synced state or that was last synced before stale, with only
// their id, repository and the desired/synced open, hash, issue number
// and time filled in. Cross-partition: every repository.
func (s *Store) GroupsBehind(ctx context.Context, stale time.Time, fn func(g *model.Group) error) error {
	q := cosmos.Query{SQL: sqlGroupsBehind, Params: map[string]any{"@stale": stale.UTC().Format(time.RFC3339Nano)}}
	if err := s.db.Groups.Query(ctx, q, fn); err != nil {
		return fmt.Errorf("read groups behind their sync: %w", err)
	}
	return nil
}
