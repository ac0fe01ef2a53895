package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// What group sync (shared/groupsync) asks besides the group itself: the
// backlog above a priority, and the shared budget of GitHub writes.

// A group is pending when its desired issue is ahead of what was synced
// and there is an issue to open or to keep. A group never synced has no
// synced hash at all (omitempty), which compares as undefined in Cosmos
// DB SQL, hence IS_DEFINED.
const sqlPendingAbove = "SELECT c.id, c.repository FROM c WHERE STARTSWITH(c.repository, @prefix) " +
	"AND (NOT IS_DEFINED(c.synced.hash) OR c.desired.hash != c.synced.hash) " +
	"AND (c.desired.open = true OR c.synced.issueNumber > 0) " +
	"AND ARRAY_CONTAINS(@priorities, c.desired.priority)"

// PendingAbove counts the groups of org (repositories "org/...") that are
// pending and whose desired priority ranks above rank, up to
// maxPendingCount. Cross-partition: an org's groups sit in one partition
// per repository; only ids are read, and only syncs below Critical that
// are about to write ask it (groupsync's pacing). The count is made here,
// not with COUNT: the Go SDK does not merge aggregates across partitions.
func (s *Store) PendingAbove(ctx context.Context, org string, rank int) (int, error) {
	var above []string
	for _, p := range []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow} {
		if p.Rank() > rank {
			above = append(above, string(p))
		}
	}
	if len(above) == 0 {
		return 0, nil
	}
	q := cosmos.Query{SQL: sqlPendingAbove, Params: map[string]any{
		"@prefix": strings.ToLower(org) + "/", "@priorities": above}}
	gs, _, err := collectBounded(ctx, s.db.Groups, q, maxPendingCount, fmt.Sprintf("count pending groups of %s above rank %d", org, rank))
	if err != nil {
		return 0, err
	}
	return len(gs), nil
}

// maxPendingCount bounds PendingAbove: past it the answer only says "many".
const maxPendingCount = 5000

// WriteBudget reads an org's budget of GitHub writes; nil when there is
// none yet. Partition: the budget's id (leases container).
func (s *Store) WriteBudget(ctx context.Context, org string) (*model.WriteBudget, error) {
	id := model.WriteBudgetID(org)
	b, err := s.db.WriteBudgets.Get(ctx, id, id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// UpdateWriteBudget is an ETag-guarded read-modify-write of an org's
// budget of GitHub writes (created on first use). Partition: the budget's
// id (leases container).
func (s *Store) UpdateWriteBudget(ctx context.Context, org string, fn func(b *model.WriteBudget) error) error {
	id := model.WriteBudgetID(org)
	_, _, err := s.db.WriteBudgets.Update(ctx, id, id, func(b *model.WriteBudget, exists bool) error {
		if !exists {
			b.ID, b.Org = id, org
		}
		return fn(b)
	})
	return err
}

const sqlGroupsWithIssues = "SELECT * FROM c WHERE c.desired.open = true OR c.synced.issueNumber > 0"

// GroupsWithIssues lists the groups that have an issue or want one, at
// most limit: what a dry-run plan covers. Cross-partition: every
// repository; bounded by limit.
func (s *Store) GroupsWithIssues(ctx context.Context, limit int) (gs []model.Group, complete bool, err error) {
	return collectBounded(ctx, s.db.Groups, cosmos.Query{SQL: sqlGroupsWithIssues}, limit, "groups with issues")
}
