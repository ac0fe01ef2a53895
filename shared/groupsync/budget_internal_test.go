package groupsync

import (
	"testing"
	"time"
)

func TestAdmitSlidingWindows(t *testing.T) {
	l := Limits{PerMinute: 3, PerHour: 5, Minute: time.Minute, Hour: time.Hour}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var log []time.Time
	var wait time.Duration
	for i := range 3 {
		if log, wait = admit(log, 1, t0.Add(time.Duration(i)*time.Second), l); wait != 0 {
			t.Fatalf("write %d waits %s", i, wait)
		}
	}
	// The minute is full: the fourth waits until the first leaves it.
	if _, wait = admit(log, 1, t0.Add(10*time.Second), l); wait != 50*time.Second {
		t.Errorf("4th in the minute waits %s, want 50s", wait)
	}
	// Two at once need two slots: until the second write leaves.
	if _, wait = admit(log, 2, t0.Add(10*time.Second), l); wait != 51*time.Second {
		t.Errorf("2 more wait %s, want 51s", wait)
	}
	log, _ = admit(log, 2, t0.Add(2*time.Minute), l)
	if len(log) != 5 {
		t.Fatalf("log = %d", len(log))
	}
	// The hour is full (5): wait until the first of them is an hour old.
	if _, wait = admit(log, 1, t0.Add(30*time.Minute), l); wait != 30*time.Minute {
		t.Errorf("6th in the hour waits %s, want 30m", wait)
	}
	// An hour later the old writes are forgotten.
	log, wait = admit(log, 1, t0.Add(3*time.Hour), l)
	if wait != 0 || len(log) != 1 {
		t.Errorf("after the hour: wait %s, log %d", wait, len(log))
	}
	// A plan bigger than a window still goes, alone.
	if _, wait = admit(nil, 9, t0, l); wait != 0 {
		t.Errorf("an oversized plan on an empty budget waits %s", wait)
	}
}
