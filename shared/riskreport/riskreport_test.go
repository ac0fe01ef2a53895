package riskreport

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// fakeSource is the store as the report reads it, over plain slices.
type fakeSource struct {
	findings  []model.Finding
	artifacts []model.Artifact
	workloads []model.Workload
}

func (s *fakeSource) OpenFindings(_ context.Context, fn func(f *model.Finding) error) error {
	for i := range s.findings {
		if st := s.findings[i].State; st == model.StateOpen || st == "" {
			if err := fn(&s.findings[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *fakeSource) running() []model.Workload {
	return slices.DeleteFunc(slices.Clone(s.workloads), func(w model.Workload) bool { return w.Status == model.WorkloadGone })
}

func (s *fakeSource) RunningWorkloads(_ context.Context, fn func(w *model.Workload) error) error {
	for _, w := range s.running() {
		if err := fn(&w); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeSource) ArtifactsOf(_ context.Context, digests []string) ([]model.Artifact, error) {
	return slices.DeleteFunc(slices.Clone(s.artifacts), func(a model.Artifact) bool { return !slices.Contains(digests, a.Digest) }), nil
}

// The report reads the whole runtime once; the per-scope reads are not its.
func (s *fakeSource) ArtifactsBuiltFrom(context.Context, string, int) ([]model.Artifact, bool, error) {
	return nil, false, fmt.Errorf("the report does not read per repository")
}

func (s *fakeSource) WorkloadsRunning(context.Context, []string) ([]model.Workload, error) {
	return nil, fmt.Errorf("the report does not read per digest")
}

func (s *fakeSource) WorkloadsRunningImage(context.Context, string, []string) ([]model.Workload, error) {
	return nil, fmt.Errorf("the report does not read per image")
}

func (s *fakeSource) WorkloadsRunningRepository(context.Context, string, []string) ([]model.Workload, error) {
	return nil, fmt.Errorf("the report does not read per repository")
}

// scored is a finding as triage leaves it: base score, the runtime's
// factors, and the priority of the final score.
func scored(id, repo string, base, final float64, deployed bool, p model.Priority) model.Finding {
	f := model.Finding{ID: id, Repository: repo, Source: model.SourceDefenderCVE, State: model.StateOpen,
		Score: final, Priority: p, Deployed: deployed}
	f.Explanation.Factors = []model.Factor{{Name: scoring.FactorBase, Value: base, Contribution: base}}
	if final != base {
		f.Explanation.Factors = append(f.Explanation.Factors, model.Factor{Name: "internet-exposed", Contribution: final - base, Source: "test"})
	}
	return f
}

func TestBuild(t *testing.T) {
	src := &fakeSource{
		findings: []model.Finding{
			scored("a", "octo/app", 7.5, 10, true, model.PriorityCritical), // raised from High
			scored("b", "octo/app", 9.8, 4.9, false, model.PriorityMedium), // lowered from Critical
			scored("c", "Octo/Lib", 5, 5, false, model.PriorityMedium),
			{ID: "closed", Repository: "octo/app", State: model.StateFixed, Score: 9, Priority: model.PriorityCritical},
		},
		artifacts: []model.Artifact{{ID: "sha256:1", Digest: "sha256:1", Image: "acr.io/app", Repository: "octo/app", Commit: "0123456789"}},
		workloads: []model.Workload{
			{ID: "w1", Cluster: "aks", Namespace: "shop", Name: "api", Image: "acr.io/app", Digest: "sha256:1", Production: true, Status: model.WorkloadRunning},
			{ID: "w2", Cluster: "aks", Name: "stray", Image: "acr.io/stray", Digest: "sha256:9", Status: model.WorkloadRunning},
			{ID: "w3", Cluster: "aks", Name: "gone", Image: "acr.io/app", Digest: "sha256:1", Status: model.WorkloadGone},
		},
	}
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	rep, err := Build(context.Background(), src, Options{Generated: at, Version: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Open != 3 || rep.Raised != 1 || rep.Lowered != 1 || rep.Deployed != 1 || rep.Threshold != model.PriorityHigh {
		t.Errorf("open %d raised %d lowered %d deployed %d threshold %s; want 3 1 1 1 High", rep.Open, rep.Raised, rep.Lowered, rep.Deployed, rep.Threshold)
	}
	if rep.Generated != "2026-12-04 03:00 UTC" || rep.Version != "v1" {
		t.Errorf("generated %q version %q", rep.Generated, rep.Version)
	}
	if got := []int{rep.Counts[0].Count, rep.Counts[1].Count, rep.Counts[2].Count, rep.Counts[3].Count}; !slices.Equal(got, []int{1, 0, 2, 0}) {
		t.Errorf("counts by priority = %v", got)
	}
	var top []string
	for _, f := range rep.Top {
		top = append(top, f.F.ID)
	}
	if !slices.Equal(top, []string{"a", "c", "b"}) || rep.Top[0].Move != "raised" || rep.Top[2].Move != "lowered" {
		t.Errorf("top = %v (%q, %q)", top, rep.Top[0].Move, rep.Top[2].Move)
	}
	if len(rep.Repos) != 2 || rep.Repos[0].Repository != "octo/app" || rep.Repos[0].Running != 1 {
		t.Fatalf("repos = %+v", rep.Repos)
	}
	dg := rep.Repos[0].Images[0].Digests[0]
	if dg.Commit != "0123456" || dg.Workloads[0].Name != "aks/shop/api" || !dg.Workloads[0].Production {
		t.Errorf("digest = %+v", dg)
	}
	if len(rep.Unmapped) != 1 || rep.Unmapped[0].Name != "aks/stray · acr.io/stray" {
		t.Errorf("unmapped = %+v", rep.Unmapped)
	}
}

func TestTopKeepsTheHighest(t *testing.T) {
	src := &fakeSource{}
	for i := range topFindings + 5 {
		src.findings = append(src.findings, scored(fmt.Sprintf("f%02d", i), "octo/app", float64(i%10), float64(i%10), false, model.PriorityLow))
	}
	rep, err := Build(context.Background(), src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Top) != topFindings || rep.Top[0].F.Score != 9 || rep.Top[len(rep.Top)-1].F.Score < 1 {
		t.Errorf("top %d, first %v, last %v", len(rep.Top), rep.Top[0].F.Score, rep.Top[len(rep.Top)-1].F.Score)
	}
	for i := 1; i < len(rep.Top); i++ {
		if model.CompareFindings(rep.Top[i-1].F, rep.Top[i].F) > 0 {
			t.Fatalf("top not highest first at %d", i)
		}
	}
}

func TestNumbers(t *testing.T) {
	for in, want := range map[float64]string{10: "10", 7.8: "7.8", 2.65: "2.65", 0.005: "0.01", 0: "0"} {
		if got := Num(in); got != want {
			t.Errorf("Num(%v) = %q, want %q", in, got, want)
		}
	}
	if got := ShortDigest("sha256:5e1f2a3b4c5d6e7f"); got != "sha256:5e1f2a3b4c5d" {
		t.Errorf("ShortDigest = %q", got)
	}
	if got := signed(-1.5); got != "−1.5" {
		t.Errorf("signed(-1.5) = %q", got)
	}
}

// A finding about a cluster's own resources that no repository builds is
// listed under its cluster with owners unknown, not as unmapped; its
// evidence reads as the record's name with a portal link.
func TestClusterFindingsAndReadableEvidence(t *testing.T) {
	const assessment = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus/providers/microsoft.security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"
	dashboard := model.Finding{ID: "defender_alert:d", Repository: model.UnmappedRepository, Source: model.SourceDefenderAlert, State: model.StateOpen,
		Title: "Exposed Kubernetes dashboard detected", Score: 7.5, Priority: model.PriorityHigh, Deployed: true, Cluster: "aks-prod-eus",
		Resource: &model.Resource{Kind: model.ResourceWorkload, Cluster: "aks-prod-eus", Namespace: "kube-system", Name: "kubernetes-dashboard"}}
	dashboard.Explanation.Factors = []model.Factor{
		{Name: scoring.FactorBase, Op: "=", Value: 5, Contribution: 5, Source: "severity:medium"},
		{Name: scoring.FactorDeployment, Op: "x", Value: 1, Source: "running in production: aks-prod-eus/kube-system/kubernetes-dashboard"},
		{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5, Source: "workload aks-prod-eus/kube-system/kubernetes-dashboard via defender-assessment:" + assessment},
	}
	orphan := scored("o", model.UnmappedRepository, 9.8, 4.9, false, model.PriorityMedium)
	rep, err := Build(context.Background(), &fakeSource{findings: []model.Finding{dashboard, orphan}}, Options{Cloud: mapping.CloudUSGov})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Clusters) != 1 || rep.Clusters[0].Cluster != "aks-prod-eus" || len(rep.Clusters[0].Findings) != 1 ||
		rep.Clusters[0].Findings[0].Resource != "kube-system/kubernetes-dashboard" {
		t.Errorf("clusters = %+v", rep.Clusters)
	}
	top := rep.Top[0]
	if top.F.ID != dashboard.ID || top.Owner != "cluster aks-prod-eus (owners unknown)" {
		t.Fatalf("top = %s owned by %q", top.F.ID, top.Owner)
	}
	if rep.Top[1].Owner != model.UnmappedRepository {
		t.Errorf("an image CVE of no known source is unmapped, got owner %q", rep.Top[1].Owner)
	}
	risk := top.Factors[2]
	if risk.Source != "workload aks-prod-eus/kube-system/kubernetes-dashboard via assessment c609cf0f on aks-prod-eus" ||
		len(risk.Parts) != 2 || risk.Parts[1].URL != "https://portal.azure.us/#resource"+assessment {
		t.Errorf("risk source = %q, parts %+v", risk.Source, risk.Parts)
	}
}

// The fallback team, when configured, owns the findings about a cluster no
// repository builds in the report; the report says whether the fallback is
// on or off.
func TestClusterFindingsFallbackTeam(t *testing.T) {
	dashboard := model.Finding{ID: "defender_alert:d", Repository: model.UnmappedRepository, Source: model.SourceDefenderAlert, State: model.StateOpen,
		Title: "Exposed Kubernetes dashboard detected", Score: 7.5, Priority: model.PriorityHigh, Deployed: true, Cluster: "aks-prod-eus",
		Resource: &model.Resource{Kind: model.ResourceWorkload, Cluster: "aks-prod-eus", Namespace: "kube-system", Name: "kubernetes-dashboard"}}
	for _, tt := range []struct {
		team, fallback, owner, top string
	}{
		{"", "off: … fallback team off", "owners unknown", "cluster aks-prod-eus (owners unknown)"},
		{"octo-org/platform-sre", "on: … fallback team on", "owner @octo-org/platform-sre", "cluster aks-prod-eus (owner @octo-org/platform-sre)"},
	} {
		rep, err := Build(context.Background(), &fakeSource{findings: []model.Finding{dashboard}}, Options{ClusterFindingsTeam: tt.team, ClusterFallback: tt.fallback})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Clusters) != 1 || rep.Clusters[0].Owner != tt.owner || rep.Top[0].Owner != tt.top || rep.ClusterFallback != tt.fallback {
			t.Errorf("team %q: clusters %+v, top owner %q, fallback %q", tt.team, rep.Clusters, rep.Top[0].Owner, rep.ClusterFallback)
		}
	}
}
