package ghapp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

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
	return slices.Sorted(maps.Keys(d.handlers))
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
	Store  Store // *store.Store in the app
	Sync   queue.Sync
	Triage *triage.Triage
	// App names the App's own bot (*github.Identity); see Issues.
	App AppBot
	Now func() time.Time
}

// Handlers returns every handler of the App.
func Handlers(o Options) []Handler {
	return []Handler{
		&Alerts{Triage: o.Triage, Now: o.Now},
		&Installations{Store: o.Store, Sync: o.Sync, Now: o.Now},
		&Artifacts{Store: o.Store, Runtime: runtimeChanged(o.Triage), Now: o.Now},
		&Issues{Store: o.Store, Sync: o.Sync, App: o.App, Now: o.Now},
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
	return &Receiver{Deliveries: o.Store, Handler: d, Now: o.Now}, nil
}

// runtimeChanged drops the runtime context t's scoring cached (an image's
// source moved); nil when there is no triage to tell.
func runtimeChanged(t *triage.Triage) func() {
	if t == nil {
		return nil
	}
	return func() { triage.RuntimeChanged(t.Store) }
}
