package github

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/codeowners"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

func isContentsGet(r githubtest.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Path, "/contents/")
}

func contentsPaths(s *githubtest.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if isContentsGet(r) {
			out = append(out, r.Path[strings.Index(r.Path, "/contents/")+len("/contents/"):])
		}
	}
	return out
}

func TestCodeownersLookupOrder(t *testing.T) {
	const file = "# owners\n*       @octo-org/platform\n/src/ @octo-org/app-team @hubot\n"
	tests := []struct {
		name      string
		files     map[string]string
		wantPath  string
		wantAsked []string
	}{
		{"in .github", map[string]string{".github/CODEOWNERS": file, "CODEOWNERS": "* @nobody"},
			".github/CODEOWNERS", []string{".github/CODEOWNERS"}},
		{"at the root only", map[string]string{"CODEOWNERS": file, "docs/CODEOWNERS": "* @nobody"},
			"CODEOWNERS", []string{".github/CODEOWNERS", "CODEOWNERS"}},
		{"in docs only", map[string]string{"docs/CODEOWNERS": file},
			"docs/CODEOWNERS", []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}},
		{"none", nil, "", []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Limits{})
			c := e.client(t, testInstallation)
			for p, content := range tt.files {
				e.srv.SetFile("octo-org/app", p, []byte(content))
			}
			f := NewCodeownersFetcher(CodeownersOptions{Clock: e.clock})
			got, err := f.Fetch(context.Background(), c, "octo-org/app")
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if asked := contentsPaths(e.srv); !reflect.DeepEqual(asked, tt.wantAsked) {
				t.Errorf("asked for %v, want %v", asked, tt.wantAsked)
			}
			if tt.wantPath == "" {
				if got != nil {
					t.Fatalf("Fetch = %+v, want nil", got)
				}
				return
			}
			if got == nil || got.Path != tt.wantPath || got.Repository != "octo-org/app" || len(got.Errors) != 0 {
				t.Fatalf("Fetch = %+v, want %s", got, tt.wantPath)
			}
			owners, line, ok := got.File.Owners("src/main.go")
			if !ok || line != 3 || !reflect.DeepEqual(owners, []string{"@octo-org/app-team", "@hubot"}) {
				t.Errorf("Owners(src/main.go) = %v, %d, %v", owners, line, ok)
			}
		})
	}
}

// A cached answer costs nothing; after the TTL the file is asked for again,
// conditionally: the unchanged file is a 304 that does not count.
func TestCodeownersCachedThenConditional(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.SetFile("octo-org/app", ".github/CODEOWNERS", []byte("* @octo-org/platform\n"))
	f := NewCodeownersFetcher(CodeownersOptions{Clock: e.clock, TTL: time.Minute})
	for range 3 {
		if _, err := f.Fetch(context.Background(), c, "octo-org/app"); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.srv.Count(isContentsGet); n != 1 {
		t.Fatalf("contents requests = %d, want 1", n)
	}
	e.clock.Advance(2 * time.Minute)
	got, err := f.Fetch(context.Background(), c, "octo-org/app")
	if err != nil || got == nil {
		t.Fatalf("Fetch after TTL = %v, %v", got, err)
	}
	reqs := e.srv.Requests()
	last := reqs[len(reqs)-1]
	if !isContentsGet(last) || last.Status != http.StatusNotModified || last.Counted {
		t.Errorf("refresh = %+v, want an uncounted 304", last)
	}
	// A changed file is seen after Invalidate.
	e.srv.SetFile("octo-org/app", ".github/CODEOWNERS", []byte("* @octo-org/security\n"))
	f.Invalidate("Octo-Org/App")
	got, err = f.Fetch(context.Background(), c, "octo-org/app")
	if err != nil {
		t.Fatal(err)
	}
	if owners, _, _ := got.File.Owners("x"); !reflect.DeepEqual(owners, []string{"@octo-org/security"}) {
		t.Errorf("owners after change = %v", owners)
	}
}

func TestCodeownersFromJSONContents(t *testing.T) {
	// A server that ignores the raw media type answers with the contents
	// object; the base64 content is decoded.
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.SetFile("octo-org/app", "CODEOWNERS", []byte("*.go @gophers\n"))
	data, ok, err := fetchFileAs(t, c, "application/vnd.github+json")
	if err != nil || !ok || string(data) != "*.go @gophers\n" {
		t.Fatalf("fetch JSON contents = %q, %v, %v", data, ok, err)
	}
	file, errs := codeowners.Parse(data)
	if owners, _, ok := file.Owners("main.go"); !ok || len(errs) != 0 || owners[0] != "@gophers" {
		t.Errorf("owners = %v %v %v", owners, ok, errs)
	}
}

func TestCodeownersRejectsBadRepository(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	f := NewCodeownersFetcher(CodeownersOptions{Clock: e.clock})
	for _, repo := range []string{"", "octo-org", "/app", "octo-org/", "octo-org/app/../x"} {
		if _, err := f.Fetch(context.Background(), c, repo); err == nil {
			t.Errorf("Fetch(%q) accepted", repo)
		}
	}
}

func fetchFileAs(t *testing.T, c *gh.Client, accept string) ([]byte, bool, error) {
	t.Helper()
	return fetchFile(context.Background(), c, "octo-org", "app", "CODEOWNERS", accept)
}
