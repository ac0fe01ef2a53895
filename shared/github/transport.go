package github

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"
	"golang.org/x/time/rate"
)

// Limits tunes how the transport treats GitHub's rate limits. Zero fields
// take the defaults given.
type Limits struct {
	// MaxWait is the longest one request may be held back (for a reset, a
	// Retry-After or pacing). A longer wait fails the request at once with a
	// *RateLimitError so a queue-driven caller can retry later instead of
	// holding a Functions invocation. Default 60 s.
	MaxWait time.Duration
	// Retries is how often an idempotent request (GET, HEAD) is sent again
	// after a rate-limit answer. Default 3.
	Retries int
	// SecondaryBackoff is the wait after a secondary limit that names no
	// time; it doubles on each consecutive hit. Default 60 s (GitHub: "at
	// least one minute").
	SecondaryBackoff time.Duration
	// WritesPerMinute and WritesPerHour pace content-creating requests
	// (POST, PATCH, PUT, DELETE) per installation, below GitHub's secondary
	// limits (about 80 per minute and 500 per hour). Defaults 80 and 500.
	WritesPerMinute, WritesPerHour int
	// MaxConcurrent bounds the requests in flight per installation (GitHub's
	// secondary limit is 100). Default 50.
	MaxConcurrent int
	// ETagEntries and ETagBytes bound the conditional-request cache.
	// Defaults 4096 entries and 32 MiB; one body is cached only up to
	// min(1 MiB, ETagBytes).
	ETagEntries int
	ETagBytes   int64
	// LowHeadroom is the share of the primary limit below which a warning
	// with ratelimitRemaining is logged (once per window). Default 0.10.
	LowHeadroom float64
}

func (l Limits) withDefaults() Limits {
	if l.MaxWait <= 0 {
		l.MaxWait = time.Minute
	}
	if l.Retries <= 0 {
		l.Retries = 3
	}
	if l.SecondaryBackoff <= 0 {
		l.SecondaryBackoff = time.Minute
	}
	if l.WritesPerMinute <= 0 {
		l.WritesPerMinute = 80
	}
	if l.WritesPerHour <= 0 {
		l.WritesPerHour = 500
	}
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 50
	}
	if l.ETagEntries <= 0 {
		l.ETagEntries = 4096
	}
	if l.ETagBytes <= 0 {
		l.ETagBytes = 32 << 20
	}
	if l.LowHeadroom <= 0 {
		l.LowHeadroom = 0.10
	}
	return l
}

// TransportOptions configures NewTransport.
type TransportOptions struct {
	Limits Limits
	Clock  Clock        // nil: the real clock
	Logger *slog.Logger // nil: slog.Default()
	// APIPath is the API's path on its host ("/api/v3" on GitHub Enterprise
	// Server); it is stripped before a request is classified by resource.
	APIPath string
}

// Transport is an http.RoundTripper that keeps a GitHub App within GitHub's
// rate limits. It sits under ghinstallation, so the token requests are
// governed too, and keeps its state per installation (the installation is
// read from the request context; JWT-authenticated App calls share one
// bucket, id 0):
//   - primary limits: X-RateLimit-* of every answer are tracked per resource;
//     at zero remaining a request waits for the reset (or fails with
//     *RateLimitError when that is further than MaxWait);
//   - secondary limits (403 with GitHub's message, 429, Retry-After): the
//     installation is held back for Retry-After, else until the reset when
//     none remain, else for SecondaryBackoff; GETs are retried, writes are not;
//   - content-creating requests are paced per installation;
//   - GETs are made conditional with a bounded ETag cache: a 304 (which GitHub
//     does not count) is answered from the cache as a 200.
type Transport struct {
	base    http.RoundTripper
	lim     Limits
	clock   Clock
	log     *slog.Logger
	apiPath string
	etags   *lru[string, *cachedResponse]
	maxBody int64

	mu      sync.Mutex
	buckets map[int64]*bucket
}

// NewTransport wraps base (nil: http.DefaultTransport).
func NewTransport(base http.RoundTripper, o TransportOptions) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	lim := o.Limits.withDefaults()
	return &Transport{
		base:    base,
		lim:     lim,
		clock:   o.Clock,
		log:     o.Logger,
		apiPath: strings.TrimSuffix(o.APIPath, "/"),
		etags: newLRU[string, *cachedResponse](lim.ETagEntries, lim.ETagBytes,
			func(c *cachedResponse) int64 { return int64(len(c.body)) + 512 }),
		maxBody: min(1<<20, lim.ETagBytes),
		buckets: make(map[int64]*bucket),
	}
}

type installationKey struct{}
type noConditionalKey struct{}

// withInstallation tags a request context with the installation it is made
// for, so the transport under ghinstallation knows whose limits apply.
func withInstallation(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, installationKey{}, id)
}

// withoutConditional keeps a request's answer out of the ETag cache: a
// backfill reads each page once, caching them would only evict useful entries.
func withoutConditional(ctx context.Context) context.Context {
	return context.WithValue(ctx, noConditionalKey{}, true)
}

type bucket struct {
	id        int64
	perMinute *rate.Limiter
	perHour   *rate.Limiter
	sem       chan struct{}

	mu           sync.Mutex
	rates        map[string]*rateState
	blockedUntil time.Time // secondary limit: nothing is sent before
	strikes      int       // consecutive secondary limits, for the backoff
}

type rateState struct {
	limit, remaining, used int
	reset                  time.Time
	warnedFor              time.Time // the window already warned about
}

type cachedResponse struct {
	etag   string
	header http.Header
	body   []byte
}

// newPacer returns a token bucket that admits at most n events in any
// window of length per: with burst b and refill (n-b)/per, a window starting
// with a full bucket still sees b + (n-b) = n at most.
func newPacer(n int, per time.Duration) *rate.Limiter {
	b := max(1, n/10)
	if n <= b {
		return rate.NewLimiter(rate.Every(per/time.Duration(n)), 1)
	}
	return rate.NewLimiter(rate.Limit(float64(n-b)/per.Seconds()), b)
}

func (t *Transport) bucket(id int64) *bucket {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[id]
	if !ok {
		b = &bucket{
			id:        id,
			perMinute: newPacer(t.lim.WritesPerMinute, time.Minute),
			perHour:   newPacer(t.lim.WritesPerHour, time.Hour),
			sem:       make(chan struct{}, t.lim.MaxConcurrent),
			rates:     make(map[string]*rateState),
		}
		t.buckets[id] = b
	}
	return b
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	app := isJWT(req.Header.Get("Authorization"))
	var id int64
	if !app {
		id, _ = ctx.Value(installationKey{}).(int64)
	}
	b := t.bucket(id)
	resource := t.resourceOf(req)
	retryable := (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		(req.Body == nil || req.Body == http.NoBody || req.GetBody != nil)

	// Minting an installation token (JWT) is not content creation.
	if !app && contentCreating(req.Method) {
		if err := t.pace(ctx, b, req); err != nil {
			closeBody(req)
			return nil, err
		}
	}

	key, cached := t.conditional(req, id)
	for attempt := 0; ; attempt++ {
		if err := t.gate(ctx, b, resource, req); err != nil {
			closeBody(req)
			return nil, err
		}
		out, err := t.prepare(req, attempt, cached)
		if err != nil {
			return nil, err
		}
		select {
		case b.sem <- struct{}{}:
		case <-ctx.Done():
			closeBody(out)
			return nil, ctx.Err()
		}
		resp, err := t.base.RoundTrip(out)
		<-b.sem
		if err != nil {
			return nil, err
		}
		t.observe(b, resource, resp)
		limited := t.classify(b, req, resource, resp)
		if limited == nil {
			b.mu.Lock()
			b.strikes = 0
			b.mu.Unlock()
			return t.finish(req, resp, key, cached), nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		t.log.Warn("GitHub rate limit answer", "installation", b.id, "resource", limited.Resource,
			"status", limited.StatusCode, "secondary", limited.Secondary, "method", req.Method,
			"path", req.URL.Path, "retryAt", limited.Reset, "attempt", attempt)
		// Only idempotent reads are sent again. A content-creating request
		// is handed back as a typed error instead: GitHub asks integrations
		// to slow writes down, retrying them here would hold an invocation
		// for minutes while the queue can redeliver the message after
		// Reset, and sync is level-triggered, so the retry recomputes what
		// to write rather than replaying a possibly stale body.
		if !retryable || attempt >= t.lim.Retries || limited.Reset.Sub(t.clock.Now()) > t.lim.MaxWait {
			return nil, limited
		}
	}
}

// prepare returns the request to send for this attempt: a copy carrying
// If-None-Match when a cached answer exists, and a fresh body on a retry.
func (t *Transport) prepare(req *http.Request, attempt int, cached *cachedResponse) (*http.Request, error) {
	if cached == nil && attempt == 0 {
		return req, nil
	}
	out := req.Clone(req.Context())
	if attempt > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("rewind request body for retry: %w", err)
		}
		out.Body = body
	}
	if cached != nil {
		out.Header.Set("If-None-Match", cached.etag)
	}
	return out, nil
}

// pace waits for both content-creation limiters of the installation.
func (t *Transport) pace(ctx context.Context, b *bucket, req *http.Request) error {
	now := t.clock.Now()
	m := b.perMinute.ReserveN(now, 1)
	h := b.perHour.ReserveN(now, 1)
	wait := max(m.DelayFrom(now), h.DelayFrom(now))
	if wait > t.lim.MaxWait {
		m.CancelAt(now)
		h.CancelAt(now)
		return &RateLimitError{Installation: b.id, Resource: "core", Method: req.Method,
			Path: req.URL.Path, Reset: now.Add(wait), Paced: true}
	}
	if wait > 0 {
		if err := t.clock.Sleep(ctx, wait); err != nil {
			m.CancelAt(t.clock.Now())
			h.CancelAt(t.clock.Now())
			return err
		}
	}
	return nil
}

// gate holds the request while the installation is blocked by a secondary
// limit or the resource's primary quota is spent.
func (t *Transport) gate(ctx context.Context, b *bucket, resource string, req *http.Request) error {
	for {
		now := t.clock.Now()
		b.mu.Lock()
		until, secondary := b.blockedUntil, true
		if st := b.rates[resource]; st != nil && st.remaining == 0 && st.reset.After(now) {
			// One second past the reset: GitHub's reset is whole seconds.
			if r := st.reset.Add(time.Second); r.After(until) {
				until, secondary = r, false
			}
		}
		b.mu.Unlock()
		if !until.After(now) {
			return nil
		}
		wait := until.Sub(now)
		if wait > t.lim.MaxWait {
			return &RateLimitError{Installation: b.id, Resource: resource, Method: req.Method,
				Path: req.URL.Path, Reset: until, Secondary: secondary}
		}
		if err := t.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// observe records the primary limit GitHub reported.
func (t *Transport) observe(b *bucket, resource string, resp *http.Response) {
	h := resp.Header
	rem := h.Get("X-RateLimit-Remaining")
	if rem == "" {
		return
	}
	if r := h.Get("X-RateLimit-Resource"); r != "" {
		resource = r
	}
	remaining, err := strconv.Atoi(rem)
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	used, _ := strconv.Atoi(h.Get("X-RateLimit-Used"))
	var reset time.Time
	if s, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); err == nil && s > 0 {
		reset = time.Unix(s, 0)
	}
	b.mu.Lock()
	st := b.rates[resource]
	if st == nil {
		st = &rateState{}
		b.rates[resource] = st
	}
	newWindow := !st.reset.Equal(reset)
	st.limit, st.remaining, st.used, st.reset = limit, remaining, used, reset
	warn := limit > 0 && float64(remaining) < t.lim.LowHeadroom*float64(limit) && !st.warnedFor.Equal(reset)
	if warn {
		st.warnedFor = reset
	}
	b.mu.Unlock()
	if newWindow {
		// One line per installation, resource and rate-limit window: the
		// portal workbook charts the headroom from these.
		t.log.Info("github rate limit", "installation", b.id, "resource", resource,
			"remaining", remaining, "limit", limit, "reset", reset)
	}
	if warn {
		t.log.Warn("GitHub rate limit running low", "installation", b.id, "resource", resource,
			"ratelimitRemaining", remaining, "ratelimitLimit", limit, "ratelimitReset", reset)
	}
}

// classify turns a rate-limit answer into a *RateLimitError (nil for any
// other answer) and blocks the installation accordingly. The order of what
// to honour is GitHub's: Retry-After, else the reset when no requests
// remain, else a backoff of at least a minute.
func (t *Transport) classify(b *bucket, req *http.Request, resource string, resp *http.Response) *RateLimitError {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return nil
	}
	now := t.clock.Now()
	h := resp.Header
	spent := h.Get("X-RateLimit-Remaining") == "0"
	retryAfter, hasRetryAfter := parseRetryAfter(h.Get("Retry-After"), now)
	if resp.StatusCode == http.StatusForbidden && !spent && !hasRetryAfter && !mentionsSecondary(resp) {
		return nil // an ordinary 403 (permissions): the caller's business
	}
	if r := h.Get("X-RateLimit-Resource"); r != "" {
		resource = r
	}
	e := &RateLimitError{Installation: b.id, Resource: resource, Method: req.Method,
		Path: req.URL.Path, StatusCode: resp.StatusCode, Secondary: !spent}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case hasRetryAfter:
		e.Reset = now.Add(retryAfter)
	case spent:
		if st := b.rates[resource]; st != nil && st.reset.After(now) {
			e.Reset = st.reset.Add(time.Second)
		}
	}
	if e.Reset.IsZero() {
		e.Reset = now.Add(t.lim.SecondaryBackoff << min(b.strikes, 6))
	}
	if e.Secondary {
		b.strikes++
		if e.Reset.After(b.blockedUntil) {
			b.blockedUntil = e.Reset
		}
	} else {
		st := b.rates[resource]
		if st == nil {
			st = &rateState{}
			b.rates[resource] = st
		}
		st.remaining = 0
		if e.Reset.After(st.reset) {
			st.reset = e.Reset
		}
	}
	return e
}

// mentionsSecondary reads (and puts back) the start of a 403's body to tell
// GitHub's secondary limit from a permission error.
func mentionsSecondary(resp *http.Response) bool {
	head, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	if err != nil {
		return false
	}
	s := strings.ToLower(string(head))
	return strings.Contains(s, "secondary rate limit") || strings.Contains(s, "abuse detection") ||
		strings.Contains(s, "#abuse-rate-limits") || strings.Contains(s, "secondary-rate-limits")
}

// conditional finds the cached answer for a GET that may be made conditional.
func (t *Transport) conditional(req *http.Request, id int64) (string, *cachedResponse) {
	if req.Method != http.MethodGet || req.Header.Get("If-None-Match") != "" ||
		req.Header.Get("If-Modified-Since") != "" || req.Context().Value(noConditionalKey{}) != nil {
		return "", nil
	}
	key := strconv.FormatInt(id, 10) + " " + req.URL.String() + " " + req.Header.Get("Accept")
	c, _ := t.etags.get(key, t.clock.Now())
	return key, c
}

// finish answers a 304 from the cache and caches a fresh 200 with an ETag.
func (t *Transport) finish(req *http.Request, resp *http.Response, key string, cached *cachedResponse) *http.Response {
	if cached != nil && resp.StatusCode == http.StatusNotModified {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := cached.header.Clone()
		for k, v := range resp.Header {
			if strings.HasPrefix(k, "X-Ratelimit-") || k == "Date" {
				h[k] = v
			}
		}
		// go-github skips its own rate bookkeeping for answers marked so
		// (the convention of HTTP caches below it), which is right: the
		// body is not what GitHub just sent.
		h.Set("X-From-Cache", "1")
		return &http.Response{
			Status: "200 OK", StatusCode: http.StatusOK,
			Proto: resp.Proto, ProtoMajor: resp.ProtoMajor, ProtoMinor: resp.ProtoMinor,
			Header: h, Body: io.NopCloser(bytes.NewReader(cached.body)),
			ContentLength: int64(len(cached.body)), Request: req,
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		// go-github would refuse every later call of this client until the
		// reset itself, with its own error and without our bounded wait;
		// marking the answer keeps this transport the single authority.
		resp.Header.Set("X-From-Cache", "1")
	}
	if key == "" || resp.StatusCode != http.StatusOK {
		return resp
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.etags.remove(key)
		return resp
	}
	if resp.ContentLength > t.maxBody {
		return resp
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, t.maxBody+1))
	if err != nil || int64(len(head)) > t.maxBody {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		return resp
	}
	resp.Body.Close()
	t.etags.put(key, &cachedResponse{etag: etag, header: resp.Header.Clone(), body: head}, time.Time{})
	resp.Body = io.NopCloser(bytes.NewReader(head))
	return resp
}

// Headroom is the last known primary limit of one installation and resource.
type Headroom struct {
	Installation int64     `json:"installation"` // 0: the App's own JWT calls
	Resource     string    `json:"resource"`
	Limit        int       `json:"limit"`
	Remaining    int       `json:"remaining"`
	Used         int       `json:"used"`
	Reset        time.Time `json:"reset"`
	// BlockedUntil is set while a secondary limit holds the installation back.
	BlockedUntil time.Time `json:"blockedUntil,omitzero"`
}

// Headroom lists the last known limits, by installation then resource.
func (t *Transport) Headroom() []Headroom {
	t.mu.Lock()
	buckets := make([]*bucket, 0, len(t.buckets))
	for _, b := range t.buckets {
		buckets = append(buckets, b)
	}
	t.mu.Unlock()
	now := t.clock.Now()
	var out []Headroom
	for _, b := range buckets {
		b.mu.Lock()
		blocked := time.Time{}
		if b.blockedUntil.After(now) {
			blocked = b.blockedUntil
		}
		for res, st := range b.rates {
			out = append(out, Headroom{Installation: b.id, Resource: res, Limit: st.limit,
				Remaining: st.remaining, Used: st.used, Reset: st.reset, BlockedUntil: blocked})
		}
		b.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Installation != out[j].Installation {
			return out[i].Installation < out[j].Installation
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

var resourceNames = [...]string{
	gh.CoreCategory:                      "core",
	gh.SearchCategory:                    "search",
	gh.GraphqlCategory:                   "graphql",
	gh.IntegrationManifestCategory:       "integration_manifest",
	gh.SourceImportCategory:              "source_import",
	gh.CodeScanningUploadCategory:        "code_scanning_upload",
	gh.ActionsRunnerRegistrationCategory: "actions_runner_registration",
	gh.ScimCategory:                      "scim",
	gh.DependencySnapshotsCategory:       "dependency_snapshots",
	gh.CodeSearchCategory:                "code_search",
	gh.AuditLogCategory:                  "audit_log",
}

func (t *Transport) resourceOf(req *http.Request) string {
	p := strings.TrimPrefix(req.URL.Path, t.apiPath)
	if c := gh.GetRateLimitCategory(req.Method, p); int(c) < len(resourceNames) && resourceNames[c] != "" {
		return resourceNames[c]
	}
	return "core"
}

func contentCreating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isJWT tells the App's own calls (a JWT bearer, as ghinstallation's
// AppsTransport sends) from installation-token calls.
func isJWT(auth string) bool {
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	return ok && strings.HasPrefix(tok, "ey") && strings.Count(tok, ".") == 2
}

// parseRetryAfter reads delta-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}
