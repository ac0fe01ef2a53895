package groupsync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// Preview is the dry-run plan: what the sync step would write for every
// group that has or wants an issue, highest priority first.
type Preview struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// DryRun says whether the sync step itself is in dry-run (only then is
	// this plan all that happens).
	DryRun bool `json:"dryRun"`
	// Complete is false when more groups exist than were planned.
	Complete bool `json:"complete"`
	// Counts are the planned actions by kind.
	Counts map[remediation.Kind]int `json:"counts"`
	Groups []Result                 `json:"groups"`
}

// GroupLister lists the groups a preview covers (*store.Store).
type GroupLister interface {
	GroupsWithIssues(ctx context.Context, limit int) ([]model.Group, bool, error)
}

// Preview plans up to limit groups without writing anything (GitHub is
// read where the record cannot be trusted). Groups in step are left out.
func (s *Syncer) Preview(ctx context.Context, groups GroupLister, limit int) (*Preview, error) {
	gs, complete, err := groups.GroupsWithIssues(ctx, limit)
	if err != nil {
		return nil, err
	}
	dry := *s
	dry.DryRun = true
	p := &Preview{GeneratedAt: s.now().UTC(), DryRun: s.DryRun, Complete: complete, Counts: map[remediation.Kind]int{}, Groups: []Result{}}
	for _, g := range gs {
		res, err := dry.Sync(ctx, g.Repository, g.ID, false)
		if err != nil {
			return nil, fmt.Errorf("plan group %s: %w", g.ID, err)
		}
		if len(res.Actions) == 0 {
			continue
		}
		for _, a := range res.Actions {
			p.Counts[a.Kind]++
		}
		p.Groups = append(p.Groups, *res)
	}
	slices.SortStableFunc(p.Groups, func(a, b Result) int {
		return cmp.Or(b.Priority.Rank()-a.Priority.Rank(), cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.GroupID, b.GroupID))
	})
	return p, nil
}

// Opens are the issues a preview would open, highest first.
func (p *Preview) Opens() []PlannedIssue {
	var out []PlannedIssue
	for _, r := range p.Groups {
		for _, a := range r.Actions {
			if a.Kind == remediation.KindOpen && a.Open != nil {
				out = append(out, PlannedIssue{Repository: r.Repository, GroupID: r.GroupID, Priority: r.Priority,
					Title: deref(a.Open.Title), Body: deref(a.Open.Body), Labels: derefSlice(a.Open.Labels), Assignees: derefSlice(a.Open.Assignees)})
			}
		}
	}
	return out
}

// PlannedIssue is one issue a preview would open.
type PlannedIssue struct {
	Repository, GroupID string
	Priority            model.Priority
	Title, Body         string
	Labels, Assignees   []string
}
