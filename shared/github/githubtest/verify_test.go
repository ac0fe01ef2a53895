package githubtest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// recorder is a testing.TB that keeps the failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(f string, a ...any) { r.errors = append(r.errors, fmt.Sprintf(f, a...)) }

func TestVerify(t *testing.T) {
	const create = "POST /repos/{owner}/{repo}/issues"
	tests := []struct {
		name    string
		expect  Call
		calls   []string // "METHOD path" made with a valid token
		wantErr string   // "" when Verify must pass
	}{
		{"never called", Call{Pattern: create}, []string{"GET repos/o/r"}, "expected " + create + " at least once, got 0"},
		{"called", Call{Pattern: create}, []string{"POST repos/o/r/issues"}, ""},
		{"another method", Call{Pattern: create}, []string{"GET repos/o/r/issues"}, "got 0"},
		{"too few", Call{Pattern: create, Times: 2}, []string{"POST repos/o/r/issues"}, "2 time(s), got 1"},
		{"too many", Call{Pattern: create, Times: 1}, []string{"POST repos/o/r/issues", "POST repos/o/r/issues"}, "1 time(s), got 2"},
		{"exactly", Call{Pattern: create, Times: 2}, []string{"POST repos/o/r/issues", "POST repos/a/b/issues"}, ""},
		{"refused does not count", Call{Pattern: create, Status: 201}, []string{"POST repos/o/r/issues"}, "answered 201, got 0"},
		{"literal path", Call{Pattern: "GET /repos/o/r"}, []string{"GET repos/o/r"}, ""},
		{"literal path, other repo", Call{Pattern: "GET /repos/o/r"}, []string{"GET repos/o/x"}, "got 0"},
		{"rest wildcard", Call{Pattern: "GET /repos/o/r/contents/{path...}"}, []string{"GET repos/o/r/contents/.github/CODEOWNERS"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, prefix := range []string{"", "/api/v3"} {
				s := New(t, WithPathPrefix(prefix))
				tok := mint(t, s, 5)
				s.Expect(tt.expect)
				for _, c := range tt.calls {
					method, path, _ := strings.Cut(c, " ")
					call(t, method, s.URL+path, "token "+tok)
				}
				r := &recorder{TB: t}
				s.Verify(r)
				switch {
				case tt.wantErr == "" && len(r.errors) > 0:
					t.Errorf("prefix %q: Verify failed: %v", prefix, r.errors)
				case tt.wantErr != "" && (len(r.errors) != 1 || !strings.Contains(r.errors[0], tt.wantErr)):
					t.Errorf("prefix %q: Verify errors = %q, want one containing %q", prefix, r.errors, tt.wantErr)
				}
			}
		})
	}
}

func TestExpectRefusesAPatternWithoutMethod(t *testing.T) {
	for _, p := range []string{"/repos/o/r", "", "GET", "GET /a/{x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Expect(%q) accepted", p)
				}
			}()
			New(t).Expect(Call{Pattern: p})
		}()
	}
}

// A request is in Requests (so Verify sees it) as soon as its answer has
// been read, not some time after. The answers are large (a page of 100
// alerts), so net/http sends them before the handler returns.
func TestRequestRecordedBeforeTheAnswer(t *testing.T) {
	s := New(t)
	tok := mint(t, s, 5)
	s.SetAlerts("octo-org", model.SourceCodeScanning, GenerateAlerts(t, model.SourceCodeScanning, 100))
	s.ResetRequests()
	for i := 1; i <= 300; i++ {
		call(t, "GET", s.URL+"orgs/octo-org/code-scanning/alerts?per_page=100", "token "+tok)
		if n := len(s.Requests()); n != i {
			t.Fatalf("after %d answers, %d requests recorded", i, n)
		}
	}
}
