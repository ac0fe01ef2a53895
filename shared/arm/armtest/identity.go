package armtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ManagedIdentity fakes the App Service / Functions managed-identity
// endpoint azidentity calls when IDENTITY_ENDPOINT and IDENTITY_HEADER are
// set: GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=... with the
// X-IDENTITY-HEADER secret, answered with {access_token, expires_on,
// resource, token_type}. Like the platform's endpoint it is plain HTTP on
// the loopback; the tokens it hands out are what the ARM fake accepts.
type ManagedIdentity struct {
	// Endpoint and Header are the IDENTITY_ENDPOINT and IDENTITY_HEADER values.
	Endpoint string
	Header   string
	// TTL is the lifetime of issued tokens (the platform's: about 24 h).
	TTL time.Duration

	srv *httptest.Server

	mu       sync.Mutex
	issued   map[string]string // token → resource
	requests []string          // resource asked for, per accepted request
	refused  int
}

// NewManagedIdentity starts the endpoint; it stops when the test ends.
// Call Setenv to point azidentity at it.
func NewManagedIdentity(t testing.TB) *ManagedIdentity {
	t.Helper()
	m := &ManagedIdentity{Header: randomHex(16), TTL: 24 * time.Hour, issued: map[string]string{}}
	m.srv = httptest.NewServer(m)
	t.Cleanup(m.srv.Close)
	m.Endpoint = m.srv.URL + "/msi/token"
	return m
}

// Setenv sets IDENTITY_ENDPOINT and IDENTITY_HEADER for the test, as the
// Functions platform sets them for the app.
func (m *ManagedIdentity) Setenv(t testing.TB) {
	t.Setenv("IDENTITY_ENDPOINT", m.Endpoint)
	t.Setenv("IDENTITY_HEADER", m.Header)
}

// Valid reports whether token was issued here for resource (compared
// without a trailing slash, as Entra ID treats audiences).
func (m *ManagedIdentity) Valid(token, resource string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.issued[token]
	return ok && strings.TrimRight(r, "/") == strings.TrimRight(resource, "/")
}

// Requests lists the resource of every token request that was answered.
func (m *ManagedIdentity) Requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.requests...)
}

// Refused counts requests refused for a wrong header, version or resource.
func (m *ManagedIdentity) Refused() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refused
}

func (m *ManagedIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, msg string) {
		m.mu.Lock()
		m.refused++
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": msg})
	}
	if r.Method != http.MethodGet || r.URL.Path != "/msi/token" {
		refuse(http.StatusNotFound, "not found")
		return
	}
	if r.Header.Get("X-IDENTITY-HEADER") != m.Header {
		refuse(http.StatusUnauthorized, "missing or wrong X-IDENTITY-HEADER")
		return
	}
	q := r.URL.Query()
	if q.Get("api-version") != "2019-08-01" {
		refuse(http.StatusBadRequest, "api-version 2019-08-01 is required")
		return
	}
	resource := q.Get("resource")
	if resource == "" || strings.HasSuffix(resource, "/.default") {
		refuse(http.StatusBadRequest, "resource is required (a resource URI, not a scope)")
		return
	}
	tok := "mi." + randomHex(24)
	exp := time.Now().Add(m.TTL)
	m.mu.Lock()
	m.issued[tok] = resource
	m.requests = append(m.requests, resource)
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    "8f3c2a1e-5b6d-4e7f-9a0b-1c2d3e4f5a6b",
	})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
