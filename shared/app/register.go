package app

import (
	"context"
	"fmt"
	"log/slog"

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

// RegisterTrigger adds the non-HTTP function named function to srv with fn
// as its handler. When building the handler failed (err, and fn is then
// not used), the function is registered anyway but fails every invocation
// with "<function>: <err>", logged once here: the host keeps the input and
// retries, and the failure shows, rather than the app dropping events.
func RegisterTrigger(srv *invocation.Server, logger *slog.Logger, function string, fn invocation.TriggerFunc, err error) {
	if err != nil {
		if logger == nil {
			logger = slog.Default()
		}
		logger.Error(function+" disabled", "error", err)
		srv.HandleTrigger(function, func(context.Context, *invocation.Invocation) error {
			return fmt.Errorf("%s: %w", function, err)
		})
		return
	}
	srv.HandleTrigger(function, fn)
}
