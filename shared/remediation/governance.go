package remediation

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// KindPutAssignment creates or replaces a Defender for Cloud governance
// assignment (Action.Assignment, the whole resource).
const KindPutAssignment Kind = "put-governance-assignment"

// Ticket statuses written to additionalData.ticketStatus: the GitHub
// issue's state in words a security manager reads in the portal.
const (
	TicketOpen         = "Open"
	TicketReopened     = "Reopened"
	TicketClosed       = "Closed as completed"
	TicketRiskAccepted = "Risk accepted"
)

// GovernancePolicy is what the configuration says about governance
// assignments (RUNTIMELINK_GOVERNANCE*).
type GovernancePolicy struct {
	// Enabled turns governance assignments on (RUNTIMELINK_GOVERNANCE).
	Enabled bool
	// DueIn is the time to fix per priority, from when runtimelink first
	// assigned the group; DefaultDueIn fills what it does not name.
	DueIn map[model.Priority]time.Duration
	// Owners maps a GitHub login or "org/team" (lower case, no "@") to the
	// e-mail address Defender knows the owner by.
	Owners map[string]string
	// DefaultOwner is the e-mail used when no CODEOWNERS owner is mapped.
	DefaultOwner string
	// GracePeriod is the isGracePeriod of runtimelink's assignments: the
	// secure score is not affected before the due date.
	GracePeriod bool
}

// DefaultDueIn is the default time to fix: Critical 7 days, High 30,
// Medium 90, Low 180.
var DefaultDueIn = map[model.Priority]time.Duration{
	model.PriorityCritical: 7 * 24 * time.Hour,
	model.PriorityHigh:     30 * 24 * time.Hour,
	model.PriorityMedium:   90 * 24 * time.Hour,
	model.PriorityLow:      180 * 24 * time.Hour,
}

func (p GovernancePolicy) dueIn(pr model.Priority) time.Duration {
	if d, ok := p.DueIn[pr]; ok && d > 0 {
		return d
	}
	if d, ok := DefaultDueIn[pr]; ok {
		return d
	}
	return DefaultDueIn[model.PriorityLow]
}

// Owner is the e-mail of the first of owners (CODEOWNERS order, "@user"
// or "@org/team") the policy maps, else DefaultOwner.
func (p GovernancePolicy) Owner(owners []string) string {
	for _, o := range owners {
		if e, ok := p.Owners[strings.ToLower(strings.TrimPrefix(o, "@"))]; ok && e != "" {
			return e
		}
	}
	return p.DefaultOwner
}

// AssignmentKey is the key of runtimelink's governance assignment for a
// group: a UUID derived from the group id (RFC 4122 version 5 layout), so
// every instance and every retry writes the same resource.
func AssignmentKey(groupID string) string {
	sum := sha256.Sum256([]byte("runtimelink:governance:" + groupID))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Assessments are the Defender assessments a group's findings rest on
// (their assessment or sub-assessment ids), sorted, without duplicates;
// none for a group that does not come from Defender.
func Assessments(findings []model.Finding) []string {
	var out []string
	for _, f := range findings {
		for _, id := range f.DefenderIDs {
			if a, ok := model.AssessmentOf(id); ok && !slices.ContainsFunc(out, func(x string) bool { return strings.EqualFold(x, a) }) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ManagerAssigned reports whether a security manager put a governance
// assignment of their own on one of the group's assessments: such a group
// gets its issue whatever its priority.
func ManagerAssigned(g model.Group) bool {
	if g.Governance == nil {
		return false
	}
	ours := AssignmentKey(g.ID)
	return slices.ContainsFunc(g.Governance.Assignments, func(a model.GovernanceAssignment) bool { return a.Key != ours })
}

// managerAssignments are the assignments of a group that are not
// runtimelink's, by assessment.
func managerAssignments(g model.Group) []model.GovernanceAssignment {
	if g.Governance == nil {
		return nil
	}
	ours := AssignmentKey(g.ID)
	var out []model.GovernanceAssignment
	for _, a := range g.Governance.Assignments {
		if a.Key != ours {
			out = append(out, a)
		}
	}
	return out
}

// TicketStatus is the ticket status that mirrors is.
func TicketStatus(is *Issue) string {
	switch {
	case is.Closed() && is.Reason == ReasonNotPlanned:
		return TicketRiskAccepted
	case is.Closed():
		return TicketClosed
	case is.Reason == ReasonReopened:
		return TicketReopened
	}
	return TicketOpen
}

// PlanGovernance plans the governance-assignment writes that keep Defender
// in step with a group's GitHub issue (is: the issue after the GitHub
// actions, nil when it has none). For every assessment the group's
// findings rest on:
//
//   - a security manager's assignment there is kept as the manager set it
//     (owner, due date, ETA) and gets the ticket fields of the issue;
//   - otherwise runtimelink keeps its own (AssignmentKey): owner from the
//     CODEOWNERS → e-mail map, due date from the priority counted from
//     when it first assigned the group, the grace period of the policy,
//     and the ticket fields of the issue.
//
// An assignment equal to what Defender has (g.Governance) is not written:
// a group in step costs no ARM call. Without an issue nothing is planned —
// the ticket fields must name one; an issue still to be opened (number 0,
// in a dry run) gets its assignment planned without a ticket number, so
// the plan shows it.
func PlanGovernance(g model.Group, findings []model.Finding, is *Issue, now time.Time, p GovernancePolicy) []Action {
	if !p.Enabled || is == nil {
		return nil
	}
	assessments := Assessments(findings)
	if len(assessments) == 0 {
		return nil
	}
	var have []model.GovernanceAssignment
	since := now
	if g.Governance != nil {
		have = g.Governance.Assignments
		if !g.Governance.Since.IsZero() {
			since = g.Governance.Since
		}
	}
	priority := cmpOr(g.Desired.Priority, model.PriorityLow)
	link := is.URL
	if link == "" && is.Number > 0 {
		link = fmt.Sprintf("https://github.com/%s/issues/%d", is.Repository, is.Number)
	}
	status := TicketStatus(is)
	// A person's close or reopen reaches the group's status (the issues
	// webhook) before the record of the issue catches up: the status wins.
	switch {
	case g.Status == model.GroupRiskAccepted:
		status = TicketRiskAccepted
	case g.Status == model.GroupFixClaimed:
		status = TicketClosed
	}
	ticket := func(a *model.GovernanceAssignment) {
		a.TicketNumber, a.TicketLink, a.TicketStatus = is.Number, link, status
	}
	issueRef := fmt.Sprintf("issue #%d", is.Number)
	if is.Number == 0 {
		issueRef = "the issue to be opened"
	}
	managers := managerAssignments(g)
	var out []Action
	for _, id := range assessments {
		var want model.GovernanceAssignment
		var why string
		onThis := slices.IndexFunc(managers, func(a model.GovernanceAssignment) bool { return strings.EqualFold(a.AssessmentID, id) })
		if onThis >= 0 {
			want = managers[onThis]
			why = "ticket fields of the security manager's assignment follow " + issueRef
		} else {
			want = model.GovernanceAssignment{
				AssessmentID:       id,
				Key:                AssignmentKey(g.ID),
				Owner:              p.Owner(g.Owners),
				RemediationDueDate: since.Add(p.dueIn(priority)).UTC().Truncate(time.Second),
				IsGracePeriod:      p.GracePeriod,
			}
			why = fmt.Sprintf("%s: due in %s, ticket follows %s", priority, days(p.dueIn(priority)), issueRef)
		}
		cur := slices.IndexFunc(have, func(a model.GovernanceAssignment) bool {
			return strings.EqualFold(a.AssessmentID, want.AssessmentID) && a.Key == want.Key
		})
		if onThis < 0 && cur >= 0 && g.Governance.Priority == priority {
			// Defender's owner and due date stand unless the priority
			// moved: a person may have changed them in the portal. The
			// rest (grace, e-mails, ETA) is Defender's too.
			d := have[cur]
			want.Owner, want.RemediationDueDate = d.Owner, d.RemediationDueDate
			want.ETA, want.ETAJustification = d.ETA, d.ETAJustification
			want.DisableManagerEmail, want.DisableOwnerEmail = d.DisableManagerEmail, d.DisableOwnerEmail
			why = "ticket follows " + issueRef
		}
		ticket(&want)
		if cur >= 0 && sameAssignment(have[cur], want) {
			continue
		}
		a := want
		out = append(out, Action{Kind: KindPutAssignment, Repository: g.Repository, GroupID: g.ID, Issue: is.Number, Assignment: &a, Why: why})
	}
	return out
}

func sameAssignment(a, b model.GovernanceAssignment) bool {
	eqPtr := func(x, y *bool) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return strings.EqualFold(a.AssessmentID, b.AssessmentID) && a.Key == b.Key && strings.EqualFold(a.Owner, b.Owner) &&
		a.RemediationDueDate.Equal(b.RemediationDueDate) && a.IsGracePeriod == b.IsGracePeriod &&
		a.ETA.Equal(b.ETA) && a.ETAJustification == b.ETAJustification &&
		eqPtr(a.DisableManagerEmail, b.DisableManagerEmail) && eqPtr(a.DisableOwnerEmail, b.DisableOwnerEmail) &&
		a.TicketNumber == b.TicketNumber && a.TicketLink == b.TicketLink && a.TicketStatus == b.TicketStatus
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// ApplyGovernance records on g what the applied assignment actions wrote
// (written: what ARM answered, in the order of the actions; nil in dry-run,
// where the actions' own assignments stand in), so the next plan finds the
// group in step.
func ApplyGovernance(g *model.Group, actions []Action, written []model.GovernanceAssignment, now time.Time) {
	for i, a := range actions {
		if a.Kind != KindPutAssignment || a.Assignment == nil {
			continue
		}
		got := *a.Assignment
		if i < len(written) && written[i].Key != "" {
			got = written[i]
		}
		if g.Governance == nil {
			g.Governance = &model.GroupGovernance{}
		}
		if got.Key == AssignmentKey(g.ID) {
			gv := g.Governance
			if gv.Since.IsZero() {
				gv.Since = now
			}
			if p := cmpOr(g.Desired.Priority, model.PriorityLow); gv.Priority != p {
				gv.Priority, gv.Owner, gv.Due = p, got.Owner, got.RemediationDueDate
			}
		}
		SetAssignment(g, got)
	}
}

// SetAssignment replaces (or adds) one assignment in g's record.
func SetAssignment(g *model.Group, a model.GovernanceAssignment) {
	if g.Governance == nil {
		g.Governance = &model.GroupGovernance{}
	}
	list := g.Governance.Assignments
	i := slices.IndexFunc(list, func(x model.GovernanceAssignment) bool {
		return strings.EqualFold(x.AssessmentID, a.AssessmentID) && x.Key == a.Key
	})
	if i >= 0 {
		list[i] = a
	} else {
		list = append(list, a)
	}
	g.Governance.Assignments = list
}

func cmpOr(p, def model.Priority) model.Priority {
	if p == "" {
		return def
	}
	return p
}

// DefenderSide is what the issue shows of Defender: every security
// manager's assignment on the group's assessments, and runtimelink's own
// when Defender shows another owner or due date than runtimelink set (a
// person changed them in the portal).
func DefenderSide(g model.Group) []model.GovernanceAssignment {
	if g.Governance == nil {
		return nil
	}
	gv := g.Governance
	ours := AssignmentKey(g.ID)
	var out []model.GovernanceAssignment
	for _, a := range gv.Assignments {
		if a.Key != ours || (gv.Priority != "" && (!strings.EqualFold(a.Owner, gv.Owner) || !a.RemediationDueDate.Equal(gv.Due))) {
			out = append(out, a)
		}
	}
	return out
}
