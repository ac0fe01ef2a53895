package ghapp

import (
	"context"
	"time"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Alerts turns GHAS alert events into findings.
type Alerts struct {
	Triage *triage.Triage
	Now    func() time.Time
}

// Handles implements Handler.
func (h *Alerts) Handles() []string {
	return []string{
		alerts.EventCodeScanningAlert,
		alerts.EventDependabotAlert,
		alerts.EventSecretScanningAlert,
		alerts.EventSecretScanningAlertLocation,
	}
}

// Handle decodes the alert and merges it into its finding; an event older
// than the stored state changes nothing (alerts.Apply).
func (h *Alerts) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	a, err := alerts.Decode(eventType, payload, now(h.Now))
	if err != nil {
		return err
	}
	f, changed, err := UpsertFinding(ctx, h.Triage, a.Finding)
	if err != nil {
		return err
	}
	invocation.Logger(ctx).Info("alert event applied",
		"action", a.Action, "findingId", f.ID, "repository", f.Repository, "state", f.State, "changed", changed)
	return nil
}

// UpsertFinding merges a finding decoded from GitHub (an event or a
// backfilled alert) into the stored one through triage, the single entry
// for writing findings. An event that changes nothing is still handed to
// triage (not skipped), so a retry repairs what a failed attempt left half
// done (its group); the store writes nothing when the content is the same.
func UpsertFinding(ctx context.Context, t *triage.Triage, incoming model.Finding) (*model.Finding, bool, error) {
	f, changed, err := t.Upsert(ctx, incoming.Repository, incoming.ID, func(cur *model.Finding, exists bool) error {
		var stored *model.Finding
		if exists {
			stored = cur
		}
		merged, _ := alerts.Apply(stored, incoming)
		*cur = merged
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return f, changed, nil
}

func now(f func() time.Time) time.Time {
	if f != nil {
		return f().UTC()
	}
	return time.Now().UTC()
}
