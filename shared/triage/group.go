package triage

import (
	"context"
	"fmt"
	"slices"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

const (
	sqlGroupFindings = "SELECT * FROM c WHERE c.repository = @repo AND c.groupId = @group"
	sqlFindingsByID  = "SELECT * FROM c WHERE ARRAY_CONTAINS(@ids, c.id)"
)

// RefreshGroup recomputes the desired issue of one group from its findings
// and, when the desired state changed and there is an issue to open or to
// update, enqueues a sync of the group. The
// group write is ETag-guarded and its findings are read inside the guarded
// step, so two instances refreshing the same group at once both end with
// every finding in it. enqueued reports whether a sync was enqueued.
//
// A failed enqueue returns an error after the group was written; the
// nightly run re-enqueues every group whose synced state is behind.
func (t *Triage) RefreshGroup(ctx context.Context, repository, groupID string) (enqueued bool, err error) {
	var before string
	g, changed, err := t.Store.Groups.Update(ctx, repository, groupID, func(g *model.Group, exists bool) error {
		before = g.Desired.Hash
		var fs []model.Finding
		q := cosmos.Query{SQL: sqlGroupFindings, PartitionKey: repository, Params: map[string]any{"@repo": repository, "@group": groupID}}
		if err := t.Store.Findings.Query(ctx, q, func(f *model.Finding) error {
			fs = append(fs, *f)
			return nil
		}); err != nil {
			return fmt.Errorf("load findings of group %s: %w", groupID, err)
		}
		if len(fs) == 0 && !exists {
			return cosmos.ErrSkip
		}
		related, err := t.relatedOutside(ctx, fs)
		if err != nil {
			return err
		}
		if !exists {
			g.ID, g.Repository, g.Status, g.StatusAt = groupID, repository, model.GroupActive, t.now()
		}
		g.FindingIDs = g.FindingIDs[:0]
		for i := range fs {
			f := &fs[i]
			g.FindingIDs = append(g.FindingIDs, f.ID)
			if k, _ := GroupOf(f); k != "" {
				g.Kind = k
			}
			if g.Kind == GroupKindImage && f.Image != "" {
				g.Image = f.Image
			}
		}
		slices.Sort(g.FindingIDs)
		g.Desired = RenderIssue(IssueInput{Group: *g, Findings: fs, Related: related, MinPriority: t.minPriority()})
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("refresh group %s: %w", groupID, err)
	}
	// A group with no issue whose desired state is closed has nothing to
	// sync; it is enqueued once it must open.
	if !changed || g.Desired.Hash == before || !(g.Desired.Open || g.Synced.IssueNumber != 0) || t.Sync == nil {
		return false, nil
	}
	if err := t.Sync.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindGroup, Repository: repository, GroupID: groupID}); err != nil {
		return false, fmt.Errorf("refresh group %s: %w", groupID, err)
	}
	return true, nil
}

// relatedOutside loads the findings linked to fs that are not in fs.
func (t *Triage) relatedOutside(ctx context.Context, fs []model.Finding) ([]model.Finding, error) {
	var ids []string
	for _, f := range fs {
		for _, id := range f.Related {
			inGroup := slices.ContainsFunc(fs, func(o model.Finding) bool { return o.ID == id })
			if !inGroup && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Related findings may sit under another spelling of the repository
	// (GitHub's full_name casing), so this one query spans partitions; it
	// runs only for groups that have correlated findings.
	var out []model.Finding
	q := cosmos.Query{SQL: sqlFindingsByID, Params: map[string]any{"@ids": ids}}
	if err := t.Store.Findings.Query(ctx, q, func(f *model.Finding) error {
		out = append(out, *f)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load related findings: %w", err)
	}
	return out, nil
}
