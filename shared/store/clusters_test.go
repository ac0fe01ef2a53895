package store_test

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestClusters(t *testing.T) {
	f := newFixture(t)
	if c, err := f.Cluster(f.ctx, "aks-prod-eus"); err != nil || c != nil {
		t.Fatalf("Cluster(never named) = %+v, %v; want nil, nil", c, err)
	}
	assessment := model.Risk{Factor: model.RiskSensitiveData, Source: mapping.RiskSourceAssessmentPrefix + "a"}
	path := model.TargetedRisk{Risk: model.Risk{Factor: model.RiskLateralMovement, Source: mapping.RiskSourceAttackPathPrefix + "p"},
		Namespace: "shop", Name: "checkout-api"}
	c, changed, err := f.UpdateCluster(f.ctx, "AKS-Prod-EUS", func(c *model.Cluster, exists bool) error {
		if exists {
			t.Error("new cluster reads as existing")
		}
		c.Risks, c.Targeted = []model.Risk{assessment}, []model.TargetedRisk{path}
		return nil
	})
	if err != nil || !changed || c.ID != "aks-prod-eus" {
		t.Fatalf("UpdateCluster = %+v, %v, %v", c, changed, err)
	}
	if _, changed, err := f.UpdateCluster(f.ctx, "aks-prod-eus", func(c *model.Cluster, exists bool) error {
		c.Risks = []model.Risk{assessment}
		return nil
	}); err != nil || changed {
		t.Errorf("rewriting the same content: changed=%v, %v", changed, err)
	}
	if _, _, err := f.UpdateCluster(f.ctx, "aks-stg-weu", func(c *model.Cluster, exists bool) error {
		c.Risks = []model.Risk{assessment}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := f.Cluster(f.ctx, "aks-prod-eus")
	if err != nil || got == nil || len(got.Targeted) != 1 || got.Targeted[0] != path {
		t.Errorf("Cluster = %+v, %v", got, err)
	}
	all, err := f.Clusters(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "Clusters", ids(all, func(c *model.Cluster) string { return c.ID }), []string{"aks-prod-eus", "aks-stg-weu"})
	withPaths, err := f.ClustersWithSource(f.ctx, mapping.RiskSourceAttackPathPrefix)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "ClustersWithSource(attack-path:)", ids(withPaths, func(c *model.Cluster) string { return c.ID }), []string{"aks-prod-eus"})

	f.put(workload("AKS-Prod-EUS", "api", "acr.io/app", "sha256:a1", "octo/app", model.WorkloadRunning),
		workload("AKS-Prod-EUS", "old", "acr.io/app", "sha256:a0", "octo/app", model.WorkloadGone),
		workload("aks-stg-weu", "api", "acr.io/app", "sha256:a1", "octo/app", model.WorkloadRunning))
	ws, err := f.ClusterWorkloadsRunning(f.ctx, "aks-prod-eus")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "ClusterWorkloadsRunning", workloadIDs(ws), []string{"AKS-Prod-EUS/api"})

	f.put(&model.Finding{ID: "defender_alert:1", Repository: model.UnmappedRepository, Cluster: "aks-prod-eus"},
		&model.Finding{ID: "defender_alert:2", Repository: "octo/app", Cluster: "aks-prod-eus"},
		&model.Finding{ID: "defender_alert:3", Repository: model.UnmappedRepository, Cluster: "aks-stg-weu"},
		&model.Finding{ID: "defender_cve:4", Repository: "octo/app"})
	fs, err := f.FindingsOnCluster(f.ctx, "AKS-PROD-EUS")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsOnCluster", findingIDs(fs), []string{"defender_alert:1", "defender_alert:2"})
}

// GET /api/findings?cluster= lists the findings about a cluster's own
// resources, those filed unmapped included.
func TestFindingsMatchingCluster(t *testing.T) {
	f := newFixture(t)
	f.put(&model.Finding{ID: "defender_alert:1", Repository: model.UnmappedRepository, Cluster: "aks-prod-eus", State: model.StateOpen},
		&model.Finding{ID: "defender_alert:2", Repository: "octo/app", Cluster: "aks-prod-eus", State: model.StateOpen},
		&model.Finding{ID: "defender_alert:3", Repository: model.UnmappedRepository, Cluster: "aks-stg-weu", State: model.StateOpen},
		&model.Finding{ID: "defender_cve:4", Repository: model.UnmappedRepository, State: model.StateOpen})
	fs, _, err := f.FindingsMatching(f.ctx, store.FindingsFilter{Cluster: "AKS-Prod-EUS"}, 10, "")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "FindingsMatching(cluster)", findingIDs(fs), []string{"defender_alert:1", "defender_alert:2"})
}
