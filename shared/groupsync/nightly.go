package groupsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// AssignmentLister lists every governance assignment in scope
// (*arm.Client, through Resource Graph).
type AssignmentLister interface {
	ListAssignments(ctx context.Context) ([]model.GovernanceAssignment, error)
}

// OpenFindings streams the open findings (*store.Store).
type OpenFindings interface {
	OpenFindings(ctx context.Context, fn func(f *model.Finding) error) error
}

// GroupUpdater is the ETag-guarded write of a group (*store.Store).
type GroupUpdater interface {
	UpdateGroup(ctx context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (*model.Group, bool, error)
}

// RefreshGovernance is the nightly read of Defender's side: every
// governance assignment in one Resource Graph query, recorded on each group
// whose open findings rest on the assessments; a group whose record of
// them changed (a security manager's new assignment, an owner or due date
// moved, one removed) is enqueued, so its sync opens the issue or shows the
// change. A group in step is not written. It returns how many groups
// changed.
func RefreshGovernance(ctx context.Context, list AssignmentLister, findings OpenFindings, groups GroupUpdater,
	enqueue func(ctx context.Context, repository, groupID string) error, now time.Time) (int, error) {
	all, err := list.ListAssignments(ctx)
	if err != nil {
		return 0, err
	}
	byAssessment := map[string][]model.GovernanceAssignment{}
	for _, a := range all {
		k := strings.ToLower(a.AssessmentID)
		byAssessment[k] = append(byAssessment[k], a)
	}
	type key struct{ repo, group string }
	assessments := map[key][]string{}
	err = findings.OpenFindings(ctx, func(f *model.Finding) error {
		if f.GroupID == "" {
			return nil
		}
		k := key{f.Repository, f.GroupID}
		for _, id := range remediation.Assessments([]model.Finding{*f}) {
			if !slices.Contains(assessments[k], strings.ToLower(id)) {
				assessments[k] = append(assessments[k], strings.ToLower(id))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	changed := 0
	var errs []error
	for k, ids := range assessments {
		var want []model.GovernanceAssignment
		for _, id := range ids {
			want = append(want, byAssessment[id]...)
		}
		_, wrote, err := groups.UpdateGroup(ctx, k.repo, k.group, func(g *model.Group, exists bool) error {
			if !exists {
				return model.ErrSkip
			}
			var have []model.GovernanceAssignment
			if g.Governance != nil {
				have = g.Governance.Assignments
			}
			if sameAssignments(have, want) {
				return model.ErrSkip
			}
			gv := model.GroupGovernance{}
			if g.Governance != nil {
				gv = *g.Governance
			}
			gv.Assignments, gv.ReadAt = want, now
			g.Governance = &gv
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("record governance assignments of group %s: %w", k.group, err))
			continue
		}
		if !wrote {
			continue
		}
		changed++
		if err := enqueue(ctx, k.repo, k.group); err != nil {
			errs = append(errs, fmt.Errorf("enqueue group %s: %w", k.group, err))
		}
	}
	return changed, errors.Join(errs...)
}

func sameAssignments(a, b []model.GovernanceAssignment) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y model.GovernanceAssignment) bool {
			return strings.EqualFold(x.ID(), y.ID()) && strings.EqualFold(x.Owner, y.Owner) && x.RemediationDueDate.Equal(y.RemediationDueDate) &&
				x.ETA.Equal(y.ETA) && x.TicketNumber == y.TicketNumber && x.TicketLink == y.TicketLink && x.TicketStatus == y.TicketStatus &&
				x.IsGracePeriod == y.IsGracePeriod
		}) {
			return false
		}
	}
	return true
}
