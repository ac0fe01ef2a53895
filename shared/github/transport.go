package github

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

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

// MaxConnsPerHost bounds the connections open to one GitHub host. GitHub
// asks integrators not to make many concurrent requests (its secondary
// limits punish them), and an unbounded pool turns a burst of work into
// one connection, one file descriptor, per request.
const MaxConnsPerHost = 32

// PooledTransport is the network below every GitHub client unless a test
// gives its own: at most MaxConnsPerHost connections per host, each kept
// idle for reuse (a new one costs a TLS handshake).
func PooledTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = MaxConnsPerHost
	tr.MaxIdleConnsPerHost = MaxConnsPerHost
	return tr
}

// NewTransport wraps base (nil: PooledTransport()).
func NewTransport(base http.RoundTripper, o TransportOptions) *Transport {
	if base == nil {
		base = PooledTransport()
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

// withInstallation tags a request context with the installation it is made
// for, so the transport under ghinstallation knows whose limits apply.
func withInstallation(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, installationKey{}, id)
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

	// Minting an installation token is not content creation; the App's
	// other JWT writes (webhook redeliveries) are, paced in its own bucket.
	if contentCreating(req.Method) && !(app && t.mintsToken(req)) {
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

// mintsToken: POST /app/installations/{id}/access_tokens.
func (t *Transport) mintsToken(req *http.Request) bool {
	p := strings.TrimPrefix(req.URL.Path, t.apiPath)
	return strings.HasPrefix(p, "/app/installations/") && strings.HasSuffix(p, "/access_tokens")
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

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}
