package githubtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func decodeAnswer[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return v
}

func TestDeploymentRecordUpsertAndListing(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 5) // installed on octo-org
	post := s.URL + "orgs/octo-org/artifacts/metadata/deployment-record"
	rec := `{"name":"octoacr.azurecr.io/api","digest":"` + digestA + `","status":"deployed","logical_environment":"production",` +
		`"physical_environment":"eastus","cluster":"aks-prod","deployment_name":"shop-api","github_repository":"api","runtime_risks":["internet-exposed"]}`
	a := send(t, "POST", post, auth, rec)
	got := decodeAnswer[deployrecord.DeploymentRecordsResponse](t, a)
	if a.status != http.StatusOK || got.TotalCount != 1 || len(got.DeploymentRecords) != 1 || got.DeploymentRecords[0].Cluster != "aks-prod" {
		t.Fatalf("create = %d %s", a.status, a.body)
	}
	id := got.DeploymentRecords[0].ID
	// Same environments, cluster and deployment name: the same record, now
	// with the new digest; return_records false leaves the records out.
	again := strings.Replace(strings.Replace(rec, digestA, digestB, 1), `"status":"deployed"`, `"status":"decommissioned","return_records":false`, 1)
	a = send(t, "POST", post, auth, again)
	if a.status != http.StatusOK || strings.Contains(string(a.body), "deployment_records") || !strings.Contains(string(a.body), `"total_count":1`) {
		t.Fatalf("update = %d %s", a.status, a.body)
	}
	recs := s.DeploymentRecords("Octo-Org")
	if len(recs) != 1 || recs[0].ID != id || recs[0].Digest != digestB || recs[0].Status != deployrecord.StatusDecommissioned || recs[0].ReturnRecords == nil || *recs[0].ReturnRecords {
		t.Fatalf("stored = %+v", recs)
	}
	// Listed by digest.
	l := decodeAnswer[deployrecord.DeploymentRecordsResponse](t, call(t, "GET", s.URL+"orgs/octo-org/artifacts/"+digestB+"/metadata/deployment-records", auth))
	if l.TotalCount != 1 || l.DeploymentRecords[0].ID != id || l.DeploymentRecords[0].DeploymentName != "shop-api" {
		t.Errorf("listing = %+v", l)
	}
	if l := decodeAnswer[deployrecord.DeploymentRecordsResponse](t, call(t, "GET", s.URL+"orgs/octo-org/artifacts/"+digestA+"/metadata/deployment-records", auth)); l.TotalCount != 0 {
		t.Errorf("listing of the old digest = %+v", l)
	}
	if a := call(t, "GET", s.URL+"orgs/octo-org/artifacts/sha256:XYZ/metadata/deployment-records", auth); a.status != http.StatusUnprocessableEntity {
		t.Errorf("malformed digest = %d %s", a.status, a.body)
	}
}

func TestArtifactMetadataRefusesWhatGitHubRefuses(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 5)
	s.AddInstallation(6, "other-org")
	post := s.URL + "orgs/octo-org/artifacts/metadata/deployment-record"
	valid := `{"name":"n","digest":"` + digestA + `","status":"deployed","logical_environment":"prod","deployment_name":"d","github_repository":"api"}`
	tests := []struct {
		name, path, body string
		want             int
		wantIn           string // in the answer's body
	}{
		{"not JSON", post, `{"name":`, 400, "Problems parsing JSON"},
		{"null", post, `null`, 400, "Problems parsing JSON"},
		{"array", post, `[]`, 400, "Problems parsing JSON"},
		{"missing fields", post, `{}`, 422, `"field":"deployment_name","code":"missing_field"`},
		{"wrong type", post, `{"name":1}`, 422, `"field":"name","code":"invalid"`},
		{"bad status", post, strings.Replace(valid, `"deployed"`, `"running"`, 1), 422, `"field":"status"`},
		{"bad digest", post, strings.Replace(valid, digestA, "sha256:ABC", 1), 422, `"field":"digest"`},
		{"unknown artifact", post, strings.Replace(valid, `,"github_repository":"api"`, "", 1), 404, "Not Found"},
		{"owner/name repository", post, strings.Replace(valid, `"api"`, `"octo-org/api"`, 1), 422, `"field":"github_repository"`},
		{"another org's endpoint", s.URL + "orgs/other-org/artifacts/metadata/deployment-record", valid, 403, "Resource not accessible by integration"},
		{"storage: http registry", s.URL + "orgs/octo-org/artifacts/metadata/storage-record",
			`{"name":"n","digest":"` + digestA + `","registry_url":"http://acr.example","github_repository":"api"}`, 422, `"field":"registry_url"`},
		{"cluster: duplicate names", s.URL + "orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks",
			`{"logical_environment":"prod","deployments":[{"name":"a","digest":"` + digestA + `","deployment_name":"x","github_repository":"api"},` +
				`{"name":"b","digest":"` + digestA + `","deployment_name":"x","github_repository":"api"}]}`, 422, `"field":"deployments[1].deployment_name"`},
		{"cluster: bad name", s.URL + "orgs/octo-org/artifacts/metadata/deployment-record/cluster/a%20b", `{"logical_environment":"prod","deployments":[]}`, 422, `"field":"cluster"`},
	}
	for _, tt := range tests {
		a := send(t, "POST", tt.path, auth, tt.body)
		if a.status != tt.want || !strings.Contains(string(a.body), tt.wantIn) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, a.status, a.body, tt.want, tt.wantIn)
		}
	}
	if n := len(s.DeploymentRecords("octo-org")) + len(s.StorageRecords("octo-org")) + len(s.DeploymentRecords("other-org")); n != 0 {
		t.Errorf("refused requests stored %d records", n)
	}
	// An attestation makes the digest known without github_repository.
	s.AddAttestation("octo-org", digestA, Attestation{Repository: "octo-org/api", Bundle: json.RawMessage(`{}`)})
	if a := send(t, "POST", post, auth, strings.Replace(valid, `,"github_repository":"api"`, "", 1)); a.status != http.StatusOK {
		t.Errorf("attested digest = %d %s", a.status, a.body)
	}
}

func TestClusterRecordsSetTheClustersDeployments(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 5)
	post := s.URL + "orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks-prod"
	entry := func(name, digest, extra string) string {
		return `{"name":"` + name + `","digest":"` + digest + `","deployment_name":"` + name + `"` + extra + `}`
	}
	a := send(t, "POST", post, auth, `{"logical_environment":"prod","physical_environment":"eastus","deployments":[`+
		entry("api", digestA, `,"github_repository":"api"`)+`,`+entry("web", digestB, `,"github_repository":"web"`)+`]}`)
	if got := decodeAnswer[deployrecord.DeploymentRecordsResponse](t, a); a.status != http.StatusOK || got.TotalCount != 2 {
		t.Fatalf("set = %d %s", a.status, a.body)
	}
	// An entry GitHub has no artifact for fails the whole request...
	unknown := `{"logical_environment":"prod","physical_environment":"eastus","deployments":[` + entry("api", digestA, `,"github_repository":"api"`) + `,` + entry("job", digestB, "") + `]%s}`
	if a := send(t, "POST", post, auth, strings.Replace(unknown, "%s", "", 1)); a.status != http.StatusNotFound {
		t.Fatalf("unknown artifact = %d %s", a.status, a.body)
	}
	if recs := s.DeploymentRecords("octo-org"); len(recs) != 2 || recs[1].Status != deployrecord.StatusDeployed {
		t.Fatalf("a refused set changed the records: %+v", recs)
	}
	// ...or, with partial_success, is skipped and reported in a 207; web,
	// missing from the set, is decommissioned.
	a = send(t, "POST", post, auth, strings.Replace(unknown, "%s", `,"partial_success":true`, 1))
	got := decodeAnswer[deployrecord.DeploymentRecordsResponse](t, a)
	if a.status != http.StatusMultiStatus || got.TotalCount != 1 || len(got.Errors) != 1 ||
		got.Errors[0].Cause != deployrecord.CauseNotFound || got.Errors[0].Deployment.Name != "job" {
		t.Fatalf("partial = %d %s", a.status, a.body)
	}
	recs := s.DeploymentRecords("octo-org")
	if len(recs) != 2 || recs[0].Status != deployrecord.StatusDeployed || recs[1].DeploymentName != "web" || recs[1].Status != deployrecord.StatusDecommissioned ||
		recs[0].Cluster != "aks-prod" || recs[0].PhysicalEnvironment != "eastus" {
		t.Errorf("after the partial set: %+v", recs)
	}
}

func TestStorageRecordUpsertAndListing(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 5)
	body := `{"name":"octoacr.azurecr.io/api","digest":"` + digestA + `","registry_url":"https://octoacr.azurecr.io","repository":"api","github_repository":"api"}`
	for range 2 {
		a := send(t, "POST", s.URL+"orgs/octo-org/artifacts/metadata/storage-record", auth, body)
		got := decodeAnswer[deployrecord.StorageRecordsResponse](t, a)
		if a.status != http.StatusOK || got.TotalCount != 1 || got.StorageRecords[0].Status != deployrecord.StorageActive || got.StorageRecords[0].ArtifactURL != nil {
			t.Fatalf("create = %d %s", a.status, a.body)
		}
	}
	if recs := s.StorageRecords("octo-org"); len(recs) != 1 || recs[0].Repository != "api" {
		t.Fatalf("stored = %+v", recs)
	}
	l := decodeAnswer[deployrecord.StorageRecordsResponse](t, call(t, "GET", s.URL+"orgs/octo-org/artifacts/"+digestA+"/metadata/storage-records", auth))
	if l.TotalCount != 1 || l.StorageRecords[0].RegistryURL != "https://octoacr.azurecr.io" {
		t.Errorf("listing = %+v", l)
	}
}
