package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
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
	g, changed, err := t.Store.UpdateGroup(ctx, repository, groupID, func(g *model.Group, exists bool) error {
		before = g.Desired.Hash
		fs, err := t.groupFindings(ctx, repository, groupID)
		if err != nil {
			return err
		}
		if len(fs) == 0 && !exists {
			return model.ErrSkip
		}
		related, err := t.relatedOutside(ctx, fs)
		if err != nil {
			return err
		}
		arts, err := BuildArtifacts(ctx, t.Store, groupID, fs)
		if err != nil {
			return err
		}
		t.fillGroup(g, exists, repository, groupID, fs, related, arts)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("refresh group %s: %w", groupID, err)
	}
	if !changed {
		return false, nil
	}
	return t.enqueueIfDue(ctx, g, before)
}

// groupFindings reads the findings of a group. An alert group can hold
// only the finding its id names (AlertGroupID), so that is a point read
// rather than a query: the same answer for less work in the store.
func (t *Triage) groupFindings(ctx context.Context, repository, groupID string) ([]model.Finding, error) {
	if id, ok := strings.CutPrefix(groupID, model.AlertGroupID("")); ok && id != "" {
		f, err := t.Store.Finding(ctx, repository, id)
		switch {
		case isNotFound(err):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("load findings of group %s: %w", groupID, err)
		case f.GroupID != groupID || f.Repository != repository:
			return nil, nil // no longer in this group
		}
		return []model.Finding{*f}, nil
	}
	return t.Store.FindingsOfGroup(ctx, repository, groupID)
}

// BuildArtifacts loads what the build section of an image group's issue
// shows (remediation.IssueInput.Artifacts): the artifacts of its
// findings' digests. Other groups show none, and cost no read. Triage and
// group sync both render with it, so they render the same body.
func BuildArtifacts(ctx context.Context, st interface {
	ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error)
}, groupID string, fs []model.Finding) ([]model.Artifact, error) {
	digests := remediation.Digests(fs)
	if !strings.HasPrefix(groupID, model.ImageGroupPrefix) || len(digests) == 0 {
		return nil, nil
	}
	arts, err := st.ArtifactsOf(ctx, digests)
	if err != nil {
		return nil, fmt.Errorf("load the artifacts of group %s: %w", groupID, err)
	}
	return arts, nil
}

// fillGroup computes a group from all its findings, the findings related
// to them and the artifacts of their digests (BuildArtifacts).
func (t *Triage) fillGroup(g *model.Group, exists bool, repository, groupID string, fs, related []model.Finding, arts []model.Artifact) {
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
	g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: *g, Findings: fs, Related: related, MinPriority: t.minPriority(), Cloud: t.Cloud, Artifacts: arts})
}

// enqueueIfDue enqueues a sync of a group just written whose desired
// state changed from before. A group with no issue whose desired state is
// closed has nothing to sync; it is enqueued once it must open.
func (t *Triage) enqueueIfDue(ctx context.Context, g *model.Group, before string) (bool, error) {
	if g.Desired.Hash == before || !(g.Desired.Open || g.Synced.IssueNumber != 0) || t.Sync == nil {
		return false, nil
	}
	if err := t.Sync.EnqueueGroupSync(ctx, g.Repository, g.ID); err != nil {
		return false, fmt.Errorf("refresh group %s: %w", g.ID, err)
	}
	return true, nil
}

// createAlertGroup is RefreshGroup for the group of a finding that was
// just created, without its read and query: an alert group holds exactly
// one finding (AlertGroupID is one finding's id), so a finding with no
// related findings, just created, is all its group needs. It creates the
// group if none exists and reports false, writing nothing, when one does
// (a retry, or a racing delivery for the same alert): the caller then
// refreshes it the guarded way.
//
// Racing writers stay safe: every writer that changes the finding later
// refreshes the group itself after its write, reading the finding inside
// its ETag-guarded step, and a create here that lands between its read of
// "no group" and its create turns its create into a guarded retry
// (Container.Update), so the group never ends older than the finding.
func (t *Triage) createAlertGroup(ctx context.Context, f *model.Finding) (bool, error) {
	if kind, id := GroupOf(f); kind != GroupKindAlert || id != f.GroupID || len(f.Related) > 0 {
		return false, nil
	}
	g := &model.Group{}
	t.fillGroup(g, false, f.Repository, f.GroupID, []model.Finding{*f}, nil, nil) // an alert group: no build section
	created, err := t.Store.CreateGroup(ctx, g)
	if err != nil {
		return false, fmt.Errorf("refresh group %s: %w", f.GroupID, err)
	}
	if !created {
		return false, nil
	}
	if _, err := t.enqueueIfDue(ctx, g, ""); err != nil {
		return true, err
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
	out, err := t.Store.FindingsByID(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load related findings: %w", err)
	}
	return out, nil
}
