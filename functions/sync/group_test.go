package sync_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// seedGroup stores one Critical finding running in production and its
// group, as triage leaves them, and returns the group's sync request.
func (e *env) seedGroup(t *testing.T) queue.SyncRequest {
	t.Helper()
	const repo, image = "octo-org/checkout-api", "octoacr.azurecr.io/checkout-api"
	f := &model.Finding{ID: model.ImageCVEFindingID(image, "CVE-2024-45337"), Repository: repo, Source: model.SourceDefenderCVE,
		State: model.StateOpen, CVE: "CVE-2024-45337", Title: "golang.org/x/crypto misuse", Severity: "critical", Image: image,
		Score: 10, Priority: model.PriorityCritical, Deployed: true, GroupID: model.ImageGroupID(repo, image)}
	g := &model.Group{ID: f.GroupID, Repository: repo, Kind: model.GroupKindImage, Image: image, FindingIDs: []string{f.ID},
		Status: model.GroupActive, StatusAt: time.Now().Add(-time.Hour)}
	g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: *g, Findings: []model.Finding{*f}})
	ctx := context.Background()
	if _, err := e.store.Findings.Put(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Groups.Put(ctx, g); err != nil {
		t.Fatal(err)
	}
	return queue.SyncRequest{Kind: queue.KindGroup, Repository: repo, GroupID: g.ID}
}

func TestGroupSyncOpensTheIssueOnce(t *testing.T) {
	e := newEnv(t, false)
	req := e.seedGroup(t)
	for range 2 { // the second run is a redelivery: no second issue
		if r := e.run(t, req); r.Status != http.StatusOK {
			t.Fatalf("status %d %v", r.Status, r.Logs)
		}
	}
	is := e.gh.IssueList(req.Repository)
	if len(is) != 1 || !strings.HasPrefix(is[0].Title, "[Critical]") {
		t.Fatalf("issues = %+v", is)
	}
	if n := e.gh.Count(func(r githubtest.Request) bool {
		return r.Method == "POST" && r.Path == "/repos/"+req.Repository+"/issues"
	}); n != 1 {
		t.Errorf("issue creates = %d", n)
	}
}

func TestGroupSyncRateLimitPutsTheMessageBack(t *testing.T) {
	e := newEnv(t, false)
	req := e.seedGroup(t)
	e.gh.Inject(githubtest.Fault{Method: "POST", Path: "/repos/" + req.Repository + "/issues", Status: 429, RetryAfter: 300})
	r := e.run(t, req)
	if r.Status != http.StatusOK {
		t.Fatalf("a rate limit failed the invocation: %d %v", r.Status, r.Logs)
	}
	reqs, delays := e.sync.Requests(queue.KindGroup), e.sync.Delays()
	if len(reqs) != 1 || reqs[0] != req || delays[len(delays)-1] < 299*time.Second {
		t.Fatalf("re-enqueued %+v with delays %v, want the request back after 300s", reqs, delays)
	}
	if n := len(e.gh.IssueList(req.Repository)); n != 0 {
		t.Errorf("issues = %d", n)
	}
}

func TestGroupSyncServerErrorFailsTheInvocation(t *testing.T) {
	e := newEnv(t, false)
	req := e.seedGroup(t)
	e.gh.Inject(githubtest.Fault{Method: "POST", Path: "/repos/" + req.Repository + "/issues", Status: 503})
	if r := e.run(t, req); r.Status < 500 {
		t.Fatalf("a GitHub 503 answered %d; the host must retry", r.Status)
	}
	if n := len(e.sync.Requests(queue.KindGroup)); n != 0 {
		t.Errorf("a 5xx re-enqueued the message (%d); the host's retry and poison queue handle it", n)
	}
}

func TestGroupSyncDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, true)
	req := e.seedGroup(t)
	r := e.run(t, req)
	if r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	if n := e.gh.Count(func(r githubtest.Request) bool { return r.Method != "GET" && !r.App }); n != 0 {
		t.Errorf("dry-run wrote %d times to GitHub", n)
	}
	if !strings.Contains(strings.Join(r.Logs, "\n"), "dry run") {
		t.Errorf("no dry-run plan in the logs: %v", r.Logs)
	}
}
