package deployments_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/functions/deployments"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
)

func (e *env) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := invocationtest.ForwardedRequest(method, path, strings.NewReader(body), "inv")
	req.Header.Set("Authorization", bearer)
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: answer %d is not JSON: %q", method, path, rec.Code, rec.Body.String())
	}
	return rec.Code, out
}

// TestWrongBaseURL: a path under the API's prefixes that matches no route
// answers GitHub's 404 shape naming the base URL to use, and logs a
// warning (deployment-tracker drops a record on a 404 at debug level).
func TestWrongBaseURL(t *testing.T) {
	var logs bytes.Buffer
	store, _ := inventorytest.Store(t)
	srv := invocation.NewServer(slog.New(slog.NewJSONHandler(&logs, nil)))
	deployments.Register(srv, inventorytest.Deps(t, store, &inventorytest.Sync{}))
	h := srv.Handler()
	for _, tc := range []struct{ method, path string }{
		{"POST", "/api/v3/orgs/octo-org/artifacts/metadata/deployment-record"},
		{"POST", "/orgs/octo-org/artifacts/metadata/deployment-record"},
		{"POST", "/api/orgs/octo-org/artifacts/metadata/deployment-records"},
		{"POST", "/api/orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks-1/job"},
		{"GET", "/api/orgs/octo-org/artifacts/metadata/deployment-record"},
		{"GET", "/api/v3/orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks-1/jobs/1"},
	} {
		logs.Reset()
		req := invocationtest.ForwardedRequest(tc.method, tc.path, strings.NewReader(docsSingle), "inv")
		req.Host = "rl-func.azurewebsites.net"
		req.Header.Set("Authorization", bearer)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		msg, _ := body["message"].(string)
		if rec.Code != 404 || body["status"] != "404" || body["documentation_url"] == nil ||
			!strings.Contains(msg, "https://rl-func.azurewebsites.net/api") || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, rec.Code, rec.Body)
		}
		if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), tc.path) {
			t.Errorf("%s %s: no warning logged: %s", tc.method, tc.path, logs.String())
		}
	}
}

// TestClusterOptions: return_records false answers the count only;
// partial_success is accepted, and the docs' deployment (a digest with
// neither an attestation nor github_repository, which GitHub would list in
// errors with cause not_found) is stored and listed: runtimelink answers
// 200 with every record and no errors, because an error would be untrue
// (the record is kept) and deployment-tracker caches a not_found digest as
// unknown for an hour, skipping every post of it, the decommission too;
// deployment names repeat → 422, nothing stored.
func TestClusterOptions(t *testing.T) {
	e := newEnv(t)
	status, body := e.do(t, "POST", cluster+"aks-1", strings.Replace(docsCluster, `"deployments"`, `"return_records": false, "deployments"`, 1))
	if status != 200 || !reflect.DeepEqual(body, map[string]any{"total_count": float64(1)}) {
		t.Errorf("return_records false: %d %v", status, body)
	}
	status, body = e.do(t, "POST", cluster+"aks-1", strings.Replace(docsCluster, `"deployments"`, `"partial_success": true, "deployments"`, 1))
	if status != 200 || body["total_count"] != float64(1) || len(body["deployment_records"].([]any)) != 1 || body["errors"] != nil {
		t.Errorf("partial_success: %d %v", status, body)
	}
	status, body = e.do(t, "GET", "/api/orgs/octo-org/artifacts/sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72/metadata/deployment-records", "")
	if status != 200 || body["total_count"] != float64(1) {
		t.Errorf("the partial_success record is not listed: %d %v", status, body)
	}
	before := e.Counter.Counts()
	dup := `{"logical_environment":"prod","deployments":[
		{"name":"a","digest":"sha256:` + strings.Repeat("a", 64) + `","deployment_name":"ns/app"},
		{"name":"b","digest":"sha256:` + strings.Repeat("b", 64) + `","deployment_name":"ns/app"}]}`
	for _, path := range []string{cluster + "aks-1", cluster + "aks-1/jobs"} {
		status, body = e.do(t, "POST", path, dup)
		if status != 422 || body["message"] != "Validation Failed" {
			t.Errorf("%s duplicate names: %d %v", path, status, body)
		}
	}
	if d := e.Counter.Counts().Sub(before); d.Writes != 0 {
		t.Errorf("refused requests wrote %d documents", d.Writes)
	}
}

// TestStorageRecordsAndListings posts GitHub's documented storage record,
// then lists storage and deployment records of the digest as GitHub does.
func TestStorageRecordsAndListings(t *testing.T) {
	e := newEnv(t)
	const digest = "sha256:1bb1e949e55dcefc6353e7b36c8897d2a107d8e8dca49d4e3c0ea8493fc0bc72"
	doc := `{"name":"libfoo","version":"1.2.3","digest":"` + digest + `","artifact_url":"https://reg.example.com/artifactory/bar/libfoo-1.2.3",` +
		`"registry_url":"https://reg.example.com/artifactory/","repository":"bar","status":"active"}`
	status, body := e.do(t, "POST", "/api/orgs/octo-org/artifacts/metadata/storage-record", doc)
	if status != 200 || body["total_count"] != float64(1) {
		t.Fatalf("storage record: %d %v", status, body)
	}
	rec := body["storage_records"].([]any)[0].(map[string]any)
	want := []string{"artifact_url", "created_at", "digest", "id", "name", "registry_url", "repository", "status", "updated_at"}
	if !reflect.DeepEqual(keys(rec), want) || rec["name"] != "libfoo" || rec["repository"] != "bar" || rec["status"] != "active" {
		t.Errorf("stored = %v", rec)
	}
	// Posted again: the same record (same id), and nothing written.
	before := e.Counter.Counts()
	if status, again := e.do(t, "POST", "/api/orgs/octo-org/artifacts/metadata/storage-record", doc); status != 200 ||
		again["storage_records"].([]any)[0].(map[string]any)["id"] != rec["id"] {
		t.Errorf("re-post: %d %v", status, again)
	}
	if d := e.Counter.Counts().Sub(before); d.Writes != 0 {
		t.Errorf("re-post wrote %d documents", d.Writes)
	}
	// Status eol updates it; return_records false answers the count.
	status, body = e.do(t, "POST", "/api/orgs/octo-org/artifacts/metadata/storage-record",
		strings.Replace(doc, `"status":"active"`, `"status":"eol","return_records":false`, 1))
	if status != 200 || !reflect.DeepEqual(body, map[string]any{"total_count": float64(1)}) {
		t.Errorf("eol: %d %v", status, body)
	}
	status, body = e.do(t, "POST", "/api/orgs/octo-org/artifacts/metadata/storage-record", strings.Replace(doc, `"registry_url":"https://`, `"registry_url":"http://`, 1))
	if status != 422 {
		t.Errorf("http registry: %d %v", status, body)
	}

	status, body = e.do(t, "GET", "/api/orgs/octo-org/artifacts/"+digest+"/metadata/storage-records", "")
	if status != 200 || body["total_count"] != float64(1) {
		t.Fatalf("storage listing: %d %v", status, body)
	}
	if l := body["storage_records"].([]any)[0].(map[string]any); l["status"] != "eol" || l["id"] != rec["id"] || l["created_at"] != rec["created_at"] {
		t.Errorf("listed = %v", l)
	}
	if status, body = e.do(t, "GET", "/api/orgs/other-org/artifacts/"+digest+"/metadata/storage-records", ""); status != 200 ||
		!reflect.DeepEqual(body, map[string]any{"total_count": float64(0), "storage_records": []any{}}) {
		t.Errorf("another org's listing: %d %v", status, body)
	}

	// Deployment records of the digest: the docs example in two environments.
	e.do(t, "POST", single, docsSingle)
	e.do(t, "POST", single, strings.Replace(docsSingle, `"prod"`, `"staging"`, 1))
	status, body = e.do(t, "GET", "/api/orgs/octo-org/artifacts/"+digest+"/metadata/deployment-records", "")
	if status != 200 || body["total_count"] != float64(2) {
		t.Fatalf("deployment listing: %d %v", status, body)
	}
	var envs []string
	for _, r := range body["deployment_records"].([]any) {
		m := r.(map[string]any)
		envs = append(envs, m["logical_environment"].(string))
		if m["cluster"] != "moda-1" || m["deployment_name"] != "deployment-pod" || m["digest"] != digest {
			t.Errorf("listed record %v", m)
		}
	}
	if len(envs) != 2 || envs[0] == envs[1] {
		t.Errorf("environments listed: %v", envs)
	}
	if status, body = e.do(t, "GET", "/api/orgs/octo-org/artifacts/sha256:XYZ/metadata/deployment-records", ""); status != 422 {
		t.Errorf("bad digest: %d %v", status, body)
	}
	if status, _ = e.post(t, "/api/orgs/octo-org/artifacts/metadata/storage-record", "", doc); status != 401 {
		t.Errorf("unauthenticated storage record: %d", status)
	}
}
