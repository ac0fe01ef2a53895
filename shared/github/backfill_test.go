package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/model"
)

var ghasSources = []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning}

var repos = []string{"octo-org/app", "octo-org/api", "octo-org/web"}

func listPath(source model.Source) string {
	return "/orgs/octo-org/" + map[model.Source]string{
		model.SourceCodeScanning: "code-scanning", model.SourceDependabot: "dependabot",
		model.SourceSecretScanning: "secret-scanning"}[source] + "/alerts"
}

// A backfill of 250 alerts per source fails on its second page, returns the
// cursor to resume from, and the resumed run completes: every alert seen,
// none skipped.
func TestBackfillResumesAfterFailure(t *testing.T) {
	for _, source := range ghasSources {
		t.Run(string(source), func(t *testing.T) {
			e := newEnv(t, Limits{})
			c := e.client(t, testInstallation)
			e.srv.SetAlerts("octo-org", source, githubtest.GenerateAlerts(t, source, 250, repos...))
			e.srv.Inject(githubtest.Fault{Method: "GET", Path: listPath(source), Skip: 1, Status: http.StatusBadGateway})

			seen := map[string]int{}
			var pages []AlertPage
			collect := func(p AlertPage) error {
				pages = append(pages, p)
				for _, a := range p.Alerts {
					seen[fmt.Sprintf("%s#%d", a.Repository, a.Number)]++
				}
				return nil
			}
			cursor, err := Backfill(context.Background(), c, "octo-org", source, "", collect)
			if err == nil || cursor == "" {
				t.Fatalf("first run = %q, %v; want an error and a cursor", cursor, err)
			}
			if len(pages) != 1 || cursor != pages[0].Next {
				t.Fatalf("failed after %d pages with cursor %q; want the first page's next %q", len(pages), cursor, pages[0].Next)
			}
			if !strings.Contains(err.Error(), "502") {
				t.Errorf("error = %v, want GitHub's 502", err)
			}
			cursor, err = Backfill(context.Background(), c, "octo-org", source, cursor, collect)
			if err != nil || cursor != "" {
				t.Fatalf("resumed run = %q, %v; want done", cursor, err)
			}
			if len(pages) != 3 {
				t.Errorf("pages = %d, want 3", len(pages))
			}
			if len(seen) != 250 {
				t.Errorf("distinct alerts = %d, want 250", len(seen))
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("alert %s seen %d times", k, n)
				}
			}
			a := pages[0].Alerts[0]
			var obj map[string]any
			if err := json.Unmarshal(a.JSON, &obj); err != nil || obj["repository"] == nil || obj["number"] == nil {
				t.Errorf("raw alert = %s", a.JSON)
			}
			if a.Repository != repos[0] || a.Number != 1 || pages[0].Source != source || pages[0].Org != "octo-org" {
				t.Errorf("first alert = %s#%d, page %s/%s", a.Repository, a.Number, pages[0].Org, pages[0].Source)
			}
			// 4 GETs: page 1, the failed page 2, page 2, page 3. Never a
			// conditional one: backfill pages stay out of the ETag cache.
			gets := e.srv.Count(func(r githubtest.Request) bool { return r.Path == listPath(source) })
			conditional := e.srv.Count(func(r githubtest.Request) bool { return r.Path == listPath(source) && r.Conditional })
			if gets != 4 || conditional != 0 {
				t.Errorf("listing requests = %d (conditional %d), want 4 (0)", gets, conditional)
			}
		})
	}
}

func TestBackfillQueries(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	for _, source := range ghasSources {
		e.srv.SetAlerts("octo-org", source, githubtest.GenerateAlerts(t, source, 150, repos...))
		if _, err := Backfill(context.Background(), c, "octo-org", source, "", func(AlertPage) error { return nil }); err != nil {
			t.Fatalf("%s: %v", source, err)
		}
	}
	var queries []string
	for _, r := range e.srv.Requests() {
		if strings.HasSuffix(r.Path, "/alerts") {
			queries = append(queries, strings.TrimPrefix(r.Path, "/orgs/octo-org/")+"?"+r.Query)
		}
	}
	// Code scanning by page; Dependabot by cursor and never `page`; secret
	// scanning asked for cursors with an empty `after`.
	want := []string{
		"code-scanning/alerts?per_page=100", "code-scanning/alerts?page=2&per_page=100",
		"dependabot/alerts?per_page=100", "dependabot/alerts?after=",
		"secret-scanning/alerts?per_page=100&after=", "secret-scanning/alerts?after=",
	}
	if len(queries) != len(want) {
		t.Fatalf("queries = %v", queries)
	}
	for i, q := range queries {
		if !strings.HasPrefix(q, want[i]) {
			t.Errorf("query %d = %s, want prefix %s", i, q, want[i])
		}
	}
}

// When the page handler fails, the page is handed out again on resume.
func TestBackfillHandlerErrorRetriesThePage(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.SetAlerts("octo-org", model.SourceDependabot, githubtest.GenerateAlerts(t, model.SourceDependabot, 250))
	boom := errors.New("cosmos unavailable")
	calls := 0
	cursor, err := Backfill(context.Background(), c, "octo-org", model.SourceDependabot, "", func(p AlertPage) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || cursor == "" {
		t.Fatalf("run = %q, %v; want the handler's error and a cursor", cursor, err)
	}
	var first []int
	_, err = Backfill(context.Background(), c, "octo-org", model.SourceDependabot, cursor, func(p AlertPage) error {
		if first == nil {
			for _, a := range p.Alerts {
				first = append(first, a.Number)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 100 || first[0] != 101 {
		t.Errorf("resumed at alert %v, want the failed page again (101..200)", first[:1])
	}
}

func TestBackfillRejectsBadInput(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	noop := func(AlertPage) error { return nil }
	if _, err := Backfill(context.Background(), c, "octo-org", model.SourceDefenderCVE, "", noop); err == nil {
		t.Error("a Defender source was accepted")
	}
	if _, err := Backfill(context.Background(), c, "octo/org", model.SourceDependabot, "", noop); err == nil {
		t.Error("an org with a slash was accepted")
	}
	if _, err := Backfill(context.Background(), c, "octo-org", model.SourceDependabot, "%zz", noop); err == nil {
		t.Error("a malformed cursor was accepted")
	}
}

// BenchmarkBackfill10k reports what a backfill of 10,000 alerts per source
// costs in GitHub requests (and therefore in rate limit).
func BenchmarkBackfill10k(b *testing.B) {
	const n = 10000
	srv := githubtest.New(b)
	srv.AddInstallation(testInstallation, "octo-org")
	alerts := map[model.Source][]json.RawMessage{}
	for _, source := range ghasSources {
		alerts[source] = githubtest.GenerateAlerts(b, source, n, repos...)
		srv.SetAlerts("octo-org", source, alerts[source])
	}
	b.ResetTimer()
	perSource := map[model.Source]int{}
	total, tokens := 0, 0
	for range b.N {
		srv.ResetRequests()
		f, err := NewFactory(FactoryOptions{BaseURL: srv.URL, AppID: srv.AppID, PrivateKey: srv.PrivateKey,
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		c, err := f.Installation(context.Background(), testInstallation)
		if err != nil {
			b.Fatal(err)
		}
		for _, source := range ghasSources {
			got := 0
			if _, err := Backfill(context.Background(), c, "octo-org", source, "", func(p AlertPage) error {
				got += len(p.Alerts)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			if got != n {
				b.Fatalf("%s: %d alerts, want %d", source, got, n)
			}
		}
		for _, r := range srv.Requests() {
			switch {
			case isTokenMint(r):
				tokens++
			default:
				for _, source := range ghasSources {
					if r.Path == listPath(source) {
						perSource[source]++
					}
				}
			}
			total++
		}
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")
	b.ReportMetric(float64(tokens)/float64(b.N), "tokens/op")
	for _, source := range ghasSources {
		b.ReportMetric(float64(perSource[source])/float64(b.N), string(source)+"-requests/op")
	}
	b.ReportMetric(float64(3*n*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
