// Package reprioritize is the adapter of the `reprioritize` function: a
// timer that runs triage's nightly sweep (attack paths from Resource Graph,
// re-scoring of every finding, drift recovery) under a lease and a time
// budget.
package reprioritize

import (
	"context"
	"errors"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/arm"
	"github.com/runtimelink/runtimelink/shared/groupsync"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/resourcegraph"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Name is the function's name (its folder and the host's route).
const Name = "reprioritize"

// Register adds the timer trigger to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	app.RegisterTimer(srv, d, Name, run)
}

func run(ctx context.Context, inv *invocation.Invocation, d *app.Deps) error {
	log := inv.Logger()
	t, err := d.Triage()
	if err != nil {
		return err
	}
	t.Logger = log
	// The inventory writes the risks, tells triage what changed and
	// enqueues the workloads' deployment records for GitHub.
	ing := d.Inventory(t)
	ing.Logger = log
	o := triage.SweepOptions{Holder: inv.ID, MaxRuntime: d.Config.ReprioritizeMaxRuntime, Logger: log, Snapshots: ing}
	if subs := d.Config.ARM.Subscriptions; len(subs) > 0 {
		g, err := resourcegraph.NewClient(d.Credential, resourcegraph.Options{Endpoint: d.Config.ARM.Endpoint, Subscriptions: subs})
		if err != nil {
			return fmt.Errorf("resource graph: %w", err)
		}
		o.AttackPaths = g
		o.Applier = ing
	} else {
		log.Info("resource graph: off (RUNTIMELINK_SUBSCRIPTIONS not set)")
	}
	stats, err := t.Reprioritize(ctx, o)
	inv.SetReturnValue(stats)
	if err == nil && d.Governance != nil && len(d.Config.ARM.Subscriptions) > 0 {
		// Security managers' governance assignments, all in one Resource
		// Graph query; the groups they change are enqueued for sync.
		st := d.State()
		n, gerr := groupsync.RefreshGovernance(ctx, d.Governance, st, st, queue.GroupSyncs{Sync: d.Sync}.EnqueueGroupSync, d.Now())
		log.Info("governance assignments read", "groupsChanged", n, "error", gerr)
		var fe *arm.ForbiddenError
		if gerr != nil && !errors.As(gerr, &fe) { // a missing role is in health, logged once
			err = gerr
		}
	}
	if err == nil && d.Config.Campaigns && d.Config.GitHub.Enabled() {
		// The sync function owns GitHub's writes: it brings every org's
		// campaign to the runtime context just recomputed.
		err = d.Sync.EnqueueSync(ctx, queue.SyncRequest{Kind: queue.KindCampaigns})
	}
	return err
}
