package store_test

import (
	"errors"
	"testing"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

func TestUpdateArtifactAndTags(t *testing.T) {
	f := newFixture(t)
	a, changed, err := f.UpdateArtifact(f.ctx, "sha256:a1", func(a *model.Artifact, exists bool) error {
		if exists {
			t.Error("new artifact reported as existing")
		}
		a.ID, a.Digest, a.Image, a.Tags = "sha256:a1", "sha256:a1", "acr.io/app", []string{"1.0", "latest"}
		return nil
	})
	if err != nil || !changed || a.Image != "acr.io/app" {
		t.Fatalf("create = %+v, %v, %v", a, changed, err)
	}
	if _, changed, err := f.UpdateArtifact(f.ctx, "sha256:a1", func(*model.Artifact, bool) error { return model.ErrSkip }); err != nil || changed {
		t.Errorf("ErrSkip: changed=%v, %v", changed, err)
	}
	if _, changed, err := f.UpdateArtifact(f.ctx, "sha256:a1", func(*model.Artifact, bool) error { return nil }); err != nil || changed {
		t.Errorf("unchanged content written: changed=%v, %v", changed, err)
	}
	f.put(&model.Artifact{ID: "sha256:a2", Digest: "sha256:a2", Image: "acr.io/app", Tags: []string{"1.1"}},
		&model.Artifact{ID: "sha256:b1", Digest: "sha256:b1", Image: "acr.io/lib", Tags: []string{"latest"}})

	got, complete, err := f.ArtifactsTagged(f.ctx, "acr.io/app", "latest", 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "ArtifactsTagged", digestsOf(got), []string{"sha256:a1"})
	if got, _, err := f.ArtifactsTagged(f.ctx, "acr.io/app", "2.0", 0); err != nil || len(got) != 0 {
		t.Errorf("ArtifactsTagged(unknown tag) = %v, %v", got, err)
	}
}

func TestArtifactsOfCommit(t *testing.T) {
	f := newFixture(t)
	built := func(digest, commit string) *model.Artifact {
		a := artifact(digest, "ghcr.io/octo/app", "octo/app")
		a.Commit = commit
		return a
	}
	f.put(built("sha256:a1", "c0ffee"), built("sha256:a2", "c0ffee"), built("sha256:b1", "beef"))
	var got []model.Artifact
	if err := f.ArtifactsOfCommit(f.ctx, "c0ffee", func(a *model.Artifact) error { got = append(got, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	want(t, "ArtifactsOfCommit", digestsOf(got), []string{"sha256:a1", "sha256:a2"})
	stop := errors.New("stop")
	if err := f.ArtifactsOfCommit(f.ctx, "c0ffee", func(*model.Artifact) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("callback error = %v, want it returned", err)
	}
}

func TestInventoryWorkloadQueries(t *testing.T) {
	f := newFixture(t)
	rid := "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/aks-prod"
	risky := workload("AKS-Prod", "api", "acr.io/app", "sha256:a1", "", model.WorkloadRunning)
	risky.Risks = []model.Risk{{Factor: model.RiskInternetExposed, Source: mapping.RiskSourceAttackPathPrefix + "p1"}}
	byRID := workload("other-name", "db", "acr.io/db", "sha256:d1", "", model.WorkloadRunning)
	byRID.ResourceID = rid
	f.put(risky, byRID,
		workload("AKS-Prod", "old", "acr.io/app", "sha256:a0", "", model.WorkloadGone),
		workload("aks-stg", "api", "acr.io/app", "sha256:a1", "", model.WorkloadRunning))

	ws, complete, err := f.WorkloadsOfCluster(f.ctx, "aks-prod", rid, 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "WorkloadsOfCluster", workloadIDs(ws), []string{"AKS-Prod/api", "AKS-Prod/old", "other-name/db"})
	if ws, complete, _ := f.WorkloadsOfCluster(f.ctx, "aks-prod", rid, 2); complete || len(ws) != 2 {
		t.Errorf("WorkloadsOfCluster(limit 2) = %d, complete=%v", len(ws), complete)
	}

	ws, _, err = f.WorkloadsWithRisksIn(f.ctx, "AKS-Prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsWithRisksIn", workloadIDs(ws), []string{"AKS-Prod/api"})
	if ws, _, _ := f.WorkloadsWithRisksIn(f.ctx, "aks-stg", 0); len(ws) != 0 {
		t.Errorf("WorkloadsWithRisksIn(aks-stg) = %v, want none (the risky one is in another partition)", workloadIDs(ws))
	}

	var on []model.Workload
	collect := func(w *model.Workload) error { on = append(on, *w); return nil }
	if err := f.WorkloadsOnClusters(f.ctx, []string{"aks-stg"}, []string{rid}, collect); err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsOnClusters", workloadIDs(on), []string{"aks-stg/api", "other-name/db"})
	on = nil
	if err := f.WorkloadsOnClusters(f.ctx, nil, nil, collect); err != nil || len(on) != 0 {
		t.Errorf("WorkloadsOnClusters(nothing) = %v, %v", workloadIDs(on), err)
	}
	on = nil
	if err := f.WorkloadsWithRiskFrom(f.ctx, mapping.RiskSourceAttackPathPrefix, collect); err != nil {
		t.Fatal(err)
	}
	want(t, "WorkloadsWithRiskFrom", workloadIDs(on), []string{"AKS-Prod/api"})

	w, changed, err := f.UpdateWorkload(f.ctx, "aks-stg", risky.ID, func(w *model.Workload, exists bool) error {
		if !exists {
			return model.ErrSkip
		}
		return errors.New("must not be called for an existing doc of another partition")
	})
	if err != nil || changed || w == nil {
		t.Errorf("UpdateWorkload(missing) = %+v, %v, %v", w, changed, err)
	}
	w, changed, err = f.UpdateWorkload(f.ctx, "AKS-Prod", risky.ID, func(w *model.Workload, exists bool) error {
		w.Status = model.WorkloadGone
		return nil
	})
	if err != nil || !changed || w.Status != model.WorkloadGone {
		t.Errorf("UpdateWorkload = %+v, %v, %v", w, changed, err)
	}
	if got, err := f.Workload(f.ctx, "AKS-Prod", risky.ID); err != nil || got.Status != model.WorkloadGone {
		t.Errorf("Workload after update = %+v, %v", got, err)
	}
	if err := f.DeleteWorkload(f.ctx, "AKS-Prod", risky.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteWorkload(f.ctx, "AKS-Prod", risky.ID); err != nil {
		t.Errorf("deleting a missing workload: %v", err)
	}
	if _, err := f.Workload(f.ctx, "AKS-Prod", risky.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Workload after delete: %v, want model.ErrNotFound", err)
	}
}

func TestInventoryFindingQueries(t *testing.T) {
	f := newFixture(t)
	cve := func(repo, id string, digests, defenderIDs []string) *model.Finding {
		return &model.Finding{ID: id, Repository: repo, Source: model.SourceDefenderCVE, State: model.StateOpen,
			Digests: digests, DefenderIDs: defenderIDs}
	}
	f.put(cve(model.UnmappedRepository, "f1", []string{"sha256:a1"}, []string{"sub-1"}),
		cve("octo/app", "f2", []string{"sha256:a1", "sha256:a2"}, []string{"sub-1", "sub-2"}),
		cve("octo/app", "f3", []string{"sha256:b"}, []string{"sub-3"}))

	got, complete, err := f.FindingsOnDigestIn(f.ctx, "octo/app", "sha256:a1", 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "FindingsOnDigestIn(octo/app)", findingIDs(got), []string{"f2"})
	got, _, _ = f.FindingsOnDigestIn(f.ctx, model.UnmappedRepository, "sha256:a1", 0)
	want(t, "FindingsOnDigestIn(unmapped)", findingIDs(got), []string{"f1"})

	got, complete, err = f.FindingsOfDefenderRecord(f.ctx, "sub-1", 0)
	if err != nil || !complete {
		t.Fatal(err)
	}
	want(t, "FindingsOfDefenderRecord", findingIDs(got), []string{"f1", "f2"})
	if got, complete, _ := f.FindingsOfDefenderRecord(f.ctx, "sub-1", 1); complete || len(got) != 1 {
		t.Errorf("FindingsOfDefenderRecord(limit 1) = %d, complete=%v", len(got), complete)
	}

	if err := f.DeleteFinding(f.ctx, model.UnmappedRepository, "f1"); err != nil {
		t.Fatal(err)
	}
	if err := f.DeleteFinding(f.ctx, model.UnmappedRepository, "f1"); err != nil {
		t.Errorf("deleting a missing finding: %v", err)
	}
	got, _, _ = f.FindingsOfDefenderRecord(f.ctx, "sub-1", 0)
	want(t, "FindingsOfDefenderRecord after delete", findingIDs(got), []string{"f2"})
}
