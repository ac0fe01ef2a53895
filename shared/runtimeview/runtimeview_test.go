package runtimeview

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// fakeReader is the store as the views see it: plain slices, answered
// the way the store answers (bounded lists report complete=false).
type fakeReader struct {
	artifacts []model.Artifact
	workloads []model.Workload
	findings  []model.Finding
	limit     int // when > 0, overrides every limit the view asks for
}

// filter keeps the xs that keep says.
func filter[T any](xs []T, keep func(x *T) bool) []T {
	var out []T
	for i := range xs {
		if keep(&xs[i]) {
			out = append(out, xs[i])
		}
	}
	return out
}

// bounded answers as a bounded store read: at most limit (<= 0: all, and
// f.limit, when set, stands for every limit), complete false past it.
func bounded[T any](f *fakeReader, xs []T, limit int) ([]T, bool, error) {
	if f.limit > 0 {
		limit = f.limit
	}
	if limit > 0 && len(xs) > limit {
		return xs[:limit], false, nil
	}
	return xs, true, nil
}

func (f *fakeReader) ArtifactsBuiltFrom(_ context.Context, repo string, limit int) ([]model.Artifact, bool, error) {
	return bounded(f, filter(f.artifacts, func(a *model.Artifact) bool { return a.Repository == repo }), limit)
}

func (f *fakeReader) ArtifactsOf(_ context.Context, digests []string) ([]model.Artifact, error) {
	return filter(f.artifacts, func(a *model.Artifact) bool { return slices.Contains(digests, a.Digest) }), nil
}

func (f *fakeReader) Artifact(_ context.Context, digest string) (*model.Artifact, error) {
	out := filter(f.artifacts, func(a *model.Artifact) bool { return a.Digest == digest })
	if len(out) == 0 {
		return nil, model.ErrNotFound
	}
	return &out[0], nil
}

func (f *fakeReader) WorkloadsNamingRepository(_ context.Context, repo string, limit int) ([]model.Workload, bool, error) {
	return bounded(f, filter(f.workloads, func(w *model.Workload) bool { return w.Repository == repo }), limit)
}

func (f *fakeReader) WorkloadsOnDigests(_ context.Context, digests []string, limit int) ([]model.Workload, bool, error) {
	return bounded(f, filter(f.workloads, func(w *model.Workload) bool { return slices.Contains(digests, w.Digest) }), limit)
}

func (f *fakeReader) WorkloadsNamed(_ context.Context, cluster, namespace, name string) ([]model.Workload, error) {
	return filter(f.workloads, func(w *model.Workload) bool {
		return w.Cluster == cluster && w.Namespace == namespace && w.Name == name
	}), nil
}

func (f *fakeReader) FindingsOnDigest(_ context.Context, digest string, limit int) ([]model.Finding, bool, error) {
	return bounded(f, filter(f.findings, func(x *model.Finding) bool { return slices.Contains(x.Digests, digest) }), limit)
}

func wl(name, digest, repo, env string, prod bool, status model.WorkloadStatus, risks ...model.RiskFactor) model.Workload {
	w := model.Workload{ID: model.WorkloadID("aks", "shop", name), Cluster: "aks", Namespace: "shop", Name: name,
		Image: "acr.io/app", Digest: digest, Repository: repo, Environment: env, Production: prod, Status: status}
	for _, r := range risks {
		w.Risks = append(w.Risks, model.Risk{Factor: r, Source: "test"})
	}
	return w
}

func art(digest, repo string, kind model.EvidenceKind) model.Artifact {
	return model.Artifact{ID: digest, Digest: digest, Image: "acr.io/app", Repository: repo, Commit: "c0ffee",
		Evidence: []model.Evidence{{Kind: kind, Repository: repo, Commit: "c0ffee"}}}
}

func sample() *fakeReader {
	return &fakeReader{
		artifacts: []model.Artifact{
			art("sha256:a", "octo/app", model.EvidenceAttestation),
			// The workload below names octo/app, but its image was built
			// from octo/other: the strongest evidence decides.
			art("sha256:o", "octo/other", model.EvidenceAttestation),
		},
		workloads: []model.Workload{
			wl("api", "sha256:a", "", "production", true, model.WorkloadRunning, model.RiskInternetExposed),
			wl("worker", "sha256:a", "", "staging", false, model.WorkloadRunning),
			wl("old", "sha256:a", "", "staging", false, model.WorkloadGone, model.RiskSensitiveData),
			wl("misnamed", "sha256:o", "octo/app", "dev", false, model.WorkloadRunning),
		},
	}
}

func TestRepository(t *testing.T) {
	got, err := Repository(context.Background(), sample(), "octo/app")
	if err != nil {
		t.Fatal(err)
	}
	if got.Running != 2 || !got.Production || got.Truncated {
		t.Errorf("running %d production %v truncated %v; want 2, true, false", got.Running, got.Production, got.Truncated)
	}
	if !slices.Equal(got.Environments, []string{"production", "staging"}) {
		t.Errorf("environments = %v (gone and misattributed workloads count for nothing)", got.Environments)
	}
	if !slices.Equal(got.Risks, []model.RiskFactor{model.RiskInternetExposed}) {
		t.Errorf("risks = %v", got.Risks)
	}
	var names []string
	for _, w := range got.Workloads {
		names = append(names, w.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"api", "old", "worker"}) {
		t.Errorf("workloads = %v: gone ones are shown, one built from another repository is not", names)
	}
	if len(got.Images) != 1 || len(got.Images[0].Digests) != 1 {
		t.Fatalf("images = %+v", got.Images)
	}
	if d := got.Images[0].Digests[0]; d.Digest != "sha256:a" || d.Running != 2 || !slices.Equal(d.Evidence, []string{"attestation"}) {
		t.Errorf("digest = %+v", d)
	}
}

func TestRepositoryTruncatedPastTheBound(t *testing.T) {
	r := sample()
	r.limit = 1
	got, err := Repository(context.Background(), r, "octo/app")
	if err != nil || !got.Truncated {
		t.Errorf("truncated = %v, %v; want true", got.Truncated, err)
	}
	none, err := Repository(context.Background(), sample(), "octo/none")
	if err != nil || none.Running != 0 || none.Workloads == nil || none.Images == nil || none.Environments == nil || none.Risks == nil {
		t.Errorf("unknown repository = %+v, %v; want empty lists, not null", none, err)
	}
}

func TestWorkload(t *testing.T) {
	r := sample()
	r.findings = []model.Finding{
		{ID: "b", Source: model.SourceDefenderCVE, Score: 7, Priority: model.PriorityHigh, Digests: []string{"sha256:a"}, Package: &model.Package{Name: "openssl", Version: "1", FixedVersion: "2"}},
		{ID: "a", Source: model.SourceDefenderCVE, Score: 7, Priority: model.PriorityHigh, Digests: []string{"sha256:a"}},
		{ID: "c", Source: model.SourceDefenderCVE, Score: 9.1, Priority: model.PriorityCritical, Digests: []string{"sha256:a"}},
		{ID: "x", Source: model.SourceDefenderAlert, Score: 5, Digests: []string{"sha256:a"}},
		{ID: "elsewhere", Source: model.SourceDefenderCVE, Score: 10, Digests: []string{"sha256:z"}},
	}
	got, err := Workload(context.Background(), r, "aks", "shop", "api", "", "")
	if err != nil {
		t.Fatal(err)
	}
	var cves []string
	for _, f := range got.CVEs {
		cves = append(cves, f.ID)
	}
	if !slices.Equal(cves, []string{"c", "a", "b"}) {
		t.Errorf("CVEs = %v, want highest first, then by id", cves)
	}
	if len(got.Alerts) != 1 || got.Alerts[0].ID != "x" {
		t.Errorf("alerts = %+v", got.Alerts)
	}
	if got.CVEs[2].Package != "openssl" || got.CVEs[2].FixedVersion != "2" {
		t.Errorf("package cells = %+v", got.CVEs[2])
	}
	if got.Source == nil || got.Source.Repository != "octo/app" || got.Source.Evidence != "attestation" || got.Repository != "octo/app" || got.Commit != "c0ffee" {
		t.Errorf("source = %+v, repository %q commit %q", got.Source, got.Repository, got.Commit)
	}
	if got.DeploymentName != "shop/api" {
		t.Errorf("deployment name = %q", got.DeploymentName)
	}
	if _, err := Workload(context.Background(), r, "aks", "shop", "nope", "", ""); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("missing workload error = %v", err)
	}
}

func TestWorkloadWithoutArtifactTakesItsOwnRepository(t *testing.T) {
	r := &fakeReader{workloads: []model.Workload{wl("solo", "sha256:unknown", "app", "", false, model.WorkloadRunning)}}
	r.workloads[0].Org = "Octo"
	got, err := Workload(context.Background(), r, "aks", "shop", "solo", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Source == nil || got.Source.Repository != "octo/app" || got.Source.Evidence != "" {
		t.Errorf("source = %+v", got.Source)
	}
	if len(got.CVEs) != 0 || got.CVEs == nil || got.Evidence == nil {
		t.Errorf("empty lists must be [] not null: %+v", got)
	}
}

func TestPickWorkload(t *testing.T) {
	env := func(e, region string, prod bool, status model.WorkloadStatus) model.Workload {
		w := wl("api", "sha256:a", "", e, prod, status)
		w.Region = region
		return w
	}
	ws := []model.Workload{
		env("staging", "eu", false, model.WorkloadRunning),
		env("production", "us", true, model.WorkloadGone),
		env("production", "eu", true, model.WorkloadRunning),
		env("dev", "eu", false, model.WorkloadRunning),
	}
	for _, tt := range []struct {
		env, region string
		want        string // environment/region, "" for none
	}{
		{"", "", "production/eu"},     // running production first
		{"", "us", "production/us"},   // the region picks, gone or not
		{"staging", "", "staging/eu"}, // the environment picks
		{"", "eu", "production/eu"},
		{"qa", "", ""},           // nothing of that environment
		{"production", "ap", ""}, // nor of that region
		{"dev", "eu", "dev/eu"},  // both
		{"staging", "eu", "staging/eu"},
		{"production", "", "production/eu"}, // running before gone
	} {
		got, ok := PickWorkload(ws, tt.env, tt.region)
		name := ""
		if ok {
			name = got.Environment + "/" + got.Region
		}
		if name != tt.want {
			t.Errorf("PickWorkload(%q, %q) = %q, want %q", tt.env, tt.region, name, tt.want)
		}
	}
	slices.Reverse(ws)
	if got, _ := PickWorkload(ws, "", ""); got.Environment+"/"+got.Region != "production/eu" {
		t.Errorf("reversed input picks %s/%s", got.Environment, got.Region)
	}
	if _, ok := PickWorkload(nil, "", ""); ok {
		t.Error("no workloads, yet one picked")
	}
}
