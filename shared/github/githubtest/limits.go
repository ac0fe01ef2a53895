package githubtest

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// ContentLimits are GitHub's secondary limits on content-creating
// requests (POST, PATCH, PUT, DELETE) per installation: about 80 per
// minute and 500 per hour. Minute and Hour are the window lengths, so a
// test can scale time down (Minute: 600ms, Hour: 36s is GitHub's limits
// 100 times faster). Status is the answer, 403 (GitHub's usual) or 429.
//
// SearchPerMinute is the search API's own limit per installation (GitHub:
// 30 requests a minute, a fixed window that resets a minute after its
// first request; 0: off), on the same scaled Minute. A search over it is
// answered 403 "API rate limit exceeded" with X-RateLimit-Resource:
// search, X-RateLimit-Remaining: 0 and the window's X-RateLimit-Reset, as
// GitHub answers it.
type ContentLimits struct {
	PerMinute, PerHour int
	Minute, Hour       time.Duration
	Status             int
	SearchPerMinute    int
}

// RealContentLimits are GitHub's documented secondary limits, and its
// search limit.
var RealContentLimits = ContentLimits{PerMinute: 80, PerHour: 500, Minute: time.Minute, Hour: time.Hour, Status: http.StatusForbidden,
	SearchPerMinute: 30}

// WithContentLimits enforces secondary limits on content creation (off
// unless asked for, so tests about other things are not paced).
func WithContentLimits(l ContentLimits) Option {
	return func(s *Server) { s.content = l.withDefaults() }
}

// SetContentLimits changes the enforced limits (zero PerMinute and PerHour:
// off).
func (s *Server) SetContentLimits(l ContentLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.content = l.withDefaults()
}

func (l ContentLimits) withDefaults() ContentLimits {
	if l.Minute <= 0 {
		l.Minute = time.Minute
	}
	if l.Hour <= 0 {
		l.Hour = time.Hour
	}
	if l.Status == 0 {
		l.Status = http.StatusForbidden
	}
	return l
}

// SecondaryLimited counts the requests answered with a secondary limit
// (403 or 429 from the content limits or an injected fault).
func (s *Server) SecondaryLimited() int {
	return s.Count(func(r Request) bool {
		return r.Status == http.StatusForbidden || r.Status == http.StatusTooManyRequests
	})
}

// contentLimitLocked counts a content-creating request of an installation
// and refuses it (status, Retry-After seconds) when a window is full. The
// windows slide, as GitHub's do; a refused request is not counted.
func (s *Server) contentLimitLocked(method string, id who, now time.Time) (int, int) {
	l := s.content
	if (l.PerMinute <= 0 && l.PerHour <= 0) || id.app || id.installation == 0 {
		return 0, 0
	}
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
	default:
		return 0, 0
	}
	ts := s.writes[id.installation]
	// Drop what left the hour window.
	cut := 0
	for cut < len(ts) && !ts[cut].After(now.Add(-l.Hour)) {
		cut++
	}
	ts = ts[cut:]
	wait := time.Duration(0)
	if l.PerHour > 0 && len(ts) >= l.PerHour {
		wait = max(wait, ts[len(ts)-l.PerHour].Add(l.Hour).Sub(now))
	}
	if l.PerMinute > 0 {
		inMinute := 0
		for i := len(ts) - 1; i >= 0 && ts[i].After(now.Add(-l.Minute)); i-- {
			inMinute++
		}
		if inMinute >= l.PerMinute {
			wait = max(wait, ts[len(ts)-l.PerMinute].Add(l.Minute).Sub(now))
		}
	}
	if wait > 0 {
		s.writes[id.installation] = ts
		return l.Status, int(math.Ceil(wait.Seconds()))
	}
	s.writes[id.installation] = append(ts, now)
	return 0, 0
}

// searchQuotaLocked is the search window of an installation at now, nil
// when the search limit is off.
func (s *Server) searchQuotaLocked(id who, now time.Time) *quota {
	l := s.content
	if l.SearchPerMinute <= 0 || id.app || id.installation == 0 {
		return nil
	}
	q, ok := s.searches[id.installation]
	if !ok {
		q = &quota{limit: l.SearchPerMinute}
		s.searches[id.installation] = q
	}
	if q.reset.IsZero() || !now.Before(q.reset) {
		q.remaining, q.reset = q.limit, now.Add(l.Minute)
	}
	return q
}

// SearchLimited counts the searches refused by the search limit.
func (s *Server) SearchLimited() int {
	return s.Count(func(r Request) bool { return r.Status == http.StatusForbidden && strings.HasPrefix(r.Path, "/search/") })
}
