package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// serveEventGrid is the host's Event Grid webhook,
// POST /runtime/webhooks/eventgrid?functionName=<name>, driven by the
// aeg-event-type header as Event Grid sends it:
//   - SubscriptionValidation: answer {"validationResponse": <code>};
//   - Notification: an array of Event Grid events (or one CloudEvent); each
//     event is its own invocation, all run in parallel; 202 when all
//     succeed, else 500 so Event Grid redelivers;
//   - Unsubscribe: 202.
func (h *Host) serveEventGrid(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("functionName")
	fn := h.app.Function(name)
	if fn == nil || fn.Disabled || fn.Kind() != triggerEventGrid {
		http.Error(w, fmt.Sprintf("cannot find function: '%s'", name), http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, ok := h.authorizedBody(w, r, "system", 64<<20, "body")
	if !ok {
		return
	}
	switch strings.ToLower(r.Header.Get("aeg-event-type")) {
	case "subscriptionvalidation":
		code, err := validationCode(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.log.Info("event grid subscription validated", "function", fn.Name)
		writeJSON(w, http.StatusOK, map[string]string{"validationResponse": code})
	case "notification":
		events, err := parseEventList(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for i, ev := range events {
			if len(ev) == 0 || ev[0] != '{' {
				http.Error(w, fmt.Sprintf("event %d is not a JSON object", i), http.StatusBadRequest)
				return
			}
		}
		errs := make([]error, len(events))
		var wg sync.WaitGroup
		for i, ev := range events {
			wg.Go(func() { errs[i] = h.invokeEventGrid(r, fn, ev) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	case "unsubscribe":
		w.WriteHeader(http.StatusAccepted)
	default:
		http.Error(w, "aeg-event-type must be SubscriptionValidation, Notification or Unsubscribe", http.StatusBadRequest)
	}
}

// invokeEventGrid sends one event: Data.<binding> is the event object and
// Metadata.data the event's data, as the trigger's binding data.
func (h *Host) invokeEventGrid(r *http.Request, fn *Function, event json.RawMessage) error {
	var fields struct {
		Data json.RawMessage `json:"data"`
		Type string          `json:"eventType"`
		CE   string          `json:"type"`
	}
	_ = json.Unmarshal(event, &fields)
	metadata := map[string]any{"sys": h.sysMetadata(fn)}
	if len(fields.Data) > 0 && string(fields.Data) != "null" {
		var v any
		if json.Unmarshal(fields.Data, &v) == nil {
			metadata["data"] = metadataValue(v)
		}
	}
	reason := "EventGrid trigger fired: " + fields.Type + fields.CE
	_, err := h.invoke(r.Context(), fn, map[string]any{fn.Trigger.Name: event}, metadata, reason)
	return err
}

// validationCode reads the handshake code: data.validationCode of the first
// event of an Event Grid schema array, or of a CloudEvent whose data may be
// a JSON-encoded string.
func validationCode(body []byte) (string, error) {
	events, err := parseEventList(body)
	if err != nil {
		return "", err
	}
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(events[0], &ev); err != nil {
		return "", fmt.Errorf("validation event: %w", err)
	}
	data := ev.Data
	var s string
	if json.Unmarshal(data, &s) == nil {
		data = json.RawMessage(s)
	}
	var d struct {
		ValidationCode string `json:"validationCode"`
	}
	if err := json.Unmarshal(data, &d); err != nil || d.ValidationCode == "" {
		return "", errors.New("validation event has no data.validationCode")
	}
	return d.ValidationCode, nil
}
