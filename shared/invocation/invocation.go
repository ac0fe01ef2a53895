package invocation

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Invocation is one non-HTTP trigger invocation: the host's request payload
// {"Data":{...},"Metadata":{...}} and what the handler answers.
type Invocation struct {
	ID       string // the host's invocation id (X-Azure-Functions-InvocationId)
	Function string
	// Data holds the trigger and input binding values by binding name, and
	// Metadata the trigger metadata, both as the host sent them. Prefer the
	// typed accessors, which accept every encoding the host uses.
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage

	logger *slog.Logger
	logs   *logLines

	mu          sync.Mutex
	outputs     map[string]any
	returnValue any
}

// envelope is the request payload the host posts to /<functionName>.
type envelope struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// response is the payload the host expects back.
type response struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, fmt.Errorf("decode invocation request: %w", err)
	}
	return env, nil
}

// Logger returns the invocation's logger: JSON lines to the server's logger
// with invocationId and function attached, also returned to the host in Logs.
func (inv *Invocation) Logger() *slog.Logger { return inv.logger }

// SetOutput sets the value of an output binding.
func (inv *Invocation) SetOutput(name string, value any) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.outputs[name] = value
}

// SetReturnValue sets the value of the $return binding.
func (inv *Invocation) SetReturnValue(value any) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.returnValue = value
}

func (inv *Invocation) binding(name string) (json.RawMessage, error) {
	v, ok := lookup(inv.Data, name)
	if !ok {
		return nil, fmt.Errorf("binding %q: no value in the invocation request", name)
	}
	return v, nil
}

// decodeBinding decodes the value of binding; an error names the binding.
func decodeBinding[T any](inv *Invocation, binding string, decode func(json.RawMessage) (T, error)) (T, error) {
	raw, err := inv.binding(binding)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := decode(raw)
	if err != nil {
		return v, fmt.Errorf("binding %q: %w", binding, err)
	}
	return v, nil
}

// EventHubBatch returns the events of an Event Hub trigger with cardinality
// many, one JSON document per event. An empty batch is not an error.
func (inv *Invocation) EventHubBatch(binding string) ([]json.RawMessage, error) {
	return decodeBinding(inv, binding, decodeEventHubBatch)
}

// EventHubMetadata returns the Event Hub trigger metadata, best-effort.
func (inv *Invocation) EventHubMetadata() EventHubMetadata {
	return decodeEventHubMetadata(inv.Metadata)
}

// QueueMessage returns a Storage queue trigger's message and metadata.
func (inv *Invocation) QueueMessage(binding string) (QueueMessage, error) {
	return decodeBinding(inv, binding, func(raw json.RawMessage) (QueueMessage, error) {
		return decodeQueueMessage(raw, inv.Metadata)
	})
}

// EventGridEvent returns an Event Grid trigger's event object.
func (inv *Invocation) EventGridEvent(binding string) (json.RawMessage, error) {
	return decodeBinding(inv, binding, decodeEventGridEvent)
}

// Timer returns a timer trigger's schedule information.
func (inv *Invocation) Timer(binding string) (TimerInfo, error) {
	return decodeBinding(inv, binding, decodeTimer)
}

// LogTimer logs what the timer binding says of this run (past due, or
// unreadable): a timer run needs nothing else from it.
func (inv *Invocation) LogTimer(binding string) {
	timer, err := inv.Timer(binding)
	switch {
	case err != nil:
		inv.Logger().Warn("timer binding unreadable", "error", err)
	case timer.IsPastDue:
		inv.Logger().Info("timer is past due; running now")
	}
}

func (inv *Invocation) response() response {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return response{Outputs: inv.outputs, Logs: inv.logs.lines(), ReturnValue: inv.returnValue}
}

// errPanic marks an error recovered from a panicking TriggerFunc.
var errPanic = errors.New("panic in trigger function")
