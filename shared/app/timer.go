package app

import (
	"context"

	"github.com/runtimelink/runtimelink/shared/invocation"
)

// TimerFunc is one run of a timer-triggered function, with the Function
// App's dependencies.
type TimerFunc func(ctx context.Context, inv *invocation.Invocation, d *Deps) error

// RegisterTimer adds the timer-triggered function named function to srv:
// each run first logs what its "timer" binding says (a past-due run is
// noted) and then calls run with d.
func RegisterTimer(srv *invocation.Server, d *Deps, function string, run TimerFunc) {
	srv.HandleTrigger(function, func(ctx context.Context, inv *invocation.Invocation) error {
		inv.LogTimer("timer")
		return run(ctx, inv, d)
	})
}
