package mapping

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

var t0 = time.Date(2026, 11, 18, 9, 30, 0, 0, time.UTC)

func ev(kind model.EvidenceKind, repo, commit string, minutes int) model.Evidence {
	return model.Evidence{Kind: kind, Repository: repo, Commit: commit, Ref: string(kind) + "-ref", At: t0.Add(time.Duration(minutes) * time.Minute)}
}

func TestResolve(t *testing.T) {
	att := ev(model.EvidenceAttestation, "octo-org/checkout-api", "c0ffee", 0)
	pkg := ev(model.EvidenceGitHubPackage, "octo-org/checkout-api", "c0ffee", 5)
	oci := ev(model.EvidenceOCILabels, "octo-org/checkout-api", "beef01", 10)
	dep := ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", 20)
	ociOther := ev(model.EvidenceOCILabels, "octo-org/fork", "dead01", 30)
	depOther := ev(model.EvidenceDeploymentRecord, "Octo-Org/Legacy", "", 40)

	tests := []struct {
		name      string
		in        []model.Evidence
		ok        bool
		best      model.Evidence
		repo      string
		commit    string
		conflicts []model.Evidence
	}{
		{name: "none", in: nil, ok: false},
		{name: "only unusable", in: []model.Evidence{{Kind: model.EvidenceAttestation}, {Kind: "rumour", Repository: "a/b"}}, ok: false},
		{name: "single deployment record", in: []model.Evidence{dep}, ok: true, best: dep, repo: "octo-org/checkout-api"},
		{name: "attestation beats everything, whatever the order", in: []model.Evidence{dep, oci, att, pkg}, ok: true, best: att, repo: "octo-org/checkout-api", commit: "c0ffee"},
		{name: "package beats labels", in: []model.Evidence{oci, pkg}, ok: true, best: pkg, repo: "octo-org/checkout-api", commit: "c0ffee"},
		{name: "labels beat a deployment record", in: []model.Evidence{dep, oci}, ok: true, best: oci, repo: "octo-org/checkout-api", commit: "beef01"},
		{
			name: "strongest wins a conflict, the weaker is reported",
			in:   []model.Evidence{depOther, oci, ociOther, dep},
			ok:   true, best: ociOther, repo: "octo-org/fork", commit: "dead01",
			conflicts: []model.Evidence{oci, depOther, dep}, // strongest, then newest
		},
		{
			name: "strong evidence against a deployment record claim",
			in:   []model.Evidence{depOther, att},
			ok:   true, best: att, repo: "octo-org/checkout-api", commit: "c0ffee",
			conflicts: []model.Evidence{depOther},
		},
		{
			name: "commit from weaker evidence of the same repository",
			in:   []model.Evidence{dep, ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", 10), ev(model.EvidenceOCILabels, "octo-org/checkout-api", "abc123", 0), pkg},
			ok:   true, best: pkg, repo: "octo-org/checkout-api", commit: "c0ffee",
		},
		{
			name: "strongest has no commit: the next one of its repository gives it",
			in:   []model.Evidence{ev(model.EvidenceGitHubPackage, "octo-org/checkout-api", "", 50), oci},
			ok:   true, best: ev(model.EvidenceGitHubPackage, "octo-org/checkout-api", "", 50), repo: "octo-org/checkout-api", commit: "beef01",
		},
		{
			name: "repositories compared case-insensitively",
			in:   []model.Evidence{ev(model.EvidenceOCILabels, "https://github.com/Octo-Org/Checkout-API", "beef01", 0), dep},
			ok:   true, best: ev(model.EvidenceOCILabels, "https://github.com/Octo-Org/Checkout-API", "beef01", 0), repo: "octo-org/checkout-api", commit: "beef01",
		},
		{
			name: "same kind: the most recent wins",
			in:   []model.Evidence{ev(model.EvidenceOCILabels, "octo-org/old", "1", 0), ev(model.EvidenceOCILabels, "octo-org/new", "2", 60)},
			ok:   true, best: ev(model.EvidenceOCILabels, "octo-org/new", "2", 60), repo: "octo-org/new", commit: "2",
			conflicts: []model.Evidence{ev(model.EvidenceOCILabels, "octo-org/old", "1", 0)},
		},
		{
			name: "same kind and time: decided by repository, not input order",
			in:   []model.Evidence{ev(model.EvidenceOCILabels, "octo-org/zeta", "1", 0), ev(model.EvidenceOCILabels, "octo-org/alpha", "2", 0)},
			ok:   true, best: ev(model.EvidenceOCILabels, "octo-org/alpha", "2", 0), repo: "octo-org/alpha", commit: "2",
			conflicts: []model.Evidence{ev(model.EvidenceOCILabels, "octo-org/zeta", "1", 0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, in := range [][]model.Evidence{tc.in, reversed(tc.in)} {
				r, ok := Resolve(in)
				if ok != tc.ok {
					t.Fatalf("ok = %v, want %v", ok, tc.ok)
				}
				if !ok {
					return
				}
				if !reflect.DeepEqual(r.Best, tc.best) || r.Repository != tc.repo || r.Commit != tc.commit {
					t.Errorf("Resolve = best %+v repo %q commit %q\nwant best %+v repo %q commit %q", r.Best, r.Repository, r.Commit, tc.best, tc.repo, tc.commit)
				}
				if !reflect.DeepEqual(r.Conflicts, tc.conflicts) {
					t.Errorf("conflicts:\n got %+v\nwant %+v", r.Conflicts, tc.conflicts)
				}
			}
		})
	}
}

func reversed(in []model.Evidence) []model.Evidence {
	out := slices.Clone(in)
	slices.Reverse(out)
	return out
}

func TestMergeEvidence(t *testing.T) {
	dep := ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", 0)
	oci := ev(model.EvidenceOCILabels, "octo-org/checkout-api", "beef01", 10)

	t.Run("adds and sorts strongest first", func(t *testing.T) {
		got, changed := MergeEvidence([]model.Evidence{dep}, oci)
		if !changed || !reflect.DeepEqual(got, []model.Evidence{oci, dep}) {
			t.Fatalf("got %+v, %v", got, changed)
		}
	})
	t.Run("idempotent: the same evidence again, even later", func(t *testing.T) {
		again := oci
		again.At = oci.At.Add(time.Hour)
		again.Repository = "Octo-Org/Checkout-API"
		existing := []model.Evidence{oci, dep}
		got, changed := MergeEvidence(existing, again)
		if changed || !reflect.DeepEqual(got, existing) {
			t.Fatalf("got %+v, %v; want no change", got, changed)
		}
	})
	t.Run("a different ref is new evidence", func(t *testing.T) {
		other := dep
		other.Ref = "another-delivery"
		got, changed := MergeEvidence([]model.Evidence{dep}, other)
		if !changed || len(got) != 2 {
			t.Fatalf("got %+v, %v", got, changed)
		}
	})
	t.Run("unknown kind is not added", func(t *testing.T) {
		got, changed := MergeEvidence([]model.Evidence{dep}, model.Evidence{Kind: "rumour", Repository: "a/b"})
		if changed || len(got) != 1 {
			t.Fatalf("got %+v, %v", got, changed)
		}
	})
	t.Run("bounded per kind, newest kept, input untouched", func(t *testing.T) {
		var list []model.Evidence
		for i := 0; i < MaxEvidencePerKind+3; i++ {
			e := ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", i)
			e.Ref = "delivery-" + string(rune('a'+i))
			var changed bool
			list, changed = MergeEvidence(list, e)
			if !changed {
				t.Fatalf("merge %d: no change", i)
			}
		}
		list, _ = MergeEvidence(list, oci) // another kind does not count against it
		if len(list) != MaxEvidencePerKind+1 {
			t.Fatalf("kept %d, want %d", len(list), MaxEvidencePerKind+1)
		}
		if list[0] != oci {
			t.Errorf("strongest not first: %+v", list[0])
		}
		for i, e := range list[1:] {
			if want := t0.Add(time.Duration(MaxEvidencePerKind+2-i) * time.Minute); !e.At.Equal(want) {
				t.Errorf("deployment record %d at %v, want %v (newest first)", i, e.At, want)
			}
		}
		snapshot := slices.Clone(list)
		old := ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", -10)
		old.Ref = "ancient"
		got, changed := MergeEvidence(list, old)
		if changed || !reflect.DeepEqual(got, snapshot) {
			t.Errorf("evidence older than everything kept was added: %v", changed)
		}
		newer := ev(model.EvidenceDeploymentRecord, "octo-org/checkout-api", "", 100)
		newer.Ref = "latest"
		got, changed = MergeEvidence(list, newer)
		if !changed || len(got) != MaxEvidencePerKind+1 || got[1] != newer {
			t.Errorf("newest evidence not kept first of its kind: %+v", got)
		}
		if !reflect.DeepEqual(list, snapshot) {
			t.Error("MergeEvidence modified its input")
		}
	})
	t.Run("arrival order does not change the result", func(t *testing.T) {
		att := ev(model.EvidenceAttestation, "octo-org/checkout-api", "c0ffee", 5)
		var a, b []model.Evidence
		for _, e := range []model.Evidence{dep, oci, att} {
			a, _ = MergeEvidence(a, e)
		}
		for _, e := range []model.Evidence{att, dep, oci} {
			b, _ = MergeEvidence(b, e)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("order matters:\n%+v\n%+v", a, b)
		}
	})
}
