// Package githubtest is a fake GitHub REST API for tests: an httptest server
// that speaks the wire format runtimelink depends on — App JWT and
// installation-token authentication, rate-limit headers and quotas, Link
// pagination by page and by cursor, ETags and 304, injected secondary limits —
// and records every request so tests can count what a piece of code costs.
package githubtest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// DefaultAppID is the App id of a server made without WithAppID.
const DefaultAppID = 4242

// Request is one request the server received.
type Request struct {
	Method, Path string // Path without the API prefix (GHES "/api/v3")
	Query        string
	Status       int
	Installation int64 // the installation whose token was used; 0 otherwise
	App          bool  // authenticated with the App's JWT
	// Counted: the request used one of the primary limit's requests. A 304,
	// a refused or a failed-authentication request does not.
	Counted     bool
	Conditional bool // carried If-None-Match
	At          time.Time
}

// Option configures New.
type Option func(*Server)

// WithPathPrefix serves the API under a prefix, as GitHub Enterprise Server
// does ("/api/v3").
func WithPathPrefix(p string) Option {
	return func(s *Server) { s.prefix = "/" + strings.Trim(p, "/") }
}

// WithClock makes the rate-limit windows follow a fake clock (tokens and JWTs
// keep real time: ghinstallation checks them against time.Now).
func WithClock(c interface{ Now() time.Time }) Option { return func(s *Server) { s.now = c.Now } }

// WithTokenTTL sets the lifetime of installation tokens (GitHub: 1 h).
func WithTokenTTL(d time.Duration) Option { return func(s *Server) { s.tokenTTL = d } }

// WithRateLimit sets the primary limit per hour of every installation
// (GitHub: 5,000 and up).
func WithRateLimit(n int) Option { return func(s *Server) { s.limit = n } }

// WithAppID sets the App id the JWT's iss must carry.
func WithAppID(id int64) Option { return func(s *Server) { s.AppID = id } }

// WithPrivateKey sets the App key (PEM) whose public half verifies the JWT.
func WithPrivateKey(pem []byte) Option { return func(s *Server) { s.PrivateKeyPEM = pem } }

// Server is the fake. Its fields are set by New; configure it through the
// methods, which are safe to call while requests are served.
type Server struct {
	// URL is the API base URL, as GITHUB_API_URL would hold it (ends in "/").
	URL           string
	AppID         int64
	PrivateKeyPEM []byte

	srv      *httptest.Server
	prefix   string
	now      func() time.Time
	tokenTTL time.Duration
	limit    int
	pub      *rsa.PublicKey
	mux      *http.ServeMux

	mu            sync.Mutex
	tokens        map[string]token
	quotas        map[int64]*quota
	orgs          map[string]*org // by lower-case login
	orgByID       map[int64]*org
	files         map[string]map[string][]byte // repository (lower) → path → content
	attestations  map[string][]storedAttestation
	blobs         map[string][]byte
	installations []installation
	repos         map[string]*repoIssues // by lower-case "owner/name"
	nextID        int64                  // label and comment ids
	content       ContentLimits
	writes        map[int64][]time.Time // content-creating requests per installation, last hour
	searches      map[int64]*quota      // the search window per installation (limits.go)
	faults        []*faultState
	requests      []Request
	copilot       copilotState                 // copilot.go
	campaigns     campaignState                // campaigns.go
	hooks         hookState                    // hooks.go
	expected      []expectation                // see Expect and Verify
	metadata      map[string]*artifactMetadata // by lower-case org
	metadataIDs   int64
}

type token struct {
	installation int64
	user         string // a user's token (AddUserToken); "" for installation tokens
	expires      time.Time
}

type quota struct {
	limit, remaining int
	reset            time.Time
}

type installation struct {
	id  int64
	org string
}

type whoKey struct{}

type who struct {
	installation int64
	app          bool
	user         string // the login of a user token
}

const (
	appQuota   = 0  // the App's JWT calls
	anonQuota  = -1 // unauthenticated
	anonLimit  = 60
	docsPrefix = "https://docs.github.com/rest"
)

// New starts a fake GitHub; it stops when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		AppID:        DefaultAppID,
		now:          time.Now,
		tokenTTL:     time.Hour,
		limit:        5000,
		tokens:       make(map[string]token),
		quotas:       make(map[int64]*quota),
		orgs:         make(map[string]*org),
		orgByID:      make(map[int64]*org),
		files:        make(map[string]map[string][]byte),
		attestations: make(map[string][]storedAttestation),
		blobs:        make(map[string][]byte),
		metadata:     make(map[string]*artifactMetadata),
		repos:        make(map[string]*repoIssues),
		writes:       make(map[int64][]time.Time),
		searches:     make(map[int64]*quota),
	}
	for _, o := range opts {
		o(s)
	}
	if s.PrivateKeyPEM == nil {
		s.PrivateKeyPEM = defaultKey(t)
	}
	s.pub = publicKeyOf(t, s.PrivateKeyPEM)
	s.routes()
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL + s.prefix + "/"
	return s
}

// Host is the server's scheme://host:port, without the API prefix.
func (s *Server) Host() string { return s.srv.URL }

// PrivateKey returns the App key, in the shape github.FactoryOptions wants.
func (s *Server) PrivateKey(context.Context) ([]byte, error) { return s.PrivateKeyPEM, nil }

// SetRateLimit sets an installation's primary quota (0 = the App's JWT calls).
func (s *Server) SetRateLimit(installation int64, remaining int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.quotaLocked(installation)
	q.remaining, q.reset = remaining, reset.Truncate(time.Second)
}

// Fault makes matching requests fail, to test how a client copes.
type Fault struct {
	Method string // "" matches any
	Path   string // a path prefix (without the API prefix); "" matches any
	Skip   int    // let this many matching requests through first
	Times  int    // fail this many (0: one)
	Status int    // e.g. 403, 429, 502
	// RetryAfter adds a Retry-After header (whole seconds) when > 0.
	RetryAfter int
	// Secondary makes the body GitHub's secondary-rate-limit message.
	Secondary bool
}

type faultState struct {
	Fault
	seen, failed int
}

// Inject adds a fault; faults are matched in the order they were added.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f})
}

// Requests returns every request so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count counts the requests that match.
func (s *Server) Count(match func(Request) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if match == nil || match(r) {
			n++
		}
	}
	return n
}

// ResetRequests forgets the recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, At: now,
		Conditional: r.Header.Get("If-None-Match") != ""}
	// The request is recorded when its status goes out, before the body: a
	// client that has read the answer finds it in Requests (and Verify).
	rw := &recordingWriter{ResponseWriter: w, record: func(status int) {
		rec.Status = status
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		s.mu.Unlock()
	}}
	defer rw.flush()
	w = rw
	w.Header().Set("X-GitHub-Request-Id", requestID())
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")

	if strings.HasPrefix(r.URL.Path, "/_blobs/") {
		rec.Status = s.serveBlob(w, r)
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if s.prefix == "" {
		path, ok = r.URL.Path, true
	}
	rec.Path = path
	if !ok || !strings.HasPrefix(path, "/") {
		rec.Status = writeError(w, http.StatusNotFound, "Not Found")
		return
	}

	id, status, msg := s.authenticate(r, path)
	rec.Installation, rec.App = id.installation, id.app
	if status != 0 {
		s.mu.Lock()
		s.rateHeadersLocked(w, anonQuota, now)
		s.mu.Unlock()
		rec.Status = writeError(w, status, msg)
		return
	}
	qkey := id.installation
	if id.app {
		qkey = appQuota
	}

	s.mu.Lock()
	if f := s.faultLocked(r.Method, path); f != nil {
		s.rateHeadersLocked(w, qkey, now)
		s.mu.Unlock()
		rec.Status = writeFault(w, f)
		return
	}
	if status, retry := s.contentLimitLocked(r.Method, id, now); status != 0 {
		s.rateHeadersLocked(w, qkey, now)
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		rec.Status = writeErrorDoc(w, status, secondaryMessage,
			"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
		return
	}
	var sq *quota // the search window, for a search
	if strings.HasPrefix(path, "/search/") {
		if sq = s.searchQuotaLocked(id, now); sq != nil && sq.remaining <= 0 {
			rateHeaders(w, sq, "search")
			s.mu.Unlock()
			rec.Status = writeErrorDoc(w, http.StatusForbidden, fmt.Sprintf("API rate limit exceeded for installation ID %d.", id.installation),
				docsPrefix+"/search/search#rate-limit")
			return
		}
	}
	q := s.quotaLocked(qkey)
	s.rollLocked(q, now)
	if q.remaining <= 0 {
		s.rateHeadersLocked(w, qkey, now)
		s.mu.Unlock()
		who := fmt.Sprintf("installation ID %d", id.installation)
		if id.app {
			who = "the app"
		}
		rec.Status = writeErrorDoc(w, http.StatusForbidden, "API rate limit exceeded for "+who+".",
			docsPrefix+"/overview/rate-limits-for-the-rest-api#about-primary-rate-limits")
		return
	}
	s.mu.Unlock()

	// Route into a recorder so the answer can get its ETag (or become a 304)
	// before it goes out.
	sub := r.Clone(context.WithValue(r.Context(), whoKey{}, id))
	sub.URL.Path = path
	sub.URL.RawPath = ""
	out := httptest.NewRecorder()
	s.mux.ServeHTTP(out, sub)
	res := out.Result()
	body := out.Body.Bytes()

	status = res.StatusCode
	if r.Method == http.MethodGet && status == http.StatusOK {
		etag := res.Header.Get("ETag")
		if etag == "" {
			sum := sha256.Sum256(body)
			etag = `W/"` + hex.EncodeToString(sum[:16]) + `"`
			res.Header.Set("ETag", etag)
		}
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			status, body = http.StatusNotModified, nil
		}
	}
	rec.Counted = status != http.StatusNotModified
	s.mu.Lock()
	switch {
	case sq != nil:
		// A search counts against the search window, not the core quota.
		sq.remaining--
		rateHeaders(w, sq, "search")
	default:
		if rec.Counted {
			q.remaining--
		}
		s.rateHeadersLocked(w, qkey, now)
	}
	s.mu.Unlock()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	if status == http.StatusNotModified {
		w.Header().Del("Content-Type")
		w.Header().Del("Content-Length")
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
	rec.Status = status
}

// authenticate checks the Authorization header: the App's JWT on /app
// endpoints, an installation token everywhere else.
func (s *Server) authenticate(r *http.Request, path string) (who, int, string) {
	auth := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	if cred == "" {
		return who{}, http.StatusUnauthorized, "Requires authentication"
	}
	if strings.HasPrefix(path, "/app/") || path == "/app" {
		if !strings.EqualFold(scheme, "Bearer") {
			return who{}, http.StatusUnauthorized, "A JSON web token could not be decoded"
		}
		if msg := s.verifyJWT(cred); msg != "" {
			return who{}, http.StatusUnauthorized, msg
		}
		return who{app: true}, 0, ""
	}
	if !strings.EqualFold(scheme, "token") && !strings.EqualFold(scheme, "Bearer") {
		return who{}, http.StatusUnauthorized, "Bad credentials"
	}
	s.mu.Lock()
	tok, ok := s.tokens[cred]
	s.mu.Unlock()
	if !ok || !time.Now().Before(tok.expires) {
		return who{}, http.StatusUnauthorized, "Bad credentials"
	}
	return who{installation: tok.installation, user: tok.user}, 0, ""
}

// verifyJWT checks what GitHub checks: RS256 by the App's key, iss = the App
// id, an expiry no more than 10 minutes after issue, not expired.
func (s *Server) verifyJWT(raw string) string {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v", t.Header["alg"])
		}
		return s.pub, nil
	})
	switch {
	case err != nil:
		return "A JSON web token could not be decoded"
	case claims.Issuer != strconv.FormatInt(s.AppID, 10):
		return "'Issuer' claim ('iss') must be an Integer"
	case claims.ExpiresAt == nil || claims.IssuedAt == nil:
		return "Missing 'exp' or 'iat' claim"
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute:
		return "'Expiration time' claim ('exp') is too far in the future"
	}
	return ""
}

func (s *Server) quotaLocked(key int64) *quota {
	q, ok := s.quotas[key]
	if !ok {
		limit := s.limit
		if key == anonQuota {
			limit = anonLimit
		}
		q = &quota{limit: limit, remaining: limit}
		s.quotas[key] = q
	}
	return q
}

func (s *Server) rollLocked(q *quota, now time.Time) {
	if q.reset.IsZero() || !now.Before(q.reset) {
		q.remaining = q.limit
		q.reset = now.Add(time.Hour).Truncate(time.Second)
	}
}

func (s *Server) rateHeadersLocked(w http.ResponseWriter, key int64, now time.Time) {
	q := s.quotaLocked(key)
	s.rollLocked(q, now)
	rateHeaders(w, q, "core")
}

// rateHeaders are the rate-limit headers of an answer counted against q
// (resource "core", or "search" for the search API's window).
func rateHeaders(w http.ResponseWriter, q *quota, resource string) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(q.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(q.remaining, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(q.reset.Unix(), 10))
	h.Set("X-RateLimit-Used", strconv.Itoa(q.limit-max(q.remaining, 0)))
	h.Set("X-RateLimit-Resource", resource)
}

func (s *Server) faultLocked(method, path string) *faultState {
	for _, f := range s.faults {
		if (f.Method != "" && f.Method != method) || !strings.HasPrefix(path, f.Path) || f.failed >= f.Times {
			continue
		}
		f.seen++
		if f.seen <= f.Skip {
			continue
		}
		f.failed++
		return f
	}
	return nil
}

const secondaryMessage = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
	"If you reach out to GitHub Support for help, please include the request ID."

func writeFault(w http.ResponseWriter, f *faultState) int {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch {
	case f.Secondary || f.Status == http.StatusTooManyRequests:
		return writeErrorDoc(w, f.Status, secondaryMessage,
			"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
	case f.Status >= 500:
		return writeError(w, f.Status, "Server Error")
	}
	return writeError(w, f.Status, http.StatusText(f.Status))
}

// perPageOf reads per_page as GitHub's lists do: default 30, at most 100;
// anything but a positive number answers 400 (and false).
func perPageOf(w http.ResponseWriter, q url.Values) (int, bool) {
	n, ok := positiveParam(w, q, "per_page", 30)
	return min(n, 100), ok
}

// pageOf reads page as GitHub's paged lists do: default 1; anything but a
// positive number answers 400 (and false).
func pageOf(w http.ResponseWriter, q url.Values) (int, bool) {
	return positiveParam(w, q, "page", 1)
}

// positiveParam reads the query parameter name: absent when it is not
// given; anything but a positive number answers 400 Invalid <name> (and
// false).
func positiveParam(w http.ResponseWriter, q url.Values, name string, absent int) (int, bool) {
	v := q.Get(name)
	if v == "" {
		return absent, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, "Invalid "+name)
		return 0, false
	}
	return n, true
}

func writeError(w http.ResponseWriter, status int, msg string) int {
	return writeErrorDoc(w, status, msg, docsPrefix)
}

func writeErrorDoc(w http.ResponseWriter, status int, msg, doc string) int {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "documentation_url": doc, "status": strconv.Itoa(status)})
	return status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// etagMatches compares If-None-Match with an ETag the weak way, as GitHub does.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	norm := func(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "W/") }
	for _, v := range strings.Split(ifNoneMatch, ",") {
		if v = strings.TrimSpace(v); v == "*" || norm(v) == norm(etag) {
			return true
		}
	}
	return false
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func randomToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [36]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ghs_" + string(b[:])
}

// recordingWriter calls record once, with the status, as the header is
// written (or when the handler wrote nothing).
type recordingWriter struct {
	http.ResponseWriter
	record   func(status int)
	recorded bool
}

func (rw *recordingWriter) WriteHeader(status int) {
	if !rw.recorded {
		rw.recorded = true
		rw.record(status)
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recordingWriter) Write(b []byte) (int, error) {
	if !rw.recorded {
		rw.WriteHeader(http.StatusOK)
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recordingWriter) flush() {
	if !rw.recorded {
		rw.WriteHeader(http.StatusOK)
	}
}

func whoOf(r *http.Request) who {
	w, _ := r.Context().Value(whoKey{}).(who)
	return w
}
