// Package registryevents is the adapter of the `registry_events` function:
// Azure Container Registry ImagePushed / ImageDeleted events from Event Grid
// (Event Grid or CloudEvents schema) become artifact records, and ACR
// images get a storage-record sync. Event Grid's subscription validation is
// answered if it reaches the function.
package registryevents

import (
	"context"
	"errors"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/registry"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Function and binding names, as in function.json.
const (
	Function = "registry_events"
	Binding  = "event"
)

// Register adds the function to the handler.
func Register(srv *invocation.Server, d *app.Deps) {
	ing, err := d.TriageInventory()
	h := &Handler{Inventory: ing}
	app.RegisterTrigger(srv, d.Logger, Function, h.Handle, err)
}

// Handler handles one Event Grid event.
type Handler struct {
	Inventory *inventory.Inventory
}

// ValidationResponse is the answer to Event Grid's subscription validation.
type ValidationResponse struct {
	ValidationResponse string `json:"validationResponse"`
}

// Handle stores what one event says. Events that cannot be read or are of
// another type are logged and acknowledged (a retry would read them the
// same way); a storage failure fails the invocation so Event Grid retries.
func (h *Handler) Handle(ctx context.Context, inv *invocation.Invocation) error {
	log := inv.Logger()
	raw, err := inv.EventGridEvent(Binding)
	if err != nil {
		log.Error("cannot read the Event Grid event; skipped", "error", err)
		return nil
	}
	ev, err := registry.ParseEvent(raw)
	switch {
	case errors.Is(err, registry.ErrUnknownType):
		log.Info("ignoring event of another type", "error", err)
		return nil
	case err != nil:
		log.Warn("skipping unreadable registry event", "error", err)
		return nil
	}
	log = log.With("eventId", ev.ID, "eventType", string(ev.Kind))
	if ev.Kind == registry.KindSubscriptionValidation {
		log.Info("answering Event Grid subscription validation")
		inv.SetReturnValue(ValidationResponse{ValidationResponse: ev.Validation.Code})
		return nil
	}
	ing := *h.Inventory
	ing.Logger = log
	changed, err := ing.RecordImageEvent(triage.WithCache(ctx), ev)
	if err != nil {
		return fmt.Errorf("store %s event %s: %w", ev.Kind, ev.ID, err)
	}
	log.Info("registry event stored", "image", ev.Image(), "tag", ev.Tag, "digest", ev.Digest, "changed", changed)
	return nil
}
