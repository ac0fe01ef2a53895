// Package redeliver is the adapter of the `redeliver` function: a timer
// (RUNTIMELINK_REDELIVER_SCHEDULE, every 10 minutes by default) that reads
// the App's webhook delivery log with its JWT and has GitHub redeliver what
// the webhook never recorded as processed (shared/redelivery).
//
// It runs in dry-run mode too: a redelivery changes nothing in GitHub's
// repositories, it only brings back the events the plan is made of.
package redeliver

import (
	"context"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/redelivery"
)

// Name is the function's name (its folder and the host's route).
const Name = "redeliver"

// Register adds the timer trigger to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	app.RegisterTimer(srv, d, Name, run)
}

func run(ctx context.Context, inv *invocation.Invocation, d *app.Deps) error {
	log := inv.Logger()
	g, err := d.GitHubApp()
	if err != nil {
		return err
	}
	if !g.Enabled() {
		log.Info("redeliver: off (GITHUB_APP_ID not set)")
		return nil
	}
	r := &redelivery.Redeliverer{
		Log:    github.HookDeliveries{Clients: g.Clients},
		State:  d.State(),
		Logger: log,
		Now:    d.Now,
	}
	var o redelivery.Options
	if d.Config != nil {
		o.Lookback = d.Config.RedeliverLookback
	}
	stats, err := r.Run(ctx, o)
	inv.SetReturnValue(stats)
	return err
}
