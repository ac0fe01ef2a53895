package triage

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

var update = flag.Bool("update", false, "rewrite the golden issue bodies in testdata/")

// scored scores a finding in a context the way Upsert does.
func scored(f model.Finding, ws ...model.Workload) model.Finding {
	assess(scoring.DefaultPolicy(), &f, ws, time.Time{})
	_, f.GroupID = GroupOf(&f)
	return f
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -run %s -update to accept):\n%s", name, t.Name(), got)
	}
}

func imageGroup(t *testing.T) remediation.IssueInput {
	w := checkoutWorkload(t, true)
	mdvm := scored(cveFindings(t, "defender/subassessment-mdvm.json", checkoutRepo)[0], w)
	legacy := scored(cveFindings(t, "defender/subassessment-legacy.json", checkoutRepo)[0], w)
	fixed := legacy
	fixed.ID, fixed.CVE, fixed.State = "defender_cve:fixed", "CVE-2020-0001", model.StateFixed
	return remediation.IssueInput{
		Group:    model.Group{ID: mdvm.GroupID, Repository: checkoutRepo, Kind: GroupKindImage, Image: mdvm.Image},
		Findings: []model.Finding{legacy, fixed, mdvm},
		Cloud:    mapping.CloudPublic,
	}
}

func TestRenderIssueImageGroup(t *testing.T) {
	in := imageGroup(t)
	d := remediation.RenderIssue(in)
	if !d.Open || d.Priority != model.PriorityCritical {
		t.Errorf("open=%v priority=%s", d.Open, d.Priority)
	}
	if want := "[Critical] 2 vulnerabilities in container image octoacr.azurecr.io/checkout-api, running in production on aks-prod-eus/shop/checkout-api"; d.Title != want {
		t.Errorf("title %q", d.Title)
	}
	golden(t, "issue-image.md", d.Body)

	// The order the findings come in changes nothing.
	slices.Reverse(in.Findings)
	if d2 := remediation.RenderIssue(in); d2.Hash != d.Hash || d2.Body != d.Body {
		t.Error("rendering depends on the order of the findings")
	}
}

func TestRenderIssueAlertGroupWithRelated(t *testing.T) {
	dep := scored(dependabotFinding(t))
	cve := scored(model.Finding{ID: "defender_cve:x", Repository: dep.Repository, Source: model.SourceDefenderCVE, State: model.StateOpen,
		CVE: "CVE-2022-25883", Severity: "medium", Image: "ghcr.io/wolfy1339/pika-pack", Related: []string{dep.ID}})
	dep.Related = []string{cve.ID}
	d := remediation.RenderIssue(remediation.IssueInput{
		Group:    model.Group{ID: dep.GroupID, Repository: dep.Repository, Kind: GroupKindAlert},
		Findings: []model.Finding{dep},
		Related:  []model.Finding{cve},
	})
	if d.Open {
		t.Error("a Low alert wants an open issue")
	}
	golden(t, "issue-alert.md", d.Body)
}

func TestRenderIssueOpenAndLabels(t *testing.T) {
	w := checkoutWorkload(t, true)
	high := scored(model.Finding{ID: "a", Repository: checkoutRepo, Source: model.SourceCodeScanning, State: model.StateOpen, Severity: "medium"}, w)
	closed := high
	closed.State = model.StateFixed
	low := scored(model.Finding{ID: "b", Repository: checkoutRepo, Source: model.SourceCodeScanning, State: model.StateOpen, Severity: "low"})
	group := model.Group{ID: "alert:a", Repository: checkoutRepo, Kind: GroupKindAlert, Owners: []string{"@octocat", "@octo-org/appsec"}}
	tests := []struct {
		name     string
		findings []model.Finding
		min      model.Priority
		open     bool
		labels   []string
	}{
		// 5 + 1.5 + 1 = 7.5 High, exposed and sensitive.
		{"active high", []model.Finding{high}, "", true, []string{"security", "priority:high", "runtime:internet-exposed", "runtime:sensitive-data"}},
		{"threshold critical", []model.Finding{high}, model.PriorityCritical, false, []string{"security", "priority:high", "runtime:internet-exposed", "runtime:sensitive-data"}},
		{"threshold medium keeps low closed", []model.Finding{low}, model.PriorityMedium, false, []string{"security", "priority:low"}},
		{"threshold low", []model.Finding{low}, model.PriorityLow, true, []string{"security", "priority:low"}},
		// A fixed finding no longer opens anything nor labels runtime risks.
		{"only closed", []model.Finding{closed}, "", false, []string{"security", "priority:high"}},
		{"empty group", nil, "", false, []string{"security"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := remediation.RenderIssue(remediation.IssueInput{Group: group, Findings: tt.findings, MinPriority: tt.min})
			if d.Open != tt.open || !slices.Equal(d.Labels, tt.labels) {
				t.Errorf("open=%v labels=%v, want %v %v", d.Open, d.Labels, tt.open, tt.labels)
			}
			if !slices.Equal(d.Assignees, []string{"octocat"}) {
				t.Errorf("assignees %v, want the CODEOWNERS user", d.Assignees)
			}
			if !strings.HasPrefix(d.Body, remediation.Marker("alert:a")+"\n") || d.BodyHash == "" || d.Hash == "" {
				t.Errorf("marker or hashes missing: %q", d.Body)
			}
		})
	}
	a := remediation.RenderIssue(remediation.IssueInput{Group: group, Findings: []model.Finding{high}})
	b := remediation.RenderIssue(remediation.IssueInput{Group: group, Findings: []model.Finding{closed}})
	if a.Hash == b.Hash {
		t.Error("fixing the finding did not change the desired hash")
	}
}

func TestRenderIssueKeepsTextInert(t *testing.T) {
	f := scored(model.Finding{ID: "c", Repository: checkoutRepo, Source: model.SourceCodeScanning, State: model.StateOpen, Severity: "high",
		Title: "Injection | ping @octo-org/admins <img src=x>\nsecond line", AlertNumber: 3})
	d := remediation.RenderIssue(remediation.IssueInput{Group: model.Group{ID: "alert:c", Repository: checkoutRepo, Kind: GroupKindAlert}, Findings: []model.Finding{f}})
	for _, bad := range []string{"@octo-org", "<img", "Injection | ping"} {
		if strings.Contains(d.Body, bad) {
			t.Errorf("body contains %q:\n%s", bad, d.Body)
		}
	}
	if !strings.Contains(d.Body, `Injection \| ping`) {
		t.Errorf("pipe not escaped:\n%s", d.Body)
	}
	if strings.Contains(d.Title, "\n") {
		t.Errorf("title has a line break: %q", d.Title)
	}
}

func TestRenderIssueBoundsTheBody(t *testing.T) {
	base := imageGroup(t)
	var fs []model.Finding
	for i := range 150 {
		f := base.Findings[0]
		f.ID = "defender_cve:" + strings.Repeat("x", 3) + string(rune('a'+i%26)) + strings.Repeat("y", i)
		f.CVE = "CVE-2024-" + strings.Repeat("9", 5)
		f.State = model.StateOpen
		fs = append(fs, f)
	}
	d := remediation.RenderIssue(remediation.IssueInput{Group: base.Group, Findings: fs})
	if len(d.Body) > 65536 || !strings.Contains(d.Body, "…and 50 lower vulnerabilities") {
		t.Errorf("body of %d characters, tail:\n%s", len(d.Body), d.Body[max(0, len(d.Body)-400):])
	}
	if !strings.Contains(d.Title, "150 vulnerabilities") {
		t.Errorf("title %q", d.Title)
	}
}
