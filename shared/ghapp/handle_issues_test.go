package ghapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/ghapp"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// issueGroups is the groups container in memory: the group of issue #1
// of Codertocat/Hello-World, the repository of the sample payloads.
type issueGroups struct {
	mu    sync.Mutex
	g     model.Group
	moved int // GroupsOfMovedIssue calls
}

// GroupsOfIssue and GroupsOfMovedIssue answer as shared/store's do: an
// issue is the group's when its number and the repository its recorded
// URL names (else the group's own) match; the first looks in the
// repository's own groups, the second in every other repository's.
func (s *issueGroups) GroupsOfIssue(_ context.Context, repository string, number int) ([]model.Group, error) {
	return s.ofIssue(repository, number, true), nil
}

func (s *issueGroups) GroupsOfMovedIssue(_ context.Context, repository string, number int) ([]model.Group, error) {
	s.moved++
	return s.ofIssue(repository, number, false), nil
}

func (s *issueGroups) ofIssue(repository string, number int, home bool) []model.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	if (s.g.Repository == repository) != home || number != s.g.Synced.IssueNumber ||
		!strings.EqualFold(s.g.IssueRepository(), repository) {
		return nil
	}
	return []model.Group{s.g}
}

func (s *issueGroups) UpdateGroup(_ context.Context, repository, id string, fn func(*model.Group, bool) error) (*model.Group, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if repository != s.g.Repository || id != s.g.ID {
		return nil, false, errors.New("no such group")
	}
	cur := s.g
	if err := fn(&cur, true); errors.Is(err, model.ErrSkip) {
		return &s.g, false, nil
	} else if err != nil {
		return nil, false, err
	}
	s.g = cur
	return &cur, true, nil
}

type recordedSyncs struct{ reqs []queue.SyncRequest }

func (r *recordedSyncs) EnqueueSync(_ context.Context, req queue.SyncRequest) error {
	r.reqs = append(r.reqs, req)
	return nil
}

// issuesPayload is a sample of testdata/github/issues, its sender and
// (for "closed", which the samples lack) its action changed as GitHub
// sends them: a close sets state, state_reason and closed_at.
func issuesPayload(t *testing.T, file, action, senderLogin, senderType string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(sampletest.Testdata(t, "github", "issues", file), &m); err != nil {
		t.Fatal(err)
	}
	issue := m["issue"].(map[string]any)
	if action == "closed" {
		m["action"] = "closed"
		issue["state"], issue["state_reason"], issue["closed_at"] = "closed", "completed", issue["updated_at"]
	}
	sender := m["sender"].(map[string]any)
	sender["login"], sender["type"] = senderLogin, senderType
	out, _ := json.Marshal(m)
	return out
}

func TestIssuesLoopGuard(t *testing.T) {
	const ownBot = "runtimelink-octo[bot]"
	known := github.NewIdentity("runtimelink-octo", nil, nil)
	unknown := github.NewIdentity("", nil, nil)
	cases := []struct {
		name         string
		file, action string
		login, typ   string
		app          ghapp.AppBot
		want         model.GroupStatus // the group's status after; "" = ignored
	}{
		{"a person reopens", "reopened.json", "", "Codertocat", "User", known, model.GroupActive},
		{"a person closes", "reopened.json", "closed", "Codertocat", "User", known, model.GroupFixClaimed},
		{"the App's own bot closes", "reopened.json", "closed", ownBot, "Bot", known, ""},
		{"the App's own bot reopens", "reopened.json", "", ownBot, "Bot", known, ""},
		{"the App's own bot, other casing", "reopened.json", "closed", "RuntimeLink-Octo[bot]", "Bot", known, ""},
		{"dependabot closes", "reopened.json", "closed", "dependabot[bot]", "Bot", known, model.GroupFixClaimed},
		{"a CI bot reopens", "reopened.json", "", "octo-ci[bot]", "Bot", known, model.GroupActive},
		{"another App named like ours, without [bot]", "reopened.json", "closed", "runtimelink-octo", "User", known, model.GroupFixClaimed},
		{"own bot login not known: every bot ignored", "reopened.json", "closed", "dependabot[bot]", "Bot", unknown, ""},
		{"own bot login not known: people still count", "reopened.json", "closed", "Codertocat", "User", unknown, model.GroupFixClaimed},
		{"no identity at all: every bot ignored", "reopened.json", "", "octo-ci[bot]", "Bot", nil, ""},
		{"opened changes no status", "opened.json", "", "Codertocat", "User", known, ""},
		{"labeled changes no status", "labeled.json", "", "dependabot[bot]", "Bot", known, ""},
		{"assigned changes no status", "assigned.json", "", ownBot, "Bot", known, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := model.GroupRiskAccepted // neither target, so every transition shows
			st := &issueGroups{g: model.Group{ID: "g1", Repository: "codertocat/hello-world", Status: start,
				StatusAt: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), Synced: model.SyncedIssue{IssueNumber: 1}}}
			syncs := &recordedSyncs{}
			h := &ghapp.Issues{Store: st, Sync: syncs, App: tc.app}
			err := h.Handle(context.Background(), ghapp.EventIssues, "d1", issuesPayload(t, tc.file, tc.action, tc.login, tc.typ))
			if tc.want == "" {
				if !ghapp.IsIgnored(err) {
					t.Fatalf("error = %v, want the event ignored", err)
				}
				if st.g.Status != start || len(syncs.reqs) != 0 {
					t.Errorf("ignored event changed the group to %s and enqueued %v", st.g.Status, syncs.reqs)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want the event processed", err)
			}
			if st.g.Status != tc.want || len(syncs.reqs) != 1 || syncs.reqs[0].GroupID != "g1" {
				t.Errorf("group %s with syncs %v, want %s and one group sync", st.g.Status, syncs.reqs, tc.want)
			}
		})
	}
}

// A person transferred the group's issue (Codertocat/Hello-World#1) to
// octo-org/platform, where it is #5: the events there name the new
// repository and number, and still move the group, which stays in its
// repository of origin; the old address is no longer the group's issue.
func TestIssueEventsFollowATransfer(t *testing.T) {
	const home = "codertocat/hello-world"
	moved := func(t *testing.T, repo string, number int, body string) []byte {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(issuesPayload(t, "reopened.json", "closed", "Codertocat", "User"), &m); err != nil {
			t.Fatal(err)
		}
		issue := m["issue"].(map[string]any)
		issue["number"], issue["body"] = number, body
		m["repository"].(map[string]any)["full_name"] = repo
		out, _ := json.Marshal(m)
		return out
	}
	marked := "Fix it.\n\n" + remediation.Marker("g1") + "\n"
	for _, tc := range []struct {
		name      string
		repo      string
		number    int
		body      string
		processed bool
		lookups   int // cross-repository lookups
	}{
		{"closed where it went", "octo-org/platform", 5, marked, true, 1},
		{"closed where it went, other casing", "Octo-Org/Platform", 5, marked, true, 1},
		{"an issue there without the marker", "octo-org/platform", 5, "someone else's issue", false, 0},
		{"another number there", "octo-org/platform", 6, marked, false, 1},
		{"the old address", home, 1, marked, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &issueGroups{g: model.Group{ID: "g1", Repository: home, Status: model.GroupActive,
				StatusAt: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
				Synced:   model.SyncedIssue{IssueNumber: 5, IssueURL: "https://github.com/octo-org/platform/issues/5"}}}
			if tc.repo == home {
				st.g.Synced.IssueNumber = 1 // the number it had before: still not its issue
			}
			syncs := &recordedSyncs{}
			h := &ghapp.Issues{Store: st, Sync: syncs, App: github.NewIdentity("runtimelink-octo", nil, nil)}
			err := h.Handle(context.Background(), ghapp.EventIssues, "d1", moved(t, tc.repo, tc.number, tc.body))
			if st.moved != tc.lookups {
				t.Errorf("%d cross-repository lookups, want %d", st.moved, tc.lookups)
			}
			if !tc.processed {
				if !ghapp.IsIgnored(err) || st.g.Status != model.GroupActive || len(syncs.reqs) != 0 {
					t.Errorf("error %v, status %s, syncs %v; want the event ignored", err, st.g.Status, syncs.reqs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.g.Status != model.GroupFixClaimed {
				t.Errorf("status = %s, want %s", st.g.Status, model.GroupFixClaimed)
			}
			if len(syncs.reqs) != 1 || syncs.reqs[0].Repository != home || syncs.reqs[0].GroupID != "g1" {
				t.Errorf("syncs = %+v, want one of %s's group g1", syncs.reqs, home)
			}
		})
	}
}
