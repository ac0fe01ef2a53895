package githubtest

import (
	"time"

	"github.com/runtimelink/runtimelink/shared/clocktest"
)

// Clock is the fake clock the fake server and the code under test share:
// Sleep returns at once and moves the time forward, so a wait for a
// rate-limit reset costs no wall time and every wait is recorded.
type Clock = clocktest.Clock

// NewClock starts at start (zero: the current whole second). Starting near
// the real time matters: go-github and ghinstallation compare GitHub's reset
// and expiry times with time.Now, so a fake clock in the past would hide
// what they do with them.
func NewClock(start time.Time) *Clock { return clocktest.New(start) }
