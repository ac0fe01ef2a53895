package resourcegraph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/model"
)

const sub = "/subscriptions/6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"

const fakeToken = "fake-arm-token-7f3a"

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes [][]string
	err    error
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes)
	if c.err != nil {
		return azcore.AccessToken{}, c.err
	}
	return azcore.AccessToken{Token: fakeToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// graphServer is a Resource Graph fake speaking the wire format: it checks
// path, api-version, bearer token and body, and serves the given pages in
// order, keyed by the $skipToken the client sends.
type graphServer struct {
	t     *testing.T
	pages map[string]string // skip token ("" = first page) → response body
	// status, when set, answers every request with it (and an ARM error body).
	status   int
	throttle int // answer this many requests 429 before serving

	mu       sync.Mutex
	requests []graphRequest
}

func (g *graphServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.t
	if r.Method != http.MethodPost || r.URL.Path != "/providers/Microsoft.ResourceGraph/resources" {
		t.Errorf("request %s %s, want POST /providers/Microsoft.ResourceGraph/resources", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if v := r.URL.Query().Get("api-version"); v != "2022-10-01" {
		t.Errorf("api-version = %q", v)
	}
	if a := r.Header.Get("Authorization"); a != "Bearer "+fakeToken {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/x"`)
		writeARMError(w, http.StatusUnauthorized, "AuthenticationFailed", "no valid bearer token")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type = %q", ct)
	}
	var req graphRequest
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("request body %s: %v", body, err)
	}
	g.mu.Lock()
	g.requests = append(g.requests, req)
	throttled := g.throttle > 0
	if throttled {
		g.throttle--
	}
	g.mu.Unlock()
	if throttled {
		w.Header().Set("Retry-After", "0")
		writeARMError(w, http.StatusTooManyRequests, "RateLimiting", "too many requests")
		return
	}
	if g.status != 0 {
		writeARMError(w, g.status, "AuthorizationFailed", "the client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read'")
		return
	}
	page, ok := g.pages[req.Options.SkipToken]
	if !ok {
		writeARMError(w, http.StatusBadRequest, "BadRequest", "unknown skip token")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	io.WriteString(w, page)
}

func writeARMError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// twoPages splits an answer across two pages: the row of the repository's
// Resource Graph sample on the first, a second path (a jump VM, one entity
// outside Azure) on the second.
func twoPages(t *testing.T) map[string]string {
	b, err := os.ReadFile(filepath.Join("../../testdata/defender", "attackpaths-resourcegraph.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &sample); err != nil || len(sample.Data) != 1 {
		t.Fatalf("sample answer: %v (%d rows)", err, len(sample.Data))
	}
	first := `{"totalRecords":2,"count":1,"resultTruncated":"false","$skipToken":"ew0KICAiJGlkIjogIjEiLA0K","data":[` + string(sample.Data[0]) + `]}`
	last := `{"totalRecords":2,"count":1,"resultTruncated":"false","data":[{
		"id":"` + sub + `/providers/Microsoft.Security/attackPaths/99999999-0000-4000-8000-000000000001",
		"name":"99999999-0000-4000-8000-000000000001","type":"microsoft.security/attackpaths",
		"properties":{"riskLevel":"High","riskFactors":["Critical resource"],"entryPointEntityInternalID":"vm-jump",
			"graphComponent":{"entities":[
				{"entityInternalID":"vm-jump","entityName":"vm-jump","entityType":"VirtualMachine",
				 "entityIdentifiers":{"azureResourceId":"` + sub + `/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump"}},
				{"entityInternalID":"internet","entityName":"Internet","entityType":"Internet"}]}}}]}`
	return map[string]string{"": first, "ew0KICAiJGlkIjogIjEiLA0K": last}
}

func newTestGraph(t *testing.T, g *graphServer, cred azcore.TokenCredential) (*Client, *httptest.Server) {
	t.Helper()
	g.t = t
	srv := httptest.NewTLSServer(g)
	t.Cleanup(srv.Close)
	c, err := NewClient(cred, Options{
		Endpoint:      srv.URL,
		Subscriptions: []string{"6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"},
		ClientOptions: policy.ClientOptions{
			Transport: srv.Client(),
			Retry:     policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv
}

func TestAttackPathsPagesAndMaps(t *testing.T) {
	g := &graphServer{pages: twoPages(t)}
	cred := &fakeCredential{}
	c, srv := newTestGraph(t, g, cred)

	paths, err := c.AttackPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	if len(g.requests) != 2 {
		t.Fatalf("server saw %d requests, want 2 pages", len(g.requests))
	}
	for i, r := range g.requests {
		if r.Query != `securityresources | where type == "microsoft.security/attackpaths"` ||
			!slices.Equal(r.Subscriptions, []string{"6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"}) ||
			r.Options.ResultFormat != "objectArray" || r.Options.Top != 1000 {
			t.Errorf("request %d = %+v", i, r)
		}
	}
	if g.requests[0].Options.SkipToken != "" || g.requests[1].Options.SkipToken != "ew0KICAiJGlkIjogIjEiLA0K" {
		t.Errorf("skip tokens sent: %q, %q", g.requests[0].Options.SkipToken, g.requests[1].Options.SkipToken)
	}
	if len(cred.scopes) == 0 || !slices.Equal(cred.scopes[0], []string{srv.URL + "/.default"}) {
		t.Errorf("token scopes = %v", cred.scopes)
	}

	if len(paths) != 2 {
		t.Fatalf("got %d attack paths, want 2", len(paths))
	}
	// What each field means is defender.ParseAttackPath's (tested there);
	// here: every row of every page, in order, went through it.
	if p := paths[0]; p.ID != sub+"/providers/Microsoft.Security/attackPaths/2c4e6f80-1a3b-4c5d-8e9f-0a1b2c3d4e5f" ||
		p.RiskLevel != "critical" || len(p.RiskFactors) != 3 || len(p.ResourceIDs) != 2 {
		t.Errorf("first attack path = %+v", p)
	}
	q := paths[1]
	lowerVM := strings.ToLower(sub + "/resourceGroups/RG-Ops/providers/Microsoft.Compute/virtualMachines/VM-Jump")
	if q.RiskLevel != "high" || !slices.Equal(q.RiskFactors, []model.RiskFactor{model.RiskCriticalResource}) ||
		!slices.Equal(q.ResourceIDs, []string{lowerVM}) || q.EntryPointResourceID != lowerVM || q.TargetResourceID != "" /* target entity not on this path */ ||
		len(q.Entities) != 2 || q.Entities[1].ResourceID != "" {
		t.Errorf("second attack path = %+v", q)
	}
}

func TestGraphQueryRetriesThrottling(t *testing.T) {
	g := &graphServer{pages: twoPages(t), throttle: 1}
	c, _ := newTestGraph(t, g, &fakeCredential{})
	paths, err := c.AttackPaths(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || len(g.requests) != 3 {
		t.Fatalf("got %d paths in %d requests, want 2 paths in 3 (one throttled)", len(paths), len(g.requests))
	}
}

func TestGraphQueryErrors(t *testing.T) {
	t.Run("forbidden", func(t *testing.T) {
		c, _ := newTestGraph(t, &graphServer{status: http.StatusForbidden}, &fakeCredential{})
		_, err := c.AttackPaths(context.Background())
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
			t.Fatalf("error = %v, want a 403 AuthorizationFailed response error", err)
		}
		if strings.Contains(err.Error(), fakeToken) {
			t.Error("error text carries the bearer token")
		}
	})
	t.Run("credential fails", func(t *testing.T) {
		credErr := errors.New("no managed identity endpoint")
		g := &graphServer{pages: twoPages(t)}
		c, _ := newTestGraph(t, g, &fakeCredential{err: credErr})
		if _, err := c.AttackPaths(context.Background()); !errors.Is(err, credErr) {
			t.Fatalf("error = %v, want the credential's", err)
		}
		if len(g.requests) != 0 {
			t.Errorf("%d requests went out without a token", len(g.requests))
		}
	})
	t.Run("skip token repeated", func(t *testing.T) {
		loop := `{"totalRecords":2,"count":0,"$skipToken":"again","data":[]}`
		c, _ := newTestGraph(t, &graphServer{pages: map[string]string{"": loop, "again": loop}}, &fakeCredential{})
		if _, err := c.AttackPaths(context.Background()); err == nil || !strings.Contains(err.Error(), "repeated") {
			t.Fatalf("error = %v, want repeated skip token", err)
		}
	})
	t.Run("table format answer", func(t *testing.T) {
		table := `{"totalRecords":1,"count":1,"data":{"columns":[{"name":"id","type":"string"}],"rows":[["x"]]}}`
		c, _ := newTestGraph(t, &graphServer{pages: map[string]string{"": table}}, &fakeCredential{})
		if _, err := c.AttackPaths(context.Background()); err == nil {
			t.Fatal("a table-format answer was accepted")
		}
	})
	t.Run("row without id", func(t *testing.T) {
		page := `{"totalRecords":1,"count":1,"data":[{"type":"microsoft.security/attackpaths","properties":{}}]}`
		c, _ := newTestGraph(t, &graphServer{pages: map[string]string{"": page}}, &fakeCredential{})
		if _, err := c.AttackPaths(context.Background()); err == nil {
			t.Fatal("an attack path without id was accepted")
		}
	})
	t.Run("callback error stops the query", func(t *testing.T) {
		g := &graphServer{pages: twoPages(t)}
		c, _ := newTestGraph(t, g, &fakeCredential{})
		stop := errors.New("stop")
		if err := c.Query(context.Background(), defender.AttackPathsQuery, func(json.RawMessage) error { return stop }); !errors.Is(err, stop) {
			t.Fatalf("error = %v", err)
		}
		if len(g.requests) != 1 {
			t.Errorf("%d requests after the callback stopped on page 1", len(g.requests))
		}
	})
	t.Run("plain http endpoint refuses to send the token", func(t *testing.T) {
		g := &graphServer{pages: twoPages(t), t: t}
		srv := httptest.NewServer(g)
		defer srv.Close()
		c, err := NewClient(&fakeCredential{}, Options{Endpoint: srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.AttackPaths(context.Background()); err == nil || len(g.requests) != 0 {
			t.Fatalf("error = %v with %d requests, want a refusal before sending", err, len(g.requests))
		}
	})
}

func TestNewClientValidates(t *testing.T) {
	if _, err := NewClient(nil, Options{}); err == nil {
		t.Error("nil credential accepted")
	}
	for _, e := range []string{"management.azure.com", "://x", "ftp://arm.example"} {
		if _, err := NewClient(&fakeCredential{}, Options{Endpoint: e}); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	c, err := NewClient(&fakeCredential{}, Options{})
	if err != nil || c.endpoint != DefaultARMEndpoint || c.pageSize != 1000 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}
