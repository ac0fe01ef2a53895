package github

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/model"
)

const userToken = "github_pat_11TEST0user0token"

func TestCopilotAssignmentOnTheWire(t *testing.T) {
	e := newEnv(t, Limits{})
	ctx := context.Background()
	e.srv.SetCollaborators("octo/app", "alice")
	e.srv.AddUserToken(userToken, "octo-secops")
	e.srv.EnableCopilot("octo/app")
	issues := NewIssues(e.client(t, testInstallation), NewIssueCache(0, e.clock))
	is, err := issues.Create(ctx, "octo/app", NewIssue{Title: "[Critical] CVE-2024-1", Body: "b", Assignees: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}

	c, err := NewCopilot(e.srv.URL, func(context.Context) (string, error) { return userToken, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := AgentAssignment{CustomInstructions: "Upgrade openssl to 3.0.13, the fixed version."}
	if err := c.Assign(ctx, "octo/app", is.Number, a); err != nil {
		t.Fatal(err)
	}
	got, ok := e.srv.AgentAssignmentOf("octo/app", is.Number)
	if !ok || got.TargetRepo != "octo/app" || got.BaseBranch != "main" || got.CustomInstructions != a.CustomInstructions || got.By != "octo-secops" {
		t.Errorf("agent assignment = %+v, %v", got, ok)
	}
	after, err := issues.Get(ctx, "octo/app", is.Number)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after.Assignees, []string{"alice", githubtest.CopilotLogin}) {
		t.Errorf("assignees = %v, want the owners kept and Copilot added", after.Assignees)
	}
	// The request carried the user token, not the installation's.
	var sawUser bool
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/assignees") {
			sawUser = r.Installation == 0 && !r.App
		}
	}
	if !sawUser {
		t.Error("the assignment was not made with the user token")
	}
}

func TestCopilotRefusedKeepsOwners(t *testing.T) {
	e := newEnv(t, Limits{})
	ctx := context.Background()
	e.srv.SetCollaborators("octo/app", "alice")
	e.srv.AddUserToken(userToken, "octo-secops")
	issues := NewIssues(e.client(t, testInstallation), NewIssueCache(0, e.clock))
	is, err := issues.Create(ctx, "octo/app", NewIssue{Title: "t", Body: "b", Assignees: []string{"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewCopilot(e.srv.URL, func(context.Context) (string, error) { return userToken, nil }, nil)
	// Copilot coding agent is not enabled for the repository: 422.
	err = c.Assign(ctx, "octo/app", is.Number, AgentAssignment{BaseBranch: "main"})
	if err == nil || strings.Contains(err.Error(), userToken) {
		t.Fatalf("err = %v, want a refusal that does not carry the token", err)
	}
	after, _ := issues.Get(ctx, "octo/app", is.Number)
	if !slices.Equal(after.Assignees, []string{"alice"}) {
		t.Errorf("assignees = %v after a refusal", after.Assignees)
	}
	// An installation token is refused outright, as GitHub refuses it.
	e.srv.EnableCopilot("octo/app")
	inst := e.client(t, testInstallation)
	req, _ := inst.NewRequest(http.MethodPost, "repos/octo/app/issues/1/assignees", map[string]any{"assignees": []string{githubtest.CopilotLogin}})
	if _, err := inst.Do(ctx, req, nil); err == nil || statusOf(err) != http.StatusForbidden {
		t.Errorf("installation token: %v, want 403", err)
	}
}

func alert(repo string, n int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"number": n, "state": "open", "repository": map[string]any{"full_name": repo}})
	return b
}

func TestCampaignKeptCurrentOnTheWire(t *testing.T) {
	e := newEnv(t, Limits{})
	ctx := context.Background()
	e.srv.AddInstallation(testInstallation, "octo")
	e.srv.SetAlerts("octo", model.SourceCodeScanning, []json.RawMessage{alert("octo/app", 3), alert("octo/app", 5), alert("octo/web", 9)})
	x := NewCampaigns(e.client(t, testInstallation))
	spec := CampaignSpec{Name: "runtimelink: runtime-critical code", Description: "Code scanning alerts in code that runs in production with a runtime risk.",
		EndsAt: e.clock.Now().Add(30 * 24 * time.Hour), Manager: "octo-secops", Alerts: map[string][]int{"octo/app": {5, 3}}}

	out, n, err := x.Sync(ctx, "octo", spec)
	if err != nil || out != CampaignCreated || n != 1 {
		t.Fatalf("first sync: %s #%d, %v", out, n, err)
	}
	cs := e.srv.Campaigns("octo")
	if len(cs) != 1 || !slices.Equal(cs[0].Alerts[githubtest.RepoID("octo/app")], []int{3, 5}) || !slices.Equal(cs[0].Managers, []string{"octo-secops"}) ||
		!cs[0].EndsAt.Equal(spec.EndsAt.Truncate(time.Second)) {
		t.Fatalf("campaign = %+v", cs)
	}

	// Runtime context changed: alert 3 no longer runs exposed, 9 does now;
	// ends_at rolls forward.
	spec.Alerts = map[string][]int{"octo/app": {5}, "octo/web": {9}}
	spec.EndsAt = spec.EndsAt.Add(24 * time.Hour)
	if out, n, err := x.Sync(ctx, "octo", spec); err != nil || out != CampaignUpdated || n != 1 {
		t.Fatalf("second sync: %s #%d, %v", out, n, err)
	}
	cs = e.srv.Campaigns("octo")
	if len(cs) != 1 || !slices.Equal(cs[0].Alerts[githubtest.RepoID("octo/app")], []int{5}) ||
		!slices.Equal(cs[0].Alerts[githubtest.RepoID("octo/web")], []int{9}) || !cs[0].EndsAt.Equal(spec.EndsAt.Truncate(time.Second)) {
		t.Fatalf("after the update: %+v", cs)
	}

	// Nothing qualifies any more: closed, and then left alone.
	spec.Alerts = nil
	if out, _, err := x.Sync(ctx, "octo", spec); err != nil || out != CampaignClosed {
		t.Fatalf("third sync: %s, %v", out, err)
	}
	if out, _, err := x.Sync(ctx, "octo", spec); err != nil || out != CampaignUntouched {
		t.Fatalf("fourth sync: %s, %v", out, err)
	}
	if cs := e.srv.Campaigns("octo"); cs[0].State != "closed" {
		t.Errorf("state = %s", cs[0].State)
	}

	// The fake refuses an alert that does not exist, as GitHub does.
	spec.Alerts = map[string][]int{"octo/app": {404}}
	if _, _, err := x.Sync(ctx, "octo", spec); err == nil || statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("unknown alert: %v, want 422", err)
	}
}
