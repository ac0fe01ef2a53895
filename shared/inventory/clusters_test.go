package inventory_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

// samplePath is the attack path of testdata/defender/attackpaths-resourcegraph.json:
// pod aks-prod-eus/shop/checkout-api to a storage account.
func samplePath(t *testing.T, edit func(m map[string]any)) defender.AttackPath {
	t.Helper()
	var answer struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.Unmarshal(inventorytest.Testdata(t, "defender", "attackpaths-resourcegraph.json"), &answer); err != nil {
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
			"entityIdentifiers": map[string]any{"azureResourceId": clusterID}}}
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
