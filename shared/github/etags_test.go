package github

import (
	"context"
	"net/http"
	"testing"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

// A repeated GET is conditional; GitHub's 304 is served from the cache as the
// original 200 and is not counted against the limit.
func TestETagAnswersFromCacheAndCostsNothing(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	first, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, resp, err := c.Repositories.Get(context.Background(), "octo-org", "app")
		if err != nil {
			t.Fatalf("conditional get: %v", err)
		}
		if resp.StatusCode != http.StatusOK || again.GetID() != first.GetID() || again.GetFullName() != first.GetFullName() {
			t.Fatalf("cached answer = %d %v, want 200 and the first body", resp.StatusCode, again)
		}
		if resp.Rate.Remaining != 4999 {
			t.Errorf("remaining = %d, want 4999 (304s do not count)", resp.Rate.Remaining)
		}
	}
	counted := e.srv.Count(func(r githubtest.Request) bool { return isRepoGet(r) && r.Counted })
	notModified := e.srv.Count(func(r githubtest.Request) bool {
		return isRepoGet(r) && r.Conditional && r.Status == http.StatusNotModified && !r.Counted
	})
	if counted != 1 || notModified != 3 {
		t.Errorf("counted GETs = %d, 304s = %d; want 1 and 3", counted, notModified)
	}
}
