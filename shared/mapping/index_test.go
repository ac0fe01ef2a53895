package mapping

import (
	"reflect"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

const dgst3 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"

func workload(cluster, ns, name, image, digest string) model.Workload {
	return model.Workload{
		ID: model.WorkloadID(cluster, ns, name), Cluster: cluster, Namespace: ns, Name: name,
		Image: image, Digest: digest, Status: model.WorkloadRunning, LastSeen: t0,
	}
}

func ids(ws []model.Workload) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func TestIndex(t *testing.T) {
	artifacts := []model.Artifact{
		{ // resolved by evidence only (Repository not yet stored)
			ID: dgst, Digest: dgst, Image: "octoacr.azurecr.io/checkout-api",
			Evidence: []model.Evidence{
				ev(model.EvidenceDeploymentRecord, "octo-org/wrong-guess", "", 50),
				ev(model.EvidenceOCILabels, "https://github.com/octo-org/checkout-api", "beef01", 0),
			},
		},
		{ // resolved and stored
			ID: dgst3, Digest: dgst3, Image: "octoacr.azurecr.io/checkout-api",
			Repository: "Octo-Org/Checkout-API", Commit: "c0ffee",
			Evidence: []model.Evidence{ev(model.EvidenceAttestation, "octo-org/checkout-api", "c0ffee", 0)},
		},
		{ID: "", Digest: ""}, // junk: ignored
	}
	prod := workload("aks-prod-eus", "shop", "checkout-api", "octoacr.azurecr.io/checkout-api", dgst)
	prod.Production = true
	canary := workload("aks-prod-eus", "shop", "checkout-api-canary", "octoacr.azurecr.io/checkout-api", dgst3)
	old := workload("aks-stg-weu", "shop", "checkout-api", "octoacr.azurecr.io/checkout-api", dgst)
	old.Status = model.WorkloadGone
	report := workload("aks-stg-weu", "batch", "report-worker", "octoacr.azurecr.io/report-worker", dgst2)
	report.Repository, report.Org = "report-worker", "octo-org" // deployment record said so; no artifact
	stale := report
	stale.LastSeen = t0.Add(-time.Hour)
	stale.Repository = "octo-org/stale-name"
	orphan := workload("aks-dev", "x", "mystery", "nginx:1.27", "")
	// The workload's own claim loses to its digest's evidence.
	claimed := workload("aks-dev", "x", "claims", "octoacr.azurecr.io/checkout-api:1.4.2", dgst)
	claimed.Repository = "octo-org/not-really"

	ix := NewIndex(artifacts, []model.Workload{report, prod, stale, old, orphan, canary, claimed})

	t.Run("repository to workloads", func(t *testing.T) {
		for _, spelling := range []string{"octo-org/checkout-api", "Octo-Org/Checkout-API", "https://github.com/octo-org/checkout-api.git"} {
			got := ids(ix.RepoWorkloads(spelling))
			want := []string{claimed.ID, prod.ID, canary.ID, old.ID}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("RepoWorkloads(%q) = %v, want %v", spelling, got, want)
			}
		}
		if got := ids(ix.RepoWorkloads("octo-org/report-worker")); !reflect.DeepEqual(got, []string{report.ID}) {
			t.Errorf("RepoWorkloads(report-worker) = %v", got)
		}
		if got := ix.RepoWorkloads("octo-org/not-really"); got != nil {
			t.Errorf("a workload's claim beat its digest's evidence: %v", ids(got))
		}
		if got := ix.RepoWorkloads("octo-org/stale-name"); got != nil {
			t.Errorf("the older duplicate of a workload was indexed: %v", ids(got))
		}
		if got := ix.RepoWorkloads("octo-org/wrong-guess"); got != nil {
			t.Errorf("weaker evidence won: %v", ids(got))
		}
	})
	t.Run("workload to repository", func(t *testing.T) {
		for id, want := range map[string]string{
			prod.ID:    "octo-org/checkout-api",
			canary.ID:  "octo-org/checkout-api",
			report.ID:  "octo-org/report-worker",
			claimed.ID: "octo-org/checkout-api",
		} {
			if got, ok := ix.WorkloadRepo(id); !ok || got != want {
				t.Errorf("WorkloadRepo(%s) = %q, %v; want %q", id, got, ok, want)
			}
		}
		if got, ok := ix.WorkloadRepo(orphan.ID); ok {
			t.Errorf("WorkloadRepo(orphan) = %q, want none", got)
		}
		if _, ok := ix.WorkloadRepo("no:such:workload"); ok {
			t.Error("unknown workload has a repository")
		}
		if w, ok := ix.Workload(report.ID); !ok || w.Repository != "report-worker" || !w.LastSeen.Equal(t0) {
			t.Errorf("Workload(report) = %+v, %v; want the newest copy", w, ok)
		}
	})
	t.Run("image and digest to workloads", func(t *testing.T) {
		want := []string{claimed.ID, prod.ID, canary.ID, old.ID}
		for _, image := range []string{"octoacr.azurecr.io/checkout-api", "OctoACR.azurecr.io/checkout-api:latest", "octoacr.azurecr.io/checkout-api@" + dgst3} {
			if got := ids(ix.ImageWorkloads(image)); !reflect.DeepEqual(got, want) {
				t.Errorf("ImageWorkloads(%q) = %v, want %v", image, got, want)
			}
		}
		if got := ids(ix.ImageWorkloads("docker.io/library/nginx")); !reflect.DeepEqual(got, []string{orphan.ID}) {
			t.Errorf("ImageWorkloads(nginx) = %v", got)
		}
		if got := ids(ix.DigestWorkloads(dgst)); !reflect.DeepEqual(got, []string{claimed.ID, prod.ID, old.ID}) {
			t.Errorf("DigestWorkloads(dgst) = %v", got)
		}
		if got := ids(ix.DigestWorkloads(dgst3)); !reflect.DeepEqual(got, []string{canary.ID}) {
			t.Errorf("DigestWorkloads(dgst3) = %v", got)
		}
		if got := ix.DigestWorkloads("sha256:none"); got != nil {
			t.Errorf("DigestWorkloads(unknown) = %v", ids(got))
		}
	})
	t.Run("source of a digest", func(t *testing.T) {
		r, ok := ix.Source(dgst)
		if !ok || r.Repository != "octo-org/checkout-api" || r.Commit != "beef01" || r.Best.Kind != model.EvidenceOCILabels || len(r.Conflicts) != 1 {
			t.Errorf("Source(dgst) = %+v, %v", r, ok)
		}
		r, ok = ix.Source(dgst3)
		if !ok || r.Repository != "octo-org/checkout-api" || r.Commit != "c0ffee" || r.Best.Kind != model.EvidenceAttestation {
			t.Errorf("Source(dgst3) = %+v, %v", r, ok)
		}
		if _, ok := ix.Source(dgst2); ok {
			t.Error("a digest without artifact has a source")
		}
		if a, ok := ix.Artifact(dgst3); !ok || a.Commit != "c0ffee" {
			t.Errorf("Artifact(dgst3) = %+v, %v", a, ok)
		}
	})
	t.Run("repositories", func(t *testing.T) {
		if got, want := ix.Repositories(), []string{"octo-org/checkout-api", "octo-org/report-worker"}; !reflect.DeepEqual(got, want) {
			t.Errorf("Repositories() = %v, want %v", got, want)
		}
	})
}

func TestIndexStoredRepositoryWins(t *testing.T) {
	// The artifact was resolved when stored, on evidence since trimmed
	// away: its stored repository is the answer.
	a := model.Artifact{ID: dgst, Digest: dgst, Repository: "octo-org/stored", Commit: "abc",
		Evidence: []model.Evidence{ev(model.EvidenceDeploymentRecord, "octo-org/other", "", 0)}}
	w := workload("c", "n", "w", "octoacr.azurecr.io/app", dgst)
	ix := NewIndex([]model.Artifact{a}, []model.Workload{w})
	if got, _ := ix.WorkloadRepo(w.ID); got != "octo-org/stored" {
		t.Errorf("WorkloadRepo = %q, want the stored repository", got)
	}
	if r, ok := ix.Source(dgst); !ok || r.Repository != "octo-org/stored" || r.Commit != "abc" {
		t.Errorf("Source = %+v, %v", r, ok)
	}
}

func TestIndexEmpty(t *testing.T) {
	ix := NewIndex(nil, nil)
	if ix.RepoWorkloads("a/b") != nil || ix.ImageWorkloads("nginx") != nil || ix.DigestWorkloads(dgst) != nil || len(ix.Repositories()) != 0 {
		t.Error("an empty index answers something")
	}
}
