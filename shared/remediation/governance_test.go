package remediation

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

const assessmentID = "/subscriptions/s/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"

var govPolicy = GovernancePolicy{
	Enabled:      true,
	Owners:       map[string]string{"octo-org/payments": "payments@octo.example"},
	DefaultOwner: "secops@octo.example",
	GracePeriod:  true,
}

// govStep plans the governance side after the GitHub side, applies it as
// ARM would store it, and checks a second plan is empty (no ARM call).
func (w *world) govStep(t *testing.T, now time.Time) []Action {
	t.Helper()
	acts := PlanGovernance(w.g, w.fs, w.is, now, govPolicy)
	ApplyGovernance(&w.g, acts, nil, now)
	if again := PlanGovernance(w.g, w.fs, w.is, now, govPolicy); len(again) > 0 {
		t.Fatalf("second governance plan: %+v", again)
	}
	return acts
}

func TestGovernanceFollowsTheIssueAtEveryStep(t *testing.T) {
	w := newWorld(cve("CVE-2024-0001", model.PriorityCritical, true))
	w.step(t, t0, "ensure-labels", "open")
	acts := w.govStep(t, t0)
	if len(acts) != 1 || acts[0].Kind != KindPutAssignment {
		t.Fatalf("actions %+v", acts)
	}
	a := acts[0].Assignment
	if a.AssessmentID != assessmentID || a.Key != AssignmentKey(w.g.ID) || a.Owner != "payments@octo.example" ||
		!a.RemediationDueDate.Equal(t0.Add(7*24*time.Hour)) || !a.IsGracePeriod ||
		a.TicketNumber != 7 || a.TicketLink != "https://github.com/"+repo+"/issues/7" || a.TicketStatus != TicketOpen {
		t.Errorf("assignment %+v", a)
	}

	ticket := func(want string) {
		t.Helper()
		got := w.g.Governance.Assignments
		if len(got) != 1 || got[0].TicketStatus != want || got[0].TicketStatus != TicketStatus(w.is) {
			t.Fatalf("ticket status %+v, want %q (issue %s %s)", got, want, w.is.State, w.is.Reason)
		}
	}
	// A person closes it as completed.
	w.is.State, w.is.Reason = StateClosed, ReasonCompleted
	w.g.Status, w.g.StatusAt = model.GroupFixClaimed, t0.Add(time.Hour)
	w.govStep(t, t0.Add(time.Hour))
	ticket(TicketClosed)
	// Still running after the grace: reopened.
	w.step(t, t0.Add(30*time.Hour), "set-status:active", "reopen", "comment")
	w.govStep(t, t0.Add(30*time.Hour))
	ticket(TicketReopened)
	// Healthy: verified and closed.
	w.set(resolved(w.fs[0], "healthy"))
	w.step(t, t0.Add(40*time.Hour), "set-status:resolved", "update:body", "comment", "close:completed")
	w.govStep(t, t0.Add(40*time.Hour))
	ticket(TicketClosed)
	// Active again, then closed as not planned.
	w.set(cve("CVE-2024-0001", model.PriorityCritical, true))
	w.step(t, t0.Add(50*time.Hour), "set-status:active", "reopen", "update:body", "comment")
	w.govStep(t, t0.Add(50*time.Hour))
	ticket(TicketReopened)
	w.is.State, w.is.Reason = StateClosed, ReasonNotPlanned
	w.g.Status, w.g.StatusAt = model.GroupRiskAccepted, t0.Add(51*time.Hour)
	w.govStep(t, t0.Add(51*time.Hour))
	ticket(TicketRiskAccepted)
	// The due date kept its anchor all along.
	if d := w.g.Governance.Assignments[0].RemediationDueDate; !d.Equal(t0.Add(7 * 24 * time.Hour)) {
		t.Errorf("due date moved to %s", d)
	}
}

func TestGovernanceDueDateFollowsPriority(t *testing.T) {
	w := newWorld(cve("CVE-2024-0002", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	acts := w.govStep(t, t0)
	if d := acts[0].Assignment.RemediationDueDate; !d.Equal(t0.Add(30 * 24 * time.Hour)) {
		t.Errorf("High due %s", d)
	}
	w.set(cve("CVE-2024-0002", model.PriorityCritical, true))
	w.step(t, t0.Add(24*time.Hour), "comment", "ensure-labels", "update:title,body,labels")
	acts = w.govStep(t, t0.Add(24*time.Hour))
	if len(acts) != 1 || !acts[0].Assignment.RemediationDueDate.Equal(t0.Add(7*24*time.Hour)) {
		t.Errorf("raised to Critical: %+v (due counts from the first assignment)", acts)
	}
	custom := govPolicy
	custom.DueIn = map[model.Priority]time.Duration{model.PriorityCritical: 48 * time.Hour}
	fresh := w.g
	fresh.Governance = nil
	if got := PlanGovernance(fresh, w.fs, w.is, t0, custom); len(got) != 1 || !got[0].Assignment.RemediationDueDate.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("configured due: %+v", got)
	}
}

func TestGovernanceOwner(t *testing.T) {
	p := govPolicy
	p.Owners = map[string]string{"octocat": "octocat@octo.example", "octo-org/payments": "payments@octo.example"}
	if got := p.Owner([]string{"@nobody", "@OctoCat", "@octo-org/payments"}); got != "octocat@octo.example" {
		t.Errorf("first mapped owner: %q", got)
	}
	if got := p.Owner([]string{"@nobody"}); got != "secops@octo.example" {
		t.Errorf("default owner: %q", got)
	}
	p.DefaultOwner = ""
	if got := p.Owner(nil); got != "" {
		t.Errorf("no owner: %q", got)
	}
}

func TestManagerAssignmentOpensTheIssueBelowTheThreshold(t *testing.T) {
	w := newWorld(cve("CVE-2024-0003", model.PriorityMedium, true))
	if acts := Plan(w.g, w.fs, nil, t0, policy); len(acts) != 0 {
		t.Fatalf("Medium without a manager: %v", kinds(acts))
	}
	mgr := model.GovernanceAssignment{AssessmentID: assessmentID, Key: "6634ff9f-127b-4bf2-8e6e-b1737f5e789c",
		Owner: "alice@octo.example", RemediationDueDate: t0.Add(14 * 24 * time.Hour)}
	w.g.Governance = &model.GroupGovernance{Assignments: []model.GovernanceAssignment{mgr}, ReadAt: t0}
	w.set(w.fs...) // re-render with Defender's side
	acts := w.step(t, t0, "ensure-labels", "open")
	if !strings.Contains(acts[1].Why, "security manager") {
		t.Errorf("why = %q", acts[1].Why)
	}
	body := *acts[1].Open.Body
	if !strings.Contains(body, "opened because a security manager assigned it") ||
		!strings.Contains(body, "owner `alice@octo.example`, due "+t0.Add(14*24*time.Hour).Format("2006-01-02")) {
		t.Errorf("body does not show Defender's side:\n%s", body)
	}
	g := w.govStep(t, t0)
	if len(g) != 1 {
		t.Fatalf("governance %+v, want one put: the manager's", g)
	}
	a := g[0].Assignment
	if a.Key != mgr.Key || a.Owner != mgr.Owner || !a.RemediationDueDate.Equal(mgr.RemediationDueDate) ||
		a.TicketNumber != 7 || a.TicketStatus != TicketOpen || a.TicketLink != w.is.URL {
		t.Errorf("manager's assignment %+v", a)
	}
	if n := len(w.g.Governance.Assignments); n != 1 {
		t.Errorf("%d assignments; runtimelink adds none of its own next to the manager's", n)
	}

	// The manager moves the due date: the issue shows it, the ticket stays.
	w.g.Governance.Assignments[0].RemediationDueDate = t0.Add(3 * 24 * time.Hour)
	w.set(w.fs...)
	w.step(t, t0.Add(time.Hour), "update:body")
	if !strings.Contains(w.is.Body, "due "+t0.Add(3*24*time.Hour).Format("2006-01-02")) {
		t.Errorf("new due date not in the body:\n%s", w.is.Body)
	}
	if g := w.govStep(t, t0.Add(time.Hour)); len(g) != 0 {
		t.Errorf("a due date change in Defender is not written back: %+v", g)
	}
}

func TestPortalEditOfOurAssignmentIsKeptAndShown(t *testing.T) {
	w := newWorld(cve("CVE-2024-0004", model.PriorityCritical, true))
	w.step(t, t0, "ensure-labels", "open")
	w.govStep(t, t0)
	if side := DefenderSide(w.g); len(side) != 0 {
		t.Fatalf("nothing changed in Defender, yet the issue would show %+v", side)
	}
	// Read back from Defender: a person gave it to bob.
	w.g.Governance.Assignments[0].Owner = "bob@octo.example"
	w.set(w.fs...)
	w.step(t, t0.Add(time.Hour), "update:body")
	if !strings.Contains(w.is.Body, "owner `bob@octo.example`") {
		t.Errorf("owner change not shown:\n%s", w.is.Body)
	}
	if g := w.govStep(t, t0.Add(time.Hour)); len(g) != 0 {
		t.Errorf("the portal's owner was overwritten: %+v", g)
	}
}

func TestGovernanceNeedsDefenderAnIssueAndTheSwitch(t *testing.T) {
	w := newWorld(cve("CVE-2024-0005", model.PriorityCritical, true))
	if got := PlanGovernance(w.g, w.fs, nil, t0, govPolicy); got != nil {
		t.Errorf("no issue: %+v", got)
	}
	toOpen := &Issue{Repository: repo, State: StateOpen}
	if got := PlanGovernance(w.g, w.fs, toOpen, t0, govPolicy); len(got) != 1 || got[0].Assignment.TicketNumber != 0 || got[0].Assignment.TicketLink != "" {
		t.Errorf("an issue to be opened (dry run): %+v", got)
	}
	w.step(t, t0, "ensure-labels", "open")
	off := govPolicy
	off.Enabled = false
	if got := PlanGovernance(w.g, w.fs, w.is, t0, off); got != nil {
		t.Errorf("governance off: %+v", got)
	}
	ghas := w.fs[0]
	ghas.DefenderIDs = []string{"/subscriptions/s/resourceGroups/r/providers/Microsoft.Security/locations/eastus/alerts/2517"}
	if got := PlanGovernance(w.g, []model.Finding{ghas}, w.is, t0, govPolicy); got != nil {
		t.Errorf("no assessment: %+v", got)
	}
}

func TestAssignmentKeyIsAStableUUID(t *testing.T) {
	k := AssignmentKey("image:0123")
	if k != AssignmentKey("image:0123") || k == AssignmentKey("image:0124") {
		t.Fatal("not deterministic per group")
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(k) {
		t.Errorf("key %q is not a version-5 UUID", k)
	}
}

func TestCopilotOnlyForNewCriticalIssues(t *testing.T) {
	on := policy
	on.CopilotAssign = true
	f := cve("CVE-2024-0301", model.PriorityCritical, true)
	f.Package = &model.Package{Name: "openssl", Version: "3.0.11", FixedVersion: "3.0.13"}
	w := newWorld(f)
	acts := Plan(w.g, w.fs, nil, t0, on)
	if got := kinds(acts); len(got) != 3 || got[2] != string(KindAssignCopilot) {
		t.Fatalf("plan %v", got)
	}
	c := acts[2].Copilot
	if c.TargetRepo != repo || !strings.Contains(c.Instructions, `upgrade "openssl" from "3.0.11" to the fixed version "3.0.13"`) {
		t.Errorf("copilot task %+v", c)
	}
	if got := kinds(Plan(w.g, w.fs, nil, t0, policy)); len(got) != 2 {
		t.Errorf("option off: %v", got)
	}
	high := newWorld(cve("CVE-2024-0302", model.PriorityHigh, true))
	if got := kinds(Plan(high.g, high.fs, nil, t0, on)); len(got) != 2 {
		t.Errorf("High: %v", got)
	}
}
