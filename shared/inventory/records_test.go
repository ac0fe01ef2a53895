package inventory

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/model"
)

func TestIsProduction(t *testing.T) {
	for env, want := range map[string]bool{
		"production": true, "Production": true, "PROD": true, "prd": true, " prod ": true,
		"staging": false, "prod-eu": false, "preprod": false, "": false, "dev": false, "production2": false,
	} {
		if got := IsProduction(env); got != want {
			t.Errorf("IsProduction(%q) = %v, want %v", env, got, want)
		}
	}
}

func TestDeploymentNameRoundTrip(t *testing.T) {
	for _, tc := range []struct{ dn, ns, name string }{
		{"shop-checkout-api-api", "", "shop-checkout-api-api"},
		{"shop/checkout-api/api", "shop", "checkout-api/api"},
		{"shop/checkout-api", "shop", "checkout-api"},
		{"/leading", "", "/leading"},
		{"trailing/", "", "trailing/"},
		{"plain", "", "plain"},
	} {
		ns, name := splitDeploymentName(tc.dn)
		if ns != tc.ns || name != tc.name {
			t.Errorf("splitDeploymentName(%q) = %q, %q; want %q, %q", tc.dn, ns, name, tc.ns, tc.name)
		}
		w := &model.Workload{Namespace: ns, Name: name}
		if got := DeploymentName(w); got != tc.dn {
			t.Errorf("DeploymentName(split(%q)) = %q", tc.dn, got)
		}
	}
}

func TestClusterKey(t *testing.T) {
	for _, tc := range []struct{ cluster, logical, physical, want, back string }{
		{"aks-prod-eus", "production", "eastus", "aks-prod-eus", "aks-prod-eus"},
		{"", "Production", "eastus", "~production~eastus", ""},
		{"", "staging", "", "~staging", ""},
	} {
		got := clusterKey(tc.cluster, tc.logical, tc.physical)
		if got != tc.want {
			t.Errorf("clusterKey(%q, %q, %q) = %q, want %q", tc.cluster, tc.logical, tc.physical, got, tc.want)
		}
		if back := recordCluster(got); back != tc.back {
			t.Errorf("recordCluster(%q) = %q, want %q", got, back, tc.back)
		}
	}
}

func TestDeploymentRecordOfWorkload(t *testing.T) {
	w := &model.Workload{
		ID: "aks-prod-eus::shop-checkout-api-api", Cluster: "aks-prod-eus", Name: "shop-checkout-api-api",
		Org: "octo-org", Image: "octoacr.azurecr.io/checkout-api",
		Digest:  "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
		Version: "1.4.2", Environment: "production", Region: "eastus", Production: true,
		Tags: map[string]string{"team": "payments"},
		Risks: []model.Risk{
			{Factor: model.RiskInternetExposed, Source: "deployment-record"},
			{Factor: model.RiskInternetExposed, Source: "defender-assessment:x"},
			{Factor: model.RiskSensitiveData, Source: "defender-assessment:x"},
		},
		Repository: "octo-org/checkout-api", Status: model.WorkloadRunning,
	}
	got, _ := json.Marshal(DeploymentRecord(w))
	want := `{"name":"octoacr.azurecr.io/checkout-api","digest":"sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",` +
		`"version":"1.4.2","status":"deployed","logical_environment":"production","physical_environment":"eastus",` +
		`"cluster":"aks-prod-eus","deployment_name":"shop-checkout-api-api","tags":{"team":"payments"},` +
		`"runtime_risks":["internet-exposed","sensitive-data"],"github_repository":"checkout-api","return_records":false}`
	if string(got) != want {
		t.Errorf("record\n got %s\nwant %s", got, want)
	}
	if err := DeploymentRecord(w).Validate(); err != nil {
		t.Errorf("record does not validate: %v", err)
	}

	gone := *w
	gone.Status, gone.Repository, gone.Cluster = model.WorkloadGone, "other-org/checkout-api", "~production~eastus"
	rec := DeploymentRecord(&gone)
	if rec.Status != deployrecord.StatusDecommissioned || rec.GitHubRepository != "" || rec.Cluster != "" {
		t.Errorf("gone workload of another org's repo without cluster: %+v", rec)
	}
	if !DeploymentRecordChanged(w, &gone) || DeploymentRecordChanged(w, w) {
		t.Error("DeploymentRecordChanged does not tell the records apart")
	}
	seen := *w
	seen.LastSeen = time.Now()
	seen.DeploymentRecordHash = "x"
	if DeploymentRecordChanged(w, &seen) {
		t.Error("LastSeen or the pushed hash changed the record")
	}
}

func TestStorageRecordOfArtifact(t *testing.T) {
	a := &model.Artifact{
		Digest: "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7", Registry: "octoacr.azurecr.io",
		Image: "octoacr.azurecr.io/team/checkout-api", Tags: []string{"1.4.2", "latest"}, Repository: "octo-org/checkout-api",
	}
	rec, org, ok := StorageRecord(a)
	if !ok || org != "octo-org" {
		t.Fatalf("StorageRecord = %v, %q", ok, org)
	}
	got, _ := json.Marshal(rec)
	want := `{"name":"octoacr.azurecr.io/team/checkout-api","digest":"sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",` +
		`"version":"1.4.2","registry_url":"https://octoacr.azurecr.io","repository":"team/checkout-api","status":"active",` +
		`"github_repository":"checkout-api","return_records":false}`
	if string(got) != want {
		t.Errorf("record\n got %s\nwant %s", got, want)
	}
	if err := rec.Validate(); err != nil {
		t.Errorf("record does not validate: %v", err)
	}
	deleted := *a
	deleted.Deleted = true
	if rec, _, _ := StorageRecord(&deleted); rec.Status != deployrecord.StorageDeleted {
		t.Errorf("deleted image status = %q", rec.Status)
	}
	for name, a := range map[string]*model.Artifact{
		"ghcr image":     {Registry: "ghcr.io", Image: "ghcr.io/o/r", Repository: "o/r"},
		"unknown source": {Registry: "octoacr.azurecr.io", Image: "octoacr.azurecr.io/x"},
	} {
		if _, _, ok := StorageRecord(a); ok {
			t.Errorf("%s: a storage record", name)
		}
	}
}

func TestVersionOfTags(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		want string
	}{
		{nil, ""}, {[]string{"latest"}, ""}, {[]string{"1.4.2", "latest"}, "1.4.2"}, {[]string{"latest", "1.0", "1.1"}, "1.1"},
	} {
		if got := version(tc.tags); got != tc.want {
			t.Errorf("version(%v) = %q, want %q", tc.tags, got, tc.want)
		}
	}
}

func TestNumericID(t *testing.T) {
	a, b := NumericID("aks::x"), NumericID("aks::y")
	if a <= 0 || a >= 1<<48 || a != NumericID("aks::x") || a == b {
		t.Errorf("NumericID: %d %d", a, b)
	}
}

// mergeCVE must give the same finding whatever order the records of one
// (image, CVE) arrive in, and a record applied twice must change nothing.
func TestMergeCVEIsOrderIndependent(t *testing.T) {
	cvss := func(v float64) *float64 { return &v }
	sub := &defender.SubAssessment{Description: "d", AssessmentKey: "k"}
	recs := []defender.CVE{
		{ID: "CVE-1", Title: "CVE-1", Severity: "medium", CVSS: cvss(5.3), Digest: "sha256:b", SubAssessmentID: "s2",
			Package: model.Package{Name: "openssl", Version: "3.0.1"}},
		{ID: "CVE-1", Title: "CVE-1", Severity: "high", CVSS: cvss(7.5), Digest: "sha256:a", SubAssessmentID: "s1",
			Exploit: model.Exploitability{PublicExploit: true}, Package: model.Package{Name: "libssl", Version: "3.0.1"}},
		{ID: "CVE-1", Title: "CVE-1", Severity: "low", Digest: "sha256:c", SubAssessmentID: "s3"},
	}
	perms := [][]int{{0, 1, 2}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}, {0, 2, 1, 0, 1}}
	var first *model.Finding
	for _, p := range perms {
		f := &model.Finding{}
		for _, k := range p {
			mergeCVE(f, sub, &recs[k], "octoacr.azurecr.io/app", "")
		}
		if first == nil {
			first = f
			continue
		}
		if !reflect.DeepEqual(f, first) {
			t.Errorf("order %v gives\n%+v\nwant\n%+v", p, f, first)
		}
	}
	if first.Severity != "high" || *first.CVSS != 7.5 || !first.Exploit.PublicExploit || first.Package.Name != "libssl" ||
		!reflect.DeepEqual(first.Digests, []string{"sha256:a", "sha256:b", "sha256:c"}) ||
		!reflect.DeepEqual(first.DefenderIDs, []string{"s1", "s2", "s3"}) {
		t.Errorf("merged finding %+v", first)
	}
}
