package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/functions/api"
	defenderexport "github.com/runtimelink/runtimelink/functions/defender_export"
	"github.com/runtimelink/runtimelink/functions/deployments"
	registryevents "github.com/runtimelink/runtimelink/functions/registry_events"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/runtimeview"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// runtimeApp feeds the sample data through the real functions (as the
// demo does) and returns the handler serving the api routes.
func runtimeApp(t *testing.T) http.Handler {
	t.Helper()
	store, _ := inventorytest.Store(t)
	d := inventorytest.Deps(t, store, &inventorytest.Sync{})
	srv := invocation.NewServer(nil)
	api.Register(srv, d)
	deployments.Register(srv, d)
	defenderexport.Register(srv, d)
	registryevents.Register(srv, d)
	h := srv.Handler()

	var bodies map[string]json.RawMessage
	_ = json.Unmarshal(sampletest.Testdata(t, "defender", "deployment-records.json"), &bodies)
	for path, body := range map[string]json.RawMessage{
		"/api/orgs/octo-org/artifacts/metadata/deployment-record":                     bodies["single"],
		"/api/orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks-stg-weu": bodies["cluster"],
	} {
		req := invocationtest.ForwardedRequest(http.MethodPost, path, strings.NewReader(string(body)), "inv")
		req.Header.Set("Authorization", "Bearer "+inventorytest.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	if r := invocationtest.Invoke(t, h, registryevents.Function, "inv", invocationtest.EventGridEvent(registryevents.Function,
		registryevents.Binding, sampletest.Testdata(t, "defender", "eventgrid-imagepushed.json"))); r.Status != 200 {
		t.Fatalf("registry event: %d", r.Status)
	}
	var msgs [][]byte
	for _, n := range inventorytest.DefenderRecords(t) {
		msgs = append(msgs, sampletest.Testdata(t, "defender", n))
	}
	if r := invocationtest.Invoke(t, h, defenderexport.Function, "inv",
		invocationtest.EventHubBatch(defenderexport.Function, defenderexport.Binding, msgs...)); r.Status != 200 {
		t.Fatalf("defender export: %d %v", r.Status, r.Logs)
	}
	return h
}

func getJSON(t *testing.T, h http.Handler, path string, v any) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, invocationtest.ForwardedRequest(http.MethodGet, path, nil, "inv"))
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %d %q: %v", path, rec.Code, rec.Body, err)
	}
	return rec.Code
}

func TestCodeToRuntime(t *testing.T) {
	h := runtimeApp(t)
	var got runtimeview.RepoRuntime
	if code := getJSON(t, h, "/api/repos/Octo-Org/checkout-api/runtime", &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got.Repository != "octo-org/checkout-api" || got.Running != 1 || !got.Production ||
		!slices.Equal(got.Environments, []string{"production"}) ||
		!slices.Equal(got.Risks, []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}) || got.Truncated {
		t.Errorf("summary = %+v", got)
	}
	if len(got.Workloads) != 1 {
		t.Fatalf("workloads = %+v", got.Workloads)
	}
	w := got.Workloads[0]
	if w.Cluster != "aks-prod-eus" || w.DeploymentName != "shop-checkout-api-api" || w.Digest != "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7" ||
		w.Repository != "octo-org/checkout-api" || w.Status != "running" || len(w.Risks) != 3 || !strings.HasSuffix(w.ResourceID, "/aks-prod-eus") {
		t.Errorf("workload = %+v", w)
	}
	want := []runtimeview.ImageView{{Image: "octoacr.azurecr.io/checkout-api", Digests: []runtimeview.DigestView{{
		Digest: w.Digest, Tags: []string{"1.4.2"}, Evidence: []string{"deployment-record"}, Running: 1}}}}
	if !reflect.DeepEqual(got.Images, want) {
		t.Errorf("images = %+v, want %+v", got.Images, want)
	}

	var staging runtimeview.RepoRuntime
	getJSON(t, h, "/api/repos/octo-org/report-worker/runtime", &staging)
	if staging.Running != 1 || staging.Production || !slices.Equal(staging.Environments, []string{"staging"}) || len(staging.Risks) != 0 {
		t.Errorf("report-worker = %+v", staging)
	}
	var none runtimeview.RepoRuntime
	if code := getJSON(t, h, "/api/repos/octo-org/nothing/runtime", &none); code != 200 || len(none.Workloads) != 0 || none.Images == nil {
		t.Errorf("unknown repository: %d %+v", code, none)
	}
}

func TestRuntimeToCode(t *testing.T) {
	h := runtimeApp(t)
	var got runtimeview.WorkloadRuntime
	if code := getJSON(t, h, "/api/workloads/aks-prod-eus/-/shop-checkout-api-api", &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got.Image != "octoacr.azurecr.io/checkout-api" || got.Source == nil || got.Source.Repository != "octo-org/checkout-api" ||
		got.Source.Evidence != "deployment-record" || len(got.Evidence) != 1 || !slices.Equal(got.ImageTags, []string{"1.4.2"}) {
		t.Errorf("workload = %+v source %+v", got, got.Source)
	}
	var cves []string
	for _, c := range got.CVEs {
		cves = append(cves, c.CVE)
		if c.Repository != "octo-org/checkout-api" || c.State != "open" {
			t.Errorf("cve %+v", c)
		}
	}
	slices.Sort(cves)
	if !slices.Equal(cves, []string{"CVE-2023-44487", "CVE-2023-5363"}) {
		t.Errorf("cves = %v", cves)
	}
	if len(got.Alerts) != 1 || got.Alerts[0].Source != "defender_alert" {
		t.Errorf("alerts = %+v", got.Alerts)
	}
	var missing map[string]any
	if code := getJSON(t, h, "/api/workloads/aks-prod-eus/-/nope", &missing); code != 404 {
		t.Errorf("unknown workload: %d", code)
	}
}
