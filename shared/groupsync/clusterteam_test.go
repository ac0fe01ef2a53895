package groupsync_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// The issue of a finding about a cluster no repository builds (the
// dashboard alert of testdata/defender/alert-pascal.json, filed under the
// fallback repository) mentions the fallback team as its owner when one is
// configured; without one it has the CODEOWNERS of no path (none here),
// and a group with any finding some repository builds keeps its
// CODEOWNERS.
func TestClusterFindingsTeamOwnsTheirIssue(t *testing.T) {
	dashboard := func() *model.Finding {
		id := model.DefenderAlertFindingID("2517538088322968243_5a0d2b3c-4d5e-4f60-9a7b-1c2d3e4f5a6b")
		return &model.Finding{ID: id, Source: model.SourceDefenderAlert, State: model.StateOpen, RuleID: "K8S_ExposedDashboard",
			Title: "Exposed Kubernetes dashboard detected", Severity: "medium", Score: 7.5, Priority: model.PriorityHigh, Deployed: true,
			Cluster: "aks-prod-eus", Resource: &model.Resource{Kind: model.ResourceWorkload, Cluster: "aks-prod-eus",
				ResourceID: "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus",
				Namespace:  "kube-system", Name: "kubernetes-dashboard"},
			Explanation: model.Explanation{Factors: []model.Factor{
				{Name: scoring.FactorBase, Op: scoring.OpSet, Value: 5, Contribution: 5, Source: "severity:medium"},
				{Name: scoring.FactorDeployment, Op: scoring.OpMul, Value: 1, Source: "running in production: aks-prod-eus/kube-system/kubernetes-dashboard"},
			}},
			GroupID: model.AlertGroupID(id)}
	}
	for _, tt := range []struct {
		name      string
		team      string
		f         *model.Finding
		mention   string
		assignees []string
	}{
		{"team on: the team owns it", "octo-org/platform-sre", dashboard(), "@octo-org/platform-sre", []string{}},
		{"team off: owners unknown", "", dashboard(), "", []string{}},
		{"team on, a finding a repository builds: CODEOWNERS", "octo-org/platform-sre", cve("CVE-2024-0001", model.PriorityHigh, true), "@octo-org/payments", []string{"octocat"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, github.Limits{})
			e.s.ClusterFindingsTeam = tt.team
			g := e.seed(repo, tt.f)
			e.sync(g.ID)
			issues := e.gh.IssueList(repo)
			if len(issues) != 1 {
				t.Fatalf("issues = %d, want 1", len(issues))
			}
			is := issues[0]
			if tt.mention != "" && !strings.Contains(is.Body, tt.mention) {
				t.Errorf("body does not mention %s:\n%s", tt.mention, is.Body)
			}
			if tt.mention == "" && strings.Contains(is.Body, "@") {
				t.Errorf("body mentions an owner:\n%s", is.Body)
			}
			if tt.mention == "@"+tt.team && !strings.Contains(is.Body, "Owners of the findings about cluster `aks-prod-eus`, which no repository builds: @octo-org/platform-sre") {
				t.Errorf("body does not name the team as the cluster findings' owner:\n%s", is.Body)
			}
			if got := is.Assignees; !slices.Equal(append([]string{}, got...), tt.assignees) {
				t.Errorf("assignees = %v, want %v", got, tt.assignees)
			}
		})
	}
}
