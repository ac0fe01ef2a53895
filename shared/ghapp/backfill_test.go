package ghapp_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/ghapp"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/store"
	"github.com/runtimelink/runtimelink/shared/triage"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

// -backfill.alerts sets the size of TestBackfillCost (10000 for the number
// in the report; the default keeps `make test` short).
var costAlerts = flag.Int("backfill.alerts", 450, "alerts loaded by TestBackfillCost, spread over the three sources")

const installationID = 4711

type nopSync struct{}

func (nopSync) EnqueueSync(context.Context, queue.SyncRequest) error { return nil }

type backfillEnv struct {
	srv      *githubtest.Server
	clock    *githubtest.Clock
	store    *cosmos.Store
	b        *ghapp.Backfiller
	logs     *logtest.Buffer
	progress []ghapp.BackfillProgress
	mu       sync.Mutex
}

func newBackfillEnv(t *testing.T) *backfillEnv {
	t.Helper()
	e := &backfillEnv{clock: githubtest.NewClock(time.Time{}), logs: &logtest.Buffer{}}
	e.srv = githubtest.New(t, githubtest.WithClock(e.clock))
	e.srv.AddInstallation(installationID, "Octo-Org")
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	f, err := github.NewFactory(github.FactoryOptions{
		BaseURL: e.srv.URL, AppID: e.srv.AppID, PrivateKey: e.srv.PrivateKey, Clock: e.clock, Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.store = localstack.Store(t)
	ctx := context.Background()
	if _, err := e.store.Installations.Create(ctx, &model.Installation{ID: "octo-org", Org: "Octo-Org",
		InstallationID: installationID, Status: model.InstallationActive}); err != nil {
		t.Fatal(err)
	}
	st := store.New(e.store)
	e.b = &ghapp.Backfiller{
		Store:         st,
		Triage:        &triage.Triage{Store: st, Sync: queue.GroupSyncs{Sync: nopSync{}}, Logger: logger},
		Installations: &github.Installations{Store: st, Clients: f},
		Logger:        logger,
		Progress: func(p ghapp.BackfillProgress) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.progress = append(e.progress, p)
		},
	}
	return e
}

func (e *backfillEnv) installation(t *testing.T) *model.Installation {
	t.Helper()
	in, err := e.store.Installations.Get(context.Background(), "Octo-Org", "octo-org")
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (e *backfillEnv) findings(t *testing.T) map[model.Source]int {
	t.Helper()
	n := map[model.Source]int{}
	err := e.store.Findings.Query(context.Background(), cosmos.Query{SQL: "SELECT * FROM c"}, func(f *model.Finding) error {
		n[f.Source]++
		if f.Repository != strings.ToLower(f.Repository) {
			t.Errorf("finding %s: repository %q not normalized", f.ID, f.Repository)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var listPaths = map[model.Source]string{
	model.SourceCodeScanning:   "/orgs/Octo-Org/code-scanning/alerts",
	model.SourceDependabot:     "/orgs/Octo-Org/dependabot/alerts",
	model.SourceSecretScanning: "/orgs/Octo-Org/secret-scanning/alerts",
}

// isListing matches a listing request, whether it names the org by login
// (first page) or by id (GitHub's Link header for the next ones).
func isListing(source model.Source) func(githubtest.Request) bool {
	seg := strings.TrimPrefix(listPaths[source], "/orgs/Octo-Org")
	return func(r githubtest.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.Path, seg)
	}
}

func isTokenMint(r githubtest.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/access_tokens")
}

var repos = []string{"Octo-Org/App", "octo-org/api", "octo-org/web"}

// A backfill meets a secondary rate limit (403 + Retry-After) on the
// Dependabot listing, which the transport waits out, then a GitHub failure
// on the secret scanning listing, which stops it with its cursor saved; the
// next run resumes there and loads the rest, and nothing is loaded twice
// into a different state.
func TestBackfillResumesAfterFailure(t *testing.T) {
	e := newBackfillEnv(t)
	const perSource = 250
	for _, s := range ghapp.BackfillSources {
		e.srv.SetAlerts("Octo-Org", s, githubtest.GenerateAlerts(t, s, perSource, repos...))
	}
	// Dependabot's second page: a secondary limit asking for 30 s.
	e.srv.Inject(githubtest.Fault{Method: "GET", Path: listPaths[model.SourceDependabot], Skip: 1,
		Status: http.StatusForbidden, Secondary: true, RetryAfter: 30})
	// Secret scanning's second page: GitHub fails.
	e.srv.Inject(githubtest.Fault{Method: "GET", Path: listPaths[model.SourceSecretScanning], Skip: 1, Status: http.StatusBadGateway})

	ctx := context.Background()
	progress, err := e.b.Backfill(ctx, "Octo-Org")
	if err == nil {
		t.Fatal("first run succeeded; want the injected 502")
	}
	if !strings.Contains(err.Error(), "resumes") || !strings.Contains(err.Error(), "502") {
		t.Errorf("error = %v", err)
	}
	if len(progress) != 3 || !progress[0].Done || !progress[1].Done || progress[2].Done {
		t.Fatalf("progress = %+v", progress)
	}
	in := e.installation(t)
	if len(in.Backfill) != 1 {
		t.Fatalf("saved cursors = %v, want only secret scanning pending", in.Backfill)
	}
	if c := in.Backfill[string(model.SourceSecretScanning)]; !strings.Contains(c, "after=") {
		t.Fatalf("saved cursors = %v, want secret scanning's second page", in.Backfill)
	}
	got := e.findings(t)
	if got[model.SourceCodeScanning] != perSource || got[model.SourceDependabot] != perSource || got[model.SourceSecretScanning] != 100 {
		t.Errorf("after the failed run: %v", got)
	}
	// The secondary limit was waited out (fake clock), not failed on.
	waited := time.Duration(0)
	for _, d := range e.clock.Slept() {
		waited += d
	}
	if waited < 30*time.Second {
		t.Errorf("slept %v in total, want the 30 s Retry-After honoured", waited)
	}

	before := e.srv.Count(nil)
	progress, err = e.b.Backfill(ctx, "octo-org") // any spelling of the org
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if len(progress) != 1 || progress[0].Source != model.SourceSecretScanning || !progress[0].Done || progress[0].Alerts != perSource-100 {
		t.Errorf("resumed progress = %+v", progress)
	}
	got = e.findings(t)
	for _, s := range ghapp.BackfillSources {
		if got[s] != perSource {
			t.Errorf("%s findings = %d, want %d", s, got[s], perSource)
		}
	}
	if in := e.installation(t); len(in.Backfill) != 0 {
		t.Errorf("cursors after completion = %v, want none", in.Backfill)
	}
	resumed := e.srv.Requests()[before:]
	for _, r := range resumed {
		if isListing(model.SourceCodeScanning)(r) || isListing(model.SourceDependabot)(r) {
			t.Errorf("resumed run listed a finished source again: %s %s", r.Path, r.Query)
		}
		if isListing(model.SourceSecretScanning)(r) && !strings.Contains(r.Query, "after=Y") {
			t.Errorf("resumed run started secret scanning over: %s?%s", r.Path, r.Query)
		}
	}
	if len(resumed) != 2 {
		t.Errorf("resumed run sent %d requests, want 2 (pages 2 and 3)", len(resumed))
	}
	// One token for the installation across both runs; listing pages are
	// read once each, never conditionally (they are not cached).
	if n := e.srv.Count(isTokenMint); n != 1 {
		t.Errorf("installation tokens minted = %d, want 1", n)
	}
	if n := e.srv.Count(func(r githubtest.Request) bool { return r.Conditional }); n != 0 {
		t.Errorf("conditional requests = %d, want 0", n)
	}
	// Progress reached the terminal after every page.
	e.mu.Lock()
	pages := len(e.progress)
	e.mu.Unlock()
	if pages < 9 {
		t.Errorf("progress reports = %d, want one per page (9) at least", pages)
	}
	if !strings.Contains(e.logs.String(), `"msg":"backfill page loaded"`) {
		t.Error("no progress in the log")
	}

	// A third run finds nothing pending, so it is a full run again, and
	// writes nothing: every finding is up to date.
	progress, err = e.b.Backfill(ctx, "Octo-Org")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range progress {
		if p.Changed != 0 || p.Alerts != perSource {
			t.Errorf("re-run %s: %d alerts, %d changed; want %d, 0", p.Source, p.Alerts, p.Changed, perSource)
		}
	}
}

// A source GitHub refuses for good (404: not enabled for the org) is
// skipped with a warning; the others load.
func TestBackfillSkipsRefusedSource(t *testing.T) {
	e := newBackfillEnv(t)
	e.srv.SetAlerts("Octo-Org", model.SourceCodeScanning, githubtest.GenerateAlerts(t, model.SourceCodeScanning, 3, repos...))
	e.srv.SetAlerts("Octo-Org", model.SourceDependabot, githubtest.GenerateAlerts(t, model.SourceDependabot, 3, repos...))
	e.srv.Inject(githubtest.Fault{Path: listPaths[model.SourceSecretScanning], Status: http.StatusNotFound})
	progress, err := e.b.Backfill(context.Background(), "Octo-Org")
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 3 || progress[2].Skipped == "" || progress[0].Alerts != 3 || progress[1].Alerts != 3 {
		t.Errorf("progress = %+v", progress)
	}
	if in := e.installation(t); len(in.Backfill) != 0 {
		t.Errorf("cursors = %v", in.Backfill)
	}
}

func TestBackfillNeedsActiveInstallation(t *testing.T) {
	e := newBackfillEnv(t)
	ctx := context.Background()
	if _, err := e.b.Backfill(ctx, "nobody"); err == nil || !strings.Contains(err.Error(), ghapp.ErrNoInstallation.Error()) {
		t.Errorf("unknown org: %v", err)
	}
	if _, _, err := e.store.Installations.Update(ctx, "Octo-Org", "octo-org", func(d *model.Installation, _ bool) error {
		d.Status = model.InstallationSuspended
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Backfill(ctx, "Octo-Org"); err == nil {
		t.Error("backfill of a suspended installation ran")
	}
	if n := e.srv.Count(nil); n != 0 {
		t.Errorf("%d GitHub requests for nothing", n)
	}
}

// TestBackfillCost reports what a backfill costs against GitHub's limits:
// one installation token plus one request per 100 alerts of each source.
//
//	go test ./shared/ghapp -run TestBackfillCost -v -args -backfill.alerts=10000
func TestBackfillCost(t *testing.T) {
	e := newBackfillEnv(t)
	n := *costAlerts
	per := map[model.Source]int{}
	for i, s := range ghapp.BackfillSources {
		per[s] = n / 3
		if i < n%3 {
			per[s]++
		}
		e.srv.SetAlerts("Octo-Org", s, githubtest.GenerateAlerts(t, s, per[s], repos...))
	}
	start := time.Now()
	if _, err := e.b.Backfill(context.Background(), "Octo-Org"); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	want := 1 // the installation token
	for _, s := range ghapp.BackfillSources {
		want += (per[s] + 99) / 100
	}
	all := e.srv.Count(nil)
	counted := e.srv.Count(func(r githubtest.Request) bool { return r.Counted && !isTokenMint(r) })
	t.Logf("backfill of %d alerts (%v): %d GitHub requests (1 token + %d listing pages counted against the 5,000/h limit) in %s (%.0f alerts/s, findings through triage on the emulator)",
		n, per, all, counted, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	if all != want {
		t.Errorf("GitHub requests = %d, want %d (1 token + ⌈n/100⌉ per source)", all, want)
	}
	got := e.findings(t)
	for s, k := range per {
		if got[s] != k {
			t.Errorf("%s findings = %d, want %d", s, got[s], k)
		}
	}
}

// With a time budget, a run stops after the page during which the budget
// ran out, with its cursor saved; repeated runs finish the job, each
// making progress.
func TestBackfillTimeBudget(t *testing.T) {
	e := newBackfillEnv(t)
	const perSource = 150 // two pages each
	for _, s := range ghapp.BackfillSources {
		e.srv.SetAlerts("Octo-Org", s, githubtest.GenerateAlerts(t, s, perSource, repos...))
	}
	e.b.MaxRuntime = time.Nanosecond
	ctx := context.Background()
	runs := 0
	for {
		runs++
		if runs > 10 {
			t.Fatal("the backfill makes no progress under a time budget")
		}
		_, err := e.b.Backfill(ctx, "Octo-Org")
		if err == nil {
			break
		}
		if !errors.Is(err, ghapp.ErrIncomplete) {
			t.Fatalf("run %d: %v", runs, err)
		}
		if in := e.installation(t); len(in.Backfill) == 0 {
			t.Fatalf("run %d stopped with nothing pending", runs)
		}
	}
	// One page per run: six pages, the last run ends the last source.
	if runs != 6 {
		t.Errorf("runs = %d, want 6 (one page each)", runs)
	}
	got := e.findings(t)
	for _, s := range ghapp.BackfillSources {
		if got[s] != perSource {
			t.Errorf("%s findings = %d, want %d", s, got[s], perSource)
		}
	}
	// Every page was read exactly once.
	if n := e.srv.Count(func(r githubtest.Request) bool { return strings.HasSuffix(r.Path, "/alerts") }); n != 6 {
		t.Errorf("listing requests = %d, want 6", n)
	}
}
