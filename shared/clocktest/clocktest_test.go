package clocktest

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestSleepAndAdvanceMoveTheTimeAndSleepsAreRecorded(t *testing.T) {
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	c := New(start)
	if err := c.Sleep(context.Background(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute + 2*time.Second)) {
		t.Fatalf("now %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("a Sleep on a cancelled context returned nil")
	}
	if got := c.Slept(); !slices.Equal(got, []time.Duration{2 * time.Second}) {
		t.Fatalf("slept %v", got)
	}
	if New(time.Time{}).Now().IsZero() {
		t.Fatal("a zero start is not the current time")
	}
}
