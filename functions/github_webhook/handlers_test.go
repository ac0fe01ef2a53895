package githubwebhook_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func installationEvent(t *testing.T, action string, id int64, updatedAt string) []byte {
	return variant(t, "installation/created.json", func(m map[string]any) {
		m["action"] = action
		in := obj(m, "installation")
		in["id"] = id
		in["updated_at"] = updatedAt
	})
}

// The installation's life: created → suspended → unsuspended → deleted,
// with a stale event after the deletion that changes nothing, and a
// reinstall (a new installation id) that starts over.
func TestInstallationLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t)
	get := func() *model.Installation {
		t.Helper()
		in, err := e.store.Installations.Get(ctx, "Codertocat", "codertocat")
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	steps := []struct {
		event, action string
		id            int64
		at            string
		want          model.InstallationStatus
		wantID        int64
		backfills     int
	}{
		{"installation", "created", 100, "2024-01-01T00:00:00Z", model.InstallationActive, 100, 1},
		{"installation", "suspend", 100, "2024-01-02T00:00:00Z", model.InstallationSuspended, 100, 1},
		// An older event arriving late changes nothing.
		{"installation", "new_permissions_accepted", 100, "2024-01-01T12:00:00Z", model.InstallationSuspended, 100, 1},
		{"installation", "unsuspend", 100, "2024-01-03T00:00:00Z", model.InstallationActive, 100, 2},
		{"installation", "deleted", 100, "2024-01-03T00:00:00Z", model.InstallationDeleted, 100, 2},
		{"installation", "unsuspend", 100, "2024-01-05T00:00:00Z", model.InstallationDeleted, 100, 2},
		// A stale event of an even older installation is ignored.
		{"installation", "created", 50, "2024-02-01T00:00:00Z", model.InstallationDeleted, 100, 2},
		{"installation", "created", 200, "2024-02-01T00:00:00Z", model.InstallationActive, 200, 3},
	}
	for i, s := range steps {
		got := e.post(delivery{event: s.event, id: deliveryID(fmt.Sprint("inst", i)), body: installationEvent(t, s.action, s.id, s.at)})
		expectStatus(t, s.action, got, http.StatusOK)
		in := get()
		if in.Status != s.want || in.InstallationID != s.wantID {
			t.Errorf("step %d %s(%d): status %s id %d, want %s %d", i, s.action, s.id, in.Status, in.InstallationID, s.want, s.wantID)
		}
		if n := len(e.sync.Requests(queue.KindBackfill)); n != s.backfills {
			t.Errorf("step %d %s: %d backfills queued, want %d", i, s.action, n, s.backfills)
		}
	}
	// Unix-seconds time (as the sample has it) is read.
	if in := get(); !in.UpdatedAt.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("updatedAt = %s", in.UpdatedAt)
	}

	// Repositories added and removed; selection switched to all.
	for _, c := range []struct {
		name      string
		edit      func(m map[string]any)
		selection string
		repos     string // joined with ","; "" for none kept
	}{
		{"added", func(map[string]any) {}, "selected", "codertocat/hello-world,codertocat/space"},
		{"removed", func(m map[string]any) {
			m["action"] = "removed"
			m["repositories_removed"], m["repositories_added"] = m["repositories_added"], []any{}
		}, "selected", "codertocat/hello-world"},
		{"all", func(m map[string]any) { m["repository_selection"] = "all" }, "all", ""},
	} {
		body := variant(t, "installation_repositories/added.json", func(m map[string]any) {
			obj(m, "installation")["id"] = 200
			c.edit(m)
		})
		expectStatus(t, c.name, e.post(delivery{event: "installation_repositories", id: deliveryID(c.name), body: body}), 200)
		in := get()
		if in.RepositorySelection != c.selection || strings.Join(in.Repositories, ",") != c.repos || (c.repos == "" && in.Repositories != nil) {
			t.Errorf("after %s: %s %v", c.name, in.RepositorySelection, in.Repositories)
		}
	}
}

// Issue closes and reopens move the status of the group whose issue it is;
// the App's own bot and older events do not.
func TestIssueTransitions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t)
	const repo = "codertocat/hello-world"
	g := &model.Group{ID: "alert:code_scanning:codertocat:hello-world:10", Repository: repo, Kind: "alert",
		Status: model.GroupActive, StatusAt: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		Synced: model.SyncedIssue{IssueNumber: 1, State: "open"}}
	other := &model.Group{ID: "alert:other", Repository: repo, Kind: "alert", Status: model.GroupActive,
		Synced: model.SyncedIssue{IssueNumber: 2}}
	for _, doc := range []*model.Group{g, other} {
		if _, err := e.store.Groups.Create(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	issue := func(action string, reason any, updated string, senderType, sender string) []byte {
		return variant(t, "issues/reopened.json", func(m map[string]any) {
			m["action"] = action
			is := obj(m, "issue")
			is["state_reason"], is["updated_at"] = reason, updated
			if action == "closed" {
				is["state"], is["closed_at"] = "closed", updated
			}
			s := obj(m, "sender")
			s["type"], s["login"] = senderType, sender
		})
	}
	steps := []struct {
		name   string
		body   []byte
		status int
		want   model.GroupStatus
	}{
		{"closed completed", issue("closed", "completed", "2021-10-01T00:00:00Z", "User", "Codertocat"), 200, model.GroupFixClaimed},
		{"redundant close", issue("closed", nil, "2021-10-02T00:00:00Z", "User", "Codertocat"), 200, model.GroupFixClaimed},
		{"reopened", issue("reopened", nil, "2021-10-03T00:00:00Z", "User", "Codertocat"), 200, model.GroupActive},
		{"closed by a bot", issue("closed", "completed", "2021-10-04T00:00:00Z", "Bot", "runtimelink[bot]"), 202, model.GroupActive},
		{"closed not planned", issue("closed", "not_planned", "2021-10-05T00:00:00Z", "User", "Codertocat"), 200, model.GroupRiskAccepted},
		{"older reopen arrives late", issue("reopened", nil, "2021-10-04T12:00:00Z", "User", "Codertocat"), 200, model.GroupRiskAccepted},
		{"closed as duplicate", issue("closed", "duplicate", "2021-10-06T00:00:00Z", "User", "Codertocat"), 202, model.GroupRiskAccepted},
		{"labeled", issue("labeled", nil, "2021-10-07T00:00:00Z", "User", "Codertocat"), 202, model.GroupRiskAccepted},
	}
	for i, s := range steps {
		before := len(e.sync.Requests(queue.KindGroup))
		got := e.post(delivery{event: "issues", id: deliveryID(fmt.Sprint("issue", i)), body: s.body})
		expectStatus(t, s.name, got, s.status)
		cur, err := e.store.Groups.Get(ctx, repo, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status != s.want {
			t.Errorf("%s: group status %s, want %s", s.name, cur.Status, s.want)
		}
		// Every status the event stands for enqueues the group's sync, so
		// GitHub and Defender follow at once; an ignored event does not.
		reqs := e.sync.Requests(queue.KindGroup)
		wantSync := s.status == 200 && s.name != "older reopen arrives late"
		if got := len(reqs) - before; (got == 1) != wantSync || got > 1 {
			t.Errorf("%s: %d group syncs enqueued, want %v", s.name, got, wantSync)
		} else if wantSync && (reqs[len(reqs)-1].GroupID != g.ID || reqs[len(reqs)-1].Repository != repo) {
			t.Errorf("%s: enqueued %+v", s.name, reqs[len(reqs)-1])
		}
	}
	if o, _ := e.store.Groups.Get(ctx, repo, other.ID); o.Status != model.GroupActive {
		t.Errorf("another issue's group moved: %s", o.Status)
	}
}

// A published image becomes an artifact with its source; a successful run
// of the same commit adds its workflow and run id.
func TestArtifactsFromPackagesAndRuns(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t)
	expectStatus(t, "registry_package", e.post(delivery{event: "registry_package", id: deliveryID("rp"),
		body: sample(t, "registry_package/published.docker.json")}), 200)
	var a *model.Artifact
	if err := e.store.Artifacts.Query(ctx, cosmosAll, func(x *model.Artifact) error { a = x; return nil }); err != nil || a == nil {
		t.Fatalf("artifact: %v", err)
	}
	if a.ID != a.Digest || !strings.HasPrefix(a.Digest, "sha256:") || a.Repository != "codertocat/hello-world-npm" || a.Commit == "" {
		t.Fatalf("artifact = %+v", a)
	}
	kinds := map[model.EvidenceKind]bool{}
	for _, ev := range a.Evidence {
		kinds[ev.Kind] = true
	}
	if !kinds[model.EvidenceGitHubPackage] || !kinds[model.EvidenceOCILabels] {
		t.Errorf("evidence = %+v, want the package link and the image's label", a.Evidence)
	}

	run := func(sha, repo string) []byte {
		return variant(t, "workflow_run/completed.json", func(m map[string]any) {
			obj(m, "workflow_run")["head_sha"] = sha
			obj(m, "repository")["full_name"] = repo
		})
	}
	// Another repository's run of the same commit is not evidence.
	expectStatus(t, "foreign run", e.post(delivery{event: "workflow_run", id: deliveryID("run0"), body: run(a.Commit, "someone/else")}), 200)
	expectStatus(t, "run", e.post(delivery{event: "workflow_run", id: deliveryID("run1"), body: run(a.Commit, "Codertocat/hello-world-npm")}), 200)
	after, err := e.store.Artifacts.Get(ctx, a.Digest, a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	var runs []model.Evidence
	for _, ev := range after.Evidence {
		if ev.RunID != 0 {
			runs = append(runs, ev)
		}
	}
	if len(runs) != 1 || runs[0].RunID != 289782451 || runs[0].Workflow == "" || runs[0].Repository != "codertocat/hello-world-npm" {
		t.Errorf("workflow evidence = %+v", runs)
	}
	// The same run again (a new delivery of it) adds nothing.
	expectStatus(t, "run again", e.post(delivery{event: "workflow_run", id: deliveryID("run2"), body: run(a.Commit, "Codertocat/hello-world-npm")}), 200)
	again, _ := e.store.Artifacts.Get(ctx, a.Digest, a.Digest)
	if again.ETag != after.ETag {
		t.Error("the same run rewrote the artifact")
	}
}

// secret_scanning_alert_location adds where the secret was found to the
// alert's finding, without changing its state.
func TestSecretScanningLocation(t *testing.T) {
	e := newEnv(t, nil)
	expectStatus(t, "alert", e.post(delivery{event: "secret_scanning_alert", id: deliveryID("alert"),
		body: sample(t, "secret_scanning_alert/reopened.json")}), 200)
	loc := variant(t, "secret_scanning_alert/reopened.json", func(m map[string]any) {
		m["action"] = "created"
		m["location"] = map[string]any{"type": "commit", "details": map[string]any{
			"path": "config/secrets.yml", "start_line": 3, "end_line": 3,
			"commit_sha": "f14d7debf9775f957cf4f1e8176da0786431f72b"}}
	})
	expectStatus(t, "location", e.post(delivery{event: "secret_scanning_alert_location", id: deliveryID("loc"), body: loc}), 200)
	f, err := e.store.Findings.Get(ctxT(t), "codertocat/hello-world", "secret_scanning:codertocat:hello-world:191")
	if err != nil {
		t.Fatal(err)
	}
	if f.State != model.StateOpen || f.Location.Path != "config/secrets.yml" || f.Location.StartLine != 3 {
		t.Errorf("finding = %s at %+v", f.State, f.Location)
	}
}

// With the App's slug known (GITHUB_APP_SLUG here; GET /app otherwise) the
// loop guard ignores only the App's own bot: another bot closing an issue
// (a dependabot or CI bot) moves the group like a person does.
func TestIssueLoopGuardKnowsTheAppsBot(t *testing.T) {
	e := newEnv(t, nil, func(d *app.Deps) { d.Config.GitHub.AppSlug = "runtimelink" })
	ctx := ctxT(t)
	const repo = "codertocat/hello-world"
	g := &model.Group{ID: "alert:code_scanning:codertocat:hello-world:11", Repository: repo, Kind: "alert",
		Status: model.GroupActive, StatusAt: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		Synced: model.SyncedIssue{IssueNumber: 1, State: "open"}}
	if _, err := e.store.Groups.Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	closedBy := func(login, updated string) []byte {
		return variant(t, "issues/reopened.json", func(m map[string]any) {
			m["action"] = "closed"
			is := obj(m, "issue")
			is["state"], is["state_reason"], is["updated_at"], is["closed_at"] = "closed", "completed", updated, updated
			s := obj(m, "sender")
			s["type"], s["login"] = "Bot", login
		})
	}
	expectStatus(t, "own bot", e.post(delivery{event: "issues", id: deliveryID("own-bot"), body: closedBy("runtimelink[bot]", "2021-10-01T00:00:00Z")}), 202)
	if cur, _ := e.store.Groups.Get(ctx, repo, g.ID); cur.Status != model.GroupActive {
		t.Errorf("the App's own close moved the group to %s", cur.Status)
	}
	expectStatus(t, "dependabot", e.post(delivery{event: "issues", id: deliveryID("dependabot"), body: closedBy("dependabot[bot]", "2021-10-02T00:00:00Z")}), 200)
	if cur, _ := e.store.Groups.Get(ctx, repo, g.ID); cur.Status != model.GroupFixClaimed {
		t.Errorf("dependabot's close left the group %s, want %s", cur.Status, model.GroupFixClaimed)
	}
}

// A transferred issue is followed (the group keeps its repository of
// origin and now names the new issue); a deleted one drops the mapping.
// Both enqueue the group's sync.
func TestIssueTransferredAndDeleted(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t)
	const repo = "codertocat/hello-world"
	moved := &model.Group{ID: "alert:moved", Repository: repo, Kind: "alert", Status: model.GroupActive,
		Synced: model.SyncedIssue{IssueNumber: 1, State: "open", Hash: "h"}}
	gone := &model.Group{ID: "alert:gone", Repository: repo, Kind: "alert", Status: model.GroupActive,
		Synced: model.SyncedIssue{IssueNumber: 2, State: "open", Hash: "h"}}
	for _, doc := range []*model.Group{moved, gone} {
		if _, err := e.store.Groups.Create(ctx, doc); err != nil {
			t.Fatal(err)
		}
	}
	event := func(action string, number int, edit func(m map[string]any)) []byte {
		return variant(t, "issues/reopened.json", func(m map[string]any) {
			m["action"] = action
			obj(m, "issue")["number"] = number
			s := obj(m, "sender")
			s["type"], s["login"] = "User", "Codertocat"
			if edit != nil {
				edit(m)
			}
		})
	}
	expectStatus(t, "transferred", e.post(delivery{event: "issues", id: deliveryID("transferred"), body: event("transferred", 1, func(m map[string]any) {
		m["changes"] = map[string]any{
			"new_issue":      map[string]any{"number": 9, "html_url": "https://github.com/codertocat/platform/issues/9"},
			"new_repository": map[string]any{"full_name": "codertocat/platform"},
		}
	})}), 200)
	expectStatus(t, "transfer without changes", e.post(delivery{event: "issues", id: deliveryID("transferred-bad"), body: event("transferred", 2, nil)}), 400)
	expectStatus(t, "deleted", e.post(delivery{event: "issues", id: deliveryID("deleted"), body: event("deleted", 2, nil)}), 200)

	m, _ := e.store.Groups.Get(ctx, repo, moved.ID)
	if m.Synced.IssueNumber != 9 || m.Synced.IssueURL != "https://github.com/codertocat/platform/issues/9" || m.Synced.Hash != "h" {
		t.Errorf("transferred: synced = %+v", m.Synced)
	}
	g, _ := e.store.Groups.Get(ctx, repo, gone.ID)
	if g.Synced.IssueNumber != 0 || g.Synced.Hash != "" {
		t.Errorf("deleted: synced = %+v, want the mapping dropped", g.Synced)
	}
	var ids []string
	for _, r := range e.sync.Requests(queue.KindGroup) {
		ids = append(ids, r.GroupID)
	}
	if len(ids) != 2 || ids[0] != moved.ID || ids[1] != gone.ID {
		t.Errorf("group syncs enqueued: %v", ids)
	}
}
