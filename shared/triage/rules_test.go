package triage

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

func TestCorrelated(t *testing.T) {
	dep := model.Finding{ID: "d", Repository: "Octo-Org/Checkout-API", Source: model.SourceDependabot, CVE: "CVE-2023-44487", GHSA: "GHSA-qppj-fm5r-hxr3"}
	cve := model.Finding{ID: "c", Repository: "octo-org/checkout-api", Source: model.SourceDefenderCVE, CVE: "CVE-2023-44487"}
	with := func(f model.Finding, edit func(*model.Finding)) model.Finding { edit(&f); return f }
	tests := []struct {
		name string
		a, b model.Finding
		want bool
	}{
		{"same CVE, repository spelled differently", dep, cve, true},
		{"either order", cve, dep, true},
		{"matched through an alias", with(dep, func(f *model.Finding) { f.CVE = ""; f.Aliases = []string{"cve-2023-44487"} }), cve, true},
		{"GHSA named by the Defender side", dep, with(cve, func(f *model.Finding) { f.CVE = ""; f.Aliases = []string{"ghsa-qppj-fm5r-hxr3"} }), true},
		{"other CVE", dep, with(cve, func(f *model.Finding) { f.CVE = "CVE-2024-1" }), false},
		{"other repository", dep, with(cve, func(f *model.Finding) { f.Repository = "octo-org/other" }), false},
		{"unmapped image", dep, with(cve, func(f *model.Finding) { f.Repository = model.UnmappedRepository }), false},
		{"two Dependabot alerts", dep, with(dep, func(f *model.Finding) { f.ID = "d2" }), false},
		{"code scanning", with(dep, func(f *model.Finding) { f.Source = model.SourceCodeScanning }), cve, false},
		{"itself", cve, cve, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Correlated(&tt.a, &tt.b); got != tt.want {
				t.Errorf("Correlated = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRelatedIDs(t *testing.T) {
	got := relatedIDs([]string{"z", "a"}, []model.Finding{{ID: "m"}, {ID: "a"}})
	if !slices.Equal(got, []string{"a", "m", "z"}) {
		t.Errorf("= %v", got)
	}
	if got := relatedIDs(nil, nil); got != nil {
		t.Errorf("empty = %v, want nil", got)
	}
}

func TestGroupOf(t *testing.T) {
	tests := []struct {
		f              model.Finding
		kind, idPrefix string
	}{
		{model.Finding{ID: "x", Repository: "o/r", Source: model.SourceDefenderCVE, Image: "octoacr.azurecr.io/a"}, GroupKindImage, model.ImageGroupID("o/r", "octoacr.azurecr.io/a")},
		{model.Finding{ID: "dependabot:o:r:1", Repository: "o/r", Source: model.SourceDependabot}, GroupKindAlert, "alert:dependabot:o:r:1"},
		{model.Finding{ID: "x", Repository: model.UnmappedRepository, Source: model.SourceDefenderCVE, Image: "i"}, "", ""},
		{model.Finding{ID: "x", Repository: "o/r", Source: model.SourceDefenderCVE}, GroupKindAlert, "alert:x"},
	}
	for _, tt := range tests {
		kind, id := GroupOf(&tt.f)
		if kind != tt.kind || id != tt.idPrefix {
			t.Errorf("GroupOf(%s %s) = %s %s, want %s %s", tt.f.Source, tt.f.Repository, kind, id, tt.kind, tt.idPrefix)
		}
	}
}

func TestScopeSelectsWorkloads(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	ws := []model.Workload{
		{ID: "c:ns:a", Cluster: "c", Image: "octoacr.azurecr.io/app", Digest: d1, Repository: "octo/app"},
		{ID: "c:ns:b", Cluster: "c", Image: "octoacr.azurecr.io/app", Digest: d2},
		// Its artifact says it was built from octo/lib, over its own record.
		{ID: "c:ns:c", Cluster: "c", Image: "octoacr.azurecr.io/lib", Digest: "sha256:" + strings.Repeat("3", 64), Repository: "octo/app"},
		{ID: "c:ns:d", Cluster: "c", Image: "octoacr.azurecr.io/other", Digest: "sha256:" + strings.Repeat("4", 64), Repository: "app", Org: "Octo"},
	}
	arts := []model.Artifact{{ID: ws[2].Digest, Digest: ws[2].Digest, Repository: "octo/lib"}}
	ix := mapping.NewIndex(arts, ws)
	ids := func(ws []model.Workload) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    model.Finding
		want []string
	}{
		{"image CVE: every digest of the image", model.Finding{Source: model.SourceDefenderCVE, Image: "octoacr.azurecr.io/app:1.0", Digests: []string{d1}}, []string{"c:ns:a", "c:ns:b"}},
		{"image CVE: a digest alone", model.Finding{Source: model.SourceDefenderCVE, Digests: []string{d2}}, []string{"c:ns:b"}},
		{"GHAS: built from the repository", model.Finding{Source: model.SourceCodeScanning, Repository: "Octo/App"}, []string{"c:ns:a", "c:ns:d"}},
		{"GHAS: the artifact wins", model.Finding{Source: model.SourceDependabot, Repository: "octo/lib"}, []string{"c:ns:c"}},
		{"Defender alert without image: repository", model.Finding{Source: model.SourceDefenderAlert, Repository: "octo/lib"}, []string{"c:ns:c"}},
		{"unmapped", model.Finding{Source: model.SourceSecretScanning, Repository: model.UnmappedRepository}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(scopeOf(&tt.f).workloads(ix)); !slices.Equal(got, tt.want) {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContextChanged(t *testing.T) {
	w := model.Workload{ID: "c:n:w", Cluster: "c", Namespace: "n", Name: "w", Image: "i", Digest: "d", Production: true, Status: model.WorkloadRunning,
		Risks: []model.Risk{{Factor: model.RiskInternetExposed, Source: "deployment-record"}}}
	edit := func(f func(*model.Workload)) *model.Workload {
		c := w
		c.Risks = slices.Clone(w.Risks)
		f(&c)
		return &c
	}
	tests := []struct {
		name          string
		before, after *model.Workload
		want          bool
	}{
		{"appears", nil, &w, true},
		{"deleted", &w, nil, true},
		{"never ran", nil, edit(func(c *model.Workload) { c.Status = model.WorkloadGone }), false},
		{"goes", &w, edit(func(c *model.Workload) { c.Status = model.WorkloadGone }), true},
		{"last seen only", &w, edit(func(c *model.Workload) { c.LastSeen = time.Now() }), false},
		{"risks reordered", edit(func(c *model.Workload) {
			c.Risks = append(c.Risks, model.Risk{Factor: model.RiskSensitiveData, Source: "x"})
		}), edit(func(c *model.Workload) {
			c.Risks = append([]model.Risk{{Factor: model.RiskSensitiveData, Source: "x"}}, c.Risks...)
		}), false},
		{"gains a risk", &w, edit(func(c *model.Workload) {
			c.Risks = append(c.Risks, model.Risk{Factor: model.RiskLateralMovement, Source: "attack-path:p"})
		}), true},
		{"risk re-sourced", &w, edit(func(c *model.Workload) { c.Risks[0].Source = "defender-assessment:a" }), true},
		{"leaves production", &w, edit(func(c *model.Workload) { c.Production = false }), true},
		{"new digest", &w, edit(func(c *model.Workload) { c.Digest = "d2" }), true},
		{"repository spelled differently", edit(func(c *model.Workload) { c.Repository = "Octo/App" }), edit(func(c *model.Workload) { c.Repository = "octo/app" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ContextChanged(tt.before, tt.after); got != tt.want {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNeedsSync(t *testing.T) {
	now := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	stale := now.Add(-7 * 24 * time.Hour)
	tests := []struct {
		name string
		g    model.Group
		want bool
	}{
		{"open, never synced", model.Group{Desired: model.DesiredIssue{Open: true, Hash: "h"}}, true},
		{"closed, never had an issue", model.Group{Desired: model.DesiredIssue{Hash: "h"}}, false},
		{"issue behind", model.Group{Desired: model.DesiredIssue{Hash: "h2"}, Synced: model.SyncedIssue{IssueNumber: 4, Hash: "h1", At: now}}, true},
		{"in step, recent", model.Group{Desired: model.DesiredIssue{Open: true, Hash: "h"}, Synced: model.SyncedIssue{IssueNumber: 4, Hash: "h", At: now}}, false},
		{"in step, synced long ago", model.Group{Desired: model.DesiredIssue{Open: true, Hash: "h"}, Synced: model.SyncedIssue{IssueNumber: 4, Hash: "h", At: stale.Add(-time.Hour)}}, true},
	}
	for _, tt := range tests {
		if got := NeedsSync(&tt.g, stale); got != tt.want {
			t.Errorf("%s: = %v, want %v", tt.name, got, tt.want)
		}
	}
}
