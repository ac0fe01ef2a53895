package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestWorkloadsNamed(t *testing.T) {
	f := newFixture(t)
	named := func(org, env, cluster, ns, name string) *model.Workload {
		return &model.Workload{ID: model.DeploymentWorkloadID(org, env, "", cluster, ns+"/"+name), Cluster: cluster,
			Namespace: ns, Name: name, Org: org, Environment: env, Status: model.WorkloadRunning}
	}
	f.put(
		named("octo-org", "production", "aks-1", "team", "svc"),
		named("octo-org", "staging", "aks-1", "team", "svc"),
		named("octo-org", "staging", "aks-1", "other", "svc"), // another namespace
		named("octo-org", "staging", "aks-2", "team", "svc"),  // another cluster
		&model.Workload{ID: model.WorkloadID("aks-1", "", "svc"), Cluster: "aks-1", Name: "svc", Status: model.WorkloadGone},
	)
	ws, err := f.WorkloadsNamed(f.ctx, "aks-1", "team", "svc")
	if err != nil {
		t.Fatal(err)
	}
	envs := ids(ws, func(w *model.Workload) string { return w.Environment })
	if !reflect.DeepEqual(envs, []string{"production", "staging"}) {
		t.Errorf("team/svc in aks-1: %v", envs)
	}
	ws, err = f.WorkloadsNamed(f.ctx, "aks-1", "", "svc")
	if err != nil || len(ws) != 1 || ws[0].Status != model.WorkloadGone {
		t.Errorf("svc without namespace: %+v, %v", ws, err)
	}
	if ws, err = f.WorkloadsNamed(f.ctx, "aks-9", "team", "svc"); err != nil || len(ws) != 0 {
		t.Errorf("unknown cluster: %+v, %v", ws, err)
	}
}

func TestClusterJobs(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	deps := make([]deployrecord.ClusterDeployment, 600) // three parts
	for k := range deps {
		deps[k] = deployrecord.ClusterDeployment{Name: "octoacr.azurecr.io/svc", Digest: fmt.Sprintf("sha256:%064x", k),
			DeploymentName: fmt.Sprint("ns/svc-", k), Tags: map[string]string{"k": fmt.Sprint(k)}}
	}
	job := func(id int64, env string) *model.ClusterJob {
		return &model.ClusterJob{JobID: id, Org: "Octo-Org", Cluster: "aks-1", LogicalEnvironment: env,
			Status: deployrecord.JobPending, CreatedAt: now, UpdatedAt: now}
	}
	if err := f.SubmitClusterJob(f.ctx, job(1, "production"), deps, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := f.ClusterJob(f.ctx, 1)
	if err != nil || got.Parts != 3 || got.Submitted != 600 || got.Status != deployrecord.JobPending {
		t.Fatalf("job = %+v, %v", got, err)
	}
	back, err := f.ClusterJobDeployments(f.ctx, got)
	if err != nil || !reflect.DeepEqual(back, deps) {
		t.Errorf("deployments read back: %d, %v", len(back), err)
	}
	// The same org (in another case), cluster and environments: refused,
	// and the refused job is not kept. Another environment is its own slot.
	if err := f.SubmitClusterJob(f.ctx, job(2, "production"), deps[:1], time.Hour); !errors.Is(err, store.ErrJobConflict) {
		t.Errorf("second job = %v, want ErrJobConflict", err)
	}
	if _, err := f.ClusterJob(f.ctx, 2); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("refused job kept: %v", err)
	}
	if err := f.SubmitClusterJob(f.ctx, job(3, "staging"), deps[:1], time.Hour); err != nil {
		t.Errorf("staging job: %v", err)
	}
	// Once the first ends, or goes silent past staleAfter, a new one is taken.
	if _, err := f.UpdateClusterJob(f.ctx, 3, func(j *model.ClusterJob) error { j.Status = deployrecord.JobCompleted; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.SubmitClusterJob(f.ctx, job(4, "staging"), deps[:1], time.Hour); err != nil {
		t.Errorf("job after a completed one: %v", err)
	}
	late := job(5, "production")
	late.CreatedAt, late.UpdatedAt = now.Add(2*time.Hour), now.Add(2*time.Hour)
	if err := f.SubmitClusterJob(f.ctx, late, deps[:1], time.Hour); err != nil {
		t.Errorf("job after a stale one: %v", err)
	}
	if _, err := f.UpdateClusterJob(f.ctx, 99, func(*model.ClusterJob) error { return nil }); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("update of an unknown job: %v", err)
	}
}

func TestWorkloadsWithLegacyIDIn(t *testing.T) {
	f := newFixture(t)
	f.put(
		&model.Workload{ID: model.WorkloadID("dr-east", "team", "svc"), Cluster: "dr-east", Name: "svc"},
		&model.Workload{ID: model.DeploymentWorkloadID("o", "prod", "", "dr-east", "team/svc"), Cluster: "dr-east", Name: "svc"},
		&model.Workload{ID: model.WorkloadID("dr-west", "team", "svc"), Cluster: "dr-west", Name: "svc"},
	)
	ws, complete, err := f.WorkloadsWithLegacyIDIn(f.ctx, "dr-east", 10)
	if err != nil || !complete || len(ws) != 1 || ws[0].ID != model.WorkloadID("dr-east", "team", "svc") {
		t.Errorf("legacy of dr-east = %+v, %v, %v", ws, complete, err)
	}
}

// TestWorkloadsInAndSave: a deployment request reads its workloads of one
// partition in one query, only that partition's, and writes each back
// under the ETag it read (an artifact likewise, read by ArtifactsOf).
func TestWorkloadsInAndSave(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for k := range 120 {
		id := fmt.Sprintf("w%03d", k)
		if k%3 == 0 {
			f.put(&model.Workload{ID: id, Cluster: "aks-1", Name: id})
		}
		ids = append(ids, id)
	}
	f.put(&model.Workload{ID: "w001", Cluster: "aks-2", Name: "other"})
	ws, err := f.WorkloadsIn(f.ctx, "aks-1", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 40 {
		t.Fatalf("WorkloadsIn = %d workloads, want 40", len(ws))
	}
	for _, w := range ws {
		if w.Cluster != "aks-1" || w.ETag == "" || w.ContentHash == "" {
			t.Fatalf("WorkloadsIn returned %+v", w)
		}
	}
	saveCase[model.Workload]{
		save: func(w *model.Workload, exists bool) (bool, error) { return f.SaveWorkload(f.ctx, w, exists) },
		set:  func(w *model.Workload, v string) { w.Namespace = v },
		stored: func(w *model.Workload) string {
			got, _ := f.Workload(f.ctx, w.Cluster, w.ID)
			return got.Namespace
		},
		other: func(w *model.Workload) error {
			_, _, err := f.UpdateWorkload(f.ctx, w.Cluster, w.ID, func(x *model.Workload, _ bool) error { x.Namespace = "theirs"; return nil })
			return err
		},
		fresh: func() *model.Workload { return &model.Workload{ID: "w001", Cluster: "aks-1"} },
	}.check(t, "SaveWorkload", ws[0], ws[1])

	digest := "sha256:" + strings.Repeat("c", 64)
	f.put(&model.Artifact{ID: digest, Digest: digest, Image: "acr.io/app"})
	arts, err := f.ArtifactsOf(f.ctx, []string{digest, "sha256:" + strings.Repeat("d", 64)})
	if err != nil || len(arts) != 1 {
		t.Fatalf("ArtifactsOf = %v, %v", arts, err)
	}
	other := "sha256:" + strings.Repeat("e", 64)
	f.put(&model.Artifact{ID: other, Digest: other})
	more, err := f.ArtifactsOf(f.ctx, []string{other})
	if err != nil || len(more) != 1 {
		t.Fatalf("ArtifactsOf = %v, %v", more, err)
	}
	saveCase[model.Artifact]{
		save: func(a *model.Artifact, exists bool) (bool, error) { return f.SaveArtifact(f.ctx, a, exists) },
		set:  func(a *model.Artifact, v string) { a.Repository = v },
		stored: func(a *model.Artifact) string {
			got, _ := f.Artifact(f.ctx, a.Digest)
			return got.Repository
		},
		other: func(a *model.Artifact) error {
			_, _, err := f.UpdateArtifact(f.ctx, a.Digest, func(x *model.Artifact, _ bool) error { x.Repository = "theirs"; return nil })
			return err
		},
		fresh: func() *model.Artifact {
			d := "sha256:" + strings.Repeat("f", 64)
			return &model.Artifact{ID: d, Digest: d}
		},
	}.check(t, "SaveArtifact", arts[0], more[0])
}
