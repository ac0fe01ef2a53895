package github

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// RateLimitError says that GitHub (or our own pacing of content-creating
// calls) will not take this request before Reset. It reaches callers through
// go-github, wrapped in a *url.Error: use errors.As. A caller that runs from a
// queue should give the message back and retry after Reset rather than wait.
type RateLimitError struct {
	Installation int64  // 0 for the App's own (JWT) calls
	Resource     string // GitHub's X-RateLimit-Resource, e.g. "core"
	Method, Path string // the request that was refused (no query, no host)
	Reset        time.Time
	// Secondary is GitHub's secondary (abuse) limit: a 403 with its message,
	// a 429, or a Retry-After. False for the primary hourly quota.
	Secondary bool
	// Paced is set when GitHub was not asked at all: our client-side pacing
	// of content-creating calls (per minute / per hour) would have had to
	// wait longer than the transport may.
	Paced bool
	// StatusCode is GitHub's answer (403 or 429); 0 when decided client-side.
	StatusCode int
}

func (e *RateLimitError) Error() string {
	kind := "primary"
	switch {
	case e.Paced:
		kind = "client-side pacing"
	case e.Secondary:
		kind = "secondary"
	}
	who := "the app"
	if e.Installation != 0 {
		who = fmt.Sprintf("installation %d", e.Installation)
	}
	return fmt.Sprintf("github %s rate limit for %s on %s %s: retry after %s",
		kind, who, e.Method, e.Path, e.Reset.UTC().Format(time.RFC3339))
}

// RetryAfter is how long from now the caller should wait.
func (e *RateLimitError) RetryAfter(now time.Time) time.Duration {
	if d := e.Reset.Sub(now); d > 0 {
		return d
	}
	return 0
}

// IsRateLimit reports whether err is a rate limit of any kind, ours or one
// that go-github raised itself (it keeps its own view of the primary limit).
func IsRateLimit(err error) bool {
	var ours *RateLimitError
	var primary *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	return errors.As(err, &ours) || errors.As(err, &primary) || errors.As(err, &abuse)
}

// IsNotFound reports whether err is GitHub's 404 (go-github's *ErrorResponse).
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

func statusOf(err error) int {
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}
