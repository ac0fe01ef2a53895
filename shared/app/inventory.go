package app

import (
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/store"
)

// Inventory builds the runtime inventory on these dependencies: the store
// layer, the sync queue for the artifact-metadata records, and findings
// (the app's triage) as where findings are written, in the configured
// Azure cloud.
func (d *Deps) Inventory(findings inventory.FindingWriter) *inventory.Inventory {
	inv := inventory.New(store.New(d.Store), findings, queue.RecordSyncs{Sync: d.Sync}, d.Logger, d.Now)
	if d.Config != nil {
		inv.Cloud = d.Config.Cloud
	}
	return inv
}
