// Package defenderexport is the adapter of the `defender_export` function:
// it reads a batch of Defender for Cloud continuous-export messages from
// Event Hub, logs and skips the records it cannot read, and hands the rest
// to the inventory. A storage failure fails the invocation so the host
// redelivers the batch; redelivery writes nothing twice.
package defenderexport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Function and binding names, as in function.json.
const (
	Function = "defender_export"
	Binding  = "events"
)

// Register adds the function to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	ing, err := d.TriageInventory()
	h := &Handler{Inventory: ing}
	app.RegisterTrigger(srv, d.Logger, Function, h.Handle, err)
}

// Handler handles one Event Hub batch.
type Handler struct {
	Inventory *inventory.Inventory
}

// Handle reads the batch: each message holds one record or an array of
// records; a record that cannot be read is logged with its position
// (message index, record index, Event Hub sequence number) and skipped.
func (h *Handler) Handle(ctx context.Context, inv *invocation.Invocation) error {
	log := inv.Logger()
	msgs, err := inv.EventHubBatch(Binding)
	if err != nil {
		// Not an Event Hub batch at all: redelivering it cannot help, and
		// with unlimited retries it would stall the partition.
		log.Error("cannot read the Event Hub batch; nothing of it is stored", "error", err)
		return nil
	}
	md := inv.EventHubMetadata()
	var (
		recs      []defender.Record
		malformed int
		unknown   = map[string]int{}
	)
	for m, msg := range msgs {
		rs, errs := defender.ParseMessage(msg)
		recs = append(recs, rs...)
		for _, e := range errs {
			if errors.Is(e, defender.ErrUnknownType) {
				// Secure scores, compliance, other resources' findings: read
				// fine, not runtimelink's business. Counted, not logged each.
				key := e.Error()
				var re *defender.RecordError
				if errors.As(e, &re) {
					key = re.Err.Error()
				}
				unknown[key]++
				continue
			}
			malformed++
			log.Warn("skipping unreadable Defender record", position(md, m, e)...)
		}
	}
	ing := *h.Inventory
	ing.Logger = log
	st, err := ing.IngestDefender(triage.WithCache(ctx), recs)
	attrs := []any{
		"messages", len(msgs), "records", len(recs), "malformed", malformed,
		"cves", st.CVEs, "assessments", st.Assessments, "alerts", st.Alerts,
		"findingsWritten", st.FindingsWritten, "resolved", st.Resolved, "workloadsChanged", st.WorkloadsChanged,
	}
	if len(unknown) > 0 {
		attrs = append(attrs, "unknownTypes", unknown)
	}
	if len(st.Ignored) > 0 {
		attrs = append(attrs, "ignored", st.Ignored)
	}
	if err != nil {
		log.Error("storing the Defender batch failed; the host will redeliver it", append(attrs, "error", err)...)
		return fmt.Errorf("store Defender records: %w", err)
	}
	log.Info("Defender export batch stored", attrs...)
	return nil
}

// position names where a bad record sits, for an operator to find it.
func position(md invocation.EventHubMetadata, message int, err error) []any {
	attrs := []any{"message", message}
	var re *defender.RecordError
	if errors.As(err, &re) {
		if re.Index >= 0 {
			attrs = append(attrs, "record", re.Index)
		} else {
			attrs = append(attrs, "record", "whole message")
		}
	}
	if message < len(md.SequenceNumbers) {
		attrs = append(attrs, "sequenceNumber", md.SequenceNumbers[message])
	}
	if md.Partition.PartitionID != "" {
		attrs = append(attrs, "partition", md.Partition.PartitionID)
	}
	return append(attrs, slog.Any("error", err))
}
