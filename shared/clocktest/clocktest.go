// Package clocktest is a fake clock for tests: a time that moves only when
// the test (or a Sleep of the code under test) moves it.
package clocktest

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock for the fakes and the code under test: Sleep
// returns at once and moves the time forward, so a wait for a rate-limit
// reset costs no wall time and every wait is recorded for assertions.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// New starts at start (zero: the current whole second). Starting near
// the real time matters: go-github and ghinstallation compare GitHub's reset
// and expiry times with time.Now, so a fake clock in the past would hide
// what they do with them.
func New(start time.Time) *Clock {
	if start.IsZero() {
		start = time.Now().Truncate(time.Second)
	}
	return &Clock{now: start}
}

// Now is the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep records d and advances the time by it.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept = append(c.slept, d)
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

// Advance moves the time forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Slept lists every Sleep so far.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
