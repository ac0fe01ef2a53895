package remediation

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

const repo = "octo-org/checkout-api"

var (
	t0     = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	policy = Policy{ReopenGrace: 24 * time.Hour}
)

// cve is a Defender image CVE finding; running says whether a production
// workload runs the image (the deployment factor of its score names it).
func cve(id string, p model.Priority, running bool) model.Finding {
	score := map[model.Priority]float64{model.PriorityCritical: 9.5, model.PriorityHigh: 7.5, model.PriorityMedium: 5, model.PriorityLow: 2}[p]
	where := "not running anywhere"
	if running {
		where = "running in production: aks-prod-eus/shop/checkout-api (production)"
	}
	return model.Finding{
		ID: "defender_cve:" + id, Repository: repo, Source: model.SourceDefenderCVE, State: model.StateOpen,
		CVE: id, Title: "flaw in " + id, Severity: "high", Image: "octoacr.azurecr.io/checkout-api",
		Digests:         []string{"sha256:" + strings.Repeat("a", 64)},
		DefenderIDs:     []string{"/subscriptions/s/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/subAssessments/" + id},
		SourceUpdatedAt: t0.Add(-time.Hour),
		Score:           score, Priority: p, Deployed: running,
		Explanation: model.Explanation{Factors: []model.Factor{
			{Name: scoring.FactorBase, Op: scoring.OpSet, Value: score, Contribution: score, Source: "CVSS"},
			{Name: scoring.FactorDeployment, Op: scoring.OpMul, Value: 1, Source: where},
		}},
		GroupID: model.ImageGroupID(repo, "octoacr.azurecr.io/checkout-api"),
	}
}

func resolved(f model.Finding, reason string) model.Finding {
	f.State, f.StateReason, f.SourceUpdatedAt = model.StateResolved, reason, t0.Add(2*time.Hour)
	return f
}

// world is a group, its findings and its GitHub issue.
type world struct {
	g  model.Group
	fs []model.Finding
	is *Issue
}

func newWorld(fs ...model.Finding) *world {
	w := &world{g: model.Group{
		ID: model.ImageGroupID(repo, "octoacr.azurecr.io/checkout-api"), Repository: repo, Kind: model.GroupKindImage,
		Image: "octoacr.azurecr.io/checkout-api", Status: model.GroupActive, StatusAt: t0.Add(-48 * time.Hour),
		Owners: []string{"@octocat", "@octo-org/payments"},
	}}
	w.set(fs...)
	return w
}

// set replaces the findings and renders the desired issue, as triage does.
func (w *world) set(fs ...model.Finding) {
	w.fs = fs
	w.g.Desired = RenderIssue(IssueInput{Group: w.g, Findings: fs})
}

// step plans at now, checks the plan has the wanted kinds, applies it
// (with the number GitHub gives a new issue) and checks that planning
// again gives nothing.
func (w *world) step(t *testing.T, now time.Time, want ...string) []Action {
	t.Helper()
	acts := Plan(w.g, w.fs, w.is, now, policy)
	if got := kinds(acts); !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v\n%s", got, want, dump(acts))
	}
	w.is = Apply(&w.g, w.is, acts, now)
	if w.is != nil && w.is.Number == 0 {
		w.is.Number, w.is.URL = 7, "https://github.com/"+repo+"/issues/7"
		w.g.Synced.IssueNumber, w.g.Synced.IssueURL = 7, w.is.URL
	}
	if again := Plan(w.g, w.fs, w.is, now, policy); len(again) > 0 {
		t.Fatalf("planning the applied plan again gives %v", dump(again))
	}
	if again := Plan(w.g, w.fs, Recorded(w.g), now, policy); len(again) > 0 {
		t.Fatalf("planning against the record gives %v", dump(again))
	}
	return acts
}

func kinds(acts []Action) []string {
	out := []string{}
	for _, a := range acts {
		k := string(a.Kind)
		switch a.Kind {
		case KindSetStatus:
			k += ":" + string(a.Status)
		case KindClose:
			k += ":" + a.Reason
		case KindUpdate:
			var fs []string
			if a.Update.Title != nil {
				fs = append(fs, "title")
			}
			if a.Update.Body != nil {
				fs = append(fs, "body")
			}
			if a.Update.Labels != nil {
				fs = append(fs, "labels")
			}
			if a.Update.Assignees != nil {
				fs = append(fs, "assignees")
			}
			k += ":" + strings.Join(fs, ",")
		}
		out = append(out, k)
	}
	return out
}

func dump(acts []Action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "  %s #%d: %s\n", a.Kind, a.Issue, a.Why)
		if a.Comment != nil {
			b.WriteString("    " + strings.ReplaceAll(a.Comment.Body, "\n", "\n    ") + "\n")
		}
	}
	return b.String()
}

func comment(t *testing.T, acts []Action) string {
	t.Helper()
	for _, a := range acts {
		if a.Kind == KindComment {
			return a.Comment.Body
		}
	}
	t.Fatalf("no comment in %v", kinds(acts))
	return ""
}

// closeBy is a person closing the issue: GitHub's state, then the issues
// webhook's status (ghapp.Issues).
func (w *world) closeBy(reason string, at time.Time) {
	w.is.State, w.is.Reason, w.is.ClosedAt = StateClosed, reason, at
	w.g.Status, w.g.StatusAt = model.GroupFixClaimed, at
	if reason == ReasonNotPlanned {
		w.g.Status = model.GroupRiskAccepted
	}
}

func TestPlanOpensAtThreshold(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	acts := w.step(t, t0, "ensure-labels", "open")
	o := acts[1].Open
	if *o.Title != w.g.Desired.Title || *o.Body != w.g.Desired.Body {
		t.Error("open does not carry the desired title and body")
	}
	if !slices.Equal(*o.Assignees, []string{"octocat"}) || !slices.Equal(*o.Labels, []string{"security", "priority:high"}) {
		t.Errorf("assignees %v labels %v", *o.Assignees, *o.Labels)
	}
	var names []string
	for _, l := range acts[0].Labels {
		names = append(names, l.Name)
		if len(l.Color) != 6 {
			t.Errorf("label %s has colour %q", l.Name, l.Color)
		}
	}
	if !slices.Equal(names, []string{"security", "priority:high"}) {
		t.Errorf("ensure labels %v", names)
	}
	if !strings.Contains(*o.Body, "@octo-org/payments") {
		t.Error("the team owner is not mentioned in the body")
	}
}

func TestPlanBelowThresholdDoesNothing(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityMedium, true))
	w.step(t, t0)
	w.set(resolved(cve("CVE-2024-1", model.PriorityHigh, true), "healthy"))
	w.step(t, t0) // resolved, no issue: nothing to close
}

func TestPlanUpdatesOnlyChangedFields(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")

	// A second CVE of the same priority: title and body change, labels do not.
	w.set(cve("CVE-2024-1", model.PriorityHigh, true), cve("CVE-2024-2", model.PriorityHigh, true))
	w.step(t, t0.Add(time.Hour), "update:title,body")

	// CODEOWNERS changed: the old owner is removed, someone a person
	// assigned stays, and the team mention leaves the body.
	w.is.Assignees = append(w.is.Assignees, "hubot")
	w.g.Owners = []string{"@monalisa"}
	w.set(w.fs...)
	acts := w.step(t, t0.Add(2*time.Hour), "update:body,assignees")
	if got := *acts[0].Update.Assignees; !slices.Equal(got, []string{"monalisa", "hubot"}) {
		t.Errorf("assignees %v", got)
	}

	// A person's label survives a label change.
	w.is.Labels = append(w.is.Labels, "team:payments")
	w.set(cve("CVE-2024-1", model.PriorityHigh, true), cve("CVE-2024-2", model.PriorityHigh, true), cve("CVE-2024-3", model.PriorityHigh, true))
	w.g.Desired.Labels = append(w.g.Desired.Labels, "runtime:internet-exposed")
	acts = w.step(t, t0.Add(3*time.Hour), "ensure-labels", "update:title,body,labels")
	if got := *acts[1].Update.Labels; !slices.Equal(got, []string{"team:payments", "security", "priority:high", "runtime:internet-exposed"}) {
		t.Errorf("labels %v", got)
	}
	if len(acts[0].Labels) != 1 || acts[0].Labels[0].Name != "runtime:internet-exposed" {
		t.Errorf("ensure %v", acts[0].Labels)
	}
}

func TestPlanPriorityChangeSaysWhy(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.set(cve("CVE-2024-1", model.PriorityCritical, true))
	acts := w.step(t, t0.Add(time.Hour), "comment", "ensure-labels", "update:title,body,labels")
	if c := comment(t, acts); !strings.Contains(c, "from High to Critical") || !strings.Contains(c, "| Factor |") {
		t.Errorf("comment:\n%s", c)
	}
}

func TestPlanFixClaimedWaitsThenReopens(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	claimed := t0.Add(time.Hour)
	w.closeBy(ReasonCompleted, claimed)

	// Within the grace Defender has not rescanned: stays closed.
	w.step(t, claimed.Add(23*time.Hour))
	if at := RecheckAt(w.g, policy); !at.Equal(claimed.Add(24 * time.Hour)) {
		t.Errorf("recheck at %v", at)
	}
	// After the grace, still unhealthy on a running workload: reopened,
	// naming the workload and the evidence.
	acts := w.step(t, claimed.Add(25*time.Hour), "set-status:active", "reopen", "comment")
	c := comment(t, acts)
	for _, want := range []string{"aks-prod-eus/shop/checkout-api", "CVE-2024-1", "Defender for Cloud record", "sha256:aaaa"} {
		if !strings.Contains(c, want) {
			t.Errorf("reopen comment lacks %q:\n%s", want, c)
		}
	}
	if w.is.State != StateOpen || w.g.Status != model.GroupActive {
		t.Errorf("after reopen: %s / %s", w.is.State, w.g.Status)
	}
}

func TestPlanFixClaimedNotRunningStaysClosed(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.closeBy(ReasonCompleted, t0.Add(time.Hour))
	w.set(cve("CVE-2024-1", model.PriorityHigh, false))
	w.step(t, t0.Add(100*time.Hour))
}

func TestPlanFixClaimedVerified(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.closeBy(ReasonCompleted, t0.Add(time.Hour))
	w.set(resolved(cve("CVE-2024-1", model.PriorityHigh, true), "healthy"))
	acts := w.step(t, t0.Add(3*time.Hour), "set-status:resolved", "comment")
	if c := comment(t, acts); !strings.Contains(c, "Verified by runtimelink") || !strings.Contains(c, "CVE-2024-1") {
		t.Errorf("comment:\n%s", c)
	}
}

func TestPlanResolvedClosesWithVerification(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true), cve("CVE-2024-2", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.set(resolved(cve("CVE-2024-1", model.PriorityHigh, true), "healthy"), resolved(cve("CVE-2024-2", model.PriorityHigh, true), "deleted"))
	now := t0.Add(5 * time.Hour)
	acts := w.step(t, now, "set-status:resolved", "update:body", "comment", "close:completed")
	c := comment(t, acts)
	for _, want := range []string{"2026-11-02 14:00 UTC", "CVE-2024-1 on `octoacr.azurecr.io/checkout-api`: Healthy, says Defender for Cloud CVE", "the image runs nowhere any more",
		"2026-11-02 11:00 UTC", "it was running in production: aks-prod-eus/shop/checkout-api"} {
		if !strings.Contains(c, want) {
			t.Errorf("verification lacks %q:\n%s", want, c)
		}
	}
	// Back again: reopened, with the finding named.
	w.set(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, now.Add(time.Hour), "set-status:active", "reopen", "update:title,body", "comment")
}

// The last workload running the image is gone: triage resolved its CVEs
// (model.ReasonWorkloadGone), the issue closes saying since when the
// image runs nowhere; a person's claimed fix is verified the same way.
func TestPlanWorkloadGoneClosesWithVerification(t *testing.T) {
	gone := func(f model.Finding) model.Finding {
		f = resolved(f, model.ReasonWorkloadGone)
		f.Deployed = false
		return f
	}
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.set(gone(cve("CVE-2024-1", model.PriorityHigh, true)))
	acts := w.step(t, t0.Add(5*time.Hour), "set-status:resolved", "update:body", "comment", "close:completed")
	want := "CVE-2024-1 on `octoacr.azurecr.io/checkout-api`: image `octoacr.azurecr.io/checkout-api` no longer runs on any workload since 2026-11-02 11:00 UTC"
	if c := comment(t, acts); !strings.Contains(c, want) || strings.Contains(c, "(2026-11-02 11:00 UTC)") {
		t.Errorf("verification lacks %q (once):\n%s", want, c)
	}

	w = newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.closeBy(ReasonCompleted, t0.Add(time.Hour))
	w.set(gone(cve("CVE-2024-1", model.PriorityHigh, true)))
	acts = w.step(t, t0.Add(3*time.Hour), "set-status:resolved", "comment")
	if c := comment(t, acts); !strings.Contains(c, "no longer runs on any workload since 2026-11-02 11:00 UTC") {
		t.Errorf("claimed fix verification:\n%s", c)
	}
}

func TestPlanRiskAcceptedNeverReopens(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.closeBy(ReasonNotPlanned, t0.Add(time.Hour))
	w.step(t, t0.Add(100*time.Hour)) // long after any grace

	// The priority rises: said once, never reopened.
	w.set(cve("CVE-2024-1", model.PriorityCritical, true))
	acts := w.step(t, t0.Add(101*time.Hour), "comment")
	if c := comment(t, acts); !strings.Contains(c, "from High to Critical") || !strings.Contains(c, "does not reopen") {
		t.Errorf("comment:\n%s", c)
	}
	w.step(t, t0.Add(200*time.Hour))
	// Even when the record of the comment is lost, GitHub's notes say it.
	w.g.Synced.Notes = nil
	w.step(t, t0.Add(201*time.Hour))
}

func TestPlanPersonReopenedIsActive(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.closeBy(ReasonNotPlanned, t0.Add(time.Hour))
	w.step(t, t0.Add(2*time.Hour))
	// A person reopens: GitHub's state, then the webhook's status.
	w.is.State, w.is.Reason = StateOpen, ReasonReopened
	w.g.Status, w.g.StatusAt = model.GroupActive, t0.Add(3*time.Hour)
	w.set(cve("CVE-2024-1", model.PriorityCritical, true))
	w.step(t, t0.Add(4*time.Hour), "comment", "ensure-labels", "update:title,body,labels")
}

// A webhook can be lost: the issue GitHub shows corrects the status.
func TestPlanTrustsGitHubWhenTheWebhookWasLost(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	fetched := *w.is
	fetched.Recorded = false
	fetched.State, fetched.Reason = StateClosed, ReasonNotPlanned
	w.is = &fetched
	w.step(t, t0.Add(time.Hour), "set-status:risk-accepted")
	if w.g.Status != model.GroupRiskAccepted {
		t.Errorf("status %s", w.g.Status)
	}
}

// The webhook came but the sync step did not read the issue back: the
// status, newer than the record, wins over it.
func TestPlanStatusNewerThanRecord(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.step(t, t0, "ensure-labels", "open")
	w.g.Status, w.g.StatusAt = model.GroupFixClaimed, t0.Add(time.Hour)
	if acts := Plan(w.g, w.fs, Recorded(w.g), t0.Add(2*time.Hour), policy); len(acts) > 0 {
		t.Errorf("a claimed fix within the grace plans %v", kinds(acts))
	}
	if acts := Plan(w.g, w.fs, Recorded(w.g), t0.Add(30*time.Hour), policy); !slices.Equal(kinds(acts), []string{"set-status:active", "reopen", "comment"}) {
		t.Errorf("after the grace: %v", kinds(acts))
	}
}

// TestPlanTransitions is every transition of DESIGN.md's remediation
// loop, each from an issue runtimelink last wrote (the record is in step)
// unless the row says otherwise.
func TestPlanTransitions(t *testing.T) {
	high, crit, med := cve("CVE-2024-1", model.PriorityHigh, true), cve("CVE-2024-1", model.PriorityCritical, true), cve("CVE-2024-1", model.PriorityMedium, true)
	idle := cve("CVE-2024-1", model.PriorityHigh, false)
	healthy := resolved(high, "healthy")
	claimed := t0.Add(-10 * time.Hour) // the status time of closed rows
	tests := []struct {
		name string
		// issue: "" none, else the state and reason GitHub shows.
		issue, reason string
		status        model.GroupStatus
		findings      []model.Finding
		now           time.Time
		want          []string
	}{
		{"no issue, at the threshold → open", "", "", model.GroupActive, []model.Finding{high}, t0, []string{"ensure-labels", "open"}},
		{"no issue, below → nothing", "", "", model.GroupActive, []model.Finding{med}, t0, []string{}},
		{"no issue, all resolved → nothing", "", "", model.GroupActive, []model.Finding{healthy}, t0, []string{}},
		{"open, in step → nothing", StateOpen, "", model.GroupActive, []model.Finding{high}, t0, []string{}},
		{"open, priority rises → title, labels and why", StateOpen, "", model.GroupActive, []model.Finding{crit}, t0, []string{"comment", "ensure-labels", "update:title,body,labels"}},
		{"open, priority falls below the threshold → stays open, updated", StateOpen, "", model.GroupActive, []model.Finding{med}, t0, []string{"comment", "ensure-labels", "update:title,body,labels"}},
		{"open, all resolved → verified and closed", StateOpen, "", model.GroupActive, []model.Finding{healthy}, t0, []string{"set-status:resolved", "update:body", "comment", "close:completed"}},
		{"fix claimed, within the grace → stays closed", StateClosed, ReasonCompleted, model.GroupFixClaimed, []model.Finding{high}, claimed.Add(23 * time.Hour), []string{}},
		{"fix claimed, running after the grace → reopened", StateClosed, ReasonCompleted, model.GroupFixClaimed, []model.Finding{high}, claimed.Add(25 * time.Hour), []string{"set-status:active", "reopen", "comment"}},
		{"fix claimed, after the grace but running nowhere → stays closed", StateClosed, ReasonCompleted, model.GroupFixClaimed, []model.Finding{idle}, claimed.Add(25 * time.Hour), []string{}},
		{"fix claimed, runtime verified → resolved with a comment", StateClosed, ReasonCompleted, model.GroupFixClaimed, []model.Finding{healthy}, t0, []string{"set-status:resolved", "comment"}},
		{"risk accepted → never reopened", StateClosed, ReasonNotPlanned, model.GroupRiskAccepted, []model.Finding{high}, claimed.Add(1000 * time.Hour), []string{}},
		{"risk accepted, priority rises → said once", StateClosed, ReasonNotPlanned, model.GroupRiskAccepted, []model.Finding{crit}, t0, []string{"comment"}},
		{"risk accepted, resolved → nothing", StateClosed, ReasonNotPlanned, model.GroupRiskAccepted, []model.Finding{healthy}, t0, []string{}},
		{"reopened by a person → active, updated", StateOpen, ReasonReopened, model.GroupActive, []model.Finding{crit}, t0, []string{"comment", "ensure-labels", "update:title,body,labels"}},
		{"resolved and closed → nothing", StateClosed, ReasonCompleted, model.GroupResolved, []model.Finding{healthy}, t0, []string{}},
		{"resolved, back again → reopened", StateClosed, ReasonCompleted, model.GroupResolved, []model.Finding{high}, t0, []string{"set-status:active", "reopen", "comment"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The issue as runtimelink opened it for the High finding.
			w := newWorld(high)
			if tt.issue != "" {
				w.step(t, t0.Add(-20*time.Hour), "ensure-labels", "open")
				if tt.issue == StateClosed {
					w.is.State, w.is.Reason = StateClosed, tt.reason
					if tt.status == model.GroupResolved {
						w.g.Synced.State, w.g.Synced.StateReason = StateClosed, tt.reason // runtimelink closed it
					}
				}
				w.is.Recorded = false // GitHub's answer
			}
			w.g.Status, w.g.StatusAt = tt.status, claimed
			w.set(tt.findings...)
			w.step(t, tt.now, tt.want...)
		})
	}
}

// An owner GitHub would not assign (not a collaborator), or one a person
// unassigned, is not asked for again: that would be a call on every sync.
func TestPlanLeavesAssigneesAlone(t *testing.T) {
	w := newWorld(cve("CVE-2024-1", model.PriorityHigh, true))
	w.g.Owners = []string{"@octocat", "@ghost"}
	w.set(w.fs...)
	acts := Plan(w.g, w.fs, nil, t0, policy)
	w.is = Apply(&w.g, nil, acts, t0)
	// GitHub's answer to the create: it dropped ghost.
	w.is.Number, w.is.Assignees = 7, []string{"octocat"}
	Record(&w.g, w.is, t0)
	w.step(t, t0.Add(time.Hour))

	// A person unassigns octocat; GitHub shows it.
	fetched := *w.is
	fetched.Recorded, fetched.Assignees = false, []string{}
	w.is = &fetched
	w.step(t, t0.Add(2*time.Hour))

	// A new owner is still assigned.
	w.g.Owners = []string{"@octocat", "@ghost", "@monalisa"}
	w.set(w.fs...)
	acts = w.step(t, t0.Add(3*time.Hour), "update:assignees")
	if got := *acts[0].Update.Assignees; !slices.Equal(got, []string{"monalisa"}) {
		t.Errorf("assignees %v", got)
	}
}

func TestIssueTitleSaysWhereItRuns(t *testing.T) {
	running, idle := cve("CVE-2024-1", model.PriorityHigh, true), cve("CVE-2024-1", model.PriorityHigh, false)
	alert := running
	alert.Source, alert.Image, alert.AlertNumber, alert.Title = model.SourceCodeScanning, "", 3, strings.Repeat("very long rule title ", 30)
	for _, tt := range []struct {
		name string
		kind string
		f    model.Finding
		want string
	}{
		{"image, running", model.GroupKindImage, running, "[High] CVE-2024-1 in container image octoacr.azurecr.io/checkout-api, running in production on aks-prod-eus/shop/checkout-api (production)"},
		{"image, running nowhere", model.GroupKindImage, idle, "[High] CVE-2024-1 in container image octoacr.azurecr.io/checkout-api"},
		{"long alert title cut, not where it runs", model.GroupKindAlert, alert, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := model.Group{ID: "g", Repository: repo, Kind: tt.kind, Image: tt.f.Image}
			d := RenderIssue(IssueInput{Group: g, Findings: []model.Finding{tt.f}})
			if tt.want != "" && d.Title != tt.want {
				t.Errorf("title %q, want %q", d.Title, tt.want)
			}
			if len(d.Title) > MaxTitle || (tt.f.Deployed && !strings.HasSuffix(d.Title, ", running in production on aks-prod-eus/shop/checkout-api (production)")) {
				t.Errorf("title of %d bytes: %q", len(d.Title), d.Title)
			}
		})
	}
}

func TestWhyIsPlainText(t *testing.T) {
	if got := firstLine("**Reopened** by runtimelink: " + mdCell("a (b) @c [d]") + "\nmore"); got != "Reopened by runtimelink: a (b) @c [d]" {
		t.Errorf("why %q", got)
	}
}
