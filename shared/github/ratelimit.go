package github

// GitHub's rate limits as the transport keeps them per installation: the
// primary quota each answer reports, secondary limits (403/429, Retry-After)
// that hold the installation back, and the pacing of content-creating
// requests below GitHub's per-minute and per-hour limits.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
	"golang.org/x/time/rate"
)

type rateState struct {
	limit, remaining, used int
	reset                  time.Time
	warnedFor              time.Time // the window already warned about
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
