package remediation

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A risk source is shown as the resource's name with a portal link in the
// configured cloud, never as its ARM id.
func TestExplanationShowsRiskSourcesByName(t *testing.T) {
	const (
		path       = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"
		assessment = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus/providers/microsoft.security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"
	)
	e := model.Explanation{Factors: []model.Factor{
		{Name: "base", Op: "=", Value: 7.5, Contribution: 7.5, Source: "cvss"},
		{Name: "deployment", Op: "x", Value: 1, Source: "running in production: aks-prod-eus/shop-checkout-api-api"},
		{Name: "internet-exposed", Op: "+", Value: 1.5, Contribution: 1.5,
			Source: "workload aks-prod-eus/shop-checkout-api-api via attack-path:" + path + ", defender-assessment:" + assessment + ", deployment-record"},
	}}
	for _, tt := range []struct {
		cloud mapping.Cloud
		want  string
	}{
		{mapping.CloudPublic, "workload aks-prod-eus/shop-checkout-api-api via [attack path 2c4e6f80](https://portal.azure.com/#resource" + path +
			"), [assessment c609cf0f on aks-prod-eus](https://portal.azure.com/#resource" + assessment + "), deployment-record"},
		{mapping.CloudChina, "via [attack path 2c4e6f80](https://portal.azure.cn/#resource" + path + ")"},
		{mapping.Cloud{}, "workload aks-prod-eus/shop-checkout-api-api via attack path 2c4e6f80, assessment c609cf0f on aks-prod-eus, deployment-record"},
	} {
		md := ExplanationMarkdown(e, 9, tt.cloud)
		if !strings.Contains(md, tt.want) {
			t.Errorf("%s: explanation\n%s\nlacks %q", tt.cloud, md, tt.want)
		}
		if strings.Contains(md, "attack-path:/subscriptions") || strings.Contains(md, "defender-assessment:/subscriptions") {
			t.Errorf("%s: explanation shows an ARM id as the source:\n%s", tt.cloud, md)
		}
		if lines := whereItRuns(&model.Finding{Explanation: e}, tt.cloud); len(lines) != 2 || !strings.Contains(lines[1], tt.want) {
			t.Errorf("%s: where it runs = %q", tt.cloud, lines)
		}
	}
}

// The build section names, per digest, the repository and commit that
// built it, the workflow run that did (linked to GitHub) and the kinds of
// evidence that say so; a digest with no known source is left out, and
// what the evidence says cannot make links of its own.
func TestBuildSectionNamesTheWorkflowRunAndTheEvidence(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	const repo = "octo-org/shop"
	f := model.Finding{ID: "f1", Repository: repo, Source: model.SourceDefenderCVE, CVE: "CVE-2024-45337", Image: "acr.io/shop/api",
		Priority: model.PriorityHigh, Score: 8, Digests: []string{"sha256:aaa", "sha256:bbb", "sha256:ccc"}}
	arts := []model.Artifact{
		{Digest: "sha256:aaa", Evidence: []model.Evidence{
			{Kind: model.EvidenceGitHubPackage, Repository: repo, Commit: "c0ffee1", Workflow: ".github/workflows/build.yml", RunID: 41,
				Ref: "https://github.com/octo-org/shop/actions/runs/41", At: at},
			{Kind: model.EvidenceAttestation, Repository: "Octo-Org/Shop", Commit: "c0ffee1", Workflow: ".github/workflows/build.yml", RunID: 42,
				Ref: "https://evil.example/actions/runs/42", At: at},
			{Kind: model.EvidenceDeploymentRecord, Repository: "octo-org/other", At: at},
		}},
		{Digest: "sha256:bbb", Evidence: []model.Evidence{
			{Kind: model.EvidenceGitHubPackage, Repository: repo, Commit: "beef", Workflow: "x](https://evil.example) `y`", At: at},
		}},
		{Digest: "sha256:zzz", Evidence: []model.Evidence{{Kind: model.EvidenceAttestation, Repository: "octo-org/elsewhere", At: at}}},
	}
	g := model.Group{ID: model.ImageGroupID(repo, f.Image), Repository: repo, Kind: model.GroupKindImage, Image: f.Image}
	body := RenderIssue(IssueInput{Group: g, Findings: []model.Finding{f}, Artifacts: arts}).Body
	for _, want := range []string{
		"- `sha256:aaa` built from `octo-org/shop` at commit `c0ffee1` by [workflow run 42 of `.github/workflows/build.yml`]" +
			"(https://github.com/octo-org/shop/actions/runs/42), evidence: attestation, workflow_run\n",
		"- `sha256:bbb` built from `octo-org/shop` at commit `beef`, evidence: registry_package\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("build section lacks %q:\n%s", want, body)
		}
	}
	for _, never := range []string{"sha256:ccc` built", "sha256:zzz", "evil.example/actions", "octo-org/other", "](https://evil.example)"} {
		if strings.Contains(body, never) {
			t.Errorf("body shows %q:\n%s", never, body)
		}
	}
	if without := RenderIssue(IssueInput{Group: g, Findings: []model.Finding{f}}); without.Hash == RenderIssue(IssueInput{Group: g, Findings: []model.Finding{f}, Artifacts: arts}).Hash {
		t.Error("the artifacts do not change the rendered issue")
	}
	if got := Digests([]model.Finding{f, {Digests: []string{"sha256:aaa", "sha256:0"}}}); !slices.Equal(got, []string{"sha256:0", "sha256:aaa", "sha256:bbb", "sha256:ccc"}) {
		t.Errorf("Digests = %v", got)
	}
}

// The planner's comments (reopen, priority change, verification) name the
// Defender records and the running resource they speak of as the issue
// body does: by name, linked to the configured cloud's portal, never as a
// bare ARM id. The ids are those of testdata/defender (the MDVM CVE, the
// dashboard alert on aks-prod-eus).
func TestCommentsLinkWhatTheyName(t *testing.T) {
	const (
		sub     = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5/subassessments/8b7f4d0e-52c1-4e0a-9d1b-3a4f6c2e1d90"
		cluster = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b/resourcegroups/rg-octo-prod/providers/microsoft.containerservice/managedclusters/aks-prod-eus"
	)
	image := cve("CVE-2023-44487", model.PriorityHigh, true)
	image.DefenderIDs = []string{sub}
	dashboard := cve("K8S_ExposedDashboard", model.PriorityHigh, true)
	dashboard.Source, dashboard.Image, dashboard.CVE, dashboard.Title = model.SourceDefenderAlert, "", "", "Exposed Kubernetes dashboard detected"
	dashboard.DefenderIDs = []string{"2517538088322968243_5a0d2b3c-4d5e-4f60-9a7b-1c2d3e4f5a6b"}
	dashboard.Resource = &model.Resource{Kind: model.ResourceCluster, Cluster: "aks-prod-eus", ResourceID: cluster}
	dashboard.Cluster = "aks-prod-eus"

	reopen := func(w *world) time.Time {
		w.closeBy(ReasonCompleted, t0.Add(time.Hour))
		return t0.Add(26 * time.Hour)
	}
	raise := func(f model.Finding) func(*world) time.Time {
		return func(w *world) time.Time {
			f.Priority, f.Score = model.PriorityCritical, 9.5
			w.set(f)
			return t0.Add(time.Hour)
		}
	}
	verify := func(f model.Finding) func(*world) time.Time {
		return func(w *world) time.Time {
			w.closeBy(ReasonCompleted, t0.Add(time.Hour))
			w.set(resolved(f, "healthy"))
			return t0.Add(2 * time.Hour)
		}
	}
	for _, tt := range []struct {
		name  string
		f     model.Finding
		then  func(*world) time.Time
		cloud mapping.Cloud
		want  string
	}{
		{"reopen names the CVE's record", image, reopen, mapping.CloudPublic,
			"Defender for Cloud record [sub-assessment 8b7f4d0e on octoacr](https://portal.azure.com/#resource" + sub + ")"},
		{"reopen in Azure Government", image, reopen, mapping.CloudUSGov,
			"[sub-assessment 8b7f4d0e on octoacr](https://portal.azure.us/#resource" + sub + ")"},
		{"reopen without a cloud: the name, no link", image, reopen, mapping.Cloud{},
			"Defender for Cloud record sub-assessment 8b7f4d0e on octoacr, digest"},
		{"reopen names the alert's cluster", dashboard, reopen, mapping.CloudPublic,
			"Exposed Kubernetes dashboard detected on [aks-prod-eus](https://portal.azure.com/#resource" + cluster + ")"},
		{"priority change names the cluster", dashboard, raise(dashboard), mapping.CloudPublic,
			"Exposed Kubernetes dashboard detected on [aks-prod-eus](https://portal.azure.com/#resource" + cluster + ") now scores 9.5"},
		{"verification names the cluster", dashboard, verify(dashboard), mapping.CloudChina,
			"- Exposed Kubernetes dashboard detected on [aks-prod-eus](https://portal.azure.cn/#resource" + cluster + "): Healthy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(tt.f)
			w.step(t, t0, "ensure-labels", "open")
			now := tt.then(w)
			p := policy
			p.Cloud = tt.cloud
			c := comment(t, Plan(w.g, w.fs, w.is, now, p))
			if !strings.Contains(c, tt.want) {
				t.Errorf("comment\n%s\nlacks %q", c, tt.want)
			}
			if strings.Contains(c, "`/subscriptions/") {
				t.Errorf("comment shows an ARM id:\n%s", c)
			}
		})
	}
}
