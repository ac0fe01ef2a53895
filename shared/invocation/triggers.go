package invocation

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// QueueMessage is one Storage queue message with the trigger's metadata.
type QueueMessage struct {
	// Body is the message as the app enqueued it (after the host's base64
	// decoding): the JSON document, or the text of a non-JSON message.
	Body            []byte
	ID              string
	PopReceipt      string
	DequeueCount    int
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time
}

// TimerInfo is the timer trigger's value. Last, Next and LastUpdated are zero
// when the host has no schedule status (useMonitor false, or the first run).
type TimerInfo struct {
	IsPastDue   bool
	Last        time.Time
	Next        time.Time
	LastUpdated time.Time
}

// PartitionContext says which Event Hub partition a batch came from.
type PartitionContext struct {
	FullyQualifiedNamespace string
	EventHubName            string
	ConsumerGroup           string
	PartitionID             string
}

// EventHubMetadata is the trigger metadata of an Event Hub batch; the arrays
// run parallel to the batch. Decoded best-effort: what is missing or
// malformed stays zero.
type EventHubMetadata struct {
	Partition       PartitionContext
	SequenceNumbers []int64
	Offsets         []string
	EnqueuedTimes   []time.Time
	PartitionKeys   []string
}

// decodeEventHubBatch splits an Event Hub trigger value (cardinality many)
// into one JSON document per event. The host sends a string holding a JSON
// array of strings, each an event body; arrays of objects and unencoded
// arrays are accepted too. An event whose body is not JSON is kept as a JSON
// string at its index, so metadata arrays still line up and the caller can
// report and skip it.
func decodeEventHubBatch(raw json.RawMessage) ([]json.RawMessage, error) {
	items, err := array(raw)
	if err != nil {
		return nil, fmt.Errorf("event hub batch (cardinality many): %w", err)
	}
	events := make([]json.RawMessage, len(items))
	for i, item := range items {
		v, err := peel(item)
		if err != nil {
			v = item // too deeply encoded: hand it over as is, to be reported
		}
		events[i] = v
	}
	return events, nil
}

// decodeQueueMessage reads a queue trigger value and its metadata: DequeueCount
// as 1 or "1", Id as "guid" or "\"guid\"", times as strings with or without
// an extra layer of quoting.
func decodeQueueMessage(raw json.RawMessage, meta map[string]json.RawMessage) (QueueMessage, error) {
	var m QueueMessage
	body, err := peel(raw)
	if err != nil {
		return m, fmt.Errorf("queue message body: %w", err)
	}
	if kind(body) == "string" {
		s, err := text(body)
		if err != nil {
			return m, fmt.Errorf("queue message body: %w", err)
		}
		m.Body = []byte(s)
	} else {
		m.Body = body
	}

	for _, f := range []struct {
		key string
		set func(json.RawMessage) error
	}{
		{"Id", func(v json.RawMessage) (err error) { m.ID, err = text(v); return }},
		{"PopReceipt", func(v json.RawMessage) (err error) { m.PopReceipt, err = text(v); return }},
		{"DequeueCount", func(v json.RawMessage) error {
			n, err := integer(v)
			m.DequeueCount = int(n)
			return err
		}},
		{"InsertionTime", func(v json.RawMessage) (err error) { m.InsertionTime, err = timestamp(v); return }},
		{"ExpirationTime", func(v json.RawMessage) (err error) { m.ExpirationTime, err = timestamp(v); return }},
		{"NextVisibleTime", func(v json.RawMessage) (err error) { m.NextVisibleTime, err = timestamp(v); return }},
	} {
		v, ok := lookup(meta, f.key)
		if !ok {
			continue
		}
		if err := f.set(v); err != nil {
			return m, fmt.Errorf("queue metadata %s: %w", f.key, err)
		}
	}
	return m, nil
}

// decodeEventGridEvent reads an Event Grid trigger value (Event Grid or
// CloudEvents schema), an object or a string holding one.
func decodeEventGridEvent(raw json.RawMessage) (json.RawMessage, error) {
	v, err := object(raw)
	if err != nil {
		return nil, fmt.Errorf("event grid event: %w", err)
	}
	return v, nil
}

// decodeTimer reads a timer trigger value such as
// {"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":..,"Next":..,"LastUpdated":..},"IsPastDue":false},
// an object or a string holding one; ScheduleStatus may be null.
func decodeTimer(raw json.RawMessage) (TimerInfo, error) {
	var info TimerInfo
	v, err := object(raw)
	if err != nil {
		return info, fmt.Errorf("timer: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(v, &fields); err != nil {
		return info, fmt.Errorf("timer: %w", err)
	}
	_, hasSchedule := lookup(fields, "Schedule")
	_, hasStatus := fields["ScheduleStatus"] // null when the host has no status
	pd, hasPastDue := lookup(fields, "IsPastDue")
	if !hasSchedule && !hasStatus && !hasPastDue {
		return info, errors.New("timer: no IsPastDue, Schedule or ScheduleStatus: not a timer trigger value")
	}
	if hasPastDue {
		if info.IsPastDue, err = boolean(pd); err != nil {
			return info, fmt.Errorf("timer IsPastDue: %w", err)
		}
	}
	st, ok := lookup(fields, "ScheduleStatus")
	if !ok {
		return info, nil
	}
	if st, err = object(st); err != nil {
		return info, fmt.Errorf("timer ScheduleStatus: %w", err)
	}
	var status map[string]json.RawMessage
	if err := json.Unmarshal(st, &status); err != nil {
		return info, fmt.Errorf("timer ScheduleStatus: %w", err)
	}
	for _, f := range []struct {
		key string
		dst *time.Time
	}{{"Last", &info.Last}, {"Next", &info.Next}, {"LastUpdated", &info.LastUpdated}} {
		if t, ok := lookup(status, f.key); ok {
			if *f.dst, err = timestamp(t); err != nil {
				return info, fmt.Errorf("timer ScheduleStatus.%s: %w", f.key, err)
			}
		}
	}
	return info, nil
}

// decodeEventHubMetadata reads PartitionContext and the per-event arrays.
// Field names follow the Event Hubs extension v5 binding data
// (EventHubTriggerBindingStrategy.GetBindingData); the v4 names EventHubPath
// and ConsumerGroupName are read as fallbacks.
func decodeEventHubMetadata(meta map[string]json.RawMessage) EventHubMetadata {
	var md EventHubMetadata
	if pc, ok := lookup(meta, "PartitionContext"); ok {
		if v, err := object(pc); err == nil {
			var f map[string]json.RawMessage
			if json.Unmarshal(v, &f) == nil {
				first := func(keys ...string) string {
					for _, k := range keys {
						if v, ok := lookup(f, k); ok {
							if s, err := text(v); err == nil && s != "" {
								return s
							}
						}
					}
					return ""
				}
				md.Partition = PartitionContext{
					FullyQualifiedNamespace: first("FullyQualifiedNamespace"),
					EventHubName:            first("EventHubName", "EventHubPath"),
					ConsumerGroup:           first("ConsumerGroup", "ConsumerGroupName"),
					PartitionID:             first("PartitionId"),
				}
			}
		}
	}
	md.SequenceNumbers = metaArray(meta, "SequenceNumberArray", integer)
	md.Offsets = metaArray(meta, "OffsetArray", text)
	md.EnqueuedTimes = metaArray(meta, "EnqueuedTimeUtcArray", timestamp)
	md.PartitionKeys = metaArray(meta, "PartitionKeyArray", text)
	return md
}

// metaArray decodes a metadata array element by element; an element that
// does not decode is left zero rather than dropped, keeping indexes aligned.
func metaArray[T any](meta map[string]json.RawMessage, key string, decode func(json.RawMessage) (T, error)) []T {
	raw, ok := lookup(meta, key)
	if !ok {
		return nil
	}
	items, err := array(raw)
	if err != nil {
		return nil
	}
	out := make([]T, len(items))
	for i, item := range items {
		if v, err := decode(item); err == nil {
			out[i] = v
		}
	}
	return out
}
