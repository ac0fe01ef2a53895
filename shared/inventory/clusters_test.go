package inventory_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
	"github.com/runtimelink/runtimelink/shared/store"
)

// samplePath is the attack path of testdata/defender/attackpaths-resourcegraph.json:
// pod aks-prod-eus/shop/checkout-api to a storage account.
func samplePath(t *testing.T, edit func(m map[string]any)) defender.AttackPath {
	t.Helper()
	var answer struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "attackpaths-resourcegraph.json"), &answer); err != nil {
		t.Fatal(err)
	}
	row := answer.Data[0]
	if edit != nil {
		edit(row)
	}
	raw, _ := json.Marshal(row)
	p, err := defender.ParseAttackPath(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// neighbour is another production workload of aks-prod-eus, one the sample
// attack path does not name.
func neighbour(t *testing.T) deployrecord.DeploymentRecord {
	r := sampleRecord(t)
	r.Name, r.DeploymentName, r.GitHubRepository = "octoacr.azurecr.io/cart", "shop-cart-api", "cart"
	r.Digest = "sha256:" + strings.Repeat("c", 64)
	r.RuntimeRisks = nil
	return r
}

func riskFactorsBy(ws []model.Workload, prefix string) map[string][]model.RiskFactor {
	out := map[string][]model.RiskFactor{}
	for _, w := range ws {
		var rs []model.Risk
		for _, r := range w.Risks {
			if strings.HasPrefix(r.Source, prefix) {
				rs = append(rs, r)
			}
		}
		out[w.Name] = mapping.Factors(rs)
	}
	return out
}

func (e *env) workloads(t *testing.T) []model.Workload {
	t.Helper()
	ws, err := store.New(e.store).ClusterWorkloadsRunning(ctxT(t), "aks-prod-eus")
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ws, func(a, b model.Workload) int { return strings.Compare(a.Name, b.Name) })
	return ws
}

// Attack paths apply where they point, whichever comes first: the path or
// the workloads; a path on the cluster itself applies cluster-wide.
func TestAttackPathsApplyWhereTheyPoint(t *testing.T) {
	all := []model.RiskFactor{model.RiskInternetExposed, model.RiskLateralMovement, model.RiskSensitiveData}
	clusterEntity := func(m map[string]any) {
		gc := m["properties"].(map[string]any)["graphComponent"].(map[string]any)
		gc["entities"] = []any{map[string]any{"entityInternalID": "aks-prod-eus", "entityName": "aks-prod-eus", "entityType": "KubernetesCluster",
			"entityIdentifiers": map[string]any{"azureResourceId": sampletest.ClusterID}}}
	}
	for _, tt := range []struct {
		name       string
		edit       func(m map[string]any)
		pathFirst  bool
		checkout   []model.RiskFactor
		neighbours []model.RiskFactor
	}{
		{"pod entity, workloads first: only the pod's workload", nil, false, all, nil},
		{"pod entity, path first: only the pod's workload, once it appears", nil, true, all, nil},
		{"cluster entity: every workload of the cluster", clusterEntity, false, all, all},
		{"cluster entity, path first: every workload of the cluster once it appears", clusterEntity, true, all, all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			p := samplePath(t, tt.edit)
			deploy := func() {
				if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t), neighbour(t)}); err != nil {
					t.Fatal(err)
				}
			}
			if !tt.pathFirst {
				deploy()
			}
			if _, err := e.inv.ApplyAttackPaths(ctx, []defender.AttackPath{p}); err != nil {
				t.Fatal(err)
			}
			if tt.pathFirst {
				deploy()
			}
			got := riskFactorsBy(e.workloads(t), mapping.RiskSourceAttackPathPrefix)
			if !slices.Equal(got["shop-checkout-api-api"], tt.checkout) || !slices.Equal(got["shop-cart-api"], tt.neighbours) {
				t.Errorf("attack-path risks = %v, want checkout %v, neighbour %v", got, tt.checkout, tt.neighbours)
			}
		})
	}
}

// Risk factors expire with their source: a path the next snapshot leaves
// out, an assessment turning Healthy, a deployment record whose
// runtime_risks no longer name a factor. Each drops the factor from the
// workload and from the cluster's document, so a workload reported later
// does not get it back.
func TestRiskFactorsExpireWithTheirSource(t *testing.T) {
	e := newEnv(t)
	ctx := ctxT(t)
	if _, err := e.inv.ApplyAttackPaths(ctx, []defender.AttackPath{samplePath(t, nil)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.inv.IngestDefender(ctx, records(t, "assessment-risk.json", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)}); err != nil {
		t.Fatal(err)
	}
	sources := func() map[string][]model.RiskFactor {
		ws := e.workloads(t)
		out := riskFactorsBy(ws, mapping.RiskSourceAttackPathPrefix)
		for k, v := range riskFactorsBy(ws, mapping.RiskSourceAssessmentPrefix) {
			out[k+" assessment"] = v
		}
		for k, v := range riskFactorsBy(ws, mapping.RiskSourceDeploymentRecord) {
			out[k+" record"] = v
		}
		return out
	}
	check := func(step string, path, assessment, record []model.RiskFactor) {
		t.Helper()
		got := sources()
		if !slices.Equal(got["shop-checkout-api-api"], path) || !slices.Equal(got["shop-checkout-api-api assessment"], assessment) ||
			!slices.Equal(got["shop-checkout-api-api record"], record) {
			t.Errorf("%s: risks = %v, want path %v, assessment %v, record %v", step, got, path, assessment, record)
		}
	}
	check("all three sources", []model.RiskFactor{model.RiskInternetExposed, model.RiskLateralMovement, model.RiskSensitiveData},
		[]model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}, []model.RiskFactor{model.RiskInternetExposed})

	if _, err := e.inv.ApplyAttackPaths(ctx, nil); err != nil {
		t.Fatal(err)
	}
	check("snapshot without the path", nil, []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}, []model.RiskFactor{model.RiskInternetExposed})

	if _, err := e.inv.IngestDefender(ctx, records(t, "assessment-healthy.json", nil)); err != nil {
		t.Fatal(err)
	}
	check("assessment turned Healthy", nil, nil, []model.RiskFactor{model.RiskInternetExposed})

	rec := sampleRecord(t)
	rec.RuntimeRisks = nil
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{rec}); err != nil {
		t.Fatal(err)
	}
	check("record no longer names internet-exposed", nil, nil, nil)

	c, err := store.New(e.store).Cluster(ctx, "aks-prod-eus")
	if err != nil || (c != nil && (len(c.Risks) > 0 || len(c.Targeted) > 0)) {
		t.Errorf("cluster document still holds expired risks: %+v, %v", c, err)
	}
	// A workload reported now gets nothing that expired.
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{neighbour(t)}); err != nil {
		t.Fatal(err)
	}
	if got := sources(); len(got["shop-cart-api"]) > 0 || len(got["shop-cart-api assessment"]) > 0 {
		t.Errorf("new workload got expired risks: %v", got)
	}
}

// The dashboard alert names no image: it is filed under the configured
// fallback repository (so the issue threshold applies), else unmapped, and
// always carries the resource it is about.
func TestClusterAlertFiling(t *testing.T) {
	for _, fallback := range []string{"", "octo-org/platform"} {
		e := newEnv(t)
		e.inv.ClusterFindingsRepository = fallback
		ctx := ctxT(t)
		if _, err := e.inv.IngestDefender(ctx, records(t, "alert-pascal.json", nil)); err != nil {
			t.Fatal(err)
		}
		want := fallback
		if want == "" {
			want = model.UnmappedRepository
		}
		fs := findingsIn(t, e.store, want)
		if len(fs) != 1 || fs[0].Cluster != "aks-prod-eus" || fs[0].Resource == nil ||
			fs[0].Resource.Namespace != "kube-system" || fs[0].Resource.Name != "kubernetes-dashboard" {
			t.Errorf("fallback %q: findings in %s = %+v", fallback, want, fs)
		}
	}
}

// exportRecord is testdata/defender/assessment-risk.json (healthy: the
// Healthy sample) as a snapshot or streaming record, with names replaced
// (another assessment, cluster or subscription).
func exportRecord(t *testing.T, healthy, snapshot bool, replace ...string) []defender.Record {
	t.Helper()
	name := "assessment-risk.json"
	if healthy {
		name = "assessment-healthy.json"
	}
	raw := string(sampletest.Testdata(t, "defender", name))
	raw = strings.NewReplacer(replace...).Replace(raw)
	edited := jsontest.Edit(t, []byte(raw), func(m map[string]any) {
		m["assessmentEventDataEnrichment"].(map[string]any)["isSnapshot"] = snapshot
		delete(m, "securityEventDataEnrichment")
	})
	recs, errs := defender.ParseMessage(edited)
	if len(errs) > 0 {
		t.Fatalf("parse %s: %v", name, errs)
	}
	return recs
}

const (
	sampleAssessment = "c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"
	sampleSub        = "6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
)

// Risk factors expire with their source, also when the source simply
// stops saying so: Defender's weekly snapshot re-reports every current
// assessment of a subscription, so an assessment a complete snapshot left
// out loses its risk factors; one re-reported, streamed since, or never
// part of a snapshot keeps them.
func TestSnapshotWithoutAnAssessmentExpiresItsRisk(t *testing.T) {
	day := 24 * time.Hour
	other := []string{sampleAssessment, "0b3c5d7e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"}
	otherCluster := []string{"aks-prod-eus", "aks-batch-eus"}
	otherSub := []string{sampleSub, "7b2f3c4d-5e6f-4a70-9b8c-1d2e3f4a5b6c"}
	type step struct {
		at      time.Duration
		healthy bool
		snap    bool
		replace []string
	}
	for _, tt := range []struct {
		name    string
		first   bool // the first record is a snapshot one
		later   []step
		expire  time.Duration // when the nightly run expires
		kept    bool
		expired int
	}{
		{"next snapshot re-reports it", true, []step{{7 * day, false, true, nil}}, 8*day + time.Hour, true, 0},
		{"next snapshot names another assessment of the cluster, not it", true,
			[]step{{7 * day, true, true, other}}, 8*day + time.Hour, false, 1},
		{"the next snapshot is still arriving", true, []step{{7 * day, true, true, other}}, 7*day + time.Hour, true, 0},
		{"the next snapshot names only another cluster of the subscription", true,
			[]step{{7 * day, true, true, otherCluster}}, 8*day + time.Hour, false, 1},
		{"streamed again while the snapshot arrived", true,
			[]step{{7 * day, true, true, other}, {7*day + 2*time.Hour, false, false, nil}}, 8*day + time.Hour, true, 0},
		{"a snapshot of another subscription", true, []step{{7 * day, true, true, append(otherSub, otherCluster...)}}, 8*day + time.Hour, true, 0},
		{"streaming only: no snapshot ever says what is gone", false, nil, 30 * day, true, 0},
		{"turned Healthy in the snapshot", true, []step{{7 * day, true, true, nil}}, 8*day + time.Hour, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			start := e.now
			if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.inv.IngestDefender(ctx, exportRecord(t, false, tt.first)); err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.later {
				e.now = start.Add(s.at)
				if _, err := e.inv.IngestDefender(ctx, exportRecord(t, s.healthy, s.snap, s.replace...)); err != nil {
					t.Fatal(err)
				}
			}
			e.now = start.Add(tt.expire)
			n, err := e.inv.ExpireSnapshotRisks(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := []model.RiskFactor(nil)
			if tt.kept {
				want = []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}
			}
			got := riskFactorsBy(e.workloads(t), mapping.RiskSourceAssessmentPrefix)["shop-checkout-api-api"]
			if !slices.Equal(got, want) || n != tt.expired {
				t.Errorf("workload's assessment risks = %v (%d expired), want %v (%d)", got, n, want, tt.expired)
			}
			c, err := store.New(e.store).Cluster(ctx, "aks-prod-eus")
			if err != nil {
				t.Fatal(err)
			}
			if gotC := mapping.Factors(c.Risks); !slices.Equal(gotC, want) {
				t.Errorf("cluster's risks = %v, want %v: a workload reported later would get them back", gotC, want)
			}
			// A second run finds nothing more to drop.
			if n, err := e.inv.ExpireSnapshotRisks(ctx); n != 0 || err != nil {
				t.Errorf("second run expired %d, %v", n, err)
			}
		})
	}
	if inventory.SnapshotRound >= 7*day {
		t.Errorf("SnapshotRound %v must be shorter than the weekly snapshot's period", inventory.SnapshotRound)
	}
}

// An attack path whose image entity names no cluster (a container image
// in a registry, as Defender's graph gives one) applies to the workloads
// running that image wherever they run, whichever comes first: the path or
// the workloads; a workload of another image gets nothing, and when the
// path is gone its risk goes from all of them.
func TestImageAttackPathWithoutClusterAppliesWhereverTheImageRuns(t *testing.T) {
	imageEntity := func(m map[string]any) {
		gc := m["properties"].(map[string]any)["graphComponent"].(map[string]any)
		gc["entities"] = []any{
			map[string]any{"entityInternalID": "octoacr.azurecr.io/checkout-api", "entityName": "octoacr.azurecr.io/checkout-api:1.4.2", "entityType": "ContainerImage",
				"entityIdentifiers": map[string]any{"azureResourceId": "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr"}},
			gc["entities"].([]any)[1], // the storage account
		}
	}
	all := []model.RiskFactor{model.RiskInternetExposed, model.RiskLateralMovement, model.RiskSensitiveData}
	// The same image in a staging cluster of another region.
	elsewhere := func() deployrecord.DeploymentRecord {
		r := sampleRecord(t)
		r.Cluster, r.LogicalEnvironment, r.PhysicalEnvironment = "aks-stg-weu", "staging", "westeurope"
		return r
	}
	for _, pathFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "workloads first", true: "path first"}[pathFirst], func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			deploy := func() {
				if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t), neighbour(t), elsewhere()}); err != nil {
					t.Fatal(err)
				}
			}
			if !pathFirst {
				deploy()
			}
			if _, err := e.inv.ApplyAttackPaths(ctx, []defender.AttackPath{samplePath(t, imageEntity)}); err != nil {
				t.Fatal(err)
			}
			if pathFirst {
				deploy()
			}
			byCluster := func() map[string][]model.RiskFactor {
				out := map[string][]model.RiskFactor{}
				for _, c := range []string{"aks-prod-eus", "aks-stg-weu"} {
					ws, err := store.New(e.store).ClusterWorkloadsRunning(ctx, c)
					if err != nil {
						t.Fatal(err)
					}
					for k, v := range riskFactorsBy(ws, mapping.RiskSourceAttackPathPrefix) {
						out[c+"/"+k] = v
					}
				}
				return out
			}
			got := byCluster()
			if !slices.Equal(got["aks-prod-eus/shop-checkout-api-api"], all) || !slices.Equal(got["aks-stg-weu/shop-checkout-api-api"], all) ||
				len(got["aks-prod-eus/shop-cart-api"]) > 0 {
				t.Errorf("attack-path risks = %v, want %v on the image's workloads in both clusters, none on the neighbour", got, all)
			}
			if _, err := e.inv.ApplyAttackPaths(ctx, nil); err != nil {
				t.Fatal(err)
			}
			for k, v := range byCluster() {
				if len(v) > 0 {
					t.Errorf("%s keeps %v from a path that is gone", k, v)
				}
			}
		})
	}
}

// sampleClusters are the rows of testdata/defender/clusters-resourcegraph.json.
func sampleClusters(t *testing.T) []defender.ClusterResource {
	t.Helper()
	var answer struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(sampletest.Testdata(t, "defender", "clusters-resourcegraph.json"), &answer); err != nil {
		t.Fatal(err)
	}
	var out []defender.ClusterResource
	for _, row := range answer.Data {
		c, err := defender.ParseClusterResource(row)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// A cluster tagged production by the configured rule is production: the
// dashboard alert (testdata/defender/alert-pascal.json, moved to each
// cluster) is scored as running in production there although no
// production workload is reported, by its ARM tags as Resource Graph lists
// them; a cluster whose tags no longer say so is not.
func TestClusterTaggedProductionIsProduction(t *testing.T) {
	rule, err := mapping.NewClusterRule("^edge-")
	if err != nil {
		t.Fatal(err)
	}
	if rule, err = rule.WithTags("Env=Prod,environment=production"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cluster string
		drop    bool // the next pull no longer lists it
		prod    bool
		why     string
	}{
		{"aks-prod-eus", false, true, "tagged production: env=prod"},
		{"aks-stg-weu", false, false, ""},
		{"edge-store-17", false, true, "named production by rule ^edge-"}, // tags null: the name rule still applies
		{"aks-prod-eus", true, false, ""},
	} {
		t.Run(tt.cluster+map[bool]string{true: " dropped"}[tt.drop], func(t *testing.T) {
			e := newEnv(t)
			ctx := ctxT(t)
			cs := sampleClusters(t)
			n, err := e.inv.ApplyClusterTags(ctx, cs)
			if err != nil || n != 2 {
				t.Fatalf("apply tags: %d changed, %v; want the 2 tagged clusters", n, err)
			}
			if tt.drop {
				if _, err := e.inv.ApplyClusterTags(ctx, slices.DeleteFunc(cs, func(c defender.ClusterResource) bool { return c.Name == tt.cluster })); err != nil {
					t.Fatal(err)
				}
			}
			res := records(t, "alert-pascal.json", func(m map[string]any) {
				m["AzureResourceId"] = strings.ReplaceAll(m["AzureResourceId"].(string), "aks-prod-eus", tt.cluster)
				m["ResourceIdentifiers"].([]any)[0].(map[string]any)["AzureResourceId"] = m["AzureResourceId"]
			})[0].Alert.Resource()
			if res == nil || res.Cluster != tt.cluster {
				t.Fatalf("alert resource = %+v", res)
			}
			c, err := store.New(e.store).Cluster(ctx, tt.cluster)
			if err != nil {
				t.Fatal(err)
			}
			prod, why := mapping.ClusterProduction(tt.cluster, c, nil, rule)
			ws := mapping.ResourceWorkloads(*res, c, nil, rule)
			if prod != tt.prod || why != tt.why || len(ws) != 1 || ws[0].Production != tt.prod {
				t.Errorf("production = %v (%q), resource workload %+v; want %v (%q)", prod, why, ws, tt.prod, tt.why)
			}
		})
	}
}
