package sync_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	syncfn "github.com/runtimelink/runtimelink/functions/sync"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/registry"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

const (
	installation = 77
)

type env struct {
	srv   http.Handler
	store *cosmos.Store
	sync  *inventorytest.Sync
	gh    *githubtest.Server
	inv   *inventory.Inventory
	seq   int
}

// newEnv runs the sync function against a fake GitHub: githubtest for App
// authentication, attestations and the artifact-metadata records.
func newEnv(t *testing.T, dryRun bool, opts ...func(*app.Deps)) *env {
	t.Helper()
	store, _ := inventorytest.Store(t)
	sy := &inventorytest.Sync{}
	gh := githubtest.New(t)
	gh.AddInstallation(installation, "octo-org")
	d := inventorytest.Deps(t, store, sy)
	d.Config.GitHub.APIURL = gh.URL
	d.Config.GitHub.AppID = gh.AppID
	d.Config.DryRun = dryRun
	d.Secrets = keyvault.NewEnv(map[string]string{
		d.Config.Secrets.DeploymentsToken:    inventorytest.Token,
		d.Config.Secrets.GitHubAppPrivateKey: string(gh.PrivateKeyPEM),
	})
	for _, o := range opts {
		o(d)
	}
	ctx := context.Background()
	if _, err := store.Installations.Create(ctx, &model.Installation{ID: model.InstallationDocID("octo-org"), Org: "octo-org",
		InstallationID: installation, Status: model.InstallationActive}); err != nil {
		t.Fatal(err)
	}
	srv := invocation.NewServer(nil)
	syncfn.Register(srv, d)
	tri, err := d.Triage()
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv.Handler(), store: store, sync: sy, gh: gh,
		inv: d.Inventory(tri)}
}

// posts are the artifact-metadata requests GitHub received.
func (e *env) posts() []githubtest.Request {
	var out []githubtest.Request
	for _, r := range e.gh.Requests() {
		if r.Method == http.MethodPost && strings.Contains(r.Path, "/artifacts/metadata/") {
			out = append(out, r)
		}
	}
	return out
}

// recordJSON is v as JSON, to compare with the body runtimelink must send.
func recordJSON(t *testing.T, v any) string { t.Helper(); return string(jsontest.Marshal(t, v)) }

func (e *env) run(t *testing.T, r queue.SyncRequest) invocationtest.Response {
	t.Helper()
	body, _ := json.Marshal(r)
	e.seq++
	return invocationtest.Invoke(t, e.srv, syncfn.Function, "inv", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, body, e.seq))
}

// deploy stores the sample deployment record and the sample Defender risk
// assessment, and returns the workload's sync request.
func (e *env) deploy(t *testing.T) queue.SyncRequest {
	t.Helper()
	var body struct {
		Single deployrecord.DeploymentRecord `json:"single"`
	}
	_ = json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &body)
	ws, err := e.inv.ApplyDeployments(context.Background(), "octo-org", []deployrecord.DeploymentRecord{body.Single})
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := defender.ParseMessage(sampletest.Testdata(t, "defender", "assessment-risk.json"))
	if _, err := e.inv.IngestDefender(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return queue.DeploymentSync(ws[0].Org, ws[0].Cluster, ws[0].ID)
}

const wantDeployment = `{"name":"octoacr.azurecr.io/checkout-api","digest":"` + sampletest.Digest + `","version":"1.4.2","status":"deployed",` +
	`"logical_environment":"production","physical_environment":"eastus","cluster":"aks-prod-eus",` +
	`"deployment_name":"shop-checkout-api-api","tags":{"team":"payments"},"runtime_risks":["internet-exposed","sensitive-data"],` +
	`"github_repository":"checkout-api","return_records":false}`

func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	_ = json.Unmarshal([]byte(want), &b)
	ga, _ := json.Marshal(a)
	wb, _ := json.Marshal(b)
	return string(ga) == string(wb)
}

func TestDeploymentRecordPushedOnceWithMergedRisks(t *testing.T) {
	e := newEnv(t, false)
	// Pushed, left alone while unchanged, decommissioned once gone: two
	// accepted posts, and one attestation lookup.
	e.gh.Expect(githubtest.Call{Pattern: "POST /orgs/octo-org/artifacts/metadata/deployment-record", Times: 2, Status: http.StatusOK},
		githubtest.Call{Pattern: "GET /orgs/octo-org/attestations/{digest}", Times: 1})
	defer e.gh.Verify(t)
	req := e.deploy(t)
	if r := e.run(t, req); r.Status != http.StatusOK {
		t.Fatalf("status %d %v", r.Status, r.Logs)
	}
	posts := e.posts()
	if len(posts) != 1 {
		t.Fatalf("posts = %+v", posts)
	}
	p := posts[0]
	if p.Path != "/orgs/octo-org/artifacts/metadata/deployment-record" || p.Installation != installation || p.Status != http.StatusOK {
		t.Errorf("request %s by installation %d: %d", p.Path, p.Installation, p.Status)
	}
	recs := e.gh.DeploymentRecords("octo-org")
	if len(recs) != 1 || !jsonEqual(t, recordJSON(t, recs[0].DeploymentRecord), wantDeployment) {
		t.Fatalf("records on GitHub = %+v\nwant %s", recs, wantDeployment)
	}
	// The attestation was looked up (none exists: the record keeps the
	// deployment record's repository).
	if n := e.gh.Count(func(r githubtest.Request) bool { return strings.Contains(r.Path, "/attestations/") }); n != 1 {
		t.Errorf("attestation lookups = %d", n)
	}
	w, _ := e.store.Workloads.Get(context.Background(), req.Cluster, req.WorkloadID)
	if w.DeploymentRecordHash == "" {
		t.Error("the pushed record's hash was not kept")
	}
	// Nothing changed: nothing is sent again.
	if r := e.run(t, req); r.Status != http.StatusOK || len(e.posts()) != 1 {
		t.Errorf("second run: %d, posts %d", r.Status, len(e.posts()))
	}
	// Gone: decommissioned.
	var body struct {
		Single deployrecord.DeploymentRecord `json:"single"`
	}
	_ = json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &body)
	body.Single.Status = deployrecord.StatusDecommissioned
	if _, err := e.inv.ApplyDeployments(context.Background(), "octo-org", []deployrecord.DeploymentRecord{body.Single}); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t, req); r.Status != http.StatusOK {
		t.Fatalf("status %d", r.Status)
	}
	recs = e.gh.DeploymentRecords("octo-org")
	if posts := e.posts(); len(posts) != 2 || len(recs) != 1 || recs[0].Status != deployrecord.StatusDecommissioned {
		t.Errorf("after gone: %d posts, records %+v", len(posts), recs)
	}
}

// attest gives the image digest a provenance attestation in octo-org,
// built by repo's build workflow on main.
func (e *env) attest(t *testing.T, repo string) {
	t.Helper()
	e.gh.AddAttestation("octo-org", sampletest.Digest, githubtest.Attestation{Repository: repo,
		Bundle: githubtest.ProvenanceBundle(t, githubtest.Build{Digest: sampletest.Digest, Image: "octoacr.azurecr.io/checkout-api",
			Repository: repo, Workflow: ".github/workflows/build.yml", Ref: "refs/heads/main",
			Commit: "788437584c2522f27feab10d8e631bab3e9e783a", RunID: 4242})})
}

func TestAttestationFoundIsEvidenceAndNamesTheRepository(t *testing.T) {
	e := newEnv(t, false)
	e.attest(t, "octo-org/checkout-service")
	req := e.deploy(t)
	if r := e.run(t, req); r.Status != http.StatusOK {
		t.Fatalf("status %d %v", r.Status, r.Logs)
	}
	a, _ := e.store.Artifacts.Get(context.Background(), sampletest.Digest, sampletest.Digest)
	if a.Repository != "octo-org/checkout-service" || a.Commit != "788437584c2522f27feab10d8e631bab3e9e783a" || a.Evidence[0].Kind != model.EvidenceAttestation {
		t.Errorf("artifact = %+v", a)
	}
	recs := e.gh.DeploymentRecords("octo-org")
	if posts := e.posts(); len(posts) != 1 || len(recs) != 1 || recs[0].GitHubRepository != "checkout-service" {
		t.Errorf("%d posts, records %+v", len(posts), recs)
	}
	// The attestation is recorded: no second lookup.
	_ = e.run(t, req)
	if n := e.gh.Count(func(r githubtest.Request) bool { return strings.Contains(r.Path, "/attestations/") }); n != 1 {
		t.Errorf("attestation lookups = %d", n)
	}
}

func TestStorageRecordPushed(t *testing.T) {
	e := newEnv(t, false)
	e.gh.Expect(githubtest.Call{Pattern: "POST /orgs/octo-org/artifacts/metadata/storage-record", Times: 1, Status: http.StatusOK})
	defer e.gh.Verify(t)
	e.deploy(t)
	if _, err := e.inv.RecordImageEvent(context.Background(), pushed(t)); err != nil {
		t.Fatal(err)
	}
	reqs := e.sync.Requests(queue.KindStorage)
	if len(reqs) == 0 {
		t.Fatal("no storage sync enqueued")
	}
	if r := e.run(t, reqs[len(reqs)-1]); r.Status != http.StatusOK {
		t.Fatalf("status %d %v", r.Status, r.Logs)
	}
	posts := e.posts()
	want := `{"name":"octoacr.azurecr.io/checkout-api","digest":"` + sampletest.Digest + `","version":"1.4.2","registry_url":"https://octoacr.azurecr.io",` +
		`"repository":"checkout-api","status":"active","github_repository":"checkout-api","return_records":false}`
	recs := e.gh.StorageRecords("octo-org")
	if len(posts) != 1 || posts[0].Path != "/orgs/octo-org/artifacts/metadata/storage-record" || posts[0].Status != http.StatusOK ||
		len(recs) != 1 || !jsonEqual(t, recordJSON(t, recs[0].StorageRecord), want) {
		t.Errorf("posts = %+v, records on GitHub = %+v", posts, recs)
	}
	if r := e.run(t, reqs[len(reqs)-1]); r.Status != http.StatusOK || len(e.posts()) != 1 {
		t.Errorf("unchanged storage record sent again")
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	e := newEnv(t, true)
	req := e.deploy(t)
	r := e.run(t, req)
	if r.Status != http.StatusOK || len(e.posts()) != 0 {
		t.Fatalf("status %d, posts %v", r.Status, e.posts())
	}
	planned := false
	for _, l := range r.Logs {
		planned = planned || strings.Contains(l, "would POST deployment record") && strings.Contains(l, "internet-exposed")
	}
	if !planned {
		t.Errorf("no plan in the logs: %v", r.Logs)
	}
	if w, _ := e.store.Workloads.Get(context.Background(), req.Cluster, req.WorkloadID); w.DeploymentRecordHash != "" {
		t.Error("a dry run marked the record as pushed")
	}
}

func TestGitHubFailures(t *testing.T) {
	e := newEnv(t, false)
	req := e.deploy(t)
	metadata := "/orgs/octo-org/artifacts/metadata/"
	e.gh.Inject(githubtest.Fault{Method: http.MethodPost, Path: metadata, Status: http.StatusBadGateway})
	if r := e.run(t, req); r.Status != http.StatusInternalServerError {
		t.Errorf("502 from GitHub: status %d, want 500 (retry)", r.Status)
	}
	e.gh.Inject(githubtest.Fault{Method: http.MethodPost, Path: metadata, Status: http.StatusUnprocessableEntity})
	if r := e.run(t, req); r.Status != http.StatusOK {
		t.Errorf("422 from GitHub: status %d, want 200 (a retry cannot help)", r.Status)
	}
	if w, _ := e.store.Workloads.Get(context.Background(), req.Cluster, req.WorkloadID); w.DeploymentRecordHash != "" {
		t.Error("a refused record was marked pushed")
	}
	// An org without the App installed: acknowledged, nothing sent.
	n := len(e.posts())
	other := req
	_ = e.store.Installations.Delete(context.Background(), "octo-org", model.InstallationDocID("octo-org"))
	if r := e.run(t, other); r.Status != http.StatusOK || len(e.posts()) != n {
		t.Errorf("not installed: status %d, posts %d → %d", r.Status, n, len(e.posts()))
	}
}

func TestOtherMessages(t *testing.T) {
	e := newEnv(t, false)
	bad := invocationtest.Invoke(t, e.srv, syncfn.Function, "inv", invocationtest.QueueMessage(syncfn.Function, syncfn.Binding, []byte(`{"kind":"teleport"}`), 1))
	if bad.Status != http.StatusInternalServerError {
		t.Errorf("unknown kind: status %d (want a failure, so it ends in the poison queue)", bad.Status)
	}
	if r := e.run(t, queue.SyncRequest{Kind: queue.KindGroup, Repository: "octo-org/app", GroupID: "g"}); r.Status != http.StatusOK {
		t.Errorf("group: status %d", r.Status)
	}
	if r := e.run(t, queue.SyncRequest{Kind: queue.KindDeployment, Cluster: "nowhere", WorkloadID: "nothing"}); r.Status != http.StatusOK {
		t.Errorf("missing workload: status %d", r.Status)
	}
}

func pushed(t *testing.T) registry.Event {
	t.Helper()
	ev, err := registry.ParseEvent(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// An ACR image nobody deploys yet: the storage sync asks the orgs the App
// is installed in for its attestation, and pushes the record once found.
func TestStorageSyncFindsTheSourceOfAnUnmappedImage(t *testing.T) {
	e := newEnv(t, false)
	e.attest(t, "octo-org/checkout-api")
	if _, err := e.inv.RecordImageEvent(context.Background(), pushed(t)); err != nil {
		t.Fatal(err)
	}
	reqs := e.sync.Requests(queue.KindStorage)
	if len(reqs) != 1 {
		t.Fatalf("storage syncs = %v", reqs)
	}
	if r := e.run(t, reqs[0]); r.Status != http.StatusOK {
		t.Fatalf("status %d %v", r.Status, r.Logs)
	}
	a, _ := e.store.Artifacts.Get(context.Background(), sampletest.Digest, sampletest.Digest)
	if a.Repository != "octo-org/checkout-api" || a.Evidence[0].Kind != model.EvidenceAttestation || a.StorageRecordHash == "" {
		t.Errorf("artifact = %+v", a)
	}
	if posts, recs := e.posts(), e.gh.StorageRecords("octo-org"); len(posts) != 1 || !strings.HasSuffix(posts[0].Path, "/storage-record") ||
		len(recs) != 1 || recs[0].GitHubRepository != "checkout-api" {
		t.Errorf("posts = %+v, records on GitHub = %+v", posts, recs)
	}
}

// A backfill that runs out of its slice hands the rest to a fresh message
// on the queue; following those messages loads every alert exactly once.
func TestBackfillContinuesInFreshMessages(t *testing.T) {
	// A clock that moves, so the slice runs out.
	e := newEnv(t, false, func(d *app.Deps) { d.Now = time.Now })
	old := syncfn.BackfillSlice
	syncfn.BackfillSlice = time.Nanosecond // every run stops after its first page
	t.Cleanup(func() { syncfn.BackfillSlice = old })
	const perSource = 150 // two pages of 100 per source
	repos := []string{"octo-org/app", "octo-org/api"}
	for _, s := range []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning} {
		e.gh.SetAlerts("octo-org", s, githubtest.GenerateAlerts(t, s, perSource, repos...))
	}
	req := queue.SyncRequest{Kind: queue.KindBackfill, Org: "octo-org"}
	runs := 0
	for {
		e.sync.Reset()
		if r := e.run(t, req); r.Status != http.StatusOK {
			t.Fatalf("backfill run %d: status %d", runs+1, r.Status)
		}
		runs++
		next := e.sync.Requests(queue.KindBackfill)
		if len(next) == 0 {
			break
		}
		if len(next) != 1 || next[0] != req {
			t.Fatalf("run %d re-enqueued %+v, want one %+v", runs, next, req)
		}
		if runs > 20 {
			t.Fatal("the backfill never finishes")
		}
	}
	if runs < 2 {
		t.Fatalf("finished in %d run(s); the slice should have forced a continuation", runs)
	}
	n := 0
	err := e.store.Findings.Query(context.Background(), cosmos.Query{SQL: "SELECT * FROM c"}, func(*model.Finding) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if n != 3*perSource {
		t.Fatalf("findings = %d after %d runs, want %d", n, runs, 3*perSource)
	}
}
