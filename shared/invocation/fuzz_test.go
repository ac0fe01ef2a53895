package invocation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
)

// The fuzz targets check that no input panics, and that what a decoder
// accepts is well-formed: every event or body it returns is valid JSON (or,
// for queue bodies, text), so handlers can rely on it.

func FuzzEventHubBatch(f *testing.F) {
	risk := readTestdata(f, "assessment-risk.json")
	legacy := readTestdata(f, "subassessment-legacy.json")
	f.Add([]byte(invocationtest.HostValue([]string{string(risk), string(legacy)})))
	f.Add([]byte(`[{"a":1},{"b":2}]`))
	f.Add([]byte(`["{\"a\":1}","not json"]`))
	f.Add([]byte(`"[{\"a\":1}]"`))
	f.Add([]byte(`"[]"`))
	f.Add([]byte(`[null,"\"\\\"x\\\"\""]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		events, err := decodeEventHubBatch(raw)
		if err != nil {
			return
		}
		bodies := make([]string, len(events))
		for i, ev := range events {
			if !json.Valid(ev) {
				t.Fatalf("event %d is not valid JSON: %q", i, ev)
			}
			bodies[i] = string(ev)
		}
		// What was accepted survives the host's encoding unchanged.
		again, err := decodeEventHubBatch(invocationtest.HostValue(bodies))
		if err != nil || len(again) != len(events) {
			t.Fatalf("re-decoding the host form of %q: %d events, %v", events, len(again), err)
		}
		for i := range events {
			if !bytes.Equal(again[i], events[i]) && !tooDeep(events[i]) {
				t.Fatalf("event %d: %q, then %q after the host's encoding", i, events[i], again[i])
			}
		}
	})
}

// tooDeep reports an event kept as is because it was encoded past maxEncodingDepth.
func tooDeep(ev json.RawMessage) bool {
	_, err := peel(ev)
	return err != nil
}

func FuzzQueueMessage(f *testing.F) {
	host := invocationtest.QueueMessage("sync", "msg", []byte(`{"Kind":"group","GroupID":"g"}`), 1)
	meta, _ := json.Marshal(host.Metadata)
	f.Add([]byte(host.Data["msg"]), meta)
	f.Add([]byte(`{"Kind":"group"}`), []byte(`{"DequeueCount":1,"Id":"abc","InsertionTime":"2026-11-18T09:30:11+00:00"}`))
	f.Add([]byte(`"hello"`), []byte(`{"dequeueCount":"1","id":"\"\\\"x\\\"\""}`))
	f.Add([]byte(`"\"\""`), []byte(`{"DequeueCount":"99999999999999999999"}`))
	f.Fuzz(func(t *testing.T, data, metaJSON []byte) {
		var meta map[string]json.RawMessage
		if json.Unmarshal(metaJSON, &meta) != nil {
			meta = nil
		}
		m, err := decodeQueueMessage(data, meta)
		if err != nil {
			return
		}
		if m.Body == nil {
			t.Fatalf("accepted %q with a nil body", data)
		}
		host := invocationtest.QueueMessage("sync", "msg", m.Body, m.DequeueCount)
		again, err := decodeQueueMessage(host.Data["msg"], host.Metadata)
		if err != nil || !bytes.Equal(again.Body, m.Body) || again.DequeueCount != m.DequeueCount {
			t.Fatalf("body %q count %d, then %q count %d after the host's encoding (%v)", m.Body, m.DequeueCount, again.Body, again.DequeueCount, err)
		}
	})
}

func FuzzEventGrid(f *testing.F) {
	pushed := readTestdata(f, "eventgrid-imagepushed.json")
	f.Add(pushed)
	f.Add([]byte(invocationtest.HostValue(string(pushed))))
	f.Add([]byte(`{"specversion":"1.0","type":"x","id":"1","data":{}}`))
	f.Add([]byte(`["x"]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := decodeEventGridEvent(raw)
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(ev, &obj); err != nil {
			t.Fatalf("accepted event is not a JSON object: %q: %v", ev, err)
		}
	})
}

func FuzzTimer(f *testing.F) {
	last := time.Date(2026, 11, 18, 2, 0, 0, 0, time.UTC)
	host := invocationtest.Timer("reprioritize", "timer", last, last.Add(24*time.Hour), false)
	f.Add([]byte(host.Data["timer"]))
	f.Add([]byte(invocationtest.HostValue(string(host.Data["timer"]))))
	f.Add([]byte(`{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":"true"}`))
	f.Add([]byte(`{"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-19T02:00:00.1234567"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		info, err := decodeTimer(raw)
		if err != nil || info.Last.Year() < 1 || info.Next.Year() < 1 {
			return // years before 1 have no ISO 8601 form to re-encode
		}
		host := invocationtest.Timer("reprioritize", "timer", info.Last, info.Next, info.IsPastDue)
		again, err := decodeTimer(host.Data["timer"])
		const tick = 100 * time.Nanosecond // .NET's resolution
		if err != nil || again.IsPastDue != info.IsPastDue ||
			!again.Last.Equal(info.Last.Truncate(tick)) || !again.Next.Equal(info.Next.Truncate(tick)) {
			t.Fatalf("%+v, then %+v after the host's encoding (%v)", info, again, err)
		}
	})
}

// FuzzRequestEnvelope drives a whole trigger request through the server:
// whatever the body, the answer is the protocol's JSON with a 2xx/4xx/5xx.
func FuzzRequestEnvelope(f *testing.F) {
	risk := readTestdata(f, "assessment-risk.json")
	pushed := readTestdata(f, "eventgrid-imagepushed.json")
	last := time.Date(2026, 11, 18, 2, 0, 0, 0, time.UTC)
	for _, env := range []invocationtest.Envelope{
		invocationtest.EventHubBatch("f", "events", risk, []byte(`{}`)),
		invocationtest.QueueMessage("f", "msg", []byte(`{"Kind":"group"}`), 3),
		invocationtest.EventGridEvent("f", "event", pushed),
		invocationtest.Timer("f", "timer", last, last, true),
	} {
		f.Add(env.Body())
	}
	f.Add([]byte(`{"Data":null,"Metadata":{"DequeueCount":"x"}}`))
	f.Add([]byte(`{"data":{"msg":"\"\\\"\\\"\""},"metadata":{}}`))

	srv, _ := newTestServer()
	srv.HandleTrigger("f", func(ctx context.Context, inv *Invocation) error {
		inv.EventHubMetadata()
		_, err1 := inv.EventHubBatch("events")
		_, err2 := inv.QueueMessage("msg")
		_, err3 := inv.EventGridEvent("event")
		_, err4 := inv.Timer("timer")
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			inv.SetOutput("errors", err.Error())
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/f", bytes.NewReader(body)))
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var res response
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("answer is not the invocation JSON: %v: %s", err, rec.Body)
		}
	})
}
