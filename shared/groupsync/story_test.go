package groupsync_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// setStatus is what the issues webhook writes when a person acts
// (ghapp.Issues).
func (e *env) setStatus(id string, st model.GroupStatus) {
	e.t.Helper()
	if _, _, err := e.db.Groups.Update(e.ctx, repo, id, func(g *model.Group, _ bool) error {
		g.Status, g.StatusAt = st, e.clock.Now()
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func lastComment(t *testing.T, e *env, n int) string {
	t.Helper()
	is := e.gh.Issue(repo, n)
	if len(is.Comments) == 0 {
		t.Fatalf("issue #%d has no comment", n)
	}
	return is.Comments[len(is.Comments)-1].Body
}

// The remediation story of one group against the emulator and the
// wire-level fake: opened once, quiet while in step, a person's close
// waits for runtime, reopened when the fix did not reach the workload,
// closed when runtime verifies it, and a risk accepted stays accepted.
func TestRemediationStory(t *testing.T) {
	e := newEnv(t, github.Limits{})
	f := cve("CVE-2024-45337", model.PriorityHigh, true)
	g := e.seed(repo, f)

	// Opened with the CODEOWNERS user and the runtime labels.
	e.sync(g.ID)
	is := e.gh.IssueList(repo)
	if len(is) != 1 || !slices.Equal(is[0].Assignees, []string{"octocat"}) ||
		!slices.Equal(is[0].Labels, []string{"security", "priority:high", "runtime:internet-exposed"}) {
		t.Fatalf("opened: %+v", is)
	}
	n := is[0].Number

	// In step: no call.
	e.gh.ResetRequests()
	e.sync(g.ID)
	if c := len(e.gh.Requests()); c != 0 {
		t.Fatalf("%d calls while in step", c)
	}

	// A person closes it as completed; Defender has not rescanned yet.
	e.clock.Advance(time.Hour)
	e.gh.CloseIssueAs(repo, n, "completed", "octocat")
	e.setStatus(g.ID, model.GroupFixClaimed)
	e.gh.ResetRequests()
	e.sync(g.ID)
	if w := e.writes(); w != 0 || e.gh.Issue(repo, n).State != "closed" {
		t.Fatalf("within the grace: %d writes, state %s", w, e.gh.Issue(repo, n).State)
	}

	// Still unhealthy on the running workload after the grace: reopened,
	// with a comment naming the workload.
	e.clock.Advance(25 * time.Hour)
	res := e.sync(g.ID)
	if got := e.gh.Issue(repo, n); got.State != "open" {
		t.Fatalf("after the grace: state %s, actions %v", got.State, kinds(res.Actions))
	}
	if c := lastComment(t, e, n); !strings.Contains(c, "aks-prod-eus/shop/checkout-api") || !strings.Contains(c, "Reopened") {
		t.Errorf("reopen comment does not name the workload:\n%s", c)
	}
	if !strings.Contains(e.logs.String(), `"msg":"issue reopened"`) {
		t.Error("no 'issue reopened' log line")
	}
	comments := len(e.gh.Issue(repo, n).Comments)
	e.sync(g.ID)
	if got := len(e.gh.Issue(repo, n).Comments); got != comments {
		t.Errorf("a second sync commented again (%d → %d)", comments, got)
	}

	// Defender reports it Healthy: resolved, the issue closed with what
	// was verified.
	e.clock.Advance(time.Hour)
	healed := *f
	healed.State, healed.StateReason, healed.SourceUpdatedAt = model.StateResolved, "Healthy", e.clock.Now()
	e.seed(repo, &healed)
	e.sync(g.ID)
	got := e.gh.Issue(repo, n)
	if got.State != "closed" || got.StateReason != "completed" {
		t.Fatalf("after Healthy: %s/%s", got.State, got.StateReason)
	}
	if c := lastComment(t, e, n); !strings.Contains(c, "Verified by runtimelink") {
		t.Errorf("no verification comment:\n%s", c)
	}
	if !strings.Contains(e.logs.String(), `"msg":"issue closed"`) {
		t.Error("no 'issue closed' log line")
	}
	if st := e.group(g.ID).Status; st != model.GroupResolved {
		t.Errorf("status = %s, want resolved", st)
	}

	// It comes back; the issue reopens; a person closes it as not planned.
	e.clock.Advance(time.Hour)
	e.seed(repo, cve("CVE-2024-45337", model.PriorityHigh, true))
	e.sync(g.ID)
	if got := e.gh.Issue(repo, n); got.State != "open" {
		t.Fatalf("active again: %s", got.State)
	}
	e.clock.Advance(time.Hour)
	e.gh.CloseIssueAs(repo, n, "not_planned", "octocat")
	e.setStatus(g.ID, model.GroupRiskAccepted)
	e.sync(g.ID)

	// The priority rises: it stays closed, and says so once.
	e.clock.Advance(time.Hour)
	e.seed(repo, cve("CVE-2024-45337", model.PriorityCritical, true))
	before := len(e.gh.Issue(repo, n).Comments)
	for range 2 {
		e.sync(g.ID)
	}
	got = e.gh.Issue(repo, n)
	if got.State != "closed" || got.StateReason != "not_planned" {
		t.Fatalf("risk accepted reopened: %s/%s", got.State, got.StateReason)
	}
	if d := len(got.Comments) - before; d != 1 || !strings.Contains(lastComment(t, e, n), "does not reopen") {
		t.Errorf("%d comments on the rise, want one saying it stays closed: %+v", d, got.Comments[before:])
	}
	if len(e.gh.IssueList(repo)) != 1 {
		t.Errorf("issues = %d, want the one", len(e.gh.IssueList(repo)))
	}
}

// A person transfers the issue to another repository and the webhook is
// lost: the next write to the old address gets GitHub's 301 (never a
// write replayed as a read), the retry reads the issue where it went, and
// from then on the group's writes go there. No second issue is opened.
func TestTransferredIssueIsFollowed(t *testing.T) {
	e := newEnv(t, github.Limits{})
	e.gh.SetCollaborators("octo-org/platform", "octocat")
	g := e.seed(repo, cve("CVE-2024-0100", model.PriorityHigh, true))
	e.sync(g.ID)
	to := e.gh.TransferIssue(repo, 1, "octo-org/platform")

	e.seed(repo, cve("CVE-2024-0100", model.PriorityCritical, true))
	if _, err := e.s.Sync(e.ctx, repo, g.ID, false); err == nil {
		t.Fatal("a write to a transferred issue's old address succeeded")
	}
	if _, err := e.s.Sync(e.ctx, repo, g.ID, true); err != nil {
		t.Fatalf("retry: %v", err)
	}
	moved := e.gh.Issue("octo-org/platform", to)
	if !strings.HasPrefix(moved.Title, "[Critical]") {
		t.Errorf("the transferred issue was not updated: %q", moved.Title)
	}
	if got := e.group(g.ID).Synced; got.IssueNumber != to || !strings.Contains(got.IssueURL, "octo-org/platform") {
		t.Errorf("mapping = %+v, want it to follow to octo-org/platform#%d", got, to)
	}
	if n := len(e.gh.IssueList(repo)); n != 1 { // the old, moved record stays listed in the fake
		t.Errorf("issues in the repository of origin = %d", n)
	}
	e.gh.ResetRequests()
	e.sync(g.ID)
	if w := e.writes(); w != 0 {
		t.Errorf("%d writes once in step", w)
	}
}

// The last workload running the image is decommissioned: triage resolves
// the image's CVE, and the next sync closes the issue as completed with a
// comment saying the image runs nowhere since then.
func TestWorkloadGoneClosesTheIssue(t *testing.T) {
	e := newEnv(t, github.Limits{})
	f := cve("CVE-2024-45337", model.PriorityHigh, true)
	w := model.Workload{ID: model.WorkloadID("aks-prod-eus", "shop", "checkout-api"), Cluster: "aks-prod-eus", Namespace: "shop",
		Name: "checkout-api", Image: image, Digest: f.Digests[0], Repository: repo, Production: true, Status: model.WorkloadRunning}
	if _, err := e.db.Workloads.Put(e.ctx, &w); err != nil {
		t.Fatal(err)
	}
	g := e.seed(repo, f)
	e.sync(g.ID)
	n := e.gh.IssueList(repo)[0].Number

	e.clock.Advance(time.Hour)
	gone := w
	gone.Status = model.WorkloadGone
	if _, err := e.db.Workloads.Put(e.ctx, &gone); err != nil {
		t.Fatal(err)
	}
	tr := &triage.Triage{Store: store.New(e.db), Now: e.clock.Now}
	if _, err := tr.WorkloadChanged(e.ctx, &w, &gone); err != nil {
		t.Fatal(err)
	}
	e.sync(g.ID)
	got := e.gh.Issue(repo, n)
	if got.State != "closed" || got.StateReason != "completed" {
		t.Fatalf("after the workload is gone: %s/%s", got.State, got.StateReason)
	}
	want := "image `" + image + "` no longer runs on any workload since " + e.clock.Now().UTC().Format("2006-01-02 15:04 UTC")
	if c := lastComment(t, e, n); !strings.Contains(c, "Verified by runtimelink") || !strings.Contains(c, want) {
		t.Errorf("verification comment lacks %q:\n%s", want, c)
	}
	if st := e.group(g.ID).Status; st != model.GroupResolved {
		t.Errorf("status = %s, want resolved", st)
	}
}
