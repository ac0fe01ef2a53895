package triage

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newTriage(t testing.TB) (*Triage, *syncRecorder) {
	t.Helper()
	rec := &syncRecorder{}
	return onDB(localstack.Store(t), rec), rec
}

// testDBs keeps the database under each test's store, so tests seed and
// check documents directly while triage sees only its interfaces.
var testDBs sync.Map // *store.Store → *cosmos.Store

// onDB is a Triage on db through the store layer, as the app wires it.
func onDB(db *cosmos.Store, sq SyncQueue) *Triage {
	st := store.New(db)
	testDBs.Store(st, db)
	return &Triage{Store: st, Sync: sq}
}

// dbOf is the database under a Triage built by onDB.
func dbOf(tr *Triage) *cosmos.Store {
	db, _ := testDBs.Load(tr.Store)
	return db.(*cosmos.Store)
}

func putWorkload(t testing.TB, tr *Triage, w model.Workload) {
	t.Helper()
	if _, err := dbOf(tr).Workloads.Put(ctxT(t), &w); err != nil {
		t.Fatalf("put workload: %v", err)
	}
}

func upsert(t testing.TB, tr *Triage, f model.Finding) *model.Finding {
	t.Helper()
	got, _, err := tr.Upsert(ctxT(t), f.Repository, f.ID, put(f))
	if err != nil {
		t.Fatalf("upsert %s: %v", f.ID, err)
	}
	return got
}

func getFinding(t testing.TB, tr *Triage, repo, id string) *model.Finding {
	t.Helper()
	return getDoc(t, dbOf(tr).Findings, repo, id)
}

func getGroup(t testing.TB, tr *Triage, repo, id string) *model.Group {
	t.Helper()
	return getDoc(t, dbOf(tr).Groups, repo, id)
}

// getDoc reads a document the test expects to exist.
func getDoc[T any](t testing.TB, c *cosmos.Container[T], partition, id string) *T {
	t.Helper()
	d, err := c.Get(ctxT(t), partition, id)
	if err != nil {
		t.Fatalf("get %s %s: %v", c.Name(), id, err)
	}
	return d
}

// DESIGN.md's first example: a High CVE (CVSS 7.5) in an image running in
// production, internet exposed, with sensitive data → 10.0 Critical.
func TestUpsertRaisesCVEOnExposedProductionImage(t *testing.T) {
	tr, rec := newTriage(t)
	putWorkload(t, tr, checkoutWorkload(t, true))
	in := cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]

	f, changed, err := tr.Upsert(ctxT(t), in.Repository, in.ID, put(in))
	if err != nil || !changed {
		t.Fatalf("upsert = %v, %v", changed, err)
	}
	if f.Score != 10 || f.Priority != model.PriorityCritical || !f.Explanation.Capped {
		t.Errorf("score %v %s capped=%v, want 10 Critical capped", f.Score, f.Priority, f.Explanation.Capped)
	}
	if !f.Deployed || !slices.Equal(f.RuntimeRisks, []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}) {
		t.Errorf("deployed=%v risks=%v", f.Deployed, f.RuntimeRisks)
	}
	wantGroup := model.ImageGroupID(checkoutRepo, "octoacr.azurecr.io/checkout-api")
	if f.GroupID != wantGroup {
		t.Errorf("group %q, want %q", f.GroupID, wantGroup)
	}
	stored := getFinding(t, tr, checkoutRepo, in.ID)
	if stored.Score != 10 || stored.Priority != model.PriorityCritical {
		t.Errorf("stored score %v %s", stored.Score, stored.Priority)
	}

	g := getGroup(t, tr, checkoutRepo, wantGroup)
	if !g.Desired.Open || g.Kind != GroupKindImage || g.Status != model.GroupActive || !slices.Equal(g.FindingIDs, []string{in.ID}) {
		t.Errorf("group = open %v kind %q status %q findings %v", g.Desired.Open, g.Kind, g.Status, g.FindingIDs)
	}
	wantLabels := []string{"security", "priority:critical", "runtime:internet-exposed", "runtime:sensitive-data"}
	if !slices.Equal(g.Desired.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", g.Desired.Labels, wantLabels)
	}
	if !strings.HasPrefix(g.Desired.Body, "<!-- runtimelink:group="+wantGroup+" -->") {
		t.Errorf("body lacks the marker:\n%s", g.Desired.Body)
	}
	if got := rec.groups(); !slices.Equal(got, []string{wantGroup}) {
		t.Errorf("enqueued %v, want the group once", got)
	}

	// The same record again (a snapshot) changes nothing and syncs nothing.
	rec.reset()
	_, changed, err = tr.Upsert(ctxT(t), in.Repository, in.ID, put(in))
	if err != nil || changed {
		t.Fatalf("second upsert = %v, %v; want unchanged", changed, err)
	}
	if len(rec.groups()) != 0 {
		t.Errorf("unchanged finding enqueued %v", rec.groups())
	}
	if g2 := getGroup(t, tr, checkoutRepo, wantGroup); g2.ETag != g.ETag {
		t.Error("unchanged finding rewrote its group")
	}
}

// DESIGN.md's second example: a Critical CVE (9.5, no CVSS) in an image
// running nowhere → 4.75 Medium, and no issue is opened for it.
func TestUpsertLowersCVEOnImageRunningNowhere(t *testing.T) {
	tr, rec := newTriage(t)
	putWorkload(t, tr, checkoutWorkload(t, true)) // runs another image
	in := cveFindings(t, "defender/subassessment-mdvm.json", "octo-org/billing")[0]
	in.Image, in.Digests = "octoacr.azurecr.io/billing", []string{"sha256:" + strings.Repeat("ab", 32)}
	in.ID = model.ImageCVEFindingID(in.Image, in.CVE)
	in.Severity, in.CVSS, in.Exploit = "critical", nil, model.Exploitability{}

	f := upsert(t, tr, in)
	if f.Score != 4.75 || f.Priority != model.PriorityMedium || f.Deployed || len(f.RuntimeRisks) != 0 {
		t.Errorf("score %v %s deployed=%v risks=%v, want 4.75 Medium not deployed", f.Score, f.Priority, f.Deployed, f.RuntimeRisks)
	}
	g := getGroup(t, tr, "octo-org/billing", f.GroupID)
	if g.Desired.Open {
		t.Error("a Medium group wants an open issue (threshold High)")
	}
	if len(rec.groups()) != 0 {
		t.Errorf("closed group without an issue enqueued: %v", rec.groups())
	}
}

func TestImageGroupListsCVEsHighestFirst(t *testing.T) {
	tr, _ := newTriage(t)
	putWorkload(t, tr, checkoutWorkload(t, false))
	mdvm := cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]
	legacy := cveFindings(t, "defender/subassessment-legacy.json", checkoutRepo)[0]
	ctx := WithCache(ctxT(t))
	for _, in := range []model.Finding{legacy, mdvm} {
		if _, _, err := tr.Upsert(ctx, in.Repository, in.ID, put(in)); err != nil {
			t.Fatal(err)
		}
	}
	// 7.5 + internet-exposed 1.5 + public exploit 1 = 10; 5.3 + 1.5 = 6.8.
	a, b := getFinding(t, tr, checkoutRepo, mdvm.ID), getFinding(t, tr, checkoutRepo, legacy.ID)
	if a.Score != 10 || b.Score != 6.8 || b.Priority != model.PriorityMedium {
		t.Errorf("scores %v, %v %s; want 10 and 6.8 Medium", a.Score, b.Score, b.Priority)
	}
	if a.GroupID != b.GroupID {
		t.Fatalf("two CVEs of one image in groups %s and %s", a.GroupID, b.GroupID)
	}
	g := getGroup(t, tr, checkoutRepo, a.GroupID)
	if want := "[Critical] 2 vulnerabilities in container image octoacr.azurecr.io/checkout-api, running in production on aks-prod-eus/shop/checkout-api"; g.Desired.Title != want {
		t.Errorf("title %q, want %q", g.Desired.Title, want)
	}
	body := g.Desired.Body
	i, j := strings.Index(body, "CVE-2023-44487"), strings.Index(body, "CVE-2023-5363")
	if i < 0 || j < 0 || i > j {
		t.Errorf("CVEs not listed highest first:\n%s", body)
	}
	if !strings.Contains(body, "| `golang.org/x/net` | 0.15.0 | **0.17.0** |") {
		t.Errorf("fixed version missing:\n%s", body)
	}
}

func TestDependabotAndDefenderCVEAreCorrelated(t *testing.T) {
	dep := dependabotFinding(t) // CVE-2022-25883 / GHSA-c2qf-rxjj-qqgw in wolfy1339/pika-pack
	for _, defenderFirst := range []bool{false, true} {
		name := "dependabot first"
		if defenderFirst {
			name = "defender first"
		}
		t.Run(name, func(t *testing.T) {
			tr, _ := newTriage(t)
			ctx := ctxT(t)
			digest := "sha256:" + strings.Repeat("cd", 32)
			art := model.Artifact{ID: digest, Digest: digest, Image: "ghcr.io/wolfy1339/pika-pack", Repository: "wolfy1339/pika-pack"}
			if _, err := dbOf(tr).Artifacts.Put(ctx, &art); err != nil {
				t.Fatal(err)
			}
			w := model.Workload{ID: model.WorkloadID("aks-prod-weu", "web", "pika"), Cluster: "aks-prod-weu", Namespace: "web", Name: "pika",
				Image: "ghcr.io/wolfy1339/pika-pack", Digest: digest, Production: true, Status: model.WorkloadRunning}
			putWorkload(t, tr, w)
			cve := model.Finding{
				ID: model.ImageCVEFindingID(art.Image, "CVE-2022-25883"), Repository: "wolfy1339/pika-pack", Source: model.SourceDefenderCVE,
				State: model.StateOpen, Title: "CVE-2022-25883", CVE: "CVE-2022-25883", Severity: "medium", Image: art.Image, Digests: []string{digest},
				Package: &model.Package{Name: "semver", Version: "7.5.1", FixedVersion: "7.5.2"},
			}
			order := []model.Finding{dep, cve}
			if defenderFirst {
				order = []model.Finding{cve, dep}
			}
			for _, f := range order {
				upsert(t, tr, f)
			}
			d := getFinding(t, tr, dep.Repository, dep.ID)
			c := getFinding(t, tr, cve.Repository, cve.ID)
			if !slices.Equal(d.Related, []string{cve.ID}) || !slices.Equal(c.Related, []string{dep.ID}) {
				t.Fatalf("related: dependabot %v, defender %v", d.Related, c.Related)
			}
			// The Dependabot alert takes the context of the repository's workloads.
			if !d.Deployed || !strings.Contains(d.Explanation.Factors[1].Source, "aks-prod-weu/web/pika") {
				t.Errorf("dependabot context: deployed=%v %+v", d.Deployed, d.Explanation.Factors)
			}
			dg := getGroup(t, tr, dep.Repository, d.GroupID)
			if !strings.Contains(dg.Desired.Body, "Defender for Cloud reports CVE-2022-25883 on container image `ghcr.io/wolfy1339/pika-pack`") {
				t.Errorf("dependabot issue does not name the image finding:\n%s", dg.Desired.Body)
			}
			cg := getGroup(t, tr, cve.Repository, c.GroupID)
			if !strings.Contains(cg.Desired.Body, "Dependabot alert [#20]") {
				t.Errorf("image issue does not name the Dependabot alert:\n%s", cg.Desired.Body)
			}
		})
	}
}

// imageCVEAndCodeAlert are a Defender CVE of the checkout image and a
// code scanning alert of the repository that builds it.
func imageCVEAndCodeAlert(t *testing.T) (cve, alert model.Finding) {
	t.Helper()
	cve = cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]
	alert = model.Finding{ID: model.GHASFindingID(model.SourceCodeScanning, checkoutRepo, 7), Repository: checkoutRepo,
		Source: model.SourceCodeScanning, State: model.StateOpen, AlertNumber: 7, Title: "SQL injection", RuleID: "go/sql-injection", Severity: "high"}
	return cve, alert
}

func TestWorkloadChangedRescoresRightAway(t *testing.T) {
	tr, rec := newTriage(t)
	ctx := ctxT(t)
	cve, alert := imageCVEAndCodeAlert(t)
	upsert(t, tr, cve)
	upsert(t, tr, alert)
	if f := getFinding(t, tr, checkoutRepo, cve.ID); f.Score != 4.75 || f.Deployed { // (7.5 × 0.5) + exploit 1
		t.Fatalf("before deployment: %v deployed=%v", f.Score, f.Deployed)
	}
	rec.reset()

	// The workload appears: both findings rise at once.
	w := checkoutWorkload(t, true)
	putWorkload(t, tr, w)
	n, err := tr.WorkloadChanged(ctx, nil, &w)
	if err != nil || n != 2 {
		t.Fatalf("WorkloadChanged = %d, %v; want 2", n, err)
	}
	c, a := getFinding(t, tr, checkoutRepo, cve.ID), getFinding(t, tr, checkoutRepo, alert.ID)
	if c.Priority != model.PriorityCritical || a.Score != 10 || !a.Deployed {
		t.Errorf("after deployment: cve %v %s, alert %v deployed=%v", c.Score, c.Priority, a.Score, a.Deployed)
	}
	if got := rec.groups(); len(got) != 2 {
		t.Errorf("enqueued %v, want both groups", got)
	}

	// Something that cannot move a score: nothing happens.
	w2 := w
	w2.LastSeen = w.LastSeen.Add(time.Hour)
	if n, err := tr.WorkloadChanged(ctx, &w, &w2); err != nil || n != 0 {
		t.Errorf("LastSeen change re-scored %d, %v", n, err)
	}

	// It loses its exposure: the CVE drops to 7.5 + 1 (sensitive) + 1 (exploit).
	w3 := w2
	w3.Risks = slices.DeleteFunc(slices.Clone(w2.Risks), func(r model.Risk) bool { return r.Factor == model.RiskInternetExposed })
	putWorkload(t, tr, w3)
	if n, err := tr.WorkloadChanged(ctx, &w2, &w3); err != nil || n != 2 {
		t.Fatalf("risk removed: %d, %v", n, err)
	}
	if c := getFinding(t, tr, checkoutRepo, cve.ID); c.Score != 9.5 || slices.Contains(c.RuntimeRisks, model.RiskInternetExposed) {
		t.Errorf("after losing exposure: %v %v", c.Score, c.RuntimeRisks)
	}

	// It is gone: not running anywhere again.
	w4 := w3
	w4.Status = model.WorkloadGone
	putWorkload(t, tr, w4)
	if n, err := tr.WorkloadChanged(ctx, &w3, &w4); err != nil || n != 2 {
		t.Fatalf("gone: %d, %v", n, err)
	}
	if c := getFinding(t, tr, checkoutRepo, cve.ID); c.Score != 4.75 || c.Deployed {
		t.Errorf("after gone: %v deployed=%v", c.Score, c.Deployed)
	}
}

// A group lost after its finding was written is rebuilt by the next
// upsert of the finding, even though the finding itself is unchanged.
func TestUpsertRebuildsMissingGroup(t *testing.T) {
	tr, _ := newTriage(t)
	putWorkload(t, tr, checkoutWorkload(t, true))
	in := cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]
	f := upsert(t, tr, in)
	if err := dbOf(tr).Groups.Delete(ctxT(t), checkoutRepo, f.GroupID); err != nil {
		t.Fatal(err)
	}
	_, changed, err := tr.Upsert(ctxT(t), in.Repository, in.ID, put(in))
	if err != nil || changed {
		t.Fatalf("upsert = %v, %v", changed, err)
	}
	if g := getGroup(t, tr, checkoutRepo, f.GroupID); !slices.Equal(g.FindingIDs, []string{in.ID}) {
		t.Errorf("group not rebuilt: %v", g.FindingIDs)
	}
}

func TestUpsertFailsWhenTheQueueFails(t *testing.T) {
	tr, rec := newTriage(t)
	putWorkload(t, tr, checkoutWorkload(t, true))
	rec.fail = errQueueDown
	in := cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0]
	_, _, err := tr.Upsert(ctxT(t), in.Repository, in.ID, put(in))
	if !errors.Is(err, errQueueDown) {
		t.Fatalf("err = %v, want the queue's error", err)
	}
	// The group is written and behind its sync: the nightly run's drift
	// check will enqueue it.
	g := getGroup(t, tr, checkoutRepo, model.ImageGroupID(checkoutRepo, in.Image))
	if !NeedsSync(g, time.Now().Add(-time.Hour)) {
		t.Error("group not seen as behind")
	}
}

func TestUpsertSkipWritesNothing(t *testing.T) {
	tr, rec := newTriage(t)
	_, changed, err := tr.Upsert(ctxT(t), checkoutRepo, "code_scanning:x:1", func(*model.Finding, bool) error { return cosmos.ErrSkip })
	if err != nil || changed {
		t.Fatalf("= %v, %v", changed, err)
	}
	if _, err := dbOf(tr).Findings.Get(ctxT(t), checkoutRepo, "code_scanning:x:1"); !errors.Is(err, cosmos.ErrNotFound) {
		t.Errorf("skipped finding stored: %v", err)
	}
	if len(rec.groups()) != 0 {
		t.Error("enqueued")
	}
}
