package groupsync_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/shared/arm"
	"github.com/runtimelink/runtimelink/shared/arm/armtest"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/resourcegraph"
	"github.com/runtimelink/runtimelink/shared/store"
)

const assessment = "/subscriptions/s/providers/Microsoft.Security/assessments/c0b7cfc6"

type armToken string

func (a armToken) GetToken(_ context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(a), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// withGovernance turns governance on against the ARM fake.
func (e *env) withGovernance() *armtest.Server {
	e.t.Helper()
	srv := armtest.New(e.t)
	srv.AddAssessment(assessment)
	c, err := arm.New(armToken(srv.Token), arm.Options{Endpoint: srv.URL, Now: e.clock.Now, Logger: e.s.Logger,
		ClientOptions: policy.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.s.Governance = c
	e.s.GovernancePolicy = remediation.GovernancePolicy{Enabled: true, GracePeriod: true,
		Owners: map[string]string{"octo-org/payments": "payments@octo.example"}}
	return srv
}

func (e *env) ticket(srv *armtest.Server, key string) armtest.Assignment {
	e.t.Helper()
	a, ok := srv.GetAssignment(assessment, key)
	if !ok {
		e.t.Fatalf("no assignment %s in Defender; it has %+v", key, srv.Assignments())
	}
	return a
}

// personSets closes or reopens the issue on GitHub and records the status
// the issues webhook would.
func (e *env) personSets(g *model.Group, state, reason string, status model.GroupStatus) {
	e.t.Helper()
	n := e.group(g.ID).Synced.IssueNumber
	p := github.IssuePatch{State: &state}
	if reason != "" {
		p.StateReason = &reason
	}
	if _, err := e.rawIssues().Update(e.ctx, repo, n, p); err != nil {
		e.t.Fatal(err)
	}
	if _, _, err := e.db.Groups.Update(e.ctx, repo, g.ID, func(cur *model.Group, _ bool) error {
		cur.Status, cur.StatusAt = status, e.clock.Now()
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// The GitHub-side story with governance on: the assignment's ticket status
// equals the issue at every step, and a sync in step asks ARM nothing.
func TestGovernanceTicketFollowsTheIssue(t *testing.T) {
	e := newEnv(t, github.Limits{})
	srv := e.withGovernance()
	key := remediation.AssignmentKey(model.ImageGroupID(repo, image))
	g := e.seed(repo, cve("CVE-2024-0101", model.PriorityCritical, true))
	srv.Expect(http.MethodPut, `/governanceassignments/`+key+`$`)

	e.sync(g.ID)
	is := e.gh.IssueList(repo)[0]
	a := e.ticket(srv, key)
	p := a.Properties
	due := e.clock.Now().Add(7 * 24 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)
	if p.Owner != "payments@octo.example" || p.RemediationDueDate != due || p.IsGracePeriod == nil || !*p.IsGracePeriod ||
		*p.AdditionalData.TicketNumber != int64(is.Number) || p.AdditionalData.TicketLink != "https://github.com/"+repo+"/issues/1" ||
		p.AdditionalData.TicketStatus != remediation.TicketOpen {
		t.Errorf("assignment = %+v %+v, issue #%d", p, *p.AdditionalData, is.Number)
	}
	srv.Verify(t)

	inStep := func(step string) {
		t.Helper()
		srv.Reset()
		e.gh.ResetRequests()
		if res := e.sync(g.ID); len(res.Actions) != 0 {
			t.Errorf("%s: a second sync plans %v", step, kinds(res.Actions))
		}
		if n := len(srv.Requests()); n != 0 {
			t.Errorf("%s: a second sync made %d ARM calls: %+v", step, n, srv.Requests())
		}
	}
	inStep("opened")

	status := func(step, want string) {
		t.Helper()
		if got := e.ticket(srv, key).Properties.AdditionalData.TicketStatus; got != want {
			t.Errorf("%s: ticket status %q, want %q", step, got, want)
		}
	}
	// A person closes it as completed.
	e.clock.Advance(time.Minute)
	e.personSets(g, "closed", "completed", model.GroupFixClaimed)
	e.sync(g.ID)
	status("closed by a person", remediation.TicketClosed)
	inStep("closed by a person")

	// Still unhealthy after the grace: runtimelink reopens it.
	e.clock.Advance(25 * time.Hour)
	e.sync(g.ID)
	if st := e.gh.IssueList(repo)[0].State; st != "open" {
		t.Fatalf("issue %s after the grace, want reopened", st)
	}
	status("reopened", remediation.TicketReopened)
	inStep("reopened")

	// Defender sees it healthy: verified and closed.
	healthy := cve("CVE-2024-0101", model.PriorityCritical, true)
	healthy.State, healthy.StateReason = model.StateResolved, "healthy"
	e.seed(repo, healthy)
	e.sync(g.ID)
	status("verified closed", remediation.TicketClosed)
	inStep("verified closed")

	// Active again, then a person accepts the risk.
	e.seed(repo, cve("CVE-2024-0101", model.PriorityCritical, true))
	e.sync(g.ID)
	status("active again", remediation.TicketReopened)
	e.clock.Advance(time.Minute)
	e.personSets(g, "closed", "not_planned", model.GroupRiskAccepted)
	e.sync(g.ID)
	status("risk accepted", remediation.TicketRiskAccepted)
	inStep("risk accepted")

	if n := len(srv.Assignments()); n != 1 {
		t.Errorf("Defender holds %d assignments, want runtimelink's one", n)
	}
}

// A security manager's assignment on a Medium recommendation (below the
// issue threshold) opens exactly one issue, and its ticket fields point at it.
func TestManagerAssignmentOpensOneIssue(t *testing.T) {
	e := newEnv(t, github.Limits{})
	srv := e.withGovernance()
	g := e.seed(repo, cve("CVE-2024-0102", model.PriorityMedium, true))
	if e.sync(g.ID); len(e.gh.IssueList(repo)) != 0 {
		t.Fatal("a Medium group got an issue without a manager's assignment")
	}
	mgr := srv.PutAssignment(assessment, "6634ff9f-127b-4bf2-8e6e-b1737f5e789c", armtest.AssignmentProperties{
		Owner: "alice@octo.example", RemediationDueDate: "2027-01-07T13:00:00.0000000Z"})
	// The record of Defender is fresh for an hour; the next read sees it.
	e.clock.Advance(2 * time.Hour)
	e.sync(g.ID)
	e.clock.Advance(2 * time.Hour)
	e.sync(g.ID)
	issues := e.gh.IssueList(repo)
	if len(issues) != 1 {
		t.Fatalf("%d issues, want exactly one", len(issues))
	}
	if !strings.Contains(issues[0].Body, "security manager assigned it") || !strings.Contains(issues[0].Body, "`alice@octo.example`, due 2027-01-07") {
		t.Errorf("body does not show the manager's assignment:\n%s", issues[0].Body)
	}
	a := e.ticket(srv, mgr.Name)
	if p := a.Properties; p.Owner != "alice@octo.example" || p.RemediationDueDate != "2027-01-07T13:00:00Z" ||
		*p.AdditionalData.TicketNumber != int64(issues[0].Number) || p.AdditionalData.TicketStatus != remediation.TicketOpen ||
		p.AdditionalData.TicketLink != "https://github.com/"+repo+"/issues/1" {
		t.Errorf("manager's assignment after sync: %+v", p)
	}
	if n := len(srv.Assignments()); n != 1 {
		t.Errorf("%d assignments, want the manager's alone", n)
	}
}

func TestGovernanceThrottledDefersAndForbiddenDoesNotFail(t *testing.T) {
	e := newEnv(t, github.Limits{})
	srv := e.withGovernance()
	g := e.seed(repo, cve("CVE-2024-0103", model.PriorityCritical, true))
	srv.Inject(armtest.Fault{Method: http.MethodPut, Status: http.StatusTooManyRequests, RetryAfter: 20})
	_, err := e.s.Sync(e.ctx, repo, g.ID, false)
	var d *groupsync.Deferred
	if !errors.As(err, &d) || d.Delay != 20*time.Second {
		t.Fatalf("err = %v, want a Deferred of 20s", err)
	}
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Fatalf("%d issues; the GitHub side stands", n)
	}
	// The retry writes it, without a second issue.
	e.sync(g.ID)
	if n := len(e.gh.IssueList(repo)); n != 1 || len(srv.Assignments()) != 1 {
		t.Fatalf("after the retry: %d issues, %d assignments", n, len(srv.Assignments()))
	}

	srv.Deny(armtest.ActionAssignmentWrite)
	e.clock.Advance(time.Minute)
	e.personSets(g, "closed", "completed", model.GroupFixClaimed)
	if _, err := e.s.Sync(e.ctx, repo, g.ID, false); err != nil {
		t.Fatalf("a missing role failed the sync: %v", err)
	}
	if !strings.Contains(e.s.Governance.(*arm.Client).Status(), "403 AuthorizationFailed") {
		t.Errorf("status = %q", e.s.Governance.(*arm.Client).Status())
	}
}

func TestGovernanceDryRunPlansWithoutWriting(t *testing.T) {
	e := newEnv(t, github.Limits{})
	srv := e.withGovernance()
	e.s.DryRun = true
	g := e.seed(repo, cve("CVE-2024-0104", model.PriorityCritical, true))
	res := e.sync(g.ID)
	var planned []remediation.Action
	for _, a := range res.Actions {
		if a.Kind == remediation.KindPutAssignment {
			planned = append(planned, a)
		}
	}
	if len(planned) != 1 || planned[0].Assignment.Key != remediation.AssignmentKey(g.ID) || planned[0].Assignment.Owner != "payments@octo.example" {
		t.Errorf("dry-run plan shows %+v, want runtimelink's assignment", planned)
	}
	if srv.Writes() != 0 || len(e.gh.IssueList(repo)) != 0 {
		t.Errorf("dry run wrote: ARM %+v", srv.Requests())
	}
}

// With the option on, a new Critical issue goes to Copilot coding agent
// with the user token; when GitHub refuses, the issue keeps its owners.
func TestNewCriticalIssueHandedToCopilot(t *testing.T) {
	e := newEnv(t, github.Limits{})
	e.gh.AddUserToken("github_pat_copilot0test", "octo-secops")
	e.gh.EnableCopilot(repo)
	c, err := github.NewCopilot(e.gh.URL, func(context.Context) (string, error) { return "github_pat_copilot0test", nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.s.Copilot = c
	e.s.Policy.CopilotAssign = true
	f := cve("CVE-2024-0201", model.PriorityCritical, true)
	f.Package = &model.Package{Name: "openssl", Version: "3.0.11", FixedVersion: "3.0.13"}
	g := e.seed(repo, f)
	e.sync(g.ID)
	is := e.gh.IssueList(repo)[0]
	a, ok := e.gh.AgentAssignmentOf(repo, is.Number)
	if !ok || a.TargetRepo != repo || a.BaseBranch != "main" || !strings.Contains(a.CustomInstructions, `to the fixed version "3.0.13"`) {
		t.Fatalf("agent assignment = %+v, %v", a, ok)
	}
	if !slices.Contains(is.Assignees, "octocat") || !slices.Contains(is.Assignees, githubtest.CopilotLogin) {
		t.Errorf("assignees = %v, want the owner and Copilot", is.Assignees)
	}
	// A High issue is not handed over; a refused hand-over keeps the owners.
	h := cve("CVE-2024-0202", model.PriorityHigh, true)
	h.Image, h.GroupID = image+"-high", model.ImageGroupID(repo, image+"-high")
	h.ID = model.ImageCVEFindingID(h.Image, h.CVE)
	gh2 := e.seed(repo, h)
	e.sync(gh2.ID)
	if _, ok := e.gh.AgentAssignmentOf(repo, 2); ok {
		t.Error("a High issue was handed to Copilot")
	}
	e.s.Copilot, _ = github.NewCopilot(e.gh.URL, func(context.Context) (string, error) { return "github_pat_revoked", nil }, nil)
	k := cve("CVE-2024-0203", model.PriorityCritical, true)
	k.Image, k.GroupID = image+"-other", model.ImageGroupID(repo, image+"-other")
	k.ID = model.ImageCVEFindingID(k.Image, k.CVE)
	g3 := e.seed(repo, k)
	e.sync(g3.ID)
	third := e.gh.IssueList(repo)[2]
	if slices.Contains(third.Assignees, githubtest.CopilotLogin) || !slices.Contains(third.Assignees, "octocat") {
		t.Errorf("refused hand-over: assignees = %v", third.Assignees)
	}
	if !strings.Contains(e.logs.String(), "copilot assignment failed; the issue keeps its owners") || strings.Contains(e.logs.String(), "github_pat_") {
		t.Errorf("failure not logged, or the token leaked:\n%s", e.logs.String())
	}
}

// The nightly read: one Resource Graph query finds a manager's assignment,
// the group learns it and is enqueued once; its sync then opens the issue
// without asking ARM again.
func TestNightlyReadFindsManagersAssignment(t *testing.T) {
	e := newEnv(t, github.Limits{})
	srv := e.withGovernance()
	g := e.seed(repo, cve("CVE-2024-0105", model.PriorityMedium, true))
	mgr := srv.PutAssignment(assessment, "0b7e2a9c-1d3f-4e5a-8b6c-7d8e9f0a1b2c", armtest.AssignmentProperties{
		Owner: "alice@octo.example", RemediationDueDate: "2027-02-01T00:00:00Z"})
	rg, err := resourcegraph.NewClient(armToken(srv.Token), resourcegraph.Options{Endpoint: srv.URL,
		ClientOptions: policy.ClientOptions{Transport: srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	lister, err := arm.New(armToken(srv.Token), arm.Options{Endpoint: srv.URL, Graph: rg,
		ClientOptions: policy.ClientOptions{Transport: srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(e.db)
	var enqueued []string
	enqueue := func(_ context.Context, r, id string) error { enqueued = append(enqueued, r+"/"+id); return nil }
	n, err := groupsync.RefreshGovernance(e.ctx, lister, st, st, enqueue, e.clock.Now())
	if err != nil || n != 1 || len(enqueued) != 1 {
		t.Fatalf("first night: %d changed, enqueued %v, %v", n, enqueued, err)
	}
	if gv := e.group(g.ID).Governance; gv == nil || len(gv.Assignments) != 1 || gv.Assignments[0].Key != mgr.Name {
		t.Fatalf("group's record of Defender: %+v", gv)
	}
	if n, err := groupsync.RefreshGovernance(e.ctx, lister, st, st, enqueue, e.clock.Now()); err != nil || n != 0 || len(enqueued) != 1 {
		t.Errorf("second night, nothing changed: %d changed, enqueued %v, %v", n, enqueued, err)
	}
	srv.Reset()
	e.sync(g.ID)
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Fatalf("%d issues after the enqueued sync", n)
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet {
			t.Errorf("the sync read ARM again right after the nightly read: %+v", r)
		}
	}
	if p := e.ticket(srv, mgr.Name).Properties; p.AdditionalData == nil || *p.AdditionalData.TicketNumber != 1 {
		t.Errorf("ticket fields: %+v", p)
	}
}
