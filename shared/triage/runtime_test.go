package triage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// fakeRuntime is the Runtime interface over plain slices, answering as
// shared/store does (the "running" reads leave gone workloads out), for
// table tests of which workloads a finding's code runs in.
type fakeRuntime struct {
	artifacts []model.Artifact
	workloads []model.Workload
	calls     int
}

func (f *fakeRuntime) running(keep func(w *model.Workload) bool) []model.Workload {
	f.calls++
	var out []model.Workload
	for _, w := range f.workloads {
		if w.Status != model.WorkloadGone && keep(&w) {
			out = append(out, w)
		}
	}
	return out
}

func (f *fakeRuntime) ArtifactsBuiltFrom(_ context.Context, repo string, _ int) ([]model.Artifact, bool, error) {
	f.calls++
	var out []model.Artifact
	for _, a := range f.artifacts {
		if a.Repository == repo {
			out = append(out, a)
		}
	}
	return out, true, nil
}

func (f *fakeRuntime) ArtifactsOf(_ context.Context, digests []string) ([]model.Artifact, error) {
	f.calls++
	var out []model.Artifact
	for _, a := range f.artifacts {
		if slices.Contains(digests, a.Digest) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeRuntime) WorkloadsRunning(_ context.Context, digests []string) ([]model.Workload, error) {
	return f.running(func(w *model.Workload) bool { return slices.Contains(digests, w.Digest) }), nil
}

func (f *fakeRuntime) WorkloadsRunningImage(_ context.Context, image string, digests []string) ([]model.Workload, error) {
	return f.running(func(w *model.Workload) bool { return w.Image == image || slices.Contains(digests, w.Digest) }), nil
}

func (f *fakeRuntime) WorkloadsRunningRepository(_ context.Context, repo string, digests []string) ([]model.Workload, error) {
	owner, name, _ := strings.Cut(repo, "/")
	return f.running(func(w *model.Workload) bool {
		return w.Repository == repo || (w.Repository == name && strings.ToLower(w.Org) == owner) || slices.Contains(digests, w.Digest)
	}), nil
}

func (f *fakeRuntime) RunningWorkloads(_ context.Context, fn func(w *model.Workload) error) error {
	for _, w := range f.running(func(*model.Workload) bool { return true }) {
		if err := fn(&w); err != nil {
			return err
		}
	}
	return nil
}

func TestLoadScopePicksTheWorkloadsRunningTheCode(t *testing.T) {
	wl := func(name, image, digest, repo, org string, status model.WorkloadStatus) model.Workload {
		return model.Workload{ID: "aks:shop:" + name, Cluster: "aks", Namespace: "shop", Name: name,
			Image: image, Digest: digest, Repository: repo, Org: org, Status: status}
	}
	rt := &fakeRuntime{
		artifacts: []model.Artifact{
			{ID: "sha256:app1", Digest: "sha256:app1", Image: "acr.io/app", Repository: "octo/app"},
			// Built from octo/other, whatever its workload's record says.
			{ID: "sha256:oth", Digest: "sha256:oth", Image: "acr.io/oth", Repository: "octo/other"},
		},
		workloads: []model.Workload{
			wl("api", "acr.io/app", "sha256:app1", "", "", model.WorkloadRunning),
			wl("api-old", "acr.io/app", "sha256:app0", "", "", model.WorkloadGone),
			wl("api-next", "acr.io/app", "sha256:app2", "", "", model.WorkloadRunning),
			wl("named", "acr.io/x", "sha256:x", "app", "Octo", model.WorkloadRunning),
			wl("misnamed", "acr.io/oth", "sha256:oth", "octo/app", "", model.WorkloadRunning),
		},
	}
	for _, tt := range []struct {
		name    string
		finding model.Finding
		want    []string
	}{
		{"an image CVE: every running digest of the image", model.Finding{Source: model.SourceDefenderCVE, Image: "acr.io/app", Digests: []string{"sha256:app1"}},
			[]string{"api", "api-next"}},
		{"an image CVE known only by digest", model.Finding{Source: model.SourceDefenderCVE, Digests: []string{"sha256:x"}},
			[]string{"named"}},
		{"a GHAS alert: the repository's images and what names it, the artifact deciding", model.Finding{Source: model.SourceDependabot, Repository: "Octo/App"},
			[]string{"api", "named"}},
		{"a Defender alert without an image takes its repository", model.Finding{Source: model.SourceDefenderAlert, Repository: "octo/other"},
			[]string{"misnamed"}},
		{"a repository nothing runs", model.Finding{Source: model.SourceCodeScanning, Repository: "octo/none"},
			nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := loadScope(context.Background(), rt, scopeOf(&tt.finding))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range ws {
				got = append(got, w.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("workloads = %v, want %v", got, tt.want)
			}
			// A batch's load of many image scopes selects the same.
			if s := scopeOf(&tt.finding); s.repo == "" {
				ctx := WithCache(context.Background())
				other := scopeOf(&model.Finding{Source: model.SourceDefenderCVE, Image: "acr.io/other", Digests: []string{"sha256:app1"}})
				if err := (&Triage{Store: runtimeOnly{Runtime: rt}}).loadScopes(ctx, []scope{other, s}); err != nil {
					t.Fatal(err)
				}
				if batch, ok := cacheFrom(ctx).get(s.key()); !ok || !slices.EqualFunc(batch, ws, func(a, b model.Workload) bool { return a.ID == b.ID }) {
					t.Errorf("batch load = %v (cached %v), want %v", batch, ok, ws)
				}
			}
		})
	}

	ws, arts, err := LoadRuntime(context.Background(), rt)
	if err != nil || len(ws) != 4 || len(arts) != 2 {
		t.Errorf("LoadRuntime = %d workloads, %d artifacts, %v; want the 4 running and the 2 artifacts of their digests", len(ws), len(arts), err)
	}
}

// An empty scope asks the store nothing.
func TestWorkloadsOfAnEmptyScopeReadsNothing(t *testing.T) {
	rt := &fakeRuntime{}
	tr := &Triage{Store: runtimeOnly{Runtime: rt}}
	ws, err := tr.workloads(context.Background(), scopeOf(&model.Finding{Source: model.SourceCodeScanning}))
	if err != nil || ws != nil || rt.calls != 0 {
		t.Errorf("workloads = %v, %v after %d store calls; want none, none", ws, err, rt.calls)
	}
}

// runtimeOnly is a Store of which only the Runtime answers.
type runtimeOnly struct {
	Findings
	Groups
	Leases
	Runtime
}

func (r runtimeOnly) WorkloadsRunningImages(ctx context.Context, images, digests []string) ([]model.Workload, error) {
	if b, ok := r.Runtime.(interface {
		WorkloadsRunningImages(ctx context.Context, images, digests []string) ([]model.Workload, error)
	}); ok {
		return b.WorkloadsRunningImages(ctx, images, digests)
	}
	return nil, errors.New("no batch reads")
}

func (f *fakeRuntime) WorkloadsRunningImages(_ context.Context, images, digests []string) ([]model.Workload, error) {
	return f.running(func(w *model.Workload) bool {
		return slices.Contains(images, w.Image) || slices.Contains(digests, w.Digest)
	}), nil
}
