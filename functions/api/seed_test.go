package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

type nopSync struct{}

func (s *nopSync) EnqueueSync(context.Context, queue.SyncRequest) error { return nil }

func readTestdata(t testing.TB, rel string) []byte { t.Helper(); return sampletest.Testdata(t, rel) }

// seeded is a store holding the sample org's runtime and findings, every
// finding written through triage (so scored for real), and the api
// function serving it on 127.0.0.1.
type seeded struct {
	URL  string
	Deps *app.Deps
	IDs  map[string]string // fixture name → finding id
}

// Findings of the fixture and their scores under the default policy:
//
//	http2     CVE-2023-44487 on checkout-api (prod, exposed, sensitive)  10    Critical (High by CVSS: raised)
//	openssl   CVE-2023-5363 on checkout-api                              7.8   High     (Medium by CVSS: raised)
//	sqli      code scanning high in octo-org/checkout-api                10    Critical (raised)
//	billing   critical CVE on an image that runs nowhere                 4.75  Medium   (lowered)
//	worker    high CVE on report-worker, staging only                    5.63  Medium   (lowered)
//	semver    the sample Dependabot alert, repository runs nowhere       2.65  Low      (lowered)
//	fixed     code scanning alert fixed in octo-org/checkout-api         closed
func seed(t *testing.T) *seeded {
	t.Helper()
	store := localstack.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := (&app.Deps{
		Config: &config.Config{IssueMinPriority: model.PriorityHigh},
		Sync:   &nopSync{}, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		Now: func() time.Time { return time.Date(2026, 11, 20, 7, 30, 0, 0, time.UTC) },
	}).WithDatabase(store)
	tr, err := d.Triage()
	if err != nil {
		t.Fatal(err)
	}

	var recs struct {
		Single  struct{ Name, Digest string }
		Cluster struct {
			Deployments []struct{ Name, Digest string }
		}
	}
	if err := json.Unmarshal(readTestdata(t, "defender/deployment-records.json"), &recs); err != nil {
		t.Fatal(err)
	}
	checkoutImage, _ := mapping.NormalizeImage(recs.Single.Name)
	workerImage, _ := mapping.NormalizeImage(recs.Cluster.Deployments[0].Name)
	workloads := []model.Workload{
		{ID: model.WorkloadID("aks-prod-eus", "shop", "checkout-api"), Cluster: "aks-prod-eus", Namespace: "shop", Name: "checkout-api", Org: "octo-org",
			Image: checkoutImage, Digest: recs.Single.Digest, Environment: "production", Production: true, Region: "eastus", Repository: "octo-org/checkout-api",
			Status: model.WorkloadRunning, Risks: []model.Risk{
				{Factor: model.RiskInternetExposed, Source: mapping.RiskSourceDeploymentRecord},
				{Factor: model.RiskSensitiveData, Source: "defender-assessment:c609cf0f-71ab-41e9-a3c6-9a1f7fe1b8d5"},
			}},
		{ID: model.WorkloadID("aks-stg-weu", "batch", "report-worker"), Cluster: "aks-stg-weu", Namespace: "batch", Name: "report-worker", Org: "octo-org",
			Image: workerImage, Digest: recs.Cluster.Deployments[0].Digest, Environment: "staging", Region: "westeurope", Repository: "octo-org/report-worker",
			Status: model.WorkloadRunning},
		{ID: model.WorkloadID("aks-prod-eus", "tools", "debug-shell"), Cluster: "aks-prod-eus", Namespace: "tools", Name: "debug-shell",
			Image: "docker.io/library/busybox", Digest: "sha256:" + strings.Repeat("b", 64), Environment: "production", Production: true, Status: model.WorkloadRunning},
	}
	for i := range workloads {
		if _, err := store.Workloads.Put(ctx, &workloads[i]); err != nil {
			t.Fatal(err)
		}
	}
	art := model.Artifact{ID: recs.Single.Digest, Digest: recs.Single.Digest, Image: checkoutImage, Repository: "octo-org/checkout-api", Commit: "9f2c1e7d4b",
		Evidence: []model.Evidence{{Kind: model.EvidenceOCILabels, Repository: "octo-org/checkout-api", Commit: "9f2c1e7d4b"}}}
	if _, err := store.Artifacts.Put(ctx, &art); err != nil {
		t.Fatal(err)
	}

	s := &seeded{Deps: d, IDs: map[string]string{}}
	up := func(name string, f model.Finding) {
		t.Helper()
		if _, _, err := tr.Upsert(ctx, f.Repository, f.ID, func(cur *model.Finding, _ bool) error {
			meta := cur.Meta
			*cur = f
			cur.Meta = meta
			return nil
		}); err != nil {
			t.Fatalf("upsert %s: %v", name, err)
		}
		s.IDs[name] = f.ID
	}
	for name, rel := range map[string]string{"http2": "defender/subassessment-mdvm.json", "openssl": "defender/subassessment-legacy.json"} {
		for _, f := range cveFindings(t, rel, "octo-org/checkout-api", "", "") {
			up(name, f)
		}
	}
	billing := cveFindings(t, "defender/subassessment-mdvm.json", "octo-org/billing", "octoacr.azurecr.io/billing", "sha256:"+strings.Repeat("e", 64))[0]
	billing.Severity, billing.CVSS, billing.Exploit = "critical", nil, model.Exploitability{}
	up("billing", billing)
	worker := cveFindings(t, "defender/subassessment-mdvm.json", "octo-org/report-worker", workerImage, recs.Cluster.Deployments[0].Digest)[0]
	worker.Exploit = model.Exploitability{}
	up("worker", worker)
	sqli := model.Finding{ID: model.GHASFindingID(model.SourceCodeScanning, "octo-org/checkout-api", 41), Repository: "octo-org/checkout-api",
		Source: model.SourceCodeScanning, State: model.StateOpen, AlertNumber: 41, RuleID: "go/sql-injection", Tool: "CodeQL",
		Title: "Database query built from user-controlled sources", Severity: "high", Location: model.Location{Path: "internal/orders/store.go", StartLine: 88}}
	up("sqli", sqli)
	fixed := sqli
	fixed.ID, fixed.AlertNumber, fixed.State = model.GHASFindingID(model.SourceCodeScanning, "octo-org/checkout-api", 12), 12, model.StateFixed
	up("fixed", fixed)
	a, err := alerts.DecodeDependabot(readTestdata(t, "github/dependabot_alert/created.json"), time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	up("semver", a.Finding)

	srv := invocation.NewServer(d.Logger)
	Register(srv, d)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// cveFindings reads a Defender sub-assessment sample as the Defender
// ingest stores it, optionally moved to another image and digest.
func cveFindings(t *testing.T, rel, repository, image, digest string) []model.Finding {
	t.Helper()
	recs, errs := defender.ParseMessage(readTestdata(t, rel))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var out []model.Finding
	for _, c := range recs[0].SubAssessment.CVEs {
		img, _ := mapping.NormalizeImage(c.Registry + "/" + c.Repository)
		dg := c.Digest
		if image != "" {
			img, dg = image, digest
		}
		f := model.Finding{ID: model.ImageCVEFindingID(img, c.ID), Repository: repository, Source: model.SourceDefenderCVE, State: model.StateOpen,
			Title: c.Title, CVE: c.ID, Severity: c.Severity, CVSS: c.CVSS, Exploit: c.Exploit, Image: img, Digests: []string{dg}}
		if c.Package.Name != "" {
			p := c.Package
			f.Package = &p
		}
		out = append(out, f)
	}
	return out
}

// get fetches a path the way the Functions host forwards it.
func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(invocation.HeaderInvocationID, "test-invocation")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp, buf.Bytes()
}
