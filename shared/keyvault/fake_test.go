package keyvault

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// fakeVault speaks the Key Vault secrets REST API as azsecrets uses it:
// an unauthenticated request gets 401 with a bearer challenge naming the
// tenant and resource; GET /secrets/{name}/ (latest) or
// /secrets/{name}/{version} with api-version answers the secret bundle; an
// unknown secret gets 404 SecretNotFound.
type fakeVault struct {
	srv      *httptest.Server
	tenant   string
	resource string
	token    string

	mu       sync.Mutex
	secrets  map[string][]string // versions, latest last
	status   map[string]int      // forced error status per name
	rawBody  map[string]string   // forced 200 body per name
	hold     chan struct{}       // when set, secret reads wait for it to close
	reads    map[string]int      // authenticated reads per name
	unauth   int                 // unauthenticated requests (challenges sent)
	requests []string            // "HOST PATH?QUERY" of every authenticated read
}

// newFakeVault starts a fake whose challenges name resource (the real
// service names https://vault.azure.net).
func newFakeVault(t testing.TB, resource string) *fakeVault {
	t.Helper()
	f := &fakeVault{
		tenant:   "72f988bf-86f1-41af-91ab-2d7cd011db47",
		resource: resource,
		token:    "fake-access-token",
		secrets:  map[string][]string{},
		status:   map[string]int{},
		rawBody:  map[string]string{},
		reads:    map[string]int{},
	}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// set stores a new version of name and returns its version id.
func (f *fakeVault) set(name, value string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name] = append(f.secrets[name], value)
	return versionID(len(f.secrets[name]))
}

func (f *fakeVault) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.secrets, name)
}

func (f *fakeVault) failWith(name string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == 0 {
		delete(f.status, name)
	} else {
		f.status[name] = status
	}
}

// answer makes reads of name answer 200 with raw as the body.
func (f *fakeVault) answer(name, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rawBody[name] = raw
}

// holdReads makes secret reads wait until hold is closed.
func (f *fakeVault) holdReads(hold chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = hold
}

func (f *fakeVault) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeVault) readsOf(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads[name]
}

func (f *fakeVault) challenges() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unauth
}

func versionID(n int) string { return fmt.Sprintf("%032x", n) }

func (f *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.mu.Lock()
		f.unauth++
		f.mu.Unlock()
		w.Header().Set("WWW-Authenticate",
			fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, f.tenant, f.resource))
		writeError(w, http.StatusUnauthorized, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The method is not allowed.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid parameter: api-version is missing.")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	name, version, _ := strings.Cut(rest, "/")
	if !ok || name == "" || strings.Contains(version, "/") {
		writeError(w, http.StatusNotFound, "NotFound", "Not Found")
		return
	}

	f.mu.Lock()
	f.reads[name]++
	f.requests = append(f.requests, r.Host+" "+r.URL.Path+"?"+r.URL.RawQuery)
	hold := f.hold
	status, forced := f.status[name]
	raw, hasRaw := f.rawBody[name]
	versions := append([]string(nil), f.secrets[name]...)
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}

	switch {
	case forced:
		writeError(w, status, http.StatusText(status), "Forced failure.")
		return
	case hasRaw:
		io.WriteString(w, raw)
		return
	}
	idx := len(versions) - 1
	if version != "" {
		idx = -1
		for i := range versions {
			if versionID(i+1) == version {
				idx = i
			}
		}
	}
	if idx < 0 {
		writeError(w, http.StatusNotFound, "SecretNotFound", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. "+
			"If you recently deleted this secret you may be able to recover it using the correct recovery command. "+
			"For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", name))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"value": versions[idx],
		"id":    fmt.Sprintf("https://%s/secrets/%s/%s", r.Host, name, versionID(idx+1)),
		"attributes": map[string]any{
			"enabled": true, "created": 1700000000, "updated": 1700000000 + idx,
			"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
		},
		"tags": map[string]string{},
	})
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// redirectClient reaches srv whatever host a request names, and checks the
// server certificate against a name it holds, so a client configured with a
// real vault URL (https://x.vault.azure.net/) talks to the fake.
func redirectClient(srv *httptest.Server) *http.Client {
	tr := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
	return &http.Client{Transport: tr}
}

// fakeCredential hands out a static token and records what was asked.
type fakeCredential struct {
	token string

	mu    sync.Mutex
	calls int
	last  policy.TokenRequestOptions
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	c.last = o
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *fakeCredential) snapshot() (int, policy.TokenRequestOptions) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.last
}
