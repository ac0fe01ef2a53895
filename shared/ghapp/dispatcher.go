package ghapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Dispatcher routes an event to the one handler registered for its name.
type Dispatcher struct {
	handlers map[string]Handler
}

// NewDispatcher registers handlers; two handlers for one event is a
// programming error and is refused.
func NewDispatcher(handlers ...Handler) (*Dispatcher, error) {
	d := &Dispatcher{handlers: map[string]Handler{}}
	for _, h := range handlers {
		for _, event := range h.Handles() {
			if _, dup := d.handlers[event]; dup {
				return nil, fmt.Errorf("ghapp: two handlers for event %q", event)
			}
			d.handlers[event] = h
		}
	}
	return d, nil
}

// Handles lists the events with a handler, sorted; a Dispatcher is itself
// a Handler.
func (d *Dispatcher) Handles() []string {
	out := make([]string, 0, len(d.handlers))
	for e := range d.handlers {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// Handle passes the event to its handler; an event without one is
// ErrUnhandledEvent.
func (d *Dispatcher) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	h, ok := d.handlers[eventType]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnhandledEvent, eventType)
	}
	return h.Handle(ctx, eventType, deliveryID, payload)
}

// Options are what the App's handlers need.
type Options struct {
	Store  *cosmos.Store
	Sync   queue.Sync
	Triage *triage.Triage
	// BotLogin is the App's bot login ("<app-slug>[bot]"); see Issues.
	BotLogin string
	Now      func() time.Time
}

// Handlers returns every handler of the App.
func Handlers(o Options) []Handler {
	return []Handler{
		&Alerts{Triage: o.Triage, Now: o.Now},
		&Installations{Store: o.Store, Sync: o.Sync, Now: o.Now},
		&Artifacts{Store: o.Store, Now: o.Now},
		&Issues{Store: o.Store, Sync: o.Sync, BotLogin: o.BotLogin, Now: o.Now},
		Ping{},
	}
}

// NewReceiver returns a Receiver dispatching to every handler of the App.
func NewReceiver(o Options) (*Receiver, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("ghapp: a store is required")
	case o.Sync == nil:
		return nil, errors.New("ghapp: a sync queue is required")
	case o.Triage == nil:
		return nil, errors.New("ghapp: triage is required")
	}
	d, err := NewDispatcher(Handlers(o)...)
	if err != nil {
		return nil, err
	}
	return &Receiver{Deliveries: o.Store.Deliveries, Handler: d, Now: o.Now}, nil
}
