package app

import (
	"fmt"

	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/queue"
)

// Inventory builds the runtime inventory on these dependencies: the store
// layer, the sync queue for the artifact-metadata records, and findings
// (the app's triage) as where findings are written, in the configured
// Azure cloud, with the cluster documents that keep Defender's cluster
// risk and the fallback repository of findings about clusters no
// repository builds.
func (d *Deps) Inventory(findings inventory.FindingWriter) *inventory.Inventory {
	st := d.State()
	inv := inventory.New(st, findings, queue.RecordSyncs{Sync: d.Sync}, d.Logger, d.Now)
	inv.Clusters = st
	if d.Config != nil {
		inv.Cloud = d.Config.Cloud
		inv.ClusterFindingsRepository = d.Config.ClusterFindingsRepository
	}
	return inv
}

// TriageInventory is the inventory whose findings go to triage (Triage and
// Inventory together), as the event-driven functions use it.
func (d *Deps) TriageInventory() (*inventory.Inventory, error) {
	tri, err := d.Triage()
	if err != nil {
		return nil, fmt.Errorf("cannot build triage: %w", err)
	}
	return d.Inventory(tri), nil
}
