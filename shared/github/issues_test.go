package github

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

func TestIssuesAgainstTheFake(t *testing.T) {
	e := newEnv(t, Limits{})
	ctx := context.Background()
	e.srv.SetCollaborators("octo/app", "alice", "bob")
	x := NewIssues(e.client(t, testInstallation), NewIssueCache(0, e.clock))

	labels := []Label{{Name: "security", Color: "d73a4a"}, {Name: "priority:critical", Color: "b60205", Description: "runtimelink priority"}}
	n, err := x.EnsureLabels(ctx, "octo/app", labels)
	if err != nil || n != 2 {
		t.Fatalf("EnsureLabels = %d, %v", n, err)
	}
	if c := e.srv.LabelColor("octo/app", "priority:critical"); c != "b60205" {
		t.Errorf("label colour = %q", c)
	}
	before := len(e.srv.Requests())
	if n, err := x.EnsureLabels(ctx, "octo/app", labels); err != nil || n != 0 || len(e.srv.Requests()) != before {
		t.Errorf("second EnsureLabels = %d, %v, %d calls; want none (cached)", n, err, len(e.srv.Requests())-before)
	}

	marker := "<!-- runtimelink:group=image:abc -->"
	i, err := x.Create(ctx, "octo/app", NewIssue{Title: "[Critical] CVE-1", Body: marker + "\nbody",
		Labels: []string{"security", "priority:critical"}, Assignees: []string{"alice", "mallory", "ALICE", "bob"}})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if i.Number != 1 || i.State != "open" || !slices.Equal(i.Assignees, []string{"alice", "bob"}) || len(i.Labels) != 2 || i.Repository != "octo/app" {
		t.Errorf("created = %+v; want mallory (no access) left out and alice once", i)
	}

	closed, reason := "closed", "not_planned"
	u, err := x.Update(ctx, "octo/app", 1, IssuePatch{State: &closed, StateReason: &reason})
	if err != nil || u.State != "closed" || u.StateReason != "not_planned" {
		t.Fatalf("Update = %+v, %v", u, err)
	}
	if _, err := x.Comment(ctx, "octo/app", 1, "why"); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	cs, err := x.Comments(ctx, "octo/app", 1)
	if err != nil || len(cs) != 1 || cs[0].Body != "why" || cs[0].User != githubtest.BotLogin {
		t.Errorf("Comments = %+v, %v", cs, err)
	}

	// Found again by its marker: by search, and by listing when the search
	// index may not have it yet.
	for _, since := range []time.Time{{}, e.clock.Now()} {
		f, err := x.FindByMarker(ctx, "octo/app", marker, since)
		if err != nil || f == nil || f.Number != 1 {
			t.Errorf("FindByMarker(since %v) = %+v, %v", since, f, err)
		}
	}
	if f, err := x.FindByMarker(ctx, "octo/app", "<!-- runtimelink:group=image:abd -->", time.Time{}); err != nil || f != nil {
		t.Errorf("FindByMarker of another group = %+v, %v", f, err)
	}

	// A transferred issue is followed; a deleted one is gone.
	to := e.srv.TransferIssue("octo/app", 1, "octo/elsewhere")
	g, err := x.Get(ctx, "octo/app", 1)
	if err != nil || g.Repository != "octo/elsewhere" || g.Number != to {
		t.Errorf("Get transferred = %+v, %v", g, err)
	}
	e.srv.DeleteIssue("octo/elsewhere", to)
	if _, err := x.Get(ctx, "octo/elsewhere", to); !errors.Is(err, ErrIssueGone) {
		t.Errorf("Get deleted: %v, want ErrIssueGone", err)
	}
	if _, err := x.Get(ctx, "octo/app", 99); !errors.Is(err, ErrIssueGone) {
		t.Errorf("Get missing: %v, want ErrIssueGone", err)
	}
}

func TestIssueErrorKinds(t *testing.T) {
	e := newEnv(t, Limits{})
	ctx := context.Background()
	x := NewIssues(e.client(t, testInstallation), nil)

	e.srv.Inject(githubtest.Fault{Method: "POST", Path: "/repos/octo/app/issues", Status: http.StatusTooManyRequests, RetryAfter: 90})
	_, err := x.Create(ctx, "octo/app", NewIssue{Title: "t"})
	d, ok := RetryDelay(err, e.clock.Now())
	if !ok || d < 89*time.Second || d > 90*time.Second {
		t.Errorf("429 with Retry-After 90: delay %v ok %v (%v)", d, ok, err)
	}

	e.clock.Advance(2 * time.Minute) // the transport holds the installation back until then
	e.srv.Inject(githubtest.Fault{Method: "POST", Path: "/repos/octo/app/issues", Status: http.StatusForbidden, Secondary: true})
	_, err = x.Create(ctx, "octo/app", NewIssue{Title: "t"})
	if d, ok := RetryDelay(err, e.clock.Now()); !ok || d < time.Minute {
		t.Errorf("secondary 403 without Retry-After: delay %v ok %v, want at least a minute (%v)", d, ok, err)
	}

	e.clock.Advance(5 * time.Minute)
	e.srv.Inject(githubtest.Fault{Method: "PATCH", Status: http.StatusBadGateway})
	title := "x"
	_, err = x.Update(ctx, "octo/app", 1, IssuePatch{Title: &title})
	var se *ServerError
	if !errors.As(err, &se) || se.StatusCode != http.StatusBadGateway {
		t.Errorf("502: %v, want *ServerError", err)
	}
	if _, ok := RetryDelay(err, e.clock.Now()); ok {
		t.Error("a 5xx is not a rate limit")
	}

	// A validation failure is neither: the caller's bug, said plainly.
	_, err = x.Create(ctx, "octo/app", NewIssue{Title: strings.Repeat("x", 300)})
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), "422") {
		t.Errorf("too long a title: %v", err)
	}
}
