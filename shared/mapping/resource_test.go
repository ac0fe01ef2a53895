package mapping

import (
	"slices"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestMatchesWorkload(t *testing.T) {
	// The sample deployment record (testdata/defender/deployment-records.json)
	// names its workload "shop-checkout-api-api" with no namespace; the
	// crypto-mining alert names pod checkout-api-7c9d8f6b5-x2kqz in shop,
	// the attack path entity aks-prod-eus/shop/checkout-api.
	dashed := &model.Workload{Cluster: "aks-prod-eus", Name: "shop-checkout-api-api"}
	slashed := &model.Workload{Cluster: "aks-prod-eus", Namespace: "shop", Name: "checkout-api/api"}
	plain := &model.Workload{Cluster: "aks-prod-eus", Name: "checkout-api"}
	for _, tt := range []struct {
		w        *model.Workload
		ns, name string
		want     bool
	}{
		{dashed, "shop", "checkout-api", true},
		{dashed, "shop", "checkout-api-7c9d8f6b5-x2kqz", true},
		{dashed, "SHOP", "Checkout-API", true},
		{dashed, "shop", "checkout", false}, // "api-api" is more than one container name
		{dashed, "kube-system", "kubernetes-dashboard", false},
		{dashed, "", "checkout-api", false},
		{slashed, "shop", "checkout-api", true},
		{slashed, "shop", "checkout-api-7c9d8f6b5-x2kqz", true},
		{slashed, "payments", "checkout-api", false},
		{slashed, "", "checkout-api", true},
		{plain, "shop", "checkout-api", true},
		{plain, "shop", "checkout-api-7c9d8f6b5-x2kqz", true},
		{plain, "shop", "report-worker", false},
		{plain, "shop", "", false},
	} {
		if got := MatchesWorkload(tt.w, tt.ns, tt.name); got != tt.want {
			t.Errorf("MatchesWorkload(%s/%s, %q, %q) = %v, want %v", tt.w.Namespace, tt.w.Name, tt.ns, tt.name, got, tt.want)
		}
	}
}

func TestResourceWorkloads(t *testing.T) {
	checkout := model.Workload{ID: "aks-prod-eus::shop-checkout-api-api", Cluster: "aks-prod-eus", Name: "shop-checkout-api-api",
		Production: true, Status: model.WorkloadRunning, Image: "octoacr.azurecr.io/checkout-api",
		Risks: []model.Risk{{Factor: model.RiskInternetExposed, Source: RiskSourceDeploymentRecord}}}
	staging := model.Workload{ID: "aks-stg-weu::batch-report-worker-worker", Cluster: "aks-stg-weu", Name: "batch-report-worker-worker",
		Status: model.WorkloadRunning, Environment: "staging"}
	assessment := model.Risk{Factor: model.RiskSensitiveData, Source: RiskSourceAssessmentPrefix + "/subscriptions/s/x/assessments/a"}
	prodCluster := &model.Cluster{ID: "aks-prod-eus", Risks: []model.Risk{assessment}}
	rule, err := NewClusterRule(`(^|-)prod(-|$)`)
	if err != nil {
		t.Fatal(err)
	}
	dashboard := model.Resource{Kind: model.ResourceWorkload, Cluster: "aks-prod-eus", Namespace: "kube-system", Name: "kubernetes-dashboard"}
	type want struct {
		ids        []string
		production bool
		risks      []model.RiskFactor
	}
	for _, tt := range []struct {
		name      string
		r         model.Resource
		c         *model.Cluster
		workloads []model.Workload
		rule      ClusterRule
		want      want
	}{
		{"kube-system service on a cluster running production: production, with the cluster's own risks, not its workloads'",
			dashboard, prodCluster, []model.Workload{checkout}, ClusterRule{},
			want{[]string{"aks-prod-eus:kube-system:kubernetes-dashboard"}, true, []model.RiskFactor{model.RiskSensitiveData}}},
		{"cluster without workloads named production by the rule",
			model.Resource{Kind: model.ResourceCluster, Cluster: "aks-prod-eus"}, nil, nil, rule,
			want{[]string{"aks-prod-eus::(cluster)"}, true, nil}},
		{"cluster without workloads and no rule: running, outside production",
			model.Resource{Kind: model.ResourceCluster, Cluster: "aks-prod-eus"}, nil, nil, ClusterRule{},
			want{[]string{"aks-prod-eus::(cluster)"}, false, nil}},
		{"staging cluster: its workloads are not production, the rule does not name it",
			model.Resource{Kind: model.ResourceNode, Cluster: "aks-stg-weu", Name: "aks-nodepool1-0"}, nil, []model.Workload{staging}, rule,
			want{[]string{"aks-stg-weu::aks-nodepool1-0"}, false, nil}},
		{"pod of a known workload: that workload, its environment and risks",
			model.Resource{Kind: model.ResourcePod, Cluster: "aks-prod-eus", Namespace: "shop", Name: "checkout-api-7c9d8f6b5-x2kqz"},
			prodCluster, []model.Workload{checkout}, ClusterRule{},
			want{[]string{checkout.ID}, true, []model.RiskFactor{model.RiskInternetExposed}}},
		{"attack path aimed at the resource adds its risk",
			dashboard, &model.Cluster{ID: "aks-prod-eus", Targeted: []model.TargetedRisk{
				{Risk: model.Risk{Factor: model.RiskLateralMovement, Source: RiskSourceAttackPathPrefix + "p"}, Namespace: "kube-system", Name: "kubernetes-dashboard"},
				{Risk: model.Risk{Factor: model.RiskCriticalResource, Source: RiskSourceAttackPathPrefix + "q"}, Namespace: "shop", Name: "checkout-api"},
			}}, []model.Workload{checkout}, ClusterRule{},
			want{[]string{"aks-prod-eus:kube-system:kubernetes-dashboard"}, true, []model.RiskFactor{model.RiskLateralMovement}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := ResourceWorkloads(tt.r, tt.c, tt.workloads, tt.rule)
			var ids []string
			for _, w := range got {
				ids = append(ids, w.ID)
				if w.Production != tt.want.production || w.Status != model.WorkloadRunning {
					t.Errorf("workload %s production=%v status=%s, want production=%v running", w.ID, w.Production, w.Status, tt.want.production)
				}
				if f := Factors(w.Risks); !slices.Equal(f, tt.want.risks) {
					t.Errorf("workload %s risks %v, want %v", w.ID, f, tt.want.risks)
				}
			}
			if !slices.Equal(ids, tt.want.ids) {
				t.Errorf("workloads %v, want %v", ids, tt.want.ids)
			}
		})
	}
}
