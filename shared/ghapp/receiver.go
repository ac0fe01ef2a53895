package ghapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Outcome is what became of one delivery.
type Outcome string

const (
	// Processed: the handler ran and its effect is stored.
	Processed Outcome = "processed"
	// Duplicate: the delivery id was processed before; nothing was done.
	Duplicate Outcome = "duplicate delivery"
	// Ignored: the event needs no work (see IsIgnored); nothing was stored.
	Ignored Outcome = "ignored"
)

// Receiver takes verified deliveries: it drops the ones already processed
// (by X-GitHub-Delivery, kept in the deliveries container for
// cosmos.DeliveriesTTL), dispatches the rest, and records a delivery only
// after its handler succeeded. A failed handler leaves no record, so a
// redelivery (GitHub's manual one, or a replay) does the work again; the
// handlers are idempotent, so a delivery processed twice by two racing
// attempts has one effect.
type Receiver struct {
	Deliveries DeliveryLog
	Handler    Handler // usually a *Dispatcher
	Now        func() time.Time
}

// maxDeliveryID bounds a delivery id (GitHub's are UUIDs); Cosmos DB ids
// are at most 255 characters.
const maxDeliveryID = 255

// Receive processes one delivery whose signature has been verified.
// Errors: IsMalformed (answer 400), IsIgnored (with outcome Ignored,
// answer 202), anything else is a failure of ours (answer 500, redeliver).
func (r *Receiver) Receive(ctx context.Context, eventType, deliveryID string, payload []byte) (Outcome, error) {
	if err := checkHeaders(eventType, deliveryID); err != nil {
		return "", err
	}
	if err := checkJSONObject(eventType, payload); err != nil {
		return "", err
	}
	if seen, err := r.Deliveries.Delivered(ctx, deliveryID); err != nil {
		return "", err
	} else if seen {
		return Duplicate, nil
	}
	if err := r.Handler.Handle(ctx, eventType, deliveryID, payload); err != nil {
		if IsIgnored(err) {
			return Ignored, err
		}
		return "", err
	}
	if err := r.Deliveries.RecordDelivery(ctx, deliveryID, eventType, r.now()); err != nil {
		// The effect is stored; only the dedupe record is missing. A
		// redelivery would redo idempotent work, so this still fails the
		// delivery rather than hide a store that does not answer.
		return "", err
	}
	return Processed, nil
}

func (r *Receiver) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func checkHeaders(eventType, deliveryID string) error {
	switch {
	case eventType == "":
		return fmt.Errorf("%w: the X-GitHub-Event header is missing", ErrMalformed)
	case deliveryID == "":
		return fmt.Errorf("%w: the X-GitHub-Delivery header is missing", ErrMalformed)
	case len(deliveryID) > maxDeliveryID || strings.ContainsAny(deliveryID, "/\\?#") || strings.TrimSpace(deliveryID) != deliveryID:
		return fmt.Errorf("%w: X-GitHub-Delivery %q is not a delivery id", ErrMalformed, clipHeader(deliveryID))
	case len(eventType) > 100:
		return fmt.Errorf("%w: X-GitHub-Event is not an event name", ErrMalformed)
	}
	return nil
}

func clipHeader(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// checkJSONObject: every GitHub payload is a JSON object; anything else
// (a truncated body, a form post, an array) is refused whatever the event,
// known or not.
func checkJSONObject(eventType string, payload []byte) error {
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 {
		return malformed(eventType, "the body is empty")
	}
	if trimmed[0] != '{' {
		return malformed(eventType, "the body is not a JSON object")
	}
	if !json.Valid(trimmed) {
		// Decode to get a message that says where it broke.
		var v map[string]json.RawMessage
		err := json.Unmarshal(trimmed, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return fmt.Errorf("%w: %s: %w", ErrMalformed, eventType, err)
	}
	return nil
}
