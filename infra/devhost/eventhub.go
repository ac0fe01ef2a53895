package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// eventHubSequence hands out per-function sequence numbers, so injected
// events carry increasing SequenceNumber/Offset like a real partition.
type eventHubSequence struct {
	mu   sync.Mutex
	next map[string]int64
}

func (s *eventHubSequence) take(fn string, n int) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == nil {
		s.next = map[string]int64{}
	}
	first := s.next[fn]
	s.next[fn] = first + int64(n)
	return first
}

// serveEventHub injects events into an Event Hub triggered function:
// POST /admin/eventhub/<function> with a JSON array of events (each any
// JSON document). They are delivered in batches of maxEventBatchSize; the
// answer is 200 when every batch succeeded, else 500 with the handler's
// answer, and later batches are not delivered (a real partition would not
// checkpoint past the failed batch).
func (h *Host) serveEventHub(w http.ResponseWriter, r *http.Request) {
	fn := h.app.Function(r.PathValue("name"))
	if fn == nil || fn.Disabled || fn.Kind() != triggerEventHub {
		http.Error(w, fmt.Sprintf("no enabled eventHubTrigger function %q", r.PathValue("name")), http.StatusNotFound)
		return
	}
	body, ok := h.authorizedBody(w, r, "admin", 256<<20, "events")
	if !ok {
		return
	}
	events, err := parseEventList(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size := h.app.Host.EventHubMaxBatchSize
	if h.opts.EventHubBatch > 0 {
		size = h.opts.EventHubBatch
	}
	many := strings.EqualFold(fn.Trigger.Cardinality, "many")
	if !many {
		size = 1 // cardinality one: one invocation per event
	}
	batches := 0
	for start := 0; start < len(events); start += size {
		batch := events[start:min(start+size, len(events))]
		batches++
		if _, err := h.invokeEventHub(r.Context(), fn, batch, many); err != nil {
			answer := map[string]any{"error": err.Error(), "batch": batches, "delivered": start}
			var ie *invocationError
			if errors.As(err, &ie) {
				answer["handlerStatus"] = ie.Status
				answer["handlerAnswer"] = string(ie.Body)
			}
			writeJSON(w, http.StatusInternalServerError, answer)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"events": len(events), "batches": batches})
}

// parseEventList accepts a JSON array of events, or a single event.
func parseEventList(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if !json.Valid(body) {
		return nil, errors.New("body is not JSON: want an array of events")
	}
	var events []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &events); err != nil {
			return nil, fmt.Errorf("decode events: %w", err)
		}
	} else {
		events = []json.RawMessage{body}
	}
	if len(events) == 0 {
		return nil, errors.New("no events")
	}
	for i := range events {
		events[i] = bytes.TrimSpace(events[i])
	}
	return events, nil
}

// invokeEventHub sends one batch. With cardinality many the host binds the
// batch to string[] and sends it as a JSON string holding an array of
// strings, each string one event body; the per-event metadata arrays
// arrive as JSON strings too, PartitionContext as an object.
func (h *Host) invokeEventHub(ctx context.Context, fn *Function, events []json.RawMessage, many bool) (*invocationResult, error) {
	first := h.ehSeq.take(fn.Name, len(events))
	enqueued := h.now().UTC().Format("2006-01-02T15:04:05.9999999Z")
	n := len(events)
	bodies := make([]string, n)
	seqs := make([]int64, n)
	offsets := make([]string, n)
	times := make([]string, n)
	keys := make([]any, n)
	props := make([]map[string]any, n)
	sysProps := make([]map[string]any, n)
	for i, ev := range events {
		seq := first + int64(i)
		offset := strconv.FormatInt(seq*512, 10)
		bodies[i], seqs[i], offsets[i], times[i], props[i] = string(ev), seq, offset, enqueued, map[string]any{}
		sysProps[i] = map[string]any{
			"x-opt-sequence-number": seq,
			"x-opt-offset":          offset,
			"x-opt-enqueued-time":   enqueued,
			"SequenceNumber":        seq,
			"Offset":                offset,
			"PartitionKey":          nil,
			"EnqueuedTimeUtc":       enqueued,
		}
	}
	consumerGroup := fn.Trigger.ConsumerGroup
	if consumerGroup == "" {
		consumerGroup = "$Default"
	}
	metadata := map[string]any{
		"PartitionContext": map[string]any{
			"FullyQualifiedNamespace": "devhost.servicebus.windows.net",
			"EventHubName":            fn.Trigger.EventHubName,
			"ConsumerGroup":           consumerGroup,
			"PartitionId":             "0",
		},
		"sys": h.sysMetadata(fn),
	}
	data := map[string]any{}
	if many {
		data[fn.Trigger.Name] = metadataValue(bodies)
		metadata["SequenceNumberArray"] = metadataValue(seqs)
		metadata["OffsetArray"] = metadataValue(offsets)
		metadata["EnqueuedTimeUtcArray"] = metadataValue(times)
		metadata["PartitionKeyArray"] = metadataValue(keys)
		metadata["PropertiesArray"] = metadataValue(props)
		metadata["SystemPropertiesArray"] = metadataValue(sysProps)
	} else {
		data[fn.Trigger.Name] = metadataValue(bodies[0])
		metadata["SequenceNumber"] = metadataValue(seqs[0])
		metadata["Offset"] = metadataValue(offsets[0])
		metadata["EnqueuedTimeUtc"] = metadataValue(times[0])
		metadata["Properties"] = props[0]
		metadata["SystemProperties"] = sysProps[0]
	}
	reason := fmt.Sprintf("(Partition: 0, Offset: %s-%s, SequenceNumber: %d-%d, Count: %d)",
		offsets[0], offsets[n-1], seqs[0], seqs[n-1], n)
	return h.invoke(ctx, fn, data, metadata, reason)
}
