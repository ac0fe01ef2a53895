package remediation

import (
	"fmt"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// KindAssignCopilot hands the issue just opened to Copilot coding agent
// (Action.Copilot). It follows the KindOpen it belongs to; its issue
// number is the one GitHub gives the new issue. It is planned once, when
// the issue is opened: a refusal leaves the issue with its owners.
const KindAssignCopilot Kind = "assign-copilot"

// CopilotTask is what Copilot coding agent is asked to do. The target
// repository is the group's; the base branch, the repository's default.
type CopilotTask struct {
	TargetRepo   string `json:"targetRepo"`
	Instructions string `json:"instructions"`
}

// maxCopilotFixes bounds the fixes listed in the instructions.
const maxCopilotFixes = 20

// copilot plans the hand-over of a new Critical issue.
func (pl *planner) copilot() {
	if !pl.p.CopilotAssign || pl.d.Priority != model.PriorityCritical || len(pl.active) == 0 {
		return
	}
	pl.add(Action{Kind: KindAssignCopilot, Why: "new Critical issue, handed to Copilot coding agent",
		Copilot: &CopilotTask{TargetRepo: pl.g.Repository, Instructions: CopilotInstructions(pl.g, pl.active)}})
}

// CopilotInstructions names what to fix and the fixed versions to move to,
// highest priority first. Alert text is not copied in: only identifiers,
// package names and versions, which the instructions quote.
func CopilotInstructions(g model.Group, active []model.Finding) string {
	var b strings.Builder
	where := "this repository"
	if g.Kind == model.GroupKindImage && g.Image != "" {
		where = fmt.Sprintf("the container image %q built from this repository", g.Image)
		if df := AffectedPath(g, active); df != "" {
			where += fmt.Sprintf(" (%s)", df)
		}
	}
	fmt.Fprintf(&b, "Fix the security findings of runtimelink issue group %s in %s; they run in production.\n", g.ID, where)
	listed := 0
	for _, f := range active {
		if listed == maxCopilotFixes {
			fmt.Fprintf(&b, "- and %d more listed in the issue.\n", len(active)-listed)
			break
		}
		listed++
		id := cleanID(vulnName(&f))
		switch p := f.Package; {
		case p != nil && p.FixedVersion != "":
			fmt.Fprintf(&b, "- %s: upgrade %q from %q to the fixed version %q.\n", id, p.Name, p.Version, p.FixedVersion)
		case p != nil && p.Name != "":
			fmt.Fprintf(&b, "- %s in %q %q: no fixed version is published; mitigate or replace the package.\n", id, p.Name, p.Version)
		case f.Location.Path != "":
			fmt.Fprintf(&b, "- %s at %s line %d.\n", id, f.Location.Path, f.Location.StartLine)
		default:
			fmt.Fprintf(&b, "- %s.\n", id)
		}
	}
	b.WriteString("Keep the change minimal, rebuild the image, and reference the issue in the pull request.\n")
	return b.String()
}

// cleanID keeps a vulnerability name to one short line.
func cleanID(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}
