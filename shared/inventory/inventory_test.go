package inventory_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/registry"
	"github.com/runtimelink/runtimelink/shared/sampletest"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

// storeFindings writes findings straight to the store: triage's merge
// without its scoring, enough to test what inventory decides.
type storeFindings struct{ s *cosmos.Store }

func (w storeFindings) Upsert(ctx context.Context, repo, id string, merge func(*model.Finding, bool) error) (*model.Finding, bool, error) {
	return w.s.Findings.Update(ctx, repo, id, merge)
}

type env struct {
	inv   *inventory.Inventory
	store *cosmos.Store
	sync  *inventorytest.Sync
	cnt   *inventorytest.Counter
	now   time.Time
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s, c := inventorytest.Store(t)
	sy := &inventorytest.Sync{}
	e := &env{store: s, sync: sy, cnt: c, now: inventorytest.Now}
	e.inv = inventory.New(store.New(s), storeFindings{s}, queue.RecordSyncs{Sync: sy}, nil, func() time.Time { return e.now })
	e.inv.Cloud = mapping.CloudPublic
	e.inv.Clusters = store.New(s)
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// records parses a Defender sample, optionally edited first.
func records(t *testing.T, name string, edit func(m map[string]any)) []defender.Record {
	t.Helper()
	raw := sampletest.Testdata(t, "defender", name)
	if edit != nil {
		raw = jsontest.Edit(t, raw, edit)
	}
	recs, errs := defender.ParseMessage(raw)
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", name, errs)
	}
	return recs
}

func props(m map[string]any) map[string]any { return m["properties"].(map[string]any) }

func setStatus(code string) func(map[string]any) {
	return func(m map[string]any) { props(m)["status"].(map[string]any)["code"] = code }
}

func sampleRecord(t *testing.T) deployrecord.DeploymentRecord {
	t.Helper()
	var body struct {
		Single deployrecord.DeploymentRecord `json:"single"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &body); err != nil {
		t.Fatal(err)
	}
	return body.Single
}

func findingsIn(t *testing.T, s *cosmos.Store, partition string) []model.Finding {
	t.Helper()
	var out []model.Finding
	err := s.Findings.Query(ctxT(t), cosmos.Query{SQL: "SELECT * FROM c", PartitionKey: partition}, func(f *model.Finding) error {
		out = append(out, *f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCVEOpensResolvesAndCostsReadsWhenRepeated(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	mdvm := records(t, "subassessment-mdvm.json", nil)
	st, err := e.inv.IngestDefender(ctx, mdvm)
	if err != nil || st.CVEs != 1 || st.FindingsWritten != 1 {
		t.Fatalf("ingest = %+v, %v", st, err)
	}
	id := model.ImageCVEFindingID(sampletest.Image, "CVE-2023-44487")
	f, err := e.store.Findings.Get(ctx, model.UnmappedRepository, id)
	if err != nil {
		t.Fatalf("finding in the unmapped partition: %v", err)
	}
	sub := mdvm[0].SubAssessment
	if f.State != model.StateOpen || f.Source != model.SourceDefenderCVE || f.CVE != "CVE-2023-44487" || f.Image != sampletest.Image ||
		f.Severity != "high" || f.CVSS == nil || *f.CVSS != 7.5 || !f.Exploit.PublicExploit || f.Exploit.KnownExploited ||
		f.Package == nil || f.Package.Name != "golang.org/x/net" || f.Package.FixedVersion != "0.17.0" ||
		!slices.Equal(f.Digests, []string{sampletest.Digest}) || !slices.Equal(f.DefenderIDs, []string{sub.ID}) ||
		f.RuleID != "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5" || !f.SourceUpdatedAt.Equal(sub.TimeGenerated) {
		t.Errorf("finding = %+v", f)
	}
	a, err := e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
	if err != nil || a.Image != sampletest.Image || a.Registry != "octoacr.azurecr.io" || !slices.Equal(a.Tags, []string{"1.4.2", "latest"}) {
		t.Errorf("artifact = %+v, %v", a, err)
	}

	// The same record again (a redelivery, a weekly snapshot) reads only.
	before := e.cnt.Counts()
	if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-mdvm.json", func(m map[string]any) {
		props(m)["timeGenerated"] = "2026-11-27T03:12:44Z" // the snapshot's scan time moved on
		m["subAssessmentEventDataEnrichment"].(map[string]any)["isSnapshot"] = true
	})); err != nil {
		t.Fatal(err)
	}
	if d := e.cnt.Counts().Sub(before); d.Writes != 0 {
		t.Errorf("unchanged record wrote %d times (%+v)", d.Writes, d)
	}

	// A second digest of the image shares the finding.
	other := "sha256:" + strings.Repeat("ab", 32)
	if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-mdvm.json", func(m map[string]any) {
		m["id"] = strings.Replace(m["id"].(string), "8b7f4d0e", "9c8f4d0e", 1)
		ad := props(m)["additionalData"].(map[string]any)
		ad["artifactDetails"].(map[string]any)["digest"] = other
	})); err != nil {
		t.Fatal(err)
	}
	f, _ = e.store.Findings.Get(ctx, model.UnmappedRepository, id)
	if !slices.Equal(f.Digests, []string{sampletest.Digest, other}) || len(f.DefenderIDs) != 2 {
		t.Fatalf("two digests: %+v", f)
	}

	// Healthy on one digest keeps it open; then Delete on the other resolves.
	if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-mdvm.json", setStatus("Healthy"))); err != nil {
		t.Fatal(err)
	}
	f, _ = e.store.Findings.Get(ctx, model.UnmappedRepository, id)
	if f.State != model.StateOpen || !slices.Equal(f.Digests, []string{other}) {
		t.Fatalf("after healthy on one digest: %v %v", f.State, f.Digests)
	}
	st, err = e.inv.IngestDefender(ctx, records(t, "subassessment-mdvm.json", func(m map[string]any) {
		m["id"] = strings.Replace(m["id"].(string), "8b7f4d0e", "9c8f4d0e", 1)
		props(m)["additionalData"].(map[string]any)["artifactDetails"].(map[string]any)["digest"] = other
		m["subAssessmentEventDataEnrichment"].(map[string]any)["action"] = "Delete"
	}))
	if err != nil || st.Resolved != 1 {
		t.Fatalf("delete = %+v, %v", st, err)
	}
	f, _ = e.store.Findings.Get(ctx, model.UnmappedRepository, id)
	if f.State != model.StateResolved || f.StateReason != "deleted" || len(f.Digests) != 0 {
		t.Fatalf("after delete: %+v", f)
	}
	// Unhealthy again reopens.
	if _, err := e.inv.IngestDefender(ctx, mdvm); err != nil {
		t.Fatal(err)
	}
	if f, _ = e.store.Findings.Get(ctx, model.UnmappedRepository, id); f.State != model.StateOpen {
		t.Fatalf("reopen: %v", f.State)
	}
}

func TestDeleteWithOnlyTheIDResolves(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	legacy := records(t, "subassessment-legacy.json", nil)
	if _, err := e.inv.IngestDefender(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	id := model.ImageCVEFindingID(sampletest.Image, "CVE-2023-5363")
	if f, err := e.store.Findings.Get(ctx, model.UnmappedRepository, id); err != nil || f.State != model.StateOpen {
		t.Fatalf("legacy finding: %+v %v", f, err)
	}
	bare, errs := defender.ParseMessage([]byte(`{"subAssessmentEventDataEnrichment":{"action":"Delete"},` +
		`"type":"Microsoft.Security/assessments/subAssessments","id":` + mustJSON(legacy[0].ID) + `}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	st, err := e.inv.IngestDefender(ctx, bare)
	if err != nil || st.Resolved != 1 {
		t.Fatalf("bare delete = %+v, %v", st, err)
	}
	if f, _ := e.store.Findings.Get(ctx, model.UnmappedRepository, id); f.State != model.StateResolved {
		t.Errorf("state = %v", f.State)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestDeploymentRecordMapsImageAndMovesFindings(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-mdvm.json", nil)); err != nil {
		t.Fatal(err)
	}
	id := model.ImageCVEFindingID(sampletest.Image, "CVE-2023-44487")
	ws, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)})
	if err != nil {
		t.Fatal(err)
	}
	w := ws[0]
	if w.ID != model.DeploymentWorkloadID("octo-org", "production", "eastus", "aks-prod-eus", "shop-checkout-api-api") || w.Repository != "octo-org/checkout-api" ||
		!w.Production || w.Environment != "production" || w.Region != "eastus" || w.Image != sampletest.Image ||
		w.Status != model.WorkloadRunning || !w.FirstSeen.Equal(e.now) || !w.LastSeen.Equal(e.now) ||
		!reflect.DeepEqual(w.Risks, []model.Risk{{Factor: model.RiskInternetExposed, Source: "deployment-record"}}) {
		t.Errorf("workload = %+v", w)
	}
	a, _ := e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
	if a.Repository != "octo-org/checkout-api" || len(a.Evidence) != 1 || a.Evidence[0].Kind != model.EvidenceDeploymentRecord {
		t.Errorf("artifact = %+v", a)
	}
	if got := findingsIn(t, e.store, model.UnmappedRepository); len(got) != 0 {
		t.Errorf("unmapped partition still holds %d findings", len(got))
	}
	f, err := e.store.Findings.Get(ctx, "octo-org/checkout-api", id)
	if err != nil || f.Repository != "octo-org/checkout-api" || !slices.Equal(f.Digests, []string{sampletest.Digest}) {
		t.Fatalf("moved finding = %+v, %v", f, err)
	}
	if got := e.sync.Requests(queue.KindDeployment); len(got) != 1 || got[0].WorkloadID != w.ID || got[0].Cluster != "aks-prod-eus" || got[0].Org != "octo-org" {
		t.Errorf("deployment syncs = %+v", got)
	}
	if got := e.sync.Requests(queue.KindStorage); len(got) != 1 || got[0].Digest != sampletest.Digest {
		t.Errorf("storage syncs = %+v", got)
	}

	// A CVE arriving now is filed under the repository directly.
	if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-legacy.json", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Findings.Get(ctx, "octo-org/checkout-api", model.ImageCVEFindingID(sampletest.Image, "CVE-2023-5363")); err != nil {
		t.Errorf("legacy CVE not under the repository: %v", err)
	}

	// Stronger evidence naming another repository re-links everything.
	e.sync.Reset()
	if _, _, err := e.inv.AddEvidence(ctx, sampletest.Digest, "", model.Evidence{Kind: model.EvidenceAttestation,
		Repository: "octo-org/checkout-service", Commit: "abc", Ref: "bundle-1", At: e.now}); err != nil {
		t.Fatal(err)
	}
	if w, _ := e.store.Workloads.Get(ctx, "aks-prod-eus", w.ID); w.Repository != "octo-org/checkout-service" {
		t.Errorf("workload repository = %q", w.Repository)
	}
	if got := findingsIn(t, e.store, "octo-org/checkout-api"); len(got) != 0 {
		t.Errorf("old repository still holds %d findings", len(got))
	}
	if got := findingsIn(t, e.store, "octo-org/checkout-service"); len(got) != 2 {
		t.Errorf("new repository holds %d findings, want 2", len(got))
	}
	if got := e.sync.Requests(queue.KindDeployment); len(got) != 1 {
		t.Errorf("deployment syncs after re-link = %+v", got)
	}
}

func TestRepostedRecordCostsReadsAndLastSeenIsDaily(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	rec := sampleRecord(t)
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec}); err != nil {
		t.Fatal(err)
	}
	e.sync.Reset()
	e.now = e.now.Add(time.Hour)
	before := e.cnt.Counts()
	ws, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec})
	if err != nil {
		t.Fatal(err)
	}
	if d := e.cnt.Counts().Sub(before); d.Writes != 0 {
		t.Errorf("re-posted record wrote %d times", d.Writes)
	}
	if !ws[0].LastSeen.Equal(inventorytest.Now) || len(e.sync.Requests("")) != 0 {
		t.Errorf("lastSeen %v, syncs %v", ws[0].LastSeen, e.sync.Requests(""))
	}
	e.now = e.now.Add(inventory.LastSeenInterval)
	before = e.cnt.Counts()
	ws, _ = e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec})
	if d := e.cnt.Counts().Sub(before); d.Writes != 1 || !ws[0].LastSeen.Equal(e.now) {
		t.Errorf("a day later: %d writes, lastSeen %v", d.Writes, ws[0].LastSeen)
	}
	if len(e.sync.Requests("")) != 0 {
		t.Errorf("a LastSeen refresh enqueued %v", e.sync.Requests(""))
	}

	// decommissioned marks it gone and syncs.
	rec.Status = deployrecord.StatusDecommissioned
	ws, _ = e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec})
	if ws[0].Status != model.WorkloadGone || len(e.sync.Requests(queue.KindDeployment)) != 1 {
		t.Errorf("decommissioned: %v, syncs %v", ws[0].Status, e.sync.Requests(""))
	}
}

func TestClusterPostCreatesAndUpdatesOnly(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	d := func(name, digest string) deployrecord.ClusterDeployment {
		return deployrecord.ClusterDeployment{Name: "octoacr.azurecr.io/" + name, Digest: digest, DeploymentName: name}
	}
	dA, dB := "sha256:"+strings.Repeat("a1", 32), "sha256:"+strings.Repeat("b2", 32)
	req := deployrecord.ClusterRequest{LogicalEnvironment: "staging", Deployments: []deployrecord.ClusterDeployment{d("a", dA), d("b", dB)}}
	ws, err := e.inv.ApplyCluster(ctx, "octo-org", "aks-stg", req)
	if err != nil || len(ws) != 2 {
		t.Fatalf("first post: %d, %v", len(ws), err)
	}
	// Another org's workload on a cluster of the same name and deployment
	// name is its own record.
	if _, err := e.inv.ApplyDeployments(ctx, "other-org", []deployrecord.DeploymentRecord{{Name: "x.io/c", Digest: dA,
		Status: "deployed", LogicalEnvironment: "staging", Cluster: "aks-stg", DeploymentName: "a"}}); err != nil {
		t.Fatal(err)
	}
	// A later snapshot without b leaves b as it is (GitHub's semantics: a
	// deployment ends with a decommissioned record, not by omission);
	// decommissioned in a snapshot marks it gone.
	req.Deployments = req.Deployments[:1]
	if ws, err = e.inv.ApplyCluster(ctx, "octo-org", "aks-stg", req); err != nil || len(ws) != 1 {
		t.Fatalf("second post: %d, %v", len(ws), err)
	}
	status := func() map[string]model.WorkloadStatus {
		out := map[string]model.WorkloadStatus{}
		_ = e.store.Workloads.Query(ctx, cosmos.Query{SQL: "SELECT * FROM c", PartitionKey: "aks-stg"}, func(w *model.Workload) error {
			out[w.Org+"/"+w.Name] = w.Status
			return nil
		})
		return out
	}
	want := map[string]model.WorkloadStatus{"octo-org/a": model.WorkloadRunning, "octo-org/b": model.WorkloadRunning, "other-org/a": model.WorkloadRunning}
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	b := d("b", dB)
	b.Status = deployrecord.StatusDecommissioned
	req.Deployments = []deployrecord.ClusterDeployment{b}
	if _, err = e.inv.ApplyCluster(ctx, "octo-org", "aks-stg", req); err != nil {
		t.Fatal(err)
	}
	want["octo-org/b"] = model.WorkloadGone
	if got := status(); !reflect.DeepEqual(got, want) {
		t.Errorf("after decommission: statuses = %v, want %v", got, want)
	}
}

// TestDeploymentIdentity checks GitHub's identity of a record (org,
// logical environment, physical environment, cluster, deployment_name):
// records differing in any one are kept apart, and deployment names that
// escaping used to fold together stay apart.
func TestDeploymentIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	digest := "sha256:" + strings.Repeat("c3", 32)
	base := deployrecord.DeploymentRecord{Name: "octoacr.azurecr.io/svc", Digest: digest, Status: "deployed",
		LogicalEnvironment: "production", PhysicalEnvironment: "westeurope", Cluster: "aks-1", DeploymentName: "team/svc/app"}
	vary := []func(r *deployrecord.DeploymentRecord){
		func(r *deployrecord.DeploymentRecord) {},
		func(r *deployrecord.DeploymentRecord) { r.LogicalEnvironment = "staging" },
		func(r *deployrecord.DeploymentRecord) { r.PhysicalEnvironment = "northeurope" },
		func(r *deployrecord.DeploymentRecord) { r.PhysicalEnvironment = "" },
		func(r *deployrecord.DeploymentRecord) { r.Cluster = "aks-2" },
		func(r *deployrecord.DeploymentRecord) { r.Cluster = "" },
		func(r *deployrecord.DeploymentRecord) { r.DeploymentName = "team/svc:app" },
		func(r *deployrecord.DeploymentRecord) { r.DeploymentName = "team:svc/app" },
		func(r *deployrecord.DeploymentRecord) { r.DeploymentName = "team_svc_app" },
	}
	var recs []deployrecord.DeploymentRecord
	for _, v := range vary {
		r := base
		v(&r)
		recs = append(recs, r)
	}
	ws, err := e.inv.ApplyDeployments(ctx, "octo-org", recs)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for k, w := range ws {
		if j, dup := seen[w.Cluster+"|"+w.ID]; dup {
			t.Errorf("records %d and %d share workload %s", j, k, w.ID)
		}
		seen[w.Cluster+"|"+w.ID] = k
		got, err := e.store.Workloads.Get(ctx, w.Cluster, w.ID)
		if err != nil || got.Environment != recs[k].LogicalEnvironment || got.Region != recs[k].PhysicalEnvironment ||
			inventory.DeploymentName(got) != recs[k].DeploymentName {
			t.Errorf("record %d stored as %+v, %v", k, got, err)
		}
	}
	// The same five again (org in another case) is the same record.
	again, err := e.inv.ApplyDeployments(ctx, "Octo-Org", recs[:1])
	if err != nil || again[0].ID != ws[0].ID {
		t.Errorf("re-post = %v, %v; want workload %s", again, err, ws[0].ID)
	}
}

// TestLegacyWorkloadContinues: a workload stored under its id from before
// environments were part of it continues under its new id on its next
// record (first seen kept, the old document gone); a legacy document of
// another environment is left alone.
func TestLegacyWorkloadContinues(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	first := inventorytest.Now.Add(-30 * 24 * time.Hour)
	legacy := model.Workload{ID: model.WorkloadID("aks-1", "team", "svc"), Cluster: "aks-1", Namespace: "team", Name: "svc",
		Org: "octo-org", Image: "octoacr.azurecr.io/svc", Digest: "sha256:" + strings.Repeat("d4", 32),
		Environment: "production", Production: true, Status: model.WorkloadRunning, FirstSeen: first, LastSeen: first}
	if _, err := e.store.Workloads.Put(ctx, &legacy); err != nil {
		t.Fatal(err)
	}
	rec := deployrecord.DeploymentRecord{Name: "octoacr.azurecr.io/svc", Digest: legacy.Digest, Status: "deployed",
		LogicalEnvironment: "staging", Cluster: "aks-1", DeploymentName: "team/svc"}
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Workloads.Get(ctx, "aks-1", legacy.ID); err != nil {
		t.Errorf("the production legacy document went on a staging record: %v", err)
	}
	rec.LogicalEnvironment = "production"
	ws, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec})
	if err != nil {
		t.Fatal(err)
	}
	if !ws[0].FirstSeen.Equal(first) || ws[0].ID == legacy.ID {
		t.Errorf("continued workload = %+v", ws[0])
	}
	if _, err := e.store.Workloads.Get(ctx, "aks-1", legacy.ID); !errors.Is(err, cosmos.ErrNotFound) {
		t.Errorf("legacy document still there: %v", err)
	}
}

func TestAssessmentRiskOnClusterWorkloads(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	ws, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.sync.Reset()
	risk := records(t, "assessment-risk.json", nil)
	st, err := e.inv.IngestDefender(ctx, risk)
	if err != nil || st.Assessments != 1 || st.WorkloadsChanged != 1 {
		t.Fatalf("ingest = %+v, %v", st, err)
	}
	src := "defender-assessment:" + strings.ToLower(risk[0].Assessment.ID)
	w, _ := e.store.Workloads.Get(ctx, "aks-prod-eus", ws[0].ID)
	want := []model.Risk{
		{Factor: model.RiskInternetExposed, Source: src},
		{Factor: model.RiskInternetExposed, Source: "deployment-record"},
		{Factor: model.RiskSensitiveData, Source: src},
	}
	if !reflect.DeepEqual(w.Risks, want) || w.ResourceID != sampletest.ClusterID {
		t.Errorf("risks = %+v, resourceId %q", w.Risks, w.ResourceID)
	}
	if got := e.sync.Requests(queue.KindDeployment); len(got) != 1 {
		t.Errorf("deployment syncs = %v", got)
	}

	// A workload deployed later on the cluster inherits the cluster's risk.
	later := sampleRecord(t)
	later.DeploymentName, later.RuntimeRisks = "shop-cart-api", nil
	ws2, _ := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{later})
	if !reflect.DeepEqual(ws2[0].Risks, []model.Risk{want[0], want[2]}) {
		t.Errorf("new workload risks = %+v", ws2[0].Risks)
	}

	// Healthy takes the assessment's risks off both; other sources stay.
	if _, err := e.inv.IngestDefender(ctx, records(t, "assessment-healthy.json", nil)); err != nil {
		t.Fatal(err)
	}
	w, _ = e.store.Workloads.Get(ctx, "aks-prod-eus", ws[0].ID)
	w2, _ := e.store.Workloads.Get(ctx, "aks-prod-eus", ws2[0].ID)
	if !reflect.DeepEqual(w.Risks, []model.Risk{want[1]}) || len(w2.Risks) != 0 {
		t.Errorf("after healthy: %+v / %+v", w.Risks, w2.Risks)
	}
	// An assessment of something that is not a cluster is ignored.
	st, _ = e.inv.IngestDefender(ctx, records(t, "assessment-risk.json", func(m map[string]any) {
		m["id"] = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st/providers/Microsoft.Security/assessments/k"
		delete(props(m), "resourceDetails")
	}))
	if st.Ignored[inventory.IgnoredNotCluster] != 1 {
		t.Errorf("storage account assessment: %+v", st)
	}
}

func TestAttackPaths(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	ws, _ := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)})
	var answer struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "attackpaths-resourcegraph.json"), &answer); err != nil {
		t.Fatal(err)
	}
	p, err := defender.ParseAttackPath(answer.Data[0])
	if err != nil {
		t.Fatal(err)
	}
	e.sync.Reset()
	changed, err := e.inv.ApplyAttackPaths(ctx, []defender.AttackPath{p})
	if err != nil || len(changed) != 1 {
		t.Fatalf("apply = %d, %v", len(changed), err)
	}
	src := "attack-path:" + p.ID
	w, _ := e.store.Workloads.Get(ctx, "aks-prod-eus", ws[0].ID)
	want := []model.Risk{
		{Factor: model.RiskInternetExposed, Source: src, SourceName: p.DisplayName},
		{Factor: model.RiskInternetExposed, Source: "deployment-record"},
		{Factor: model.RiskLateralMovement, Source: src, SourceName: p.DisplayName},
		{Factor: model.RiskSensitiveData, Source: src, SourceName: p.DisplayName},
	}
	if !reflect.DeepEqual(w.Risks, want) {
		t.Errorf("risks = %+v", w.Risks)
	}
	if len(e.sync.Requests(queue.KindDeployment)) != 1 {
		t.Errorf("syncs = %v", e.sync.Requests(""))
	}
	// Same paths again: nothing changes. No paths: the risk goes.
	if changed, _ := inventory.ApplyAttackPaths(ctx, store.New(e.store), []defender.AttackPath{p}); len(changed) != 0 {
		t.Errorf("reapplied: %d changed", len(changed))
	}
	if changed, _ := inventory.ApplyAttackPaths(ctx, store.New(e.store), nil); len(changed) != 1 || len(changed[0].Risks) != 1 {
		t.Errorf("paths gone: %+v", changed)
	}
}

func TestRegistryEvents(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	ev, err := registry.ParseEvent(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := e.inv.RecordImageEvent(ctx, ev); err != nil || !changed {
		t.Fatalf("push: %v %v", changed, err)
	}
	a, _ := e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
	if a.Image != sampletest.Image || a.Registry != "octoacr.azurecr.io" || !slices.Equal(a.Tags, []string{"1.4.2"}) || a.Deleted {
		t.Errorf("artifact = %+v", a)
	}
	// No source known yet: a storage sync goes to look up its attestation.
	if got := e.sync.Requests(queue.KindStorage); len(got) != 1 || got[0].Digest != sampletest.Digest {
		t.Errorf("storage syncs = %v", got)
	}
	if changed, _ := e.inv.RecordImageEvent(ctx, ev); changed {
		t.Error("a redelivered push changed the artifact")
	}
	latest := ev
	latest.Tag = "latest"
	_, _ = e.inv.RecordImageEvent(ctx, latest)
	untag := registry.Event{Kind: registry.KindImageDeleted, Action: registry.ActionDeleted, Registry: ev.Registry, Repository: ev.Repository, Tag: "latest"}
	if changed, err := e.inv.RecordImageEvent(ctx, untag); err != nil || !changed {
		t.Fatalf("untag: %v %v", changed, err)
	}
	del := registry.Event{Kind: registry.KindImageDeleted, Action: registry.ActionDeleted, Registry: ev.Registry, Repository: ev.Repository, Digest: sampletest.Digest}
	if changed, err := e.inv.RecordImageEvent(ctx, del); err != nil || !changed {
		t.Fatalf("delete: %v %v", changed, err)
	}
	a, _ = e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
	if !a.Deleted || !slices.Equal(a.Tags, []string{"1.4.2"}) {
		t.Errorf("after untag and delete: %+v", a)
	}
	unknown := del
	unknown.Digest = "sha256:" + strings.Repeat("0", 64)
	if changed, err := e.inv.RecordImageEvent(ctx, unknown); err != nil || changed {
		t.Errorf("deleting an unknown digest: %v %v", changed, err)
	}
	if _, err := e.store.Artifacts.Get(ctx, unknown.Digest, unknown.Digest); !errors.Is(err, cosmos.ErrNotFound) {
		t.Errorf("an unknown digest's deletion created it: %v", err)
	}
}

// The legacy CVE format names its registry only by resource id: the
// image's host is the registry's in the configured cloud, and no host at
// all is guessed when none is configured.
func TestLegacyCVERegistryHostPerCloud(t *testing.T) {
	for _, tt := range []struct {
		cloud mapping.Cloud
		image string
	}{
		{mapping.CloudPublic, "octoacr.azurecr.io/checkout-api"},
		{mapping.CloudUSGov, "octoacr.azurecr.us/checkout-api"},
		{mapping.CloudChina, "octoacr.azurecr.cn/checkout-api"},
		{mapping.Cloud{}, "checkout-api"},
	} {
		t.Run(tt.cloud.String(), func(t *testing.T) {
			e := newEnv(t)
			e.inv.Cloud = tt.cloud
			ctx := ctxT(t)
			if _, err := e.inv.IngestDefender(ctx, records(t, "subassessment-legacy.json", nil)); err != nil {
				t.Fatal(err)
			}
			fs := findingsIn(t, e.store, model.UnmappedRepository)
			if len(fs) != 1 || fs[0].Image != tt.image || fs[0].ID != model.ImageCVEFindingID(tt.image, "CVE-2023-5363") {
				t.Fatalf("findings = %+v, want one on %s", fs, tt.image)
			}
			a, err := e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
			if err != nil || a.Image != tt.image {
				t.Fatalf("artifact = %+v, %v; want image %s", a, err, tt.image)
			}
		})
	}
}

// An ACR push that names no host (no request.host, no target URL) gets the
// login server of its topic's registry in the configured cloud.
func TestRegistryEventHostPerCloud(t *testing.T) {
	e := newEnv(t)
	e.inv.Cloud = mapping.CloudUSGov
	ctx := ctxT(t)
	ev, err := registry.ParseEvent(sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))
	if err != nil {
		t.Fatal(err)
	}
	ev.Registry = "" // as parsed from an event naming neither request.host nor target.url
	if _, err := e.inv.RecordImageEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	a, _ := e.store.Artifacts.Get(ctx, sampletest.Digest, sampletest.Digest)
	if a.Image != "octoacr.azurecr.us/checkout-api" || a.Registry != "octoacr.azurecr.us" {
		t.Errorf("artifact = %+v, want octoacr.azurecr.us/checkout-api", a)
	}
}
