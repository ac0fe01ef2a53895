package groupsync_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/scoring"
	"github.com/runtimelink/runtimelink/shared/store"
	"github.com/runtimelink/runtimelink/shared/triage"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

const (
	org          = "octo-org"
	repo         = "octo-org/checkout-api"
	image        = "octoacr.azurecr.io/checkout-api"
	installation = 7
)

// env is a group sync on the emulator and the wire-level GitHub fake,
// sharing one fake clock.
type env struct {
	t     *testing.T
	ctx   context.Context
	db    *cosmos.Store
	gh    *githubtest.Server
	clock *githubtest.Clock
	s     *groupsync.Syncer
	logs  *logtest.Buffer
}

func newEnv(t *testing.T, lim github.Limits, opts ...githubtest.Option) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	clock := githubtest.NewClock(time.Time{})
	srv := githubtest.New(t, append([]githubtest.Option{githubtest.WithClock(clock)}, opts...)...)
	srv.AddInstallation(installation, org)
	srv.SetCollaborators(repo, "octocat", "hubot")
	srv.SetFile(repo, ".github/CODEOWNERS", []byte("*  @hubot\nDockerfile  @octocat @mallory @octo-org/payments\n"))
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	f, err := github.NewFactory(github.FactoryOptions{BaseURL: srv.URL, AppID: srv.AppID, PrivateKey: srv.PrivateKey,
		Logger: logger, Clock: clock, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	db := localstack.Store(t)
	e := &env{t: t, ctx: ctx, db: db, gh: srv, clock: clock, logs: logs}
	e.s = &groupsync.Syncer{
		Store: store.New(db),
		GitHub: &groupsync.AppGitHub{
			Client:     func(ctx context.Context, _ string) (*gh.Client, error) { return f.Installation(ctx, installation) },
			Cache:      github.NewIssueCache(0, clock),
			Codeowners: github.NewCodeownersFetcher(github.CodeownersOptions{Clock: clock}),
		},
		Policy: remediation.Policy{ReopenGrace: 24 * time.Hour},
		Logger: logger,
		Now:    clock.Now,
	}
	return e
}

// cve is a Defender image CVE finding of the test image.
func cve(id string, p model.Priority, running bool) *model.Finding {
	score := map[model.Priority]float64{model.PriorityCritical: 9.5, model.PriorityHigh: 7.5, model.PriorityMedium: 5, model.PriorityLow: 2}[p]
	where := "not running anywhere"
	risks := []model.RiskFactor(nil)
	if running {
		where = "running in production: aks-prod-eus/shop/checkout-api (production)"
		risks = []model.RiskFactor{model.RiskInternetExposed}
	}
	return &model.Finding{
		ID: model.ImageCVEFindingID(image, id), Repository: repo, Source: model.SourceDefenderCVE, State: model.StateOpen,
		CVE: id, Title: "flaw in " + id, Severity: "high", Image: image,
		Location:    model.Location{Dockerfile: "Dockerfile"},
		Digests:     []string{"sha256:" + strings.Repeat("a", 64)},
		DefenderIDs: []string{"/subscriptions/s/providers/Microsoft.Security/assessments/c0b7cfc6/subAssessments/" + id},
		Score:       score, Priority: p, Deployed: running, RuntimeRisks: risks,
		Explanation: model.Explanation{Factors: []model.Factor{
			{Name: scoring.FactorBase, Op: scoring.OpSet, Value: score, Contribution: score, Source: "CVSS"},
			{Name: scoring.FactorDeployment, Op: scoring.OpMul, Value: 1, Source: where},
		}},
		GroupID: model.ImageGroupID(repo, image),
	}
}

// seed writes findings and their group, rendered as triage renders it.
func (e *env) seed(repository string, fs ...*model.Finding) *model.Group {
	e.t.Helper()
	kind := model.GroupKindImage
	if fs[0].Image == "" {
		kind = model.GroupKindAlert
	}
	g := &model.Group{ID: fs[0].GroupID, Repository: repository, Kind: kind, Image: fs[0].Image,
		Status: model.GroupActive, StatusAt: e.clock.Now().Add(-time.Hour)}
	var plain []model.Finding
	for _, f := range fs {
		f.Repository = repository
		if _, err := e.db.Findings.Put(e.ctx, f); err != nil {
			e.t.Fatal(err)
		}
		g.FindingIDs = append(g.FindingIDs, f.ID)
		plain = append(plain, *f)
	}
	if old, err := e.db.Groups.Get(e.ctx, repository, g.ID); err == nil {
		g.Status, g.StatusAt, g.Synced, g.Owners = old.Status, old.StatusAt, old.Synced, old.Owners
	}
	g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: *g, Findings: plain})
	if _, err := e.db.Groups.Put(e.ctx, g); err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) group(id string) *model.Group {
	e.t.Helper()
	g, err := e.db.Groups.Get(e.ctx, repo, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) sync(id string) *groupsync.Result {
	e.t.Helper()
	res, err := e.s.Sync(e.ctx, repo, id, false)
	if err != nil {
		e.t.Fatalf("sync %s: %v", id, err)
	}
	return res
}

// writes counts the content-creating requests GitHub got.
func (e *env) writes() int {
	return e.gh.Count(func(r githubtest.Request) bool { return r.Method != http.MethodGet && !r.App })
}

func kinds(acts []remediation.Action) []string {
	out := []string{}
	for _, a := range acts {
		out = append(out, string(a.Kind))
	}
	return out
}

func TestOpenOnceThenNoCalls(t *testing.T) {
	e := newEnv(t, github.Limits{})
	g := e.seed(repo, cve("CVE-2024-0001", model.PriorityHigh, true))

	res := e.sync(g.ID)
	issues := e.gh.IssueList(repo)
	if len(issues) != 1 {
		t.Fatalf("issues = %d, want 1 (actions %v)", len(issues), kinds(res.Actions))
	}
	is := issues[0]
	if !slices.Equal(is.Assignees, []string{"octocat"}) {
		t.Errorf("assignees = %v, want octocat only (CODEOWNERS of the Dockerfile; mallory cannot be assigned, teams are mentioned)", is.Assignees)
	}
	if !slices.Equal(is.Labels, []string{"security", "priority:high", "runtime:internet-exposed"}) {
		t.Errorf("labels = %v", is.Labels)
	}
	if c := e.gh.LabelColor(repo, "priority:high"); c != "d93f0b" {
		t.Errorf("priority:high colour = %q, want runtimelink's, not GitHub's default", c)
	}
	if !strings.Contains(is.Body, remediation.Marker(g.ID)) || !strings.Contains(is.Body, "@octo-org/payments") {
		t.Errorf("body lacks the marker or the team mention:\n%s", is.Body)
	}
	if !strings.Contains(e.logs.String(), `"msg":"issue opened"`) || !strings.Contains(e.logs.String(), `"priority":"High"`) {
		t.Errorf("no 'issue opened' line with the priority:\n%s", e.logs.String())
	}
	after := e.group(g.ID)
	if after.Synced.IssueNumber != is.Number || after.Synced.Hash != after.Desired.Hash {
		t.Errorf("synced = %+v", after.Synced)
	}

	// A second sync, and a redelivered request, make no GitHub call.
	e.gh.ResetRequests()
	for range 2 {
		if res := e.sync(g.ID); len(res.Actions) != 0 || res.Calls != 0 {
			t.Errorf("second sync: actions %v, calls %d", kinds(res.Actions), res.Calls)
		}
	}
	if n := len(e.gh.Requests()); n != 0 {
		t.Errorf("GitHub got %d requests on a sync in step: %+v", n, e.gh.Requests())
	}
}

func TestLostMappingFoundByMarker(t *testing.T) {
	e := newEnv(t, github.Limits{})
	g := e.seed(repo, cve("CVE-2024-0002", model.PriorityCritical, true))
	e.sync(g.ID)
	// The group → issue mapping is lost (a restore, a hand edit).
	if _, _, err := e.db.Groups.Update(e.ctx, repo, g.ID, func(g *model.Group, _ bool) error {
		g.Synced = model.SyncedIssue{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.sync(g.ID)
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Fatalf("issues = %d after a lost mapping, want the one found by its marker", n)
	}
	if got := e.group(g.ID).Synced.IssueNumber; got != 1 {
		t.Errorf("mapping = #%d, want #1 again", got)
	}
}

// A crash between GitHub creating the issue and the group recording it
// leaves the opening claim; the retry lists the repository's recent issues
// (no search-index lag) and adopts the issue instead of opening another.
func TestCrashAfterCreateOpensNothingTwice(t *testing.T) {
	e := newEnv(t, github.Limits{})
	g := e.seed(repo, cve("CVE-2024-0003", model.PriorityHigh, true))
	claimAt := e.clock.Now()
	if _, _, err := e.db.Groups.Update(e.ctx, repo, g.ID, func(g *model.Group, _ bool) error {
		g.Synced.State, g.Synced.At = "opening", claimAt
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// What the crashed attempt created: the issue is on GitHub, but the
	// search index would not have it yet — the list does.
	c := e.rawIssues()
	if _, err := c.Create(e.ctx, repo, github.NewIssue{Title: g.Desired.Title, Body: g.Desired.Body, Labels: g.Desired.Labels}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Minute)
	res, err := e.s.Sync(e.ctx, repo, g.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Fatalf("issues = %d, want 1 (actions %v)", n, kinds(res.Actions))
	}
	listed := e.gh.Count(func(r githubtest.Request) bool { return r.Method == "GET" && r.Path == "/repos/"+repo+"/issues" })
	if listed == 0 {
		t.Error("the retry did not list the repository's recent issues")
	}
	if got := e.group(g.ID).Synced; got.IssueNumber != 1 || got.State != "open" {
		t.Errorf("synced = %+v", got)
	}
}

func (e *env) rawIssues() *github.Issues {
	e.t.Helper()
	f, err := github.NewFactory(github.FactoryOptions{BaseURL: e.gh.URL, AppID: e.gh.AppID, PrivateKey: e.gh.PrivateKey, Clock: e.clock})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := f.Installation(e.ctx, installation)
	if err != nil {
		e.t.Fatal(err)
	}
	return github.NewIssues(c, nil)
}

func TestRateLimitDefersAndServerErrorFails(t *testing.T) {
	e := newEnv(t, github.Limits{})
	g := e.seed(repo, cve("CVE-2024-0004", model.PriorityHigh, true))
	e.gh.Inject(githubtest.Fault{Method: "POST", Path: "/repos/" + repo + "/issues", Status: 429, RetryAfter: 120})
	_, err := e.s.Sync(e.ctx, repo, g.ID, false)
	var d *groupsync.Deferred
	if !errors.As(err, &d) || d.Delay < 119*time.Second || d.Delay > 121*time.Second {
		t.Fatalf("429 Retry-After 120: %v, want Deferred by 120s", err)
	}
	if n := len(e.gh.IssueList(repo)); n != 0 {
		t.Fatalf("issues = %d after a refused create", n)
	}
	e.clock.Advance(3 * time.Minute)
	e.gh.Inject(githubtest.Fault{Method: "POST", Path: "/repos/" + repo + "/issues", Status: 502})
	_, err = e.s.Sync(e.ctx, repo, g.ID, true)
	var se *github.ServerError
	if !errors.As(err, &se) || errors.As(err, &d) {
		t.Fatalf("502: %v, want a ServerError that fails the invocation", err)
	}
	if _, err := e.s.Sync(e.ctx, repo, g.ID, true); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Fatalf("issues = %d after the retry, want 1", n)
	}
}

func TestHigherPriorityFirst(t *testing.T) {
	e := newEnv(t, github.Limits{})
	high := e.seed(repo, cve("CVE-2024-0010", model.PriorityHigh, true))
	crit := cve("CVE-2024-0011", model.PriorityCritical, true)
	crit.Image, crit.GroupID = image+"-worker", model.ImageGroupID(repo, image+"-worker")
	cg := e.seed(repo, crit)

	_, err := e.s.Sync(e.ctx, repo, high.ID, false)
	var d *groupsync.Deferred
	if !errors.As(err, &d) || !strings.Contains(d.Reason, "higher priority") {
		t.Fatalf("High with a Critical waiting: %v, want deferred", err)
	}
	if n := len(e.gh.IssueList(repo)); n != 0 {
		t.Fatalf("issues = %d; the High one went first", n)
	}
	e.sync(cg.ID)
	e.sync(high.ID)
	is := e.gh.IssueList(repo)
	if len(is) != 2 || !strings.HasPrefix(is[0].Title, "[Critical]") || !strings.HasPrefix(is[1].Title, "[High]") {
		t.Fatalf("issues in order: %v", titles(is))
	}
}

func titles(is []*githubtest.FakeIssue) []string {
	var out []string
	for _, i := range is {
		out = append(out, i.Title)
	}
	return out
}

func TestDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, github.Limits{})
	e.s.DryRun = true
	g := e.seed(repo, cve("CVE-2024-0005", model.PriorityCritical, true))
	res := e.sync(g.ID)
	if !slices.Contains(kinds(res.Actions), string(remediation.KindOpen)) || res.Issue == nil {
		t.Fatalf("dry-run plan = %v", kinds(res.Actions))
	}
	if n := e.writes(); n != 0 {
		t.Errorf("dry-run made %d writes to GitHub", n)
	}
	if after := e.group(g.ID); after.Synced.IssueNumber != 0 || after.Synced.Hash != "" {
		t.Errorf("dry-run recorded a sync: %+v", after.Synced)
	}
}

// The issue names the workflow run that built the image and the evidence
// kind, and group sync renders it as triage does: triage's next refresh
// of the group finds nothing to change.
func TestIssueNamesTheWorkflowRunThatBuiltTheImage(t *testing.T) {
	e := newEnv(t, github.Limits{})
	f := cve("CVE-2024-45337", model.PriorityHigh, true)
	if _, err := e.db.Artifacts.Put(e.ctx, &model.Artifact{ID: f.Digests[0], Digest: f.Digests[0], Image: image, Repository: repo,
		Evidence: []model.Evidence{{Kind: model.EvidenceAttestation, Repository: repo, Commit: "4f2a9c1", RunID: 9120,
			Workflow: ".github/workflows/release.yml", At: e.clock.Now()}}}); err != nil {
		t.Fatal(err)
	}
	g := e.seed(repo, f)
	e.sync(g.ID)
	is := e.gh.IssueList(repo)
	if len(is) != 1 {
		t.Fatalf("issues = %d", len(is))
	}
	want := "built from `" + repo + "` at commit `4f2a9c1` by [workflow run 9120 of `.github/workflows/release.yml`](https://github.com/" + repo +
		"/actions/runs/9120), evidence: attestation"
	if !strings.Contains(is[0].Body, want) {
		t.Errorf("body lacks %q:\n%s", want, is[0].Body)
	}
	tr := &triage.Triage{Store: store.New(e.db)}
	before := e.group(g.ID).Desired.Hash
	if _, err := tr.RefreshGroup(e.ctx, repo, g.ID); err != nil {
		t.Fatal(err)
	}
	if after := e.group(g.ID).Desired; after.Hash != before {
		t.Errorf("triage renders another issue than group sync:\n%s", after.Body)
	}
}

// The search before an open takes its turn in the org's search budget:
// with the budget spent the sync is deferred before it searches; and
// with a budget larger than GitHub's search window, the client reads the
// window's end from the last answer's rate headers and the sync is
// deferred too (not failed), without a search GitHub would refuse.
func TestSearchBeforeOpenKeepsToTheSearchLimit(t *testing.T) {
	e := newEnv(t, github.Limits{}, githubtest.WithContentLimits(githubtest.ContentLimits{SearchPerMinute: 1}))
	other := func(i int) *model.Group {
		f := cve(fmt.Sprintf("CVE-2024-002%d", i), model.PriorityCritical, true)
		f.Image, f.GroupID = fmt.Sprintf("%s-%d", image, i), model.ImageGroupID(repo, fmt.Sprintf("%s-%d", image, i))
		return e.seed(repo, f)
	}
	searches := func() int {
		return e.gh.Count(func(r githubtest.Request) bool { return strings.HasPrefix(r.Path, "/search/") })
	}
	e.s.Limits = groupsync.Limits{SearchesPerMinute: 1}
	e.sync(other(1).ID)
	_, err := e.s.Sync(e.ctx, repo, other(2).ID, false)
	var d *groupsync.Deferred
	if !errors.As(err, &d) || !strings.Contains(d.Reason, "search budget") || searches() != 1 || e.gh.SearchLimited() != 0 {
		t.Fatalf("second open in the minute: %v with %d searches, %d refused; want deferred before searching", err, searches(), e.gh.SearchLimited())
	}

	e.s.Limits = groupsync.Limits{SearchesPerMinute: 10} // more than GitHub gives
	_, err = e.s.Sync(e.ctx, repo, other(3).ID, false)
	if !errors.As(err, &d) || d.Delay <= 0 || searches() != 1 || e.gh.SearchLimited() != 0 {
		t.Fatalf("GitHub's search window spent: %v with %d searches, %d refused; want deferred", err, searches(), e.gh.SearchLimited())
	}
	if n := len(e.gh.IssueList(repo)); n != 1 {
		t.Errorf("issues = %d, want the first one only", n)
	}
}
