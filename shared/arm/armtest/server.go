// Package armtest fakes the Azure endpoints runtimelink calls, speaking
// their wire format over TLS signed by a test CA: Azure Resource Manager
// for Defender for Cloud governance assignments, Azure Resource Graph, and
// the App Service managed-identity endpoint that hands out the bearer
// tokens. Like ARM it refuses what ARM refuses — no or a wrong bearer token
// (401), an unknown api-version (400), a body that fails validation (400),
// a missing role (403 AuthorizationFailed) — answers errors in ARM's shape
// {"error":{"code","message"}}, and can be told to throttle (429 with
// Retry-After) or fail. It records every request, and Verify fails a test
// whose expected call never came.
package armtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string // as sent (ARM paths are case-insensitive)
	Query  string
	Status int
	At     time.Time
}

// Write reports whether the request asked for a change.
func (r Request) Write() bool {
	return r.Method == http.MethodPut || r.Method == http.MethodDelete || r.Method == http.MethodPatch
}

// Fault makes matching requests fail.
type Fault struct {
	Method string // "" matches any
	// PathContains matches a substring of the lower-cased path; "" any.
	PathContains string
	Skip         int // let this many matching requests through first
	Times        int // fail this many (0: one)
	Status       int // 409, 429, 500, 503 ...
	// RetryAfter adds a Retry-After header (seconds) when > 0.
	RetryAfter int
	Code       string // ARM error code; derived from Status when empty
}

type faultState struct {
	Fault
	seen, failed int
}

type expectation struct {
	method string
	path   *regexp.Regexp
	hits   int
}

// Server is the fake. Configure it through its methods, which are safe to
// call while requests are served.
type Server struct {
	// URL is the ARM endpoint (ARM_ENDPOINT), without a trailing slash.
	URL string
	// Token is the bearer token accepted besides those of a trusted
	// managed identity.
	Token string
	// Principal is the object id named in 403 answers.
	Principal string

	srv *httptest.Server

	mu           sync.Mutex
	identity     *ManagedIdentity
	assessments  map[string]bool // lower-case assessment ids; nil map entry = unknown
	anyAssess    bool
	assignments  map[string]*Assignment // lower-case assignment id → stored
	order        []string               // insertion order of assignment ids
	denied       map[string]bool        // denied actions
	faults       []*faultState
	graphRows    map[string][]json.RawMessage // extra Resource Graph answers by query
	graphAnswers map[string]*cannedAnswers    // verbatim Resource Graph answers by query
	graphQueries []GraphQuery
	requests     []Request
	expect       []*expectation
	pageSize     int
}

// New starts a fake ARM endpoint over TLS signed by TestCA; it stops when
// the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	c, err := TestCA()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		Token:        "arm." + randomHex(24),
		Principal:    "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
		assessments:  map[string]bool{},
		assignments:  map[string]*Assignment{},
		denied:       map[string]bool{},
		graphRows:    map[string][]json.RawMessage{},
		graphAnswers: map[string]*cannedAnswers{},
		pageSize:     100,
	}
	s.srv = httptest.NewUnstartedServer(s)
	s.srv.TLS = c.ServerTLS()
	s.srv.StartTLS()
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	return s
}

// Client is an HTTP client trusting the test CA, for tests that pass a
// transport rather than set SSL_CERT_FILE.
func (s *Server) Client() *http.Client {
	c, _ := TestCA()
	return c.Client()
}

// TrustIdentity makes the fake accept the tokens m issued for the ARM
// endpoint (the fake's URL, or audience when given), as ARM accepts the
// app's managed-identity tokens.
func (s *Server) TrustIdentity(m *ManagedIdentity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identity = m
}

// AddAssessment makes an assessment (its full ARM id) exist, so
// governance assignments can be put on it.
func (s *Server) AddAssessment(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assessments[strings.ToLower(strings.TrimRight(id, "/"))] = true
}

// AcceptAnyAssessment lets assignments be put on any assessment id.
func (s *Server) AcceptAnyAssessment() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.anyAssess = true
}

// Deny makes ARM answer 403 AuthorizationFailed for an action, as it does
// when the identity lacks the role: "Microsoft.Security/assessments/
// governanceAssignments/write", ".../read", ".../delete" or
// "Microsoft.ResourceGraph/resources/read". Allow undoes it.
func (s *Server) Deny(action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[strings.ToLower(action)] = true
}

// Allow undoes Deny.
func (s *Server) Allow(action string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, strings.ToLower(action))
}

// Inject adds a fault; faults are matched in the order they were added.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// SetPageSize sets how many items one page of a list holds.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = max(1, n)
}

// Expect registers a call the test expects (method and a regular
// expression over the lower-cased path); Verify fails when it never came.
func (s *Server) Expect(method, pathPattern string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expect = append(s.expect, &expectation{method: method, path: regexp.MustCompile(pathPattern)})
}

// Verify fails t for every expectation no request met.
func (s *Server) Verify(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.expect {
		if e.hits == 0 {
			t.Errorf("armtest: expected %s %s, never called", e.method, e.path)
		}
	}
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Writes counts the PUT/DELETE requests received (answered or not).
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Write() {
			n++
		}
	}
	return n
}

// Reset forgets the recorded requests (state and configuration stay).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.graphQueries = nil, nil
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: w.status, At: time.Now()})
		lower := strings.ToLower(r.URL.Path)
		for _, e := range s.expect {
			if e.method == r.Method && e.path.MatchString(lower) {
				e.hits++
			}
		}
		s.mu.Unlock()
	}()
	w.Header().Set("x-ms-request-id", randomHex(16))
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
		if r.Header.Get("Authorization") == "" {
			WriteError(w, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		} else {
			WriteError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		}
		return
	}
	if f := s.fault(r); f != nil {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
		}
		code := f.Code
		if code == "" {
			code = defaultCode(f.Status)
		}
		WriteError(w, f.Status, code, "injected: "+http.StatusText(f.Status))
		return
	}
	lower := strings.ToLower(r.URL.Path)
	switch {
	case lower == "/providers/microsoft.resourcegraph/resources":
		s.serveGraph(w, r)
	case strings.Contains(lower, "/providers/microsoft.security/assessments/"):
		s.serveGovernance(w, r)
	default:
		WriteError(w, http.StatusNotFound, "InvalidResourceType", fmt.Sprintf("The resource type could not be found in the namespace for path '%s'.", r.URL.Path))
	}
}

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return false
	}
	if tok == s.Token {
		return true
	}
	s.mu.Lock()
	m := s.identity
	s.mu.Unlock()
	return m != nil && m.Valid(tok, s.URL)
}

func (s *Server) fault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	lower := strings.ToLower(r.URL.Path)
	for _, f := range s.faults {
		if (f.Method != "" && f.Method != r.Method) || (f.PathContains != "" && !strings.Contains(lower, strings.ToLower(f.PathContains))) {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			continue
		}
		if f.failed >= max(1, f.Times) {
			continue
		}
		f.failed++
		cp := f.Fault
		return &cp
	}
	return nil
}

// checkAPIVersion answers 400 like ARM unless the request names one of
// versions; it reports whether the request may go on.
func checkAPIVersion(w http.ResponseWriter, r *http.Request, resourceType string, versions ...string) bool {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		WriteError(w, http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
		return false
	}
	for _, ok := range versions {
		if v == ok {
			return true
		}
	}
	WriteError(w, http.StatusBadRequest, "InvalidApiVersionParameter",
		fmt.Sprintf("The api-version '%s' is invalid. The supported versions are '%s' for resource type '%s'.", v, strings.Join(versions, ","), resourceType))
	return false
}

// forbidden answers 403 AuthorizationFailed when action is denied.
func (s *Server) forbidden(w http.ResponseWriter, action, scope string) bool {
	s.mu.Lock()
	denied := s.denied[strings.ToLower(action)]
	s.mu.Unlock()
	if !denied {
		return false
	}
	WriteError(w, http.StatusForbidden, "AuthorizationFailed", fmt.Sprintf(
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		s.Principal, s.Principal, action, scope))
	return true
}

// WriteError writes ARM's error body {"error":{"code","message"}}.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-failure-cause", "gateway")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func defaultCode(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusForbidden:
		return "AuthorizationFailed"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "GatewayTimeout"
	}
	if status >= 500 {
		return "InternalServerError"
	}
	return "BadRequest"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
