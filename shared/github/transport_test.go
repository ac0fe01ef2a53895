package github

import (
	"context"
	"net/http"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

func isRepoGet(r githubtest.Request) bool {
	return r.Method == http.MethodGet && r.Path == "/repos/octo-org/app"
}

func getRepo(t *testing.T, c *gh.Client) error {
	t.Helper()
	_, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
	return err
}

func createIssue(c *gh.Client, title string) error {
	_, _, err := c.Issues.Create(context.Background(), "octo-org", "app", &gh.IssueRequest{Title: gh.String(title)})
	return err
}

func sleptAbout(slept []time.Duration, want time.Duration) bool {
	for _, d := range slept {
		if d >= want && d <= want+2*time.Second {
			return true
		}
	}
	return false
}

func TestIsJWT(t *testing.T) {
	tests := map[string]bool{
		"Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxIn0.c2ln": true,
		"Bearer ghs_abcdef":                    false,
		"token ghs_abcdef":                     false,
		"token eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln": false,
		"":                                     false,
	}
	for in, want := range tests {
		if got := isJWT(in); got != want {
			t.Errorf("isJWT(%q) = %v, want %v", in, got, want)
		}
	}
}
