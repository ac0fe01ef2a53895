package githubtest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Call is a call a test expects the code under test to make, in the manner
// of cli/cli's pkg/httpmock registry: Verify fails the test when it did not
// happen (or not as often as said).
type Call struct {
	// Pattern is the method and path as a net/http ServeMux pattern, without
	// the API prefix: "POST /repos/{owner}/{repo}/issues",
	// "GET /orgs/octo-org/attestations/{digest}". The method is required.
	Pattern string
	// Times is how many matching requests there must be; 0 means at least one.
	Times int
	// Status counts only the requests answered with this status; 0: any.
	Status int
}

type expectation struct {
	Call
	mux *http.ServeMux
}

// Expect declares calls the code under test must make; Verify checks them.
// A malformed pattern panics, as http.ServeMux does.
func (s *Server) Expect(calls ...Call) {
	list := make([]expectation, 0, len(calls))
	for _, c := range calls {
		method, _, ok := strings.Cut(c.Pattern, " ")
		if !ok || method == "" || strings.HasPrefix(method, "/") {
			panic(fmt.Sprintf("githubtest: Expect(%q): the pattern needs a method, e.g. \"GET /app\"", c.Pattern))
		}
		if c.Times < 0 {
			panic(fmt.Sprintf("githubtest: Expect(%q): Times %d", c.Pattern, c.Times))
		}
		mux := http.NewServeMux()
		mux.Handle(c.Pattern, http.NotFoundHandler())
		list = append(list, expectation{Call: c, mux: mux})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expected = append(s.expected, list...)
}

// Verify fails t for every expected call that did not happen as declared,
// listing what the server did receive. It looks at the recorded requests, so
// call it before ResetRequests forgets them; typically `defer srv.Verify(t)`.
func (s *Server) Verify(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	expected := append([]expectation(nil), s.expected...)
	requests := append([]Request(nil), s.requests...)
	s.mu.Unlock()
	failed := false
	for _, e := range expected {
		n := 0
		for _, r := range requests {
			if e.matches(r) {
				n++
			}
		}
		if (e.Times == 0 && n > 0) || (e.Times > 0 && n == e.Times) {
			continue
		}
		failed = true
		want := "at least once"
		if e.Times > 0 {
			want = fmt.Sprintf("%d time(s)", e.Times)
		}
		if e.Status != 0 {
			want += fmt.Sprintf(" answered %d", e.Status)
		}
		t.Errorf("githubtest: expected %s %s, got %d", e.Pattern, want, n)
	}
	if failed {
		var b strings.Builder
		for _, r := range requests {
			fmt.Fprintf(&b, "\n\t%s %s -> %d", r.Method, r.Path, r.Status)
		}
		if len(requests) == 0 {
			b.WriteString(" none")
		}
		t.Logf("githubtest: requests received:%s", b.String())
	}
}

func (e expectation) matches(r Request) bool {
	if e.Status != 0 && r.Status != e.Status {
		return false
	}
	req := &http.Request{Method: r.Method, URL: &url.URL{Path: r.Path}, Host: "api.github.com"}
	_, pattern := e.mux.Handler(req)
	return pattern != ""
}
