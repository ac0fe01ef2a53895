package defender

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

const testdataDir = "../../testdata/defender"

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	return sampletest.Testdata(t, "defender", name)
}

// sampleMap decodes a sample so a test can derive a variation from it.
func sampleMap(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readSample(t, name), &m); err != nil {
		t.Fatalf("decode sample %s: %v", name, err)
	}
	return m
}

var mustJSON = jsontest.Marshal

// edit walks a dotted path ("properties.status.code") and sets the value;
// a nil value with del=true deletes the key.
func edit(m map[string]any, path string, v any, del bool) {
	keys := strings.Split(path, ".")
	cur := m
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if del {
		delete(cur, last)
		return
	}
	cur[last] = v
}

func set(m map[string]any, path string, v any) map[string]any { edit(m, path, v, false); return m }
func del(m map[string]any, path string) map[string]any        { edit(m, path, nil, true); return m }

// recase rewrites every object key with fn, recursively.
func recase(v any, fn func(string) string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fn(k)] = recase(e, fn)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = recase(e, fn)
		}
		return out
	}
	return v
}

func pascal(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func parseOne(t *testing.T, raw []byte) Record {
	t.Helper()
	recs, errs := ParseMessage(raw)
	if len(errs) != 0 {
		t.Fatalf("ParseMessage errors: %v", errs)
	}
	if len(recs) != 1 {
		t.Fatalf("ParseMessage returned %d records, want 1", len(recs))
	}
	return recs[0]
}

func ptr(f float64) *float64 { return &f }

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

const (
	sub        = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
	clusterID  = sub + "/resourceGroups/rg-octo-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod-eus"
	registryID = sub + "/resourceGroups/rg-octo-shared/providers/Microsoft.ContainerRegistry/registries/octoacr"
)

// TestParseMessageSamples reads every sample export record and checks every
// field the rest of runtimelink relies on.
func TestParseMessageSamples(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, r Record)
	}{
		{"assessment-risk.json", func(t *testing.T, r Record) {
			want := &Assessment{
				ID:               clusterID + "/providers/Microsoft.Security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5",
				Key:              "c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5",
				DisplayName:      "Azure running container images should have vulnerabilities resolved",
				Status:           StatusUnhealthy,
				StatusChangedAt:  ts("2026-11-19T22:04:10Z"),
				FirstEvaluatedAt: ts("2026-10-02T08:00:00Z"),
				Severity:         "high",
				ResourceID:       clusterID,
				Resource: ResourceDetails{
					Source: "Azure", ID: clusterID, NativeResourceID: clusterID,
					ResourceName: "aks-prod-eus", ResourceType: "managedClusters", ResourceProvider: "Microsoft.ContainerService",
				},
				Risk: &Risk{
					Level:        "high",
					Factors:      []string{"Internet exposure", "Sensitive data"},
					RiskFactors:  []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData},
					AttackPaths:  []string{sub + "/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f"},
					IsContextual: true,
				},
				SubAssessmentsLink: clusterID + "/providers/Microsoft.Security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5/subAssessments",
			}
			if r.Kind != KindAssessment || r.Action != ActionInsert || r.IsSnapshot || r.APIVersion != "2025-05-04" ||
				r.TenantID != "8d3f1c2a-4b5e-4f60-9a7b-0c1d2e3f4a5b" || r.ID != want.ID {
				t.Errorf("record header = %+v", r)
			}
			if !reflect.DeepEqual(r.Assessment, want) {
				t.Errorf("assessment =\n%+v\nwant\n%+v", r.Assessment, want)
			}
		}},
		{"assessment-healthy.json", func(t *testing.T, r Record) {
			a := r.Assessment
			if r.Kind != KindAssessment || a.Status != StatusHealthy || a.Risk != nil || a.ResourceID != clusterID ||
				a.Severity != "high" || !a.StatusChangedAt.Equal(ts("2026-11-24T02:00:00Z")) {
				t.Errorf("assessment = %+v", a)
			}
		}},
		{"subassessment-mdvm.json", func(t *testing.T, r Record) {
			s := r.SubAssessment
			assessmentID := registryID + "/providers/Microsoft.Security/assessments/c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"
			if r.Kind != KindSubAssessment || r.Action != ActionInsert || r.IsSnapshot ||
				r.ID != assessmentID+"/subassessments/8b7f4d0e-52c1-4e0a-9d1b-3a4f6c2e1d90" {
				t.Errorf("record header = %+v", r)
			}
			if s.Format != FormatMDVM || s.AssessmentID != assessmentID || s.AssessmentKey != "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5" ||
				s.VulnerabilityID != "CVE-2023-44487" || s.ResourceID != registryID || s.Status != StatusUnhealthy ||
				s.AssessedResourceType != "AzureContainerRegistryVulnerability" || len(s.CVEs) != 1 {
				t.Fatalf("sub-assessment = %+v", s)
			}
			want := CVE{
				ID:         "CVE-2023-44487",
				Title:      "CVE-2023-44487",
				Severity:   "high",
				CVSS:       ptr(7.5),
				CVSSVector: "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
				Exploit:    model.Exploitability{PublicExploit: true},
				Registry:   "octoacr.azurecr.io",
				Repository: "checkout-api",
				Digest:     sampletest.Digest,
				Tags:       []string{"1.4.2", "latest"},
				PushedAt:   ts("2026-11-18T09:30:11Z"),
				Package: model.Package{Ecosystem: "go", Name: "golang.org/x/net", Version: "0.15.0",
					FixedVersion: "0.17.0"},
				FixStatus:       "FixAvailable",
				PublishedAt:     ts("2023-10-10T14:15:00Z"),
				References:      []string{"https://nvd.nist.gov/vuln/detail/CVE-2023-44487"},
				Status:          StatusUnhealthy,
				SubAssessmentID: r.ID,
				AssessmentID:    assessmentID,
				TimeGenerated:   ts("2026-11-20T03:12:44.1029384Z"),
				ResourceID:      registryID,
			}
			if !reflect.DeepEqual(s.CVEs[0], want) {
				t.Errorf("CVE =\n%+v\nwant\n%+v", s.CVEs[0], want)
			}
		}},
		{"subassessment-legacy.json", func(t *testing.T, r Record) {
			s := r.SubAssessment
			if r.Kind != KindSubAssessment || !r.IsSnapshot || r.APIVersion != "2019-01-01-preview" ||
				s.Format != FormatLegacy || s.VulnerabilityID != "178104" || len(s.CVEs) != 1 {
				t.Fatalf("record = %+v, sub-assessment = %+v", r, s)
			}
			want := CVE{
				ID:              "CVE-2023-5363",
				Title:           "Debian Security Update for openssl (DSA 5532-1)",
				Severity:        "medium",
				CVSS:            ptr(5.3),
				CVSSVector:      "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H",
				Repository:      "checkout-api",
				Digest:          sampletest.Digest,
				FixStatus:       "FixAvailable",
				PublishedAt:     ts("2023-10-24T00:00:00Z"),
				References:      []string{"https://nvd.nist.gov/vuln/detail/CVE-2023-5363", "https://www.debian.org/security/2023/dsa-5532"},
				Status:          StatusUnhealthy,
				SubAssessmentID: r.ID,
				AssessmentID:    registryID + "/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648",
				TimeGenerated:   ts("2026-11-20T03:10:02.552Z"),
				ResourceID:      registryID,
			}
			if !reflect.DeepEqual(s.CVEs[0], want) {
				t.Errorf("CVE =\n%+v\nwant\n%+v", s.CVEs[0], want)
			}
		}},
		{"alert-camel.json", func(t *testing.T, r Record) {
			a := r.Alert
			if r.Kind != KindAlert || r.ID != "2517538088322968242_4f9c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b" || r.Action != ActionInsert {
				t.Errorf("record header = %+v", r)
			}
			if a.ARMID == "" || a.AlertType != "K8S.NODE_SuspectedCryptoMining" ||
				a.DisplayName != "Possible crypto mining activity detected (Preview)" || a.Severity != "high" ||
				a.Status != "Active" || a.Intent != "Execution" || a.CompromisedEntity != "aks-prod-eus" ||
				!slices.Equal(a.ResourceIDs, []string{clusterID}) || !a.StartTime.Equal(ts("2026-11-21T07:30:00Z")) ||
				!a.TimeGenerated.Equal(ts("2026-11-21T07:44:19.123Z")) || len(a.RemediationSteps) != 1 ||
				a.Namespace != "shop" || a.Pod != "checkout-api-7c9d8f6b5-x2kqz" || a.Container != "api" ||
				a.Image != "octoacr.azurecr.io/checkout-api@"+sampletest.Digest || a.ProductName != "Microsoft Defender for Cloud" ||
				!strings.HasPrefix(a.AlertURI, "https://portal.azure.com/") {
				t.Errorf("alert = %+v", a)
			}
		}},
		{"alert-pascal.json", func(t *testing.T, r Record) {
			a := r.Alert
			if r.Kind != KindAlert || r.ID != "2517538088322968243_5a0d2b3c-4d5e-4f60-9a7b-1c2d3e4f5a6b" {
				t.Errorf("record header = %+v", r)
			}
			if a.ARMID != "" || a.AlertType != "K8S_ExposedDashboard" || a.DisplayName != "Exposed Kubernetes dashboard detected" ||
				a.Severity != "medium" || a.Status != "Active" || a.Intent != "InitialAccess" ||
				!slices.Equal(a.ResourceIDs, []string{clusterID}) || !a.TimeGenerated.Equal(ts("2026-11-21T08:12:31Z")) ||
				a.Namespace != "kube-system" || a.ExtendedProperties["Service"] != "kubernetes-dashboard" ||
				!slices.Equal(a.RemediationSteps, []string{"Remove the public LoadBalancer service in front of the dashboard."}) {
				t.Errorf("alert = %+v", a)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tt.check(t, parseOne(t, readSample(t, tt.file)))
		})
	}
}

// exportSamples are the sample files that are export records (the folder also
// holds Event Grid, Resource Graph and deployment-record samples).
var exportSamples = []string{
	"alert-camel.json", "alert-pascal.json", "assessment-healthy.json", "assessment-risk.json",
	"subassessment-legacy.json", "subassessment-mdvm.json",
}

// TestEverySampleFileIsCovered fails when a sample lands in testdata/defender
// without anyone deciding how it is read.
func TestEverySampleFileIsCovered(t *testing.T) {
	readElsewhere := []string{"SOURCE.md", "attackpaths-resourcegraph.json", "clusters-resourcegraph.json", "deployment-records.json", "eventgrid-imagepushed.json"}
	entries, err := os.ReadDir(testdataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.Contains(exportSamples, e.Name()) && !slices.Contains(readElsewhere, e.Name()) {
			t.Errorf("sample %s is read by no test", e.Name())
		}
	}
}

// TestParseMessageCasing: the same records with every key in PascalCase or
// lower case parse to the same result.
func TestParseMessageCasing(t *testing.T) {
	for _, file := range exportSamples {
		for name, fn := range map[string]func(string) string{"pascal": pascal, "lower": strings.ToLower, "upper": strings.ToUpper} {
			t.Run(file+"/"+name, func(t *testing.T) {
				want := parseOne(t, readSample(t, file))
				got := parseOne(t, mustJSON(t, recase(sampleMap(t, file), fn)))
				if want.Alert != nil {
					// Extended property names are data, recased with the rest.
					if len(got.Alert.ExtendedProperties) != len(want.Alert.ExtendedProperties) {
						t.Errorf("extended properties = %v", got.Alert.ExtendedProperties)
					}
					want.Alert.ExtendedProperties, got.Alert.ExtendedProperties = nil, nil
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("recased record =\n%+v\nwant\n%+v", got, want)
				}
			})
		}
	}
}

func TestParseMessageVariations(t *testing.T) {
	tests := []struct {
		name  string
		raw   func(t *testing.T) []byte
		check func(t *testing.T, r Record)
		err   error // the error the single record must fail with
	}{
		{
			name: "assessment without risk block",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, del(sampleMap(t, "assessment-risk.json"), "properties.risk"))
			},
			check: func(t *testing.T, r Record) {
				if r.Assessment.Risk != nil {
					t.Errorf("risk = %+v, want nil", r.Assessment.Risk)
				}
			},
		},
		{
			name: "assessment with null risk and null metadata",
			raw: func(t *testing.T) []byte {
				m := set(sampleMap(t, "assessment-risk.json"), "properties.risk", nil)
				return mustJSON(t, set(m, "properties.metadata", nil))
			},
			check: func(t *testing.T, r Record) {
				a := r.Assessment
				if a.Risk != nil || a.Severity != "" || a.DisplayName == "" {
					t.Errorf("assessment = %+v", a)
				}
			},
		},
		{
			name: "assessment risk with unknown factor keeps it raw only",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-risk.json"), "properties.risk.riskFactors",
					[]any{"Lateral movement", "Critical resource", "Privileged identity", "Internet exposure", "internet-exposed"}))
			},
			check: func(t *testing.T, r Record) {
				want := []model.RiskFactor{model.RiskCriticalResource, model.RiskInternetExposed, model.RiskLateralMovement}
				if !slices.Equal(r.Assessment.Risk.RiskFactors, want) || len(r.Assessment.Risk.Factors) != 5 {
					t.Errorf("risk = %+v", r.Assessment.Risk)
				}
			},
		},
		{
			name: "assessment without resourceDetails falls back to the id's scope",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, del(sampleMap(t, "assessment-risk.json"), "properties.resourceDetails"))
			},
			check: func(t *testing.T, r Record) {
				if r.Assessment.ResourceID != clusterID {
					t.Errorf("resource id = %q", r.Assessment.ResourceID)
				}
			},
		},
		{
			name: "assessment on an on-premises machine",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-healthy.json"), "properties.resourceDetails", map[string]any{
					"source": "OnPremise", "machineName": "build-01", "sourceComputerId": "0f1e", "vmuuid": "42", "workspaceId": "ws-1",
				}))
			},
			check: func(t *testing.T, r Record) {
				d := r.Assessment.Resource
				if d.Source != "OnPremise" || d.MachineName != "build-01" || d.WorkspaceID != "ws-1" || r.Assessment.ResourceID != clusterID {
					t.Errorf("resource = %+v, id %q", d, r.Assessment.ResourceID)
				}
			},
		},
		{
			name: "status code in other casing",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-risk.json"), "properties.status.code", "notapplicable"))
			},
			check: func(t *testing.T, r Record) {
				if r.Assessment.Status != StatusNotApplicable {
					t.Errorf("status = %q", r.Assessment.Status)
				}
			},
		},
		{
			name: "unknown status code",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-risk.json"), "properties.status.code", "Broken"))
			},
			err: ErrMalformed,
		},
		{
			name: "null properties",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-risk.json"), "properties", nil))
			},
			err: ErrMalformed,
		},
		{
			name: "assessment without id",
			raw:  func(t *testing.T) []byte { return mustJSON(t, del(sampleMap(t, "assessment-risk.json"), "id")) },
			err:  ErrMalformed,
		},
		{
			name: "deleted assessment without status",
			raw: func(t *testing.T) []byte {
				m := set(sampleMap(t, "assessment-risk.json"), "assessmentEventDataEnrichment.action", "Delete")
				return mustJSON(t, del(m, "properties.status"))
			},
			check: func(t *testing.T, r Record) {
				if r.Action != ActionDelete || r.Assessment.Status != "" {
					t.Errorf("record = %+v, assessment %+v", r, r.Assessment)
				}
			},
		},
		{
			name: "snapshot flag as a string",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-healthy.json"), "assessmentEventDataEnrichment.isSnapshot", "true"))
			},
			check: func(t *testing.T, r Record) {
				if !r.IsSnapshot {
					t.Error("isSnapshot not read")
				}
			},
		},
		{
			name: "unknown enrichment action",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "assessment-healthy.json"), "assessmentEventDataEnrichment.action", "Frobnicate"))
			},
			err: ErrMalformed,
		},
		{
			name: "no enrichment block reads as a streamed insert",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, del(sampleMap(t, "subassessment-legacy.json"), "subAssessmentEventDataEnrichment"))
			},
			check: func(t *testing.T, r Record) {
				if r.Action != ActionInsert || r.IsSnapshot {
					t.Errorf("record = %+v", r)
				}
			},
		},
		{
			name: "record without type recognized by its enrichment block",
			raw:  func(t *testing.T) []byte { return mustJSON(t, del(sampleMap(t, "subassessment-mdvm.json"), "type")) },
			check: func(t *testing.T, r Record) {
				if r.Kind != KindSubAssessment || len(r.SubAssessment.CVEs) != 1 {
					t.Errorf("record = %+v", r)
				}
			},
		},
		{
			name: "record without type and enrichment recognized by its id",
			raw: func(t *testing.T) []byte {
				m := del(sampleMap(t, "assessment-healthy.json"), "type")
				return mustJSON(t, del(m, "assessmentEventDataEnrichment"))
			},
			check: func(t *testing.T, r Record) {
				if r.Kind != KindAssessment {
					t.Errorf("kind = %q", r.Kind)
				}
			},
		},
		{
			name: "unknown record type",
			raw: func(t *testing.T) []byte {
				return []byte(`{"type":"Microsoft.Security/secureScores","id":"/subscriptions/x/providers/Microsoft.Security/secureScores/ascScore","properties":{"score":{"current":12}}}`)
			},
			err: ErrUnknownType,
		},
		{
			name: "record of no recognizable shape",
			raw:  func(t *testing.T) []byte { return []byte(`{"hello":"world"}`) },
			err:  ErrUnknownType,
		},
		{
			name: "sub-assessment that is not a container vulnerability",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-legacy.json"), "properties.additionalData",
					map[string]any{"assessedResourceType": "SqlServerVulnerability", "type": "BinaryResult", "query": "SELECT 1"}))
			},
			err: ErrUnknownType,
		},
		{
			name: "MDVM with null cvss falls back to cvssV30Score",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.vulnerabilityDetails.cvss", nil))
			},
			check: func(t *testing.T, r Record) {
				if c := r.SubAssessment.CVEs[0]; c.CVSS == nil || *c.CVSS != 7.5 || c.CVSSVector != "" {
					t.Errorf("cvss = %v %q", c.CVSS, c.CVSSVector)
				}
			},
		},
		{
			name: "MDVM without any score",
			raw: func(t *testing.T) []byte {
				m := set(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.vulnerabilityDetails.cvss", map[string]any{"2.0": map[string]any{"base": 5.0}})
				return mustJSON(t, del(m, "properties.additionalData.cvssV30Score"))
			},
			check: func(t *testing.T, r Record) {
				if c := r.SubAssessment.CVEs[0]; c.CVSS != nil {
					t.Errorf("cvss = %v, want none (only v2 given)", *c.CVSS)
				}
			},
		},
		{
			name: "MDVM score as a string and CVSS 3.1 preferred",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.vulnerabilityDetails.cvss", map[string]any{
					"3.0": map[string]any{"base": "7.5"}, "3.1": map[string]any{"base": "8.1", "cvssVectorString": "CVSS:3.1/x"},
				}))
			},
			check: func(t *testing.T, r Record) {
				if c := r.SubAssessment.CVEs[0]; c.CVSS == nil || *c.CVSS != 8.1 || c.CVSSVector != "CVSS:3.1/x" {
					t.Errorf("cvss = %v %q", c.CVSS, c.CVSSVector)
				}
			},
		},
		{
			name: "MDVM exploitability all set",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.vulnerabilityDetails.exploitabilityAssessment",
					map[string]any{"exploitStepsVerified": true, "isInExploitKit": true, "exploitStepsPublished": false}))
			},
			check: func(t *testing.T, r Record) {
				want := model.Exploitability{KnownExploited: true, ExploitKit: true}
				if c := r.SubAssessment.CVEs[0]; c.Exploit != want {
					t.Errorf("exploit = %+v", c.Exploit)
				}
			},
		},
		{
			name: "MDVM without artifact digest reads the image from the resource id",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, del(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.artifactDetails"))
			},
			check: func(t *testing.T, r Record) {
				c := r.SubAssessment.CVEs[0]
				if c.Digest != sampletest.Digest || c.Repository != "checkout-api" || c.Registry != "" || c.Tags != nil {
					t.Errorf("cve image = %q %q %q %v", c.Registry, c.Repository, c.Digest, c.Tags)
				}
			},
		},
		{
			name: "MDVM naming no image at all",
			raw: func(t *testing.T) []byte {
				m := del(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.artifactDetails.digest")
				return mustJSON(t, set(m, "properties.resourceDetails.id", "somewhere"))
			},
			err: ErrMalformed,
		},
		{
			name: "MDVM naming no CVE",
			raw: func(t *testing.T) []byte {
				m := del(sampleMap(t, "subassessment-mdvm.json"), "properties.additionalData.vulnerabilityDetails.cveId")
				m = set(m, "properties.id", "12345")
				return mustJSON(t, set(m, "properties.displayName", "some finding"))
			},
			err: ErrMalformed,
		},
		{
			name: "MDVM OS package takes the OS as ecosystem",
			raw: func(t *testing.T) []byte {
				m := sampleMap(t, "subassessment-mdvm.json")
				m = set(m, "properties.additionalData.softwareDetails.language", "")
				return mustJSON(t, set(m, "properties.additionalData.softwareDetails.osDetails.osName", "Debian"))
			},
			check: func(t *testing.T, r Record) {
				if e := r.SubAssessment.CVEs[0].Package.Ecosystem; e != "debian" {
					t.Errorf("ecosystem = %q", e)
				}
			},
		},
		{
			name: "runtime MDVM record on a cluster",
			raw: func(t *testing.T) []byte {
				m := sampleMap(t, "subassessment-mdvm.json")
				m["id"] = clusterID + "/providers/Microsoft.Security/assessments/c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5/subassessments/1"
				return mustJSON(t, set(m, "properties.additionalData.assessedResourceType", "AzureContainerVulnerability"))
			},
			check: func(t *testing.T, r Record) {
				s := r.SubAssessment
				if s.ResourceID != clusterID || s.AssessmentKey != "c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5" || s.CVEs[0].ResourceID != clusterID {
					t.Errorf("sub-assessment = %+v", s)
				}
			},
		},
		{
			name: "legacy record with several CVEs gives one entry per id",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-legacy.json"), "properties.additionalData.cve", []any{
					map[string]any{"title": "CVE-2023-5363", "link": "https://nvd.nist.gov/vuln/detail/CVE-2023-5363"},
					map[string]any{"title": "cve-2023-5678"},
					map[string]any{"title": "CVE-2023-5363"}, // duplicate
					map[string]any{"title": "DSA-5532-1"},    // not a CVE id
					nil,
				}))
			},
			check: func(t *testing.T, r Record) {
				var ids []string
				for _, c := range r.SubAssessment.CVEs {
					ids = append(ids, c.ID)
					if c.Digest != sampletest.Digest || c.CVSS == nil || *c.CVSS != 5.3 || c.SubAssessmentID != r.ID {
						t.Errorf("entry %s does not share the record's image and score: %+v", c.ID, c)
					}
				}
				if !slices.Equal(ids, []string{"CVE-2023-5363", "CVE-2023-5678"}) {
					t.Errorf("CVE ids = %v", ids)
				}
			},
		},
		{
			name: "legacy record naming no CVE",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-legacy.json"), "properties.additionalData.cve", nil))
			},
			check: func(t *testing.T, r Record) {
				if s := r.SubAssessment; len(s.CVEs) != 0 || s.VulnerabilityID != "178104" || s.Format != FormatLegacy {
					t.Errorf("sub-assessment = %+v", s)
				}
			},
		},
		{
			name: "legacy record not patchable",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, set(sampleMap(t, "subassessment-legacy.json"), "properties.additionalData.patchable", false))
			},
			check: func(t *testing.T, r Record) {
				if f := r.SubAssessment.CVEs[0].FixStatus; f != "NoFixAvailable" {
					t.Errorf("fix status = %q", f)
				}
			},
		},
		{
			name: "legacy record without image digest",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, del(sampleMap(t, "subassessment-legacy.json"), "properties.additionalData.imageDigest"))
			},
			err: ErrMalformed,
		},
		{
			name: "deleted sub-assessment carrying only its id",
			raw: func(t *testing.T) []byte {
				m := sampleMap(t, "subassessment-mdvm.json")
				return mustJSON(t, map[string]any{
					"subAssessmentEventDataEnrichment": map[string]any{"action": "Delete", "isSnapshot": false},
					"type":                             m["type"], "id": m["id"],
				})
			},
			check: func(t *testing.T, r Record) {
				s := r.SubAssessment
				if r.Action != ActionDelete || r.ID == "" || s.AssessmentID == "" || len(s.CVEs) != 0 || s.Format != "" {
					t.Errorf("record = %+v, sub-assessment %+v", r, s)
				}
			},
		},
		{
			name: "deleted sub-assessment with an incomplete body",
			raw: func(t *testing.T) []byte {
				m := set(sampleMap(t, "subassessment-mdvm.json"), "subAssessmentEventDataEnrichment.action", "Delete")
				m = set(m, "properties.resourceDetails.id", "somewhere")
				return mustJSON(t, del(m, "properties.additionalData.artifactDetails.digest"))
			},
			check: func(t *testing.T, r Record) {
				s := r.SubAssessment
				if r.Action != ActionDelete || s.Format != FormatMDVM || len(s.CVEs) != 0 || s.Status != StatusUnhealthy {
					t.Errorf("record = %+v, sub-assessment %+v", r, s)
				}
			},
		},
		{
			name: "alert in the Log Analytics shape",
			raw: func(t *testing.T) []byte {
				return []byte(`{"Type":"SecurityAlert","SystemAlertId":"abc","AlertName":"Suspicious pod","AlertSeverity":"Informational",
					"Status":"New","TimeGenerated":"2026-11-21T08:12:31Z","ResourceId":"` + clusterID + `",
					"ExtendedProperties":"{\"Namespace\":\"shop\",\"Image\":\"octoacr.azurecr.io/checkout-api:1.4.2\"}",
					"RemediationSteps":"[\"Step one\",\"Step two\"]"}`)
			},
			check: func(t *testing.T, r Record) {
				a := r.Alert
				if r.ID != "abc" || a.DisplayName != "Suspicious pod" || a.Severity != "low" || a.Status != "Active" ||
					!slices.Equal(a.ResourceIDs, []string{clusterID}) || a.Namespace != "shop" ||
					a.Image != "octoacr.azurecr.io/checkout-api:1.4.2" || !slices.Equal(a.RemediationSteps, []string{"Step one", "Step two"}) {
					t.Errorf("alert = %+v", a)
				}
			},
		},
		{
			name: "alert without any id",
			raw: func(t *testing.T) []byte {
				m := del(sampleMap(t, "alert-pascal.json"), "SystemAlertId")
				return mustJSON(t, m)
			},
			err: ErrMalformed,
		},
		{
			name: "alert with null properties members",
			raw: func(t *testing.T) []byte {
				m := set(sampleMap(t, "alert-camel.json"), "properties.extendedProperties", nil)
				m = set(m, "properties.resourceIdentifiers", nil)
				return mustJSON(t, set(m, "properties.severity", nil))
			},
			check: func(t *testing.T, r Record) {
				a := r.Alert
				if a.ExtendedProperties != nil || a.ResourceIDs != nil || a.Severity != "" || a.Namespace != "" {
					t.Errorf("alert = %+v", a)
				}
			},
		},
		{
			name: "message as a JSON string",
			raw: func(t *testing.T) []byte {
				return mustJSON(t, string(readSample(t, "assessment-healthy.json")))
			},
			check: func(t *testing.T, r Record) {
				if r.Kind != KindAssessment || r.Assessment.Status != StatusHealthy {
					t.Errorf("record = %+v", r)
				}
			},
		},
		{
			name: "records envelope",
			raw: func(t *testing.T) []byte {
				return []byte(`{"records":[` + string(readSample(t, "alert-pascal.json")) + `]}`)
			},
			check: func(t *testing.T, r Record) {
				if r.Kind != KindAlert {
					t.Errorf("kind = %q", r.Kind)
				}
			},
		},
		{
			name: "not JSON",
			raw:  func(t *testing.T) []byte { return []byte(`{"type": "Microsoft.Security/assessments",`) },
			err:  ErrMalformed,
		},
		{
			name: "trailing garbage",
			raw:  func(t *testing.T) []byte { return append(readSample(t, "alert-pascal.json"), []byte(" x")...) },
			err:  ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, errs := ParseMessage(tt.raw(t))
			if tt.err != nil {
				if len(recs) != 0 || len(errs) != 1 || !errors.Is(errs[0], tt.err) {
					t.Fatalf("got %d records, errors %v; want one error matching %v", len(recs), errs, tt.err)
				}
				var re *RecordError
				if !errors.As(errs[0], &re) {
					t.Fatalf("error %T is not a *RecordError", errs[0])
				}
				return
			}
			if len(errs) != 0 || len(recs) != 1 {
				t.Fatalf("got %d records, errors %v; want one record", len(recs), errs)
			}
			tt.check(t, recs[0])
		})
	}
}

// TestParseMessageArray: one message holding every sample record keeps order.
func TestParseMessageArray(t *testing.T) {
	var parts []string
	for _, f := range exportSamples {
		parts = append(parts, string(readSample(t, f)))
	}
	recs, errs := ParseMessage([]byte("[" + strings.Join(parts, ",") + "]"))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(recs) != len(exportSamples) {
		t.Fatalf("got %d records, want %d", len(recs), len(exportSamples))
	}
	for i, f := range exportSamples {
		if want := parseOne(t, readSample(t, f)); !reflect.DeepEqual(recs[i], want) {
			t.Errorf("record %d differs from %s parsed alone", i, f)
		}
	}
}

// batch builds an array of n distinct records (sub-assessments with their own
// ids and CVEs) and puts bad at position badAt (if >= 0).
func batch(t testing.TB, n, badAt int, bad string) []byte {
	m := sampleMap(t, "subassessment-mdvm.json")
	id := m["id"].(string)
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		if i == badAt {
			sb.WriteString(bad)
			continue
		}
		m["id"] = fmt.Sprintf("%s-%d", id, i)
		set(m, "properties.additionalData.vulnerabilityDetails.cveId", fmt.Sprintf("CVE-2024-%05d", i))
		sb.Write(mustJSON(t, m))
	}
	sb.WriteString("]")
	return []byte(sb.String())
}

// TestParseMessageBadRecordInBatch: one bad record in a batch of 500 costs
// only itself, and its error says where it was.
func TestParseMessageBadRecordInBatch(t *testing.T) {
	tests := []struct {
		name string
		bad  string
		want error
	}{
		{"not an object", `42`, ErrMalformed},
		{"null", `null`, ErrMalformed},
		{"missing status", `{"type":"Microsoft.Security/assessments","id":"/subscriptions/x/providers/Microsoft.Security/assessments/k","properties":{}}`, ErrMalformed},
		{"unknown type", `{"type":"Microsoft.Security/regulatoryComplianceStandards","id":"x"}`, ErrUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n, badAt = 500, 317
			recs, errs := ParseMessage(batch(t, n, badAt, tt.bad))
			if len(recs) != n-1 || len(errs) != 1 {
				t.Fatalf("got %d records and %d errors, want %d and 1: %v", len(recs), len(errs), n-1, errs)
			}
			var re *RecordError
			if !errors.As(errs[0], &re) || re.Index != badAt || !errors.Is(errs[0], tt.want) {
				t.Fatalf("error = %v, want index %d and %v", errs[0], badAt, tt.want)
			}
			seen := map[string]bool{}
			for i, r := range recs {
				wantCVE := fmt.Sprintf("CVE-2024-%05d", i+boolInt(i >= badAt))
				if got := r.SubAssessment.CVEs[0].ID; got != wantCVE {
					t.Fatalf("record %d is %s, want %s (order or content lost)", i, got, wantCVE)
				}
				if seen[r.ID] {
					t.Fatalf("record id %s twice", r.ID)
				}
				seen[r.ID] = true
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestParseMessageTruncatedArray keeps the records before a syntax error.
func TestParseMessageTruncatedArray(t *testing.T) {
	raw := batch(t, 10, -1, "")
	cut := raw[:len(raw)-40] // inside the last record
	recs, errs := ParseMessage(cut)
	if len(recs) != 9 || len(errs) != 1 {
		t.Fatalf("got %d records and %v, want 9 and one error", len(recs), errs)
	}
	var re *RecordError
	if !errors.As(errs[0], &re) || re.Index != 9 || !errors.Is(errs[0], ErrMalformed) {
		t.Fatalf("error = %v", errs[0])
	}
}

func TestParseMessageEmpty(t *testing.T) {
	for _, raw := range []string{"", "  ", `""`, `[]`, `{"records":[]}`} {
		recs, errs := ParseMessage([]byte(raw))
		if len(recs) != 0 {
			t.Errorf("%q: got records %v", raw, recs)
		}
		wantErr := raw != "[]" && raw != `{"records":[]}`
		if (len(errs) != 0) != wantErr {
			t.Errorf("%q: errors %v, want error %v", raw, errs, wantErr)
		}
	}
}

func TestMapRiskFactors(t *testing.T) {
	tests := []struct {
		in   []string
		want []model.RiskFactor
	}{
		{nil, nil},
		{[]string{"Internet exposure", "Sensitive data"}, []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}},
		{[]string{"Lateral movement", "Critical resource", "Internet exposure"},
			[]model.RiskFactor{model.RiskCriticalResource, model.RiskInternetExposed, model.RiskLateralMovement}},
		{[]string{"internet-exposed", "Internet exposure", "INTERNET EXPOSURE"}, []model.RiskFactor{model.RiskInternetExposed}},
		{[]string{"Privileged identity", "", "High severity vulnerabilities"}, nil},
	}
	for _, tt := range tests {
		if got := MapRiskFactors(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("MapRiskFactors(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func BenchmarkParseMessage(b *testing.B) {
	raw := batch(b, 500, -1, "")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		recs, errs := ParseMessage(raw)
		if len(recs) != 500 || len(errs) != 0 {
			b.Fatalf("%d records, %v", len(recs), errs)
		}
	}
	b.ReportMetric(float64(500*b.N)/b.Elapsed().Seconds(), "records/s")
}
