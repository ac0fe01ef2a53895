package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

// fixture is a store on a fresh emulator database and the raw containers
// to seed it with.
type fixture struct {
	*store.Store
	t   *testing.T
	ctx context.Context
	put func(docs ...any)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := localstack.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	f := &fixture{Store: store.New(db), t: t, ctx: ctx}
	f.put = func(docs ...any) {
		t.Helper()
		for _, d := range docs {
			var err error
			switch d := d.(type) {
			case *model.Artifact:
				_, err = db.Artifacts.Put(ctx, d)
			case *model.Workload:
				_, err = db.Workloads.Put(ctx, d)
			case *model.Finding:
				_, err = db.Findings.Put(ctx, d)
			case *model.Group:
				_, err = db.Groups.Put(ctx, d)
			case *model.Lease:
				_, err = db.Leases.Put(ctx, d)
			default:
				t.Fatalf("seed: no container for %T", d)
			}
			if err != nil {
				t.Fatalf("seed %T: %v", d, err)
			}
		}
	}
	return f
}

func artifact(digest, image, repo string) *model.Artifact {
	return &model.Artifact{ID: digest, Digest: digest, Image: image, Repository: repo}
}

func workload(cluster, name, image, digest, repo string, status model.WorkloadStatus) *model.Workload {
	return &model.Workload{ID: model.WorkloadID(cluster, "ns", name), Cluster: cluster, Namespace: "ns", Name: name,
		Image: image, Digest: digest, Repository: repo, Status: status}
}

func ids[T any](docs []T, id func(*T) string) []string {
	out := make([]string, 0, len(docs))
	for i := range docs {
		out = append(out, id(&docs[i]))
	}
	slices.Sort(out)
	return out
}

func workloadIDs(ws []model.Workload) []string {
	return ids(ws, func(w *model.Workload) string { return w.Cluster + "/" + w.Name })
}

func digestsOf(as []model.Artifact) []string {
	return ids(as, func(a *model.Artifact) string { return a.Digest })
}

func findingIDs(fs []model.Finding) []string {
	return ids(fs, func(f *model.Finding) string { return f.ID })
}

func want[T comparable](t *testing.T, what string, got, wanted []T) {
	t.Helper()
	if !slices.Equal(got, wanted) {
		t.Errorf("%s = %v, want %v", what, got, wanted)
	}
}

func TestArtifacts(t *testing.T) {
	f := newFixture(t)
	f.put(artifact("sha256:a1", "acr.io/app", "octo/app"), artifact("sha256:a2", "acr.io/app", "octo/app"),
		artifact("sha256:b1", "acr.io/lib", "octo/lib"))

	got, complete, err := f.ArtifactsBuiltFrom(f.ctx, "octo/app", 0)
	if err != nil || !complete {
		t.Fatalf("ArtifactsBuiltFrom = %v, complete=%v, %v", got, complete, err)
	}
	want(t, "ArtifactsBuiltFrom", digestsOf(got), []string{"sha256:a1", "sha256:a2"})

	got, complete, err = f.ArtifactsBuiltFrom(f.ctx, "octo/app", 1)
	if err != nil || complete || len(got) != 1 {
		t.Errorf("ArtifactsBuiltFrom(limit 1) = %d artifacts, complete=%v, %v; want 1, false", len(got), complete, err)
	}

	got, err = f.ArtifactsOf(f.ctx, []string{"sha256:b1", "sha256:a1", "sha256:none"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "ArtifactsOf", digestsOf(got), []string{"sha256:a1", "sha256:b1"})
	if got, err := f.ArtifactsOf(f.ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ArtifactsOf(nil) = %v, %v; want nothing, asked nothing", got, err)
	}

	a, err := f.Artifact(f.ctx, "sha256:b1")
	if err != nil || a.Repository != "octo/lib" {
		t.Errorf("Artifact = %+v, %v", a, err)
	}
	if _, err := f.Artifact(f.ctx, "sha256:none"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Artifact(missing) error = %v, want model.ErrNotFound", err)
	}
}

func TestArtifactsOfManyDigestsTakesSeveralQueries(t *testing.T) {
	f := newFixture(t)
	var digests []string
	for i := range 130 {
		d := fmt.Sprintf("sha256:%03d", i)
		digests = append(digests, d)
		if i%2 == 0 {
			f.put(artifact(d, "acr.io/app", "octo/app"))
		}
	}
	got, err := f.ArtifactsOf(f.ctx, digests)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 65 {
		t.Errorf("ArtifactsOf(130 digests, 65 stored) = %d artifacts", len(got))
	}
}

func TestWorkloadsRunning(t *testing.T) {
	f := newFixture(t)
	f.put(
		workload("c1", "api", "acr.io/app", "sha256:a1", "", model.WorkloadRunning),
		workload("c2", "api", "acr.io/app", "sha256:a2", "", model.WorkloadRunning),
		workload("c1", "old", "acr.io/app", "sha256:a1", "", model.WorkloadGone),
		workload("c1", "named", "acr.io/other", "sha256:x", "octo/app", model.WorkloadRunning),
		workload("c2", "byorg", "acr.io/other", "sha256:y", "app", model.WorkloadRunning),
		workload("c2", "lib", "acr.io/lib", "sha256:b1", "octo/lib", model.WorkloadRunning),
	)
	// byorg names the bare repository with its org.
	byorg, err := f.Workload(f.ctx, "c2", model.WorkloadID("c2", "ns", "byorg"))
	if err != nil {
		t.Fatal(err)
	}
	byorg.Org = "Octo"
	f.put(byorg)

	got, err := f.WorkloadsRunning(f.ctx, []string{"sha256:a1", "sha256:b1"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunning", workloadIDs(got), []string{"c1/api", "c2/lib"})

	got, err = f.WorkloadsRunningImage(f.ctx, "acr.io/app", nil)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunningImage(image)", workloadIDs(got), []string{"c1/api", "c2/api"})
	got, err = f.WorkloadsRunningImage(f.ctx, "acr.io/none", []string{"sha256:x"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunningImage(digest)", workloadIDs(got), []string{"c1/named"})

	// A batch's images and digests at once; past a hundred of either, in
	// several queries.
	images := []string{"acr.io/lib"}
	for i := range 120 {
		images = append(images, fmt.Sprintf("acr.io/none%d", i))
	}
	images = append(images, "acr.io/app")
	got, err = f.WorkloadsRunningImages(f.ctx, images, []string{"sha256:x"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunningImages", workloadIDs(got), []string{"c1/api", "c1/named", "c2/api", "c2/lib"})

	got, err = f.WorkloadsRunningRepository(f.ctx, "octo/app", []string{"sha256:a2"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunningRepository", workloadIDs(got), []string{"c1/named", "c2/api", "c2/byorg"})

	var all []model.Workload
	if err := f.RunningWorkloads(f.ctx, func(w *model.Workload) error { all = append(all, *w); return nil }); err != nil {
		t.Fatal(err)
	}
	want(t, "RunningWorkloads", workloadIDs(all), []string{"c1/api", "c1/named", "c2/api", "c2/byorg", "c2/lib"})

	// The API's views include gone workloads.
	ws, complete, err := f.WorkloadsOnDigests(f.ctx, []string{"sha256:a1"}, 10)
	if err != nil || !complete {
		t.Fatalf("WorkloadsOnDigests = %v, %v, %v", ws, complete, err)
	}
	want(t, "WorkloadsOnDigests", workloadIDs(ws), []string{"c1/api", "c1/old"})
	if ws, complete, err = f.WorkloadsOnDigests(f.ctx, []string{"sha256:a1"}, 1); err != nil || complete || len(ws) != 1 {
		t.Errorf("WorkloadsOnDigests(limit 1) = %d, complete=%v, %v", len(ws), complete, err)
	}
	ws, complete, err = f.WorkloadsNamingRepository(f.ctx, "octo/lib", 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "WorkloadsNamingRepository", workloadIDs(ws), []string{"c2/lib"})

	if _, err := f.Workload(f.ctx, "c9", "nope"); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Workload(missing) error = %v, want model.ErrNotFound", err)
	}
}

func TestWorkloadsRunningRepositoryPastOneChunkOfDigests(t *testing.T) {
	f := newFixture(t)
	var digests []string
	for i := range 150 {
		digests = append(digests, fmt.Sprintf("sha256:%03d", i))
	}
	f.put(workload("c1", "first", "acr.io/app", digests[3], "", model.WorkloadRunning),
		workload("c1", "late", "acr.io/app", digests[140], "", model.WorkloadRunning))
	got, err := f.WorkloadsRunningRepository(f.ctx, "octo/app", digests)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsRunningRepository", workloadIDs(got), []string{"c1/first", "c1/late"})
}

func TestFindingsOnDigest(t *testing.T) {
	f := newFixture(t)
	cve := func(repo, id string, digests ...string) *model.Finding {
		return &model.Finding{ID: id, Repository: repo, Source: model.SourceDefenderCVE, State: model.StateOpen, Digests: digests}
	}
	f.put(cve("octo/app", "f1", "sha256:a1", "sha256:a2"), cve("octo/lib", "f2", "sha256:a1"), cve("octo/app", "f3", "sha256:b"))
	got, complete, err := f.FindingsOnDigest(f.ctx, "sha256:a1", 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "FindingsOnDigest", findingIDs(got), []string{"f1", "f2"})
	if got, complete, err = f.FindingsOnDigest(f.ctx, "sha256:a1", 1); err != nil || complete || len(got) != 1 {
		t.Errorf("FindingsOnDigest(limit 1) = %d, complete=%v, %v", len(got), complete, err)
	}
}
