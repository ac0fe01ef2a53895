package groupsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/arm"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// Governance is the Defender for Cloud side of a group (*arm.Client).
type Governance interface {
	// AssessmentAssignments lists the assignments on one assessment.
	AssessmentAssignments(ctx context.Context, assessmentID string) ([]model.GovernanceAssignment, error)
	// PutAssignment creates or replaces one and returns what ARM stored.
	PutAssignment(ctx context.Context, a model.GovernanceAssignment) (model.GovernanceAssignment, error)
}

// DefaultGovernanceReadEvery is how long a group sync trusts its record of
// Defender's assignments: a second sync in a row asks ARM nothing.
const DefaultGovernanceReadEvery = time.Hour

func (s *Syncer) governanceReadEvery() time.Duration {
	if s.GovernanceReadEvery > 0 {
		return s.GovernanceReadEvery
	}
	return DefaultGovernanceReadEvery
}

// readGovernance reads the governance assignments on the group's
// assessments into g.Governance when the record is older than
// GovernanceReadEvery. It reports whether what the issue shows of Defender
// changed (a manager's assignment came or went, an owner or due date
// moved), so the issue is rendered again.
func (s *Syncer) readGovernance(ctx context.Context, g *model.Group, fs []model.Finding) (bool, error) {
	if s.Governance == nil {
		return false, nil
	}
	ids := remediation.Assessments(fs)
	if len(ids) == 0 {
		return false, nil
	}
	now := s.now()
	if g.Governance != nil && !g.Governance.ReadAt.IsZero() && now.Sub(g.Governance.ReadAt) < s.governanceReadEvery() {
		return false, nil
	}
	var all []model.GovernanceAssignment
	for _, id := range ids {
		list, err := s.Governance.AssessmentAssignments(ctx, id)
		switch {
		case errors.Is(err, arm.ErrNotFound):
			continue // the assessment is gone
		case err != nil:
			return false, s.governanceError(err)
		}
		all = append(all, list...)
	}
	gv := model.GroupGovernance{}
	if g.Governance != nil {
		gv = *g.Governance
	}
	before := *g
	gv.Assignments, gv.ReadAt = all, now
	g.Governance = &gv
	changed := remediation.ManagerAssigned(before) != remediation.ManagerAssigned(*g) ||
		!slices.EqualFunc(remediation.DefenderSide(before), remediation.DefenderSide(*g), func(a, b model.GovernanceAssignment) bool {
			return strings.EqualFold(a.ID(), b.ID()) && strings.EqualFold(a.Owner, b.Owner) &&
				a.RemediationDueDate.Equal(b.RemediationDueDate) && a.ETA.Equal(b.ETA)
		})
	return changed, nil
}

// syncGovernance keeps the governance assignments of the group in step
// with its issue as the GitHub side left it (res.Issue).
func (s *Syncer) syncGovernance(ctx context.Context, res *Result) error {
	g, err := s.Store.Group(ctx, res.Repository, res.GroupID)
	if errors.Is(err, model.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	is := res.Issue
	if is == nil {
		is = remediation.Recorded(*g)
	}
	if is == nil {
		return nil
	}
	fs, err := s.Store.FindingsOfGroup(ctx, res.Repository, res.GroupID)
	if err != nil {
		return err
	}
	if s.DryRun {
		// Nothing was saved: resolve the owners as the GitHub side did.
		if err := s.render(ctx, g, fs, false); err != nil {
			return err
		}
	}
	now := s.now()
	acts := remediation.PlanGovernance(*g, fs, is, now, s.GovernancePolicy)
	if len(acts) == 0 {
		return nil
	}
	res.Actions = append(res.Actions, acts...)
	if s.DryRun || is.Number == 0 {
		return nil // planned, shown, not written
	}
	var applied []remediation.Action
	var written []model.GovernanceAssignment
	var failure error
	for _, a := range acts {
		got, err := s.Governance.PutAssignment(ctx, *a.Assignment)
		if errors.Is(err, arm.ErrNotFound) {
			s.log().Warn("governance assignment not written: the assessment is gone", "repository", g.Repository,
				"groupId", g.ID, "assessmentId", a.Assignment.AssessmentID)
			continue
		}
		if err != nil {
			failure = s.governanceError(err)
			break
		}
		applied, written = append(applied, a), append(written, got)
		s.log().Info("governance assignment written", "repository", g.Repository, "groupId", g.ID,
			"assessmentId", got.AssessmentID, "assignmentKey", got.Key, "ticketNumber", got.TicketNumber,
			"ticketStatus", got.TicketStatus, "owner", got.Owner, "due", got.RemediationDueDate)
	}
	if len(applied) > 0 {
		_, _, err := s.Store.UpdateGroup(ctx, g.Repository, g.ID, func(cur *model.Group, exists bool) error {
			if !exists {
				return model.ErrSkip
			}
			remediation.ApplyGovernance(cur, applied, written, now)
			return nil
		})
		if err != nil {
			return errors.Join(failure, fmt.Errorf("record governance assignments of group %s: %w", g.ID, err))
		}
		res.Applied = true
	}
	return failure
}

// governanceError: ARM's throttling puts the message back with the delay
// it asks for; a missing role (403) is reported in health and logged once
// by the client, and does not fail the GitHub side's invocation over and
// over; anything else (5xx after retries) fails it.
func (s *Syncer) governanceError(err error) error {
	var ra *arm.RetryAfterError
	if errors.As(err, &ra) {
		return &Deferred{Delay: max(time.Second, ra.RetryAfter(s.now())), Reason: err.Error()}
	}
	var fe *arm.ForbiddenError
	if errors.As(err, &fe) {
		return nil
	}
	return err
}
