package deployrecord

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// samples is testdata/defender/deployment-records.json: {"single":..., "cluster":...}.
func samples(t *testing.T) map[string]json.RawMessage {
	t.Helper()
	return sampletest.DeploymentRecords(t)
}

// sameJSON fails unless a and b hold the same JSON value (key order aside).
func sameJSON(t *testing.T, a, b []byte) {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x, y) {
		t.Errorf("JSON differs:\n%s\n%s", a, b)
	}
}

func TestSingleSample(t *testing.T) {
	raw := samples(t)["single"]
	var r DeploymentRecord
	if err := Decode(raw, &r, ResourceDeploymentRecord, DocsDeploymentRecord); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	want := DeploymentRecord{
		Name:                "octoacr.azurecr.io/checkout-api",
		Digest:              "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
		Version:             "1.4.2",
		Status:              StatusDeployed,
		LogicalEnvironment:  "production",
		PhysicalEnvironment: "eastus",
		Cluster:             "aks-prod-eus",
		DeploymentName:      "shop-checkout-api-api",
		Tags:                map[string]string{"team": "payments"},
		RuntimeRisks:        []RuntimeRisk{InternetExposed},
		GitHubRepository:    "checkout-api",
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("record =\n%+v\nwant\n%+v", r, want)
	}
	// Every field name survives the round trip: the struct speaks the wire.
	out, _ := json.Marshal(r)
	sameJSON(t, out, raw)
}

func TestClusterSample(t *testing.T) {
	raw := samples(t)["cluster"]
	var r ClusterRequest
	if err := Decode(raw, &r, ResourceDeploymentRecord, DocsClusterRecords); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate("aks-stg-weu"); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	sameJSON(t, out, raw)

	recs := r.Records("aks-stg-weu")
	want := []DeploymentRecord{{
		Name:                "octoacr.azurecr.io/report-worker",
		Digest:              "sha256:0a9b8c7d6e5f40312a1b0c9d8e7f6a5b4c3d2e1f00112233445566778899aabb",
		Version:             "0.9.0",
		Status:              StatusDeployed,
		LogicalEnvironment:  "staging",
		PhysicalEnvironment: "westeurope",
		Cluster:             "aks-stg-weu",
		DeploymentName:      "batch-report-worker-worker",
		GitHubRepository:    "report-worker",
	}}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records =\n%+v\nwant\n%+v", recs, want)
	}
	for _, rec := range recs {
		if err := rec.Validate(); err != nil {
			t.Errorf("expanded record invalid: %v", err)
		}
	}
}

// decodeValid decodes a request body as the endpoint does and validates it;
// either failing fails the test.
func decodeValid[R any](t *testing.T, raw, resource, docs string, validate func(R) error) R {
	t.Helper()
	var r R
	if err := Decode([]byte(raw), &r, resource, docs); err != nil {
		t.Fatal(err)
	}
	if err := validate(r); err != nil {
		t.Fatal(err)
	}
	return r
}

// Bodies as GitHub documents them (the API description's examples) and as
// GitHub's deployment-tracker sends them (empty strings for unset optional
// fields, no omitempty).
func TestGitHubBodies(t *testing.T) {
	t.Run("documented single example", func(t *testing.T) {
		raw := `{"name":"awesome-image","digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
			"status":"deployed","logical_environment":"prod","physical_environment":"pacific-east","cluster":"moda-1",
			"deployment_name":"deployment-pod","tags":{"data-access":"sensitive"}}`
		sameJSON(t, jsontest.Marshal(t, decodeValid(t, raw, ResourceDeploymentRecord, DocsDeploymentRecord, DeploymentRecord.Validate)), []byte(raw))
	})
	t.Run("deployment-tracker body", func(t *testing.T) {
		raw := `{"name":"ghcr.io/octo-org/api","digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
			"version":"v2","logical_environment":"prod","physical_environment":"","cluster":"","status":"decommissioned",
			"deployment_name":"default-api-api","runtime_risks":["internet-exposed","sensitive-data"]}`
		r := decodeValid(t, raw, ResourceDeploymentRecord, DocsDeploymentRecord, DeploymentRecord.Validate)
		if r.Status != StatusDecommissioned || len(r.RuntimeRisks) != 2 {
			t.Errorf("record = %+v", r)
		}
	})
	t.Run("documented cluster example", func(t *testing.T) {
		raw := `{"logical_environment":"prod","physical_environment":"pacific-east","deployments":[{"name":"awesome-image",
			"digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72","version":"2.1.0","status":"deployed",
			"deployment_name":"deployment-pod","tags":{"owning-team":"platform"},"runtime_risks":["sensitive-data"]}]}`
		r := decodeValid(t, raw, ResourceDeploymentRecord, DocsClusterRecords, func(r ClusterRequest) error { return r.Validate("moda-1") })
		sameJSON(t, jsontest.Marshal(t, r), []byte(raw))
	})
	t.Run("documented storage example", func(t *testing.T) {
		raw := `{"name":"libfoo","version":"1.2.3","digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
			"artifact_url":"https://reg.example.com/artifactory/bar/libfoo-1.2.3","registry_url":"https://reg.example.com/artifactory/",
			"repository":"bar","status":"active"}`
		sameJSON(t, jsontest.Marshal(t, decodeValid(t, raw, ResourceStorageRecord, DocsStorageRecord, StorageRecord.Validate)), []byte(raw))
	})
}

// Responses as GitHub documents them decode and re-encode unchanged.
func TestGitHubResponses(t *testing.T) {
	t.Run("cluster 207", func(t *testing.T) {
		raw := `{"total_count":1,"deployment_records":[{"id":42,"digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
			"logical_environment":"prod","physical_environment":"us-east-1a","cluster":"production-cluster","deployment_name":"deployment-pod",
			"tags":{"owning-team":"platform"},"runtime_risks":["sensitive-data"],"created_at":"2024-01-01T12:00:00Z",
			"updated_at":"2024-01-01T12:30:00Z","attestation_id":777}],
			"errors":[{"cause":"unauthorized","deployment":{"name":"my-image","digest":"sha256:5aa19f9a13f67a644f6d8528e2eb5cf64431e236df5dbbd44ff9b9e3f6fc6cb2",
			"deployment_name":"restricted-deployment","version":"2.1.1","status":"deployed","github_repository":"private-repo",
			"tags":{"owning-team":"platform"},"runtime_risks":["sensitive-data"]}}]}`
		var r DeploymentRecordsResponse
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatal(err)
		}
		if r.TotalCount != 1 || *r.DeploymentRecords[0].AttestationID != 777 || r.Errors[0].Cause != CauseUnauthorized {
			t.Errorf("response = %+v", r)
		}
		out, _ := json.Marshal(r)
		sameJSON(t, out, []byte(raw))
	})
	t.Run("record without attestation encodes null", func(t *testing.T) {
		out, _ := json.Marshal(StoredDeployment{ID: 1, Digest: "sha256:x", CreatedAt: "2024-01-01T12:00:00Z", UpdatedAt: "2024-01-01T12:00:00Z"})
		if !strings.Contains(string(out), `"attestation_id":null`) || !strings.Contains(string(out), `"physical_environment":""`) {
			t.Errorf("encoded %s", out)
		}
	})
	t.Run("storage 200", func(t *testing.T) {
		raw := `{"total_count":1,"storage_records":[{"id":7,"name":"libfoo","digest":"sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72",
			"artifact_url":null,"registry_url":"https://reg.example.com/artifactory/","repository":"bar","status":"active",
			"created_at":"2023-10-01T12:00:00Z","updated_at":"2023-10-01T12:00:00Z"}]}`
		var r StorageRecordsResponse
		if err := json.Unmarshal([]byte(raw), &r); err != nil {
			t.Fatal(err)
		}
		if r.StorageRecords[0].ArtifactURL != nil || *r.StorageRecords[0].Repository != "bar" {
			t.Errorf("response = %+v", r)
		}
		out, _ := json.Marshal(r)
		sameJSON(t, out, []byte(raw))
	})
}

func validSingle() DeploymentRecord {
	return DeploymentRecord{
		Name: "octoacr.azurecr.io/checkout-api", Digest: "sha256:" + strings.Repeat("ab", 32), Status: StatusDeployed,
		LogicalEnvironment: "production", DeploymentName: "shop-checkout-api-api",
	}
}

// expectFields checks the result of a Validate: no error when want is nil,
// else a validation error naming exactly the field/code pairs of want.
func expectFields(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	if got := fieldsOf(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("errors = %v, want %v", got, want)
	}
}

// fieldsOf lists field/code pairs of a validation error, or fails.
func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v, want a *ValidationError", err)
	}
	if ve.Message != "Validation Failed" || ve.Status != "422" || ve.DocumentationURL == "" || ve.HTTPStatus() != http.StatusUnprocessableEntity {
		t.Errorf("validation error envelope = %+v", ve)
	}
	var out []string
	for _, f := range ve.Errors {
		if f.Resource == "" || f.Message == "" {
			t.Errorf("field error without resource or message: %+v", f)
		}
		out = append(out, f.Field+":"+f.Code)
	}
	return out
}

// validateCase changes a valid record and names the errors Validate must
// then report.
type validateCase[R any] struct {
	name string
	mut  func(r *R)
	want []string // field:code; nil = valid
}

func runValidateCases[R any](t *testing.T, valid func() R, validate func(R) error, cases []validateCase[R]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.mut(&r)
			expectFields(t, validate(r), tt.want)
		})
	}
}

func TestValidateSingle(t *testing.T) {
	runValidateCases(t, validSingle, DeploymentRecord.Validate, []validateCase[DeploymentRecord]{
		{"valid", func(r *DeploymentRecord) {}, nil},
		{"all optional fields at their limits", func(r *DeploymentRecord) {
			r.Name, r.Version = strings.Repeat("n", 256), strings.Repeat("v", 100)
			r.LogicalEnvironment, r.PhysicalEnvironment, r.Cluster = strings.Repeat("é", 128), strings.Repeat("p", 128), strings.Repeat("c", 128)
			r.DeploymentName = strings.Repeat("d", 256)
			r.Tags = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
			r.RuntimeRisks = []RuntimeRisk{SensitiveData, LateralMovement, InternetExposed, CriticalResource}
			r.GitHubRepository = "checkout.api_v2-x"
		}, nil},
		{"missing name", func(r *DeploymentRecord) { r.Name = "" }, []string{"name:missing_field"}},
		{"name too long", func(r *DeploymentRecord) { r.Name = strings.Repeat("n", 257) }, []string{"name:invalid"}},
		{"missing digest", func(r *DeploymentRecord) { r.Digest = "" }, []string{"digest:missing_field"}},
		{"digest in upper case", func(r *DeploymentRecord) { r.Digest = "sha256:" + strings.Repeat("AB", 32) }, []string{"digest:invalid"}},
		{"digest without algorithm", func(r *DeploymentRecord) { r.Digest = strings.Repeat("ab", 32) }, []string{"digest:invalid"}},
		{"sha512 digest", func(r *DeploymentRecord) { r.Digest = "sha512:" + strings.Repeat("ab", 64) }, []string{"digest:invalid"}},
		{"short digest", func(r *DeploymentRecord) { r.Digest = "sha256:abc" }, []string{"digest:invalid"}},
		{"version too long", func(r *DeploymentRecord) { r.Version = strings.Repeat("v", 101) }, []string{"version:invalid"}},
		{"missing status", func(r *DeploymentRecord) { r.Status = "" }, []string{"status:missing_field"}},
		{"unknown status", func(r *DeploymentRecord) { r.Status = "running" }, []string{"status:invalid"}},
		{"missing logical environment", func(r *DeploymentRecord) { r.LogicalEnvironment = "" }, []string{"logical_environment:missing_field"}},
		{"logical environment too long", func(r *DeploymentRecord) { r.LogicalEnvironment = strings.Repeat("e", 129) }, []string{"logical_environment:invalid"}},
		{"physical environment too long", func(r *DeploymentRecord) { r.PhysicalEnvironment = strings.Repeat("e", 129) }, []string{"physical_environment:invalid"}},
		{"cluster too long", func(r *DeploymentRecord) { r.Cluster = strings.Repeat("c", 129) }, []string{"cluster:invalid"}},
		{"missing deployment name", func(r *DeploymentRecord) { r.DeploymentName = "" }, []string{"deployment_name:missing_field"}},
		{"deployment name too long", func(r *DeploymentRecord) { r.DeploymentName = strings.Repeat("d", 257) }, []string{"deployment_name:invalid"}},
		{"six tags", func(r *DeploymentRecord) {
			r.Tags = map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
		}, []string{"tags:invalid"}},
		{"tag value of 101 characters", func(r *DeploymentRecord) { r.Tags = map[string]string{"team": strings.Repeat("v", 101)} },
			[]string{"tags:invalid"}},
		{"tag key of 101 characters", func(r *DeploymentRecord) { r.Tags = map[string]string{strings.Repeat("k", 101): "v"} },
			[]string{"tags:invalid"}},
		{"tag key and value at 100 characters", func(r *DeploymentRecord) {
			r.Tags = map[string]string{strings.Repeat("k", 100): strings.Repeat("é", 100)}
		}, nil},
		{"cluster with a slash", func(r *DeploymentRecord) { r.Cluster = "aks/prod" }, []string{"cluster:invalid"}},
		{"cluster with a hash", func(r *DeploymentRecord) { r.Cluster = "aks#1" }, []string{"cluster:invalid"}},
		{"cluster with a question mark", func(r *DeploymentRecord) { r.Cluster = "aks?x=1" }, []string{"cluster:invalid"}},
		{"cluster with a backslash", func(r *DeploymentRecord) { r.Cluster = `aks\1` }, []string{"cluster:invalid"}},
		{"cluster with a space", func(r *DeploymentRecord) { r.Cluster = "aks 1" }, []string{"cluster:invalid"}},
		{"unknown runtime risk", func(r *DeploymentRecord) { r.RuntimeRisks = []RuntimeRisk{"public"} }, []string{"runtime_risks:invalid"}},
		{"repeated runtime risk", func(r *DeploymentRecord) {
			r.RuntimeRisks = []RuntimeRisk{InternetExposed, InternetExposed}
		}, []string{"runtime_risks:invalid"}},
		{"too many runtime risks", func(r *DeploymentRecord) {
			r.RuntimeRisks = []RuntimeRisk{SensitiveData, LateralMovement, InternetExposed, CriticalResource, SensitiveData}
		}, []string{"runtime_risks:invalid", "runtime_risks:invalid"}},
		{"repository with owner", func(r *DeploymentRecord) { r.GitHubRepository = "octo-org/checkout-api" }, []string{"github_repository:invalid"}},
		{"repository too long", func(r *DeploymentRecord) { r.GitHubRepository = strings.Repeat("r", 101) }, []string{"github_repository:invalid"}},
		{"several problems, in field order", func(r *DeploymentRecord) {
			r.Name, r.Digest, r.Status, r.DeploymentName = "", "sha256:zz", "up", ""
		}, []string{"name:missing_field", "digest:invalid", "status:invalid", "deployment_name:missing_field"}},
	})
}

func validCluster() ClusterRequest {
	return ClusterRequest{
		LogicalEnvironment: "staging",
		Deployments: []ClusterDeployment{
			{Name: "octoacr.azurecr.io/a", Digest: "sha256:" + strings.Repeat("0a", 32), DeploymentName: "ns-a-a"},
			{Name: "octoacr.azurecr.io/b", Digest: "sha256:" + strings.Repeat("0b", 32), DeploymentName: "ns-b-b", Status: StatusDecommissioned},
		},
	}
}

func TestValidateCluster(t *testing.T) {
	tests := []struct {
		name    string
		cluster string
		mut     func(r *ClusterRequest)
		want    []string
	}{
		{"valid", "aks-stg-weu", func(r *ClusterRequest) {}, nil},
		{"empty set is valid", "aks-stg-weu", func(r *ClusterRequest) { r.Deployments = []ClusterDeployment{} }, nil},
		{"cluster with a space", "aks stg", func(r *ClusterRequest) {}, []string{"cluster:invalid"}},
		{"cluster with a slash", "aks/stg", func(r *ClusterRequest) {}, []string{"cluster:invalid"}},
		{"missing cluster", "", func(r *ClusterRequest) {}, []string{"cluster:missing_field"}},
		{"cluster too long", strings.Repeat("c", 129), func(r *ClusterRequest) {}, []string{"cluster:invalid"}},
		{"missing logical environment", "c", func(r *ClusterRequest) { r.LogicalEnvironment = "" }, []string{"logical_environment:missing_field"}},
		{"missing deployments", "c", func(r *ClusterRequest) { r.Deployments = nil }, []string{"deployments:missing_field"}},
		{"1001 deployments", "c", func(r *ClusterRequest) {
			r.Deployments = nil
			for i := 0; i < 1001; i++ {
				r.Deployments = append(r.Deployments, ClusterDeployment{Name: "n", Digest: "sha256:" + strings.Repeat("ab", 32), DeploymentName: fmt.Sprint("d", i)})
			}
		}, []string{"deployments:invalid"}},
		{"entry with bad digest", "c", func(r *ClusterRequest) { r.Deployments[1].Digest = "sha256:XYZ" }, []string{"deployments[1].digest:invalid"}},
		{"entry without name", "c", func(r *ClusterRequest) { r.Deployments[0].Name = "" }, []string{"deployments[0].name:missing_field"}},
		{"entry with unknown status", "c", func(r *ClusterRequest) { r.Deployments[0].Status = "stopped" }, []string{"deployments[0].status:invalid"}},
		{"duplicate deployment name", "c", func(r *ClusterRequest) { r.Deployments[1].DeploymentName = "ns-a-a" }, []string{"deployments[1].deployment_name:invalid"}},
		{"entry with bad runtime risk", "c", func(r *ClusterRequest) { r.Deployments[0].RuntimeRisks = []RuntimeRisk{"Internet exposure"} },
			[]string{"deployments[0].runtime_risks:invalid"}},
		{"entry with owner/name repository", "c", func(r *ClusterRequest) { r.Deployments[1].GitHubRepository = "o/r" },
			[]string{"deployments[1].github_repository:invalid"}},
		{"entry with 50 tags", "c", func(r *ClusterRequest) {
			r.Deployments[0].Tags = map[string]string{}
			for i := 0; i < 50; i++ {
				r.Deployments[0].Tags[fmt.Sprint("k", i)] = "v"
			}
		}, []string{"deployments[0].tags:invalid"}},
		{"entry with a 1.5 MB tag value", "c", func(r *ClusterRequest) {
			r.Deployments[1].Tags = map[string]string{"blob": strings.Repeat("x", 1500000)}
		}, []string{"deployments[1].tags:invalid"}},
		{"entry with five tags at the limits", "c", func(r *ClusterRequest) {
			r.Deployments[0].Tags = map[string]string{"a": strings.Repeat("v", 100), "b": "", "c": "3", "d": "4", strings.Repeat("e", 100): "5"}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validCluster()
			tt.mut(&r)
			err := r.Validate(tt.cluster)
			expectFields(t, err, tt.want)
		})
	}
}

func TestValidateStorage(t *testing.T) {
	valid := func() StorageRecord {
		return StorageRecord{Name: "checkout-api", Digest: "sha256:" + strings.Repeat("ab", 32), RegistryURL: "https://octoacr.azurecr.io/"}
	}
	runValidateCases(t, valid, StorageRecord.Validate, []validateCase[StorageRecord]{
		{"valid minimal", func(r *StorageRecord) {}, nil},
		{"valid full", func(r *StorageRecord) {
			r.Version, r.ArtifactURL, r.Path, r.Repository, r.Status, r.GitHubRepository =
				"1.4.2", "https://octoacr.azurecr.io/v2/checkout-api/manifests/1.4.2", "checkout-api", "checkout-api", StorageDeleted, "checkout-api"
		}, nil},
		{"missing registry url", func(r *StorageRecord) { r.RegistryURL = "" }, []string{"registry_url:missing_field"}},
		{"http registry url", func(r *StorageRecord) { r.RegistryURL = "http://octoacr.azurecr.io" }, []string{"registry_url:invalid"}},
		{"registry url without host", func(r *StorageRecord) { r.RegistryURL = "https://" }, []string{"registry_url:invalid"}},
		{"artifact url too long", func(r *StorageRecord) { r.ArtifactURL = "https://a.example/" + strings.Repeat("x", 140) }, []string{"artifact_url:invalid"}},
		{"artifact url not https", func(r *StorageRecord) { r.ArtifactURL = "oci://octoacr.azurecr.io/x" }, []string{"artifact_url:invalid"}},
		{"path too long", func(r *StorageRecord) { r.Path = strings.Repeat("p", 513) }, []string{"path:invalid"}},
		{"repository too long", func(r *StorageRecord) { r.Repository = strings.Repeat("r", 129) }, []string{"repository:invalid"}},
		{"unknown status", func(r *StorageRecord) { r.Status = "archived" }, []string{"status:invalid"}},
		{"missing name and digest", func(r *StorageRecord) { r.Name, r.Digest = "", "" }, []string{"name:missing_field", "digest:missing_field"}},
	})
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"not JSON", `{"name":`, http.StatusBadRequest, ""},
		{"empty body", ``, http.StatusBadRequest, ""},
		{"array body", `[{"name":"x"}]`, http.StatusBadRequest, ""},
		{"digest as a number", `{"name":"x","digest":5}`, http.StatusUnprocessableEntity, "digest"},
		{"runtime risks as a string", `{"name":"x","runtime_risks":"internet-exposed"}`, http.StatusUnprocessableEntity, "runtime_risks"},
		{"tags with a number", `{"name":"x","tags":{"team":1}}`, http.StatusUnprocessableEntity, "tags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r DeploymentRecord
			err := Decode([]byte(tt.body), &r, ResourceDeploymentRecord, DocsDeploymentRecord)
			var st interface{ HTTPStatus() int }
			if !errors.As(err, &st) || st.HTTPStatus() != tt.status {
				t.Fatalf("error = %v, want status %d", err, tt.status)
			}
			if tt.field == "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Message != "Problems parsing JSON" || pe.Status != "400" {
					t.Errorf("error = %#v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) != 1 || !strings.HasPrefix(ve.Errors[0].Field, tt.field) || ve.Errors[0].Code != CodeInvalid {
				t.Errorf("error = %#v", err)
			}
		})
	}
}

// TestValidationErrorBody: the 422 body has GitHub's shape.
func TestValidationErrorBody(t *testing.T) {
	r := validSingle()
	r.Digest = "sha256:nothex"
	b, err := json.Marshal(r.Validate())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"message":"Validation Failed","errors":[{"resource":"DeploymentRecord","field":"digest","code":"invalid",
		"message":"digest must match ^sha256:[a-f0-9]{64}$"}],
		"documentation_url":"https://docs.github.com/rest/orgs/artifact-metadata#create-an-artifact-deployment-record","status":"422"}`
	sameJSON(t, b, []byte(want))
}

func TestRuntimeRiskFactors(t *testing.T) {
	for _, f := range model.RiskFactors {
		r, ok := FromRiskFactor(f)
		if !ok {
			t.Errorf("factor %q has no runtime risk", f)
			continue
		}
		if back, ok := r.RiskFactor(); !ok || back != f {
			t.Errorf("%q → %q → %q", f, r, back)
		}
	}
	if len(RuntimeRisks) != len(model.RiskFactors) {
		t.Errorf("%d runtime risks for %d factors", len(RuntimeRisks), len(model.RiskFactors))
	}
	if _, ok := FromRiskFactor("exposed"); ok {
		t.Error("unknown factor mapped")
	}
	if got := RiskFactors([]RuntimeRisk{InternetExposed, "bogus", SensitiveData}); !reflect.DeepEqual(got,
		[]model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}) {
		t.Errorf("RiskFactors = %v", got)
	}
}
