// Package invocationtest builds requests the way the Azure Functions host
// sends them to a custom handler, and reads the handler's answers, so that
// function tests run against the real wire format.
//
// Values are encoded as the host encodes them (azure-functions-host,
// ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue):
// objects stay objects, everything else becomes a string holding its JSON.
package invocationtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Host headers sent with every request.
const (
	HeaderInvocationID = "X-Azure-Functions-InvocationId"
	HeaderHostVersion  = "X-Azure-Functions-HostVersion"
	hostVersion        = "4.1037.1.1"
)

// Envelope is the payload the host posts to /<functionName>. Tests may edit
// Data and Metadata, e.g. to send the plain (object) form instead.
type Envelope struct {
	Data     map[string]json.RawMessage
	Metadata map[string]json.RawMessage
}

// Body is the envelope as JSON.
func (e Envelope) Body() []byte {
	b, err := json.Marshal(struct {
		Data     map[string]json.RawMessage `json:"Data"`
		Metadata map[string]json.RawMessage `json:"Metadata"`
	}{e.Data, e.Metadata})
	if err != nil {
		panic(fmt.Sprintf("invocationtest: encode envelope: %v", err)) // only with invalid RawMessages
	}
	return b
}

// Request is the host's POST /<function> carrying the envelope.
func (e Envelope) Request(function, invocationID string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/"+function, bytes.NewReader(e.Body()))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	setHostHeaders(r, invocationID)
	return r
}

// ForwardedRequest is an HTTP-triggered request as the host forwards it
// (enableForwardingHttpRequest): the original method, path and body plus the
// host's headers.
func ForwardedRequest(method, target string, body io.Reader, invocationID string) *http.Request {
	r := httptest.NewRequest(method, target, body)
	setHostHeaders(r, invocationID)
	return r
}

func setHostHeaders(r *http.Request, invocationID string) {
	if invocationID != "" {
		r.Header.Set(HeaderInvocationID, invocationID)
	}
	r.Header.Set(HeaderHostVersion, hostVersion)
	r.Header.Set("User-Agent", "Azure-Functions-Host/"+hostVersion)
}

// Response is a handler's answer to a trigger invocation.
type Response struct {
	Status      int
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
}

// Invoke sends the envelope to h as the host would and decodes the answer,
// failing the test when the answer is not the protocol's JSON shape.
func Invoke(t testing.TB, h http.Handler, function, invocationID string, e Envelope) Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, e.Request(function, invocationID))
	var body struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue json.RawMessage
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("invoke %s: answer (status %d) is not the invocation JSON: %v\n%s", function, rec.Code, err, rec.Body.String())
	}
	return Response{Status: rec.Code, Outputs: body.Outputs, Logs: body.Logs, ReturnValue: body.ReturnValue}
}

// HostValue encodes v as the host puts a binding value or metadata value into
// the envelope: an object stays an object; a string, number, date or array
// becomes a JSON string holding its JSON encoding.
func HostValue(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("invocationtest: encode %T: %v", v, err))
	}
	if len(b) > 0 && b[0] == '{' {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// Time formats t as Json.NET writes a DateTimeOffset (…+00:00).
func Time(t time.Time) string { return t.Format("2006-01-02T15:04:05.9999999-07:00") }

// UnspecifiedTime formats t as Json.NET writes a DateTime of kind Unspecified
// (no zone), as the Event Hubs extension does for EnqueuedTimeUtc.
func UnspecifiedTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999") }

// BaseTime is the fixed clock of the envelopes built here.
var BaseTime = time.Date(2026, 11, 18, 9, 30, 11, 446000000, time.UTC)

func sys(function string) json.RawMessage {
	return HostValue(map[string]any{
		"MethodName": function,
		"UtcNow":     BaseTime.Format("2006-01-02T15:04:05.9999999Z"),
		"RandGuid":   "2f1e8c0a-6b1d-4c1e-9a57-3d2b1c0e9f8a",
	})
}

// EventHubBatch is an Event Hub trigger invocation (cardinality many,
// dataType string) delivering messages, each the body of one event, from
// partition 0 of hub "defender-export".
func EventHubBatch(function, binding string, messages ...[]byte) Envelope {
	bodies := make([]string, len(messages))
	seq := make([]int64, len(messages))
	offsets := make([]string, len(messages))
	times := make([]string, len(messages))
	keys := make([]*string, len(messages))
	props := make([]map[string]any, len(messages))
	for i, m := range messages {
		bodies[i] = string(m)
		seq[i] = int64(1000 + i)
		offsets[i] = fmt.Sprint(4294967296 + int64(i)*2048)
		times[i] = UnspecifiedTime(BaseTime.Add(time.Duration(i) * time.Millisecond))
		props[i] = map[string]any{}
	}
	return Envelope{
		Data: map[string]json.RawMessage{binding: HostValue(bodies)},
		Metadata: map[string]json.RawMessage{
			"PartitionContext": HostValue(map[string]any{
				"FullyQualifiedNamespace": "octo-events.servicebus.windows.net",
				"EventHubName":            "defender-export",
				"ConsumerGroup":           "$Default",
				"PartitionId":             "0",
			}),
			"PartitionKeyArray":     HostValue(keys),
			"OffsetArray":           HostValue(offsets),
			"SequenceNumberArray":   HostValue(seq),
			"EnqueuedTimeUtcArray":  HostValue(times),
			"PropertiesArray":       HostValue(props),
			"SystemPropertiesArray": HostValue(props),
			"sys":                   sys(function),
		},
	}
}

// QueueMessage is a Storage queue trigger invocation delivering body (the
// message text after the host's base64 decoding) for the dequeueCount-th time.
func QueueMessage(function, binding string, body []byte, dequeueCount int) Envelope {
	return Envelope{
		Data: map[string]json.RawMessage{binding: HostValue(string(body))},
		Metadata: map[string]json.RawMessage{
			"DequeueCount":    HostValue(dequeueCount),
			"Id":              HostValue("0b6f3c8e-54a1-4b7e-9d1c-2a9e7f3b6c41"),
			"PopReceipt":      HostValue("AgAAAAMAAAAAAAAAxQ4M0mNc2wE="),
			"InsertionTime":   HostValue(Time(BaseTime)),
			"ExpirationTime":  HostValue(Time(BaseTime.Add(7 * 24 * time.Hour))),
			"NextVisibleTime": HostValue(Time(BaseTime.Add(30 * time.Second))),
			"sys":             sys(function),
		},
	}
}

// EventGridEvent is an Event Grid trigger invocation delivering event (one
// event object in Event Grid or CloudEvents schema), sent as a string.
func EventGridEvent(function, binding string, event []byte) Envelope {
	return Envelope{
		Data:     map[string]json.RawMessage{binding: HostValue(string(event))},
		Metadata: map[string]json.RawMessage{"sys": sys(function)},
	}
}

// Timer is a timer trigger invocation; with useMonitor the host reports the
// last and next occurrences.
func Timer(function, binding string, last, next time.Time, pastDue bool) Envelope {
	return Envelope{
		Data: map[string]json.RawMessage{binding: HostValue(map[string]any{
			"Schedule": map[string]any{"AdjustForDST": true},
			"ScheduleStatus": map[string]any{
				"Last":        Time(last),
				"Next":        Time(next),
				"LastUpdated": Time(last),
			},
			"IsPastDue": pastDue,
		})},
		Metadata: map[string]json.RawMessage{"sys": sys(function)},
	}
}
