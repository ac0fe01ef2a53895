package groupsync

import (
	"context"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// Copilot assigns an issue to Copilot coding agent (*github.Copilot).
type Copilot interface {
	Assign(ctx context.Context, repo string, number int, a github.AgentAssignment) error
}

// assignCopilot hands the issue the sync just opened to Copilot when the
// plan asked for it. A refusal (no user token, the agent not enabled, a
// GitHub error) is logged and nothing else: the issue keeps its owners, and
// the hand-over is not retried, since the issue exists now.
func (s *Syncer) assignCopilot(ctx context.Context, res *Result) {
	if s.Copilot == nil || s.DryRun || !res.Applied || res.Issue == nil || res.Issue.Number == 0 {
		return
	}
	for _, a := range res.Actions {
		if a.Kind != remediation.KindAssignCopilot || a.Copilot == nil {
			continue
		}
		repo := res.Issue.Repository
		if repo == "" {
			repo = res.Repository
		}
		err := s.Copilot.Assign(ctx, repo, res.Issue.Number, github.AgentAssignment{
			TargetRepo: a.Copilot.TargetRepo, CustomInstructions: a.Copilot.Instructions})
		if err != nil {
			s.log().Warn("copilot assignment failed; the issue keeps its owners", "repository", repo,
				"groupId", res.GroupID, "issue", res.Issue.Number, "error", err)
			continue
		}
		s.log().Info("issue assigned to Copilot coding agent", "repository", repo, "groupId", res.GroupID, "issue", res.Issue.Number)
	}
}
