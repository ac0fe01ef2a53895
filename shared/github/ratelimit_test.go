package github

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
)

// newLimitedEnv is an env and a client of the test installation with
// remaining requests left in a window that resets after reset.
func newLimitedEnv(t *testing.T, remaining int, reset time.Duration) (*env, *gh.Client) {
	t.Helper()
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.SetRateLimit(testInstallation, remaining, e.clock.Now().Add(reset))
	return e, c
}

// The answer that spends the last request makes the next one wait for the
// reset (go-github must not refuse it on its own), then it goes through.
func TestPrimaryLimitWaitsForReset(t *testing.T) {
	e, c := newLimitedEnv(t, 1, 30*time.Second)
	if err := getRepo(t, c); err != nil {
		t.Fatalf("last request of the window: %v", err)
	}
	if err := getRepo(t, c); err != nil {
		t.Fatalf("request after the reset: %v", err)
	}
	if !sleptAbout(e.clock.Slept(), 30*time.Second) {
		t.Errorf("slept %v, want a wait of about 30 s for the reset", e.clock.Slept())
	}
	if n := e.srv.Count(func(r githubtest.Request) bool { return r.Status == http.StatusForbidden }); n != 0 {
		t.Errorf("GitHub refused %d requests; the transport should have waited instead", n)
	}
}

func TestPrimaryLimitBeyondMaxWaitIsTypedError(t *testing.T) {
	e := newEnv(t, Limits{MaxWait: time.Minute})
	c := e.client(t, testInstallation)
	reset := e.clock.Now().Add(2 * time.Hour)
	e.srv.SetRateLimit(testInstallation, 1, reset)
	if err := getRepo(t, c); err != nil {
		t.Fatal(err)
	}
	err := getRepo(t, c)
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v, want *RateLimitError", err)
	}
	if rl.Secondary || rl.Paced || rl.Installation != testInstallation || rl.Reset.Before(reset) {
		t.Errorf("RateLimitError = %+v, want primary for installation 7 until %v", rl, reset)
	}
	if !IsRateLimit(err) {
		t.Error("IsRateLimit = false")
	}
	if n := e.srv.Count(isRepoGet); n != 1 {
		t.Errorf("GETs sent = %d, want 1 (the second is refused client-side)", n)
	}
	if len(e.clock.Slept()) != 0 {
		t.Errorf("slept %v; a wait beyond MaxWait must not be slept", e.clock.Slept())
	}
}

// GitHub's own 403 for a spent quota (the transport did not know yet): the
// GET waits for the reset and is sent again.
func TestPrimaryLimitAnswerIsWaitedOutForGET(t *testing.T) {
	e, c := newLimitedEnv(t, 0, 20*time.Second)
	if err := getRepo(t, c); err != nil {
		t.Fatalf("get: %v", err)
	}
	var statuses []int
	for _, r := range e.srv.Requests() {
		if isRepoGet(r) {
			statuses = append(statuses, r.Status)
		}
	}
	if len(statuses) != 2 || statuses[0] != http.StatusForbidden || statuses[1] != http.StatusOK {
		t.Errorf("GET statuses = %v, want [403 200]", statuses)
	}
	if !sleptAbout(e.clock.Slept(), 20*time.Second) {
		t.Errorf("slept %v, want about 20 s", e.clock.Slept())
	}
}

func TestSecondaryLimit(t *testing.T) {
	tests := []struct {
		name       string
		fault      githubtest.Fault
		call       func(*gh.Client) error
		wantErr    bool // a typed error reaches the caller
		wantStatus int
		wantSleep  time.Duration // slept by the call (0: none)
		wantSent   int           // requests to the faulted path
	}{
		{
			name:  "403 with Retry-After on GET is retried",
			fault: githubtest.Fault{Method: "GET", Path: "/repos/", Status: 403, Secondary: true, RetryAfter: 1},
			call: func(c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
				return err
			},
			wantSleep: time.Second, wantSent: 2,
		},
		{
			name:  "403 without Retry-After backs off a minute",
			fault: githubtest.Fault{Method: "GET", Path: "/repos/", Status: 403, Secondary: true},
			call: func(c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
				return err
			},
			wantSleep: time.Minute, wantSent: 2,
		},
		{
			name:  "429 on GET is retried",
			fault: githubtest.Fault{Method: "GET", Path: "/repos/", Status: 429, RetryAfter: 2},
			call: func(c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
				return err
			},
			wantSleep: 2 * time.Second, wantSent: 2,
		},
		{
			name:    "403 on POST is not retried",
			fault:   githubtest.Fault{Method: "POST", Path: "/repos/", Status: 403, Secondary: true, RetryAfter: 30},
			call:    func(c *gh.Client) error { return createIssue(c, "x") },
			wantErr: true, wantStatus: 403, wantSent: 1,
		},
		{
			name:    "429 on POST maps to RateLimitError",
			fault:   githubtest.Fault{Method: "POST", Path: "/repos/", Status: 429, RetryAfter: 5},
			call:    func(c *gh.Client) error { return createIssue(c, "x") },
			wantErr: true, wantStatus: 429, wantSent: 1,
		},
		{
			name:  "a GET that keeps hitting the limit gives up after the retries",
			fault: githubtest.Fault{Method: "GET", Path: "/repos/", Status: 429, RetryAfter: 1, Times: 10},
			call: func(c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
				return err
			},
			wantErr: true, wantStatus: 429, wantSleep: time.Second, wantSent: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Limits{})
			c := e.client(t, testInstallation)
			e.srv.Inject(tt.fault)
			start := e.clock.Now()
			err := tt.call(c)
			var rl *RateLimitError
			if tt.wantErr {
				if !errors.As(err, &rl) {
					t.Fatalf("error = %v, want *RateLimitError", err)
				}
				if !rl.Secondary || rl.StatusCode != tt.wantStatus || !rl.Reset.After(start) {
					t.Errorf("RateLimitError = %+v, want secondary, status %d, a reset ahead", rl, tt.wantStatus)
				}
				if tt.fault.RetryAfter > 0 && tt.fault.Times <= 1 {
					if got := rl.Reset.Sub(start); got != time.Duration(tt.fault.RetryAfter)*time.Second {
						t.Errorf("Reset - now = %v, want the Retry-After %ds", got, tt.fault.RetryAfter)
					}
				}
			} else if err != nil {
				t.Fatalf("call: %v", err)
			}
			if tt.wantSleep > 0 && !sleptAbout(e.clock.Slept(), tt.wantSleep) {
				t.Errorf("slept %v, want %v", e.clock.Slept(), tt.wantSleep)
			}
			if tt.wantSleep == 0 && len(e.clock.Slept()) != 0 {
				t.Errorf("slept %v, want no sleep", e.clock.Slept())
			}
			sent := e.srv.Count(func(r githubtest.Request) bool {
				return r.Method == tt.fault.Method && strings.HasPrefix(r.Path, "/repos/")
			})
			if sent != tt.wantSent {
				t.Errorf("requests sent = %d, want %d", sent, tt.wantSent)
			}
		})
	}
}

// After a secondary limit the whole installation is held back until
// Retry-After, not only the request that met it.
func TestSecondaryLimitHoldsTheInstallation(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.Inject(githubtest.Fault{Method: "POST", Status: 403, Secondary: true, RetryAfter: 30})
	if err := createIssue(c, "x"); !IsRateLimit(err) {
		t.Fatalf("create issue: %v, want a rate limit", err)
	}
	if err := getRepo(t, c); err != nil {
		t.Fatalf("get after the limit: %v", err)
	}
	if !sleptAbout(e.clock.Slept(), 30*time.Second) {
		t.Errorf("slept %v, want the GET held back 30 s", e.clock.Slept())
	}
	var h *Headroom
	for _, x := range e.factory.RateLimitHeadroom() {
		if x.Installation == testInstallation {
			h = &x
		}
	}
	if h == nil || h.Limit != 5000 || h.Resource != "core" {
		t.Errorf("headroom = %+v", e.factory.RateLimitHeadroom())
	}
}

func TestOrdinary403PassesThrough(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t, testInstallation)
	e.srv.Inject(githubtest.Fault{Method: "GET", Path: "/repos/", Status: 403})
	err := getRepo(t, c)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("error = %v, want go-github's 403 ErrorResponse", err)
	}
	if IsRateLimit(err) {
		t.Error("a permission 403 was taken for a rate limit")
	}
	if n := e.srv.Count(isRepoGet); n != 1 {
		t.Errorf("GETs = %d, want 1", n)
	}
}

// Content-creating calls are paced: no window of a minute sees more than the
// limit. Counted on the fake clock, so nothing depends on wall time.
func TestPacingOfContentCreatingCalls(t *testing.T) {
	const perMinute = 5
	e := newEnv(t, Limits{WritesPerMinute: perMinute, WritesPerHour: 1000, MaxWait: 10 * time.Minute})
	c := e.client(t, testInstallation)
	for i := range 23 {
		if err := createIssue(c, "issue"); err != nil {
			t.Fatalf("create issue %d: %v", i, err)
		}
	}
	var at []time.Time
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodPost && r.Path == "/repos/octo-org/app/issues" {
			at = append(at, r.At)
		}
	}
	if len(at) != 23 {
		t.Fatalf("POSTs = %d, want 23", len(at))
	}
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Minute; j++ {
			n++
		}
		if n > perMinute {
			t.Fatalf("%d POSTs in the minute from %v, limit %d", n, at[i], perMinute)
		}
	}
	if span := at[len(at)-1].Sub(at[0]); span < 3*time.Minute {
		t.Errorf("23 POSTs at 5/min took %v of fake time, want at least 3 min", span)
	}
	// Reads are not paced.
	before := len(e.clock.Slept())
	for range 20 {
		if err := getRepo(t, c); err != nil {
			t.Fatal(err)
		}
	}
	if after := len(e.clock.Slept()); after != before {
		t.Errorf("GETs slept %d times, want none", after-before)
	}
}

func TestPacingBeyondMaxWaitIsTypedError(t *testing.T) {
	e := newEnv(t, Limits{WritesPerMinute: 1000, WritesPerHour: 10, MaxWait: time.Minute})
	c := e.client(t, testInstallation)
	if err := createIssue(c, "first"); err != nil {
		t.Fatal(err)
	}
	err := createIssue(c, "second")
	var rl *RateLimitError
	if !errors.As(err, &rl) || !rl.Paced || rl.StatusCode != 0 {
		t.Fatalf("error = %v, want a client-side paced *RateLimitError", err)
	}
	if n := e.srv.Count(func(r githubtest.Request) bool { return r.Method == http.MethodPost && !isTokenMint(r) }); n != 1 {
		t.Errorf("POSTs sent = %d, want 1", n)
	}
	// The refused call gave its reservation back: the clock has not moved,
	// and a read still goes straight through.
	if err := getRepo(t, c); err != nil {
		t.Fatal(err)
	}
}

func TestLowHeadroomIsLogged(t *testing.T) {
	e, c := newLimitedEnv(t, 400, time.Hour)
	for range 2 {
		if err := getRepo(t, c); err != nil { // the second is a 304: same numbers, no second line
			t.Fatal(err)
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "GitHub rate limit running low" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("low-headroom lines = %d, want 1; logs:\n%s", len(lines), e.logs)
	}
	if lines[0]["ratelimitRemaining"] != float64(399) || lines[0]["installation"] != float64(testInstallation) {
		t.Errorf("log line = %v", lines[0])
	}
	found := false
	for _, h := range e.factory.RateLimitHeadroom() {
		if h.Installation == testInstallation && h.Remaining == 399 && h.Limit == 5000 {
			found = true
		}
	}
	if !found {
		t.Errorf("headroom = %+v, want installation 7 at 399/5000", e.factory.RateLimitHeadroom())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"60", time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"Sun, 01 Jun 2025 12:00:30 GMT", 30 * time.Second, true},
		{"Sun, 01 Jun 2025 11:00:00 GMT", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
