package invocation

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	return sampletest.Testdata(t, "defender", name)
}

func compact(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %q: %v", b, err)
	}
	return buf.String()
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// wantResult fails the test unless err is what the case expects: an error
// containing wantErr, or none when wantErr is "". It reports whether there
// is a result to check.
func wantResult(t *testing.T, err error, wantErr string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error = %v, want it to contain %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	return true
}

func TestDecodeEventHubBatch(t *testing.T) {
	risk := readTestdata(t, "assessment-risk.json")
	mdvm := readTestdata(t, "subassessment-mdvm.json")
	a, b := `{"a":1}`, `{"b":[2,"x"]}`

	tests := []struct {
		name    string
		raw     string
		want    []string // compacted JSON per event
		wantErr string
	}{
		{"host form: string of array of strings", string(invocationtest.HostValue([]string{a, b})), []string{a, b}, ""},
		{"array of strings", `[` + quote(a) + `,` + quote(b) + `]`, []string{a, b}, ""},
		{"array of objects", `[` + a + `,` + b + `]`, []string{a, b}, ""},
		{"string of array of objects", quote(`[` + a + `,` + b + `]`), []string{a, b}, ""},
		{"events quoted twice", `[` + quote(quote(a)) + `]`, []string{a}, ""},
		{"real defender records, host form", string(invocationtest.HostValue([]string{string(risk), string(mdvm)})),
			[]string{compact(t, risk), compact(t, mdvm)}, ""},
		{"empty batch, host form", quote(`[]`), []string{}, ""},
		{"empty batch, plain", `[]`, []string{}, ""},
		{"non-JSON event kept as a string at its index", `["not json",` + quote(a) + `]`, []string{`"not json"`, a}, ""},
		{"null event kept", `[null,` + a + `]`, []string{`null`, a}, ""},
		{"invalid UTF-8 read as U+FFFD, as through a string layer", "[{\"\xfe\xfe\":0}]", []string{"{\"\uFFFD\uFFFD\":0}"}, ""},
		{"single object (cardinality one)", a, nil, "want an array, got object"},
		{"single object as string", quote(a), nil, "want an array, got object"},
		{"truncated array in a string", quote(`[{"a":1}`), nil, "want an array, got string"},
		{"number", `42`, nil, "want an array, got number"},
		{"null", `null`, nil, "want an array, got null"},
		{"invalid JSON", `[{"a":`, nil, "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEventHubBatch(json.RawMessage(tt.raw))
			if !wantResult(t, err, tt.wantErr) {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d events, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if c := compact(t, got[i]); c != tt.want[i] {
					t.Errorf("event %d = %s, want %s", i, c, tt.want[i])
				}
			}
		})
	}
}

func TestDecodeQueueMessage(t *testing.T) {
	body := `{"Kind":"group","GroupID":"image:abc"}`
	host := invocationtest.QueueMessage("sync", "msg", []byte(body), 1)
	insertion := invocationtest.BaseTime

	tests := []struct {
		name    string
		data    string
		meta    map[string]string
		want    QueueMessage
		wantErr string
	}{
		{
			name: "host form",
			data: string(host.Data["msg"]),
			meta: raws(host.Metadata),
			want: QueueMessage{
				Body: []byte(body), ID: "0b6f3c8e-54a1-4b7e-9d1c-2a9e7f3b6c41", PopReceipt: "AgAAAAMAAAAAAAAAxQ4M0mNc2wE=",
				DequeueCount: 1, InsertionTime: insertion, ExpirationTime: insertion.Add(7 * 24 * time.Hour),
				NextVisibleTime: insertion.Add(30 * time.Second),
			},
		},
		{
			name: "plain form: object body, number count, unquoted id",
			data: body,
			meta: map[string]string{"DequeueCount": `3`, "Id": `"abc"`, "InsertionTime": `"2026-11-18T09:30:11+00:00"`},
			want: QueueMessage{Body: []byte(body), ID: "abc", DequeueCount: 3, InsertionTime: time.Date(2026, 11, 18, 9, 30, 11, 0, time.UTC)},
		},
		{
			name: "count as string, id quoted twice, lower-case keys",
			data: quote(body),
			meta: map[string]string{"dequeueCount": `"5"`, "id": quote(quote("guid-1"))},
			want: QueueMessage{Body: []byte(body), ID: "guid-1", DequeueCount: 5},
		},
		{
			name: "numeric id stays text",
			data: quote(body),
			meta: map[string]string{"Id": quote("12345")},
			want: QueueMessage{Body: []byte(body), ID: "12345"},
		},
		{"plain text body", quote("hello"), nil, QueueMessage{Body: []byte("hello")}, ""},
		{"plain text body, host form", string(invocationtest.HostValue("hello")), nil, QueueMessage{Body: []byte("hello")}, ""},
		{"no metadata at all", quote(body), nil, QueueMessage{Body: []byte(body)}, ""},
		{"null metadata value ignored", quote(body), map[string]string{"DequeueCount": `null`}, QueueMessage{Body: []byte(body)}, ""},
		{"count not a number", quote(body), map[string]string{"DequeueCount": `"abc"`}, QueueMessage{}, "DequeueCount"},
		{"count an object", quote(body), map[string]string{"DequeueCount": `{"n":1}`}, QueueMessage{}, "DequeueCount"},
		{"time unreadable", quote(body), map[string]string{"InsertionTime": `"yesterday"`}, QueueMessage{}, "InsertionTime"},
		{"body invalid JSON", `{"Kind":`, nil, QueueMessage{}, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := map[string]json.RawMessage{}
			for k, v := range tt.meta {
				meta[k] = json.RawMessage(v)
			}
			got, err := decodeQueueMessage(json.RawMessage(tt.data), meta)
			if !wantResult(t, err, tt.wantErr) {
				return
			}
			if string(got.Body) != string(tt.want.Body) {
				t.Errorf("Body = %s, want %s", got.Body, tt.want.Body)
			}
			got.Body, tt.want.Body = nil, nil
			if !equalQueue(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func equalQueue(a, b QueueMessage) bool {
	return a.ID == b.ID && a.PopReceipt == b.PopReceipt && a.DequeueCount == b.DequeueCount &&
		a.InsertionTime.Equal(b.InsertionTime) && a.ExpirationTime.Equal(b.ExpirationTime) &&
		a.NextVisibleTime.Equal(b.NextVisibleTime)
}

func raws(m map[string]json.RawMessage) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func TestDecodeEventGridEvent(t *testing.T) {
	pushed := readTestdata(t, "eventgrid-imagepushed.json")
	cloud := `{"specversion":"1.0","type":"Microsoft.ContainerRegistry.ImagePushed","source":"/subscriptions/x","id":"1","data":{"target":{"digest":"sha256:ab"}}}`
	tests := []struct {
		name    string
		raw     string
		want    string
		wantErr string
	}{
		{"object", string(pushed), compact(t, pushed), ""},
		{"string of object (host form)", string(invocationtest.HostValue(string(pushed))), compact(t, pushed), ""},
		{"cloudevents schema", quote(cloud), cloud, ""},
		{"array", `[` + cloud + `]`, "", "want an object, got array"},
		{"text", quote("ImagePushed"), "", "want an object, got string"},
		{"invalid", `{"id":`, "", "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEventGridEvent(json.RawMessage(tt.raw))
			if !wantResult(t, err, tt.wantErr) {
				return
			}
			if c := compact(t, got); c != tt.want {
				t.Errorf("event = %s, want %s", c, tt.want)
			}
		})
	}
}

func TestDecodeTimer(t *testing.T) {
	last := time.Date(2026, 11, 18, 2, 0, 0, 0, time.UTC)
	next := last.Add(24 * time.Hour)
	host := invocationtest.Timer("reprioritize", "timer", last, next, true)
	plain := `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-11-18T02:00:00","Next":"2026-11-19T02:00:00.0000000Z","LastUpdated":"2026-11-18T02:00:00.1234567+00:00"},"IsPastDue":false}`
	tests := []struct {
		name    string
		raw     string
		want    TimerInfo
		wantErr string
	}{
		{"host form (object)", string(host.Data["timer"]), TimerInfo{IsPastDue: true, Last: last, Next: next, LastUpdated: last}, ""},
		{"string form, zone-less and Z times", quote(plain), TimerInfo{Last: last, Next: next, LastUpdated: last.Add(123456700)}, ""},
		{"no schedule status", `{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}`, TimerInfo{}, ""},
		{"past due as string", `{"IsPastDue":"true"}`, TimerInfo{IsPastDue: true}, ""},
		{"zero .NET times", `{"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"0001-01-01T00:00:00"}}`, TimerInfo{}, ""},
		{"bad time", `{"ScheduleStatus":{"Last":"soon"}}`, TimerInfo{}, "ScheduleStatus.Last"},
		{"bad past due", `{"IsPastDue":"maybe"}`, TimerInfo{}, "IsPastDue"},
		{"status not an object", `{"ScheduleStatus":[1]}`, TimerInfo{}, "ScheduleStatus"},
		{"array", `[]`, TimerInfo{}, "want an object, got array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTimer(json.RawMessage(tt.raw))
			if !wantResult(t, err, tt.wantErr) {
				return
			}
			if got.IsPastDue != tt.want.IsPastDue || !got.Last.Equal(tt.want.Last) ||
				!got.Next.Equal(tt.want.Next) || !got.LastUpdated.Equal(tt.want.LastUpdated) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeEventHubMetadata(t *testing.T) {
	host := invocationtest.EventHubBatch("defender_export", "events", []byte(`{}`), []byte(`{}`))
	t0 := invocationtest.BaseTime

	t.Run("host form", func(t *testing.T) {
		md := decodeEventHubMetadata(host.Metadata)
		want := PartitionContext{"octo-events.servicebus.windows.net", "defender-export", "$Default", "0"}
		if md.Partition != want {
			t.Errorf("Partition = %+v, want %+v", md.Partition, want)
		}
		if len(md.SequenceNumbers) != 2 || md.SequenceNumbers[0] != 1000 || md.SequenceNumbers[1] != 1001 {
			t.Errorf("SequenceNumbers = %v", md.SequenceNumbers)
		}
		if len(md.Offsets) != 2 || md.Offsets[0] != "4294967296" {
			t.Errorf("Offsets = %v", md.Offsets)
		}
		if len(md.EnqueuedTimes) != 2 || !md.EnqueuedTimes[1].Equal(t0.Add(time.Millisecond)) {
			t.Errorf("EnqueuedTimes = %v", md.EnqueuedTimes)
		}
		if len(md.PartitionKeys) != 2 || md.PartitionKeys[0] != "" {
			t.Errorf("PartitionKeys = %q", md.PartitionKeys)
		}
	})
	t.Run("plain form, v4 names, bad elements left zero", func(t *testing.T) {
		md := decodeEventHubMetadata(map[string]json.RawMessage{
			"partitionContext":     json.RawMessage(quote(`{"EventHubPath":"hub","ConsumerGroupName":"cg","PartitionId":"3"}`)),
			"SequenceNumberArray":  json.RawMessage(`[7,"x",9]`),
			"OffsetArray":          json.RawMessage(`[10, "20"]`),
			"EnqueuedTimeUtcArray": json.RawMessage(`["2026-11-18T09:30:11.446Z","later"]`),
		})
		if md.Partition != (PartitionContext{EventHubName: "hub", ConsumerGroup: "cg", PartitionID: "3"}) {
			t.Errorf("Partition = %+v", md.Partition)
		}
		if len(md.SequenceNumbers) != 3 || md.SequenceNumbers[0] != 7 || md.SequenceNumbers[1] != 0 || md.SequenceNumbers[2] != 9 {
			t.Errorf("SequenceNumbers = %v", md.SequenceNumbers)
		}
		if len(md.Offsets) != 2 || md.Offsets[0] != "10" || md.Offsets[1] != "20" {
			t.Errorf("Offsets = %v", md.Offsets)
		}
		if len(md.EnqueuedTimes) != 2 || !md.EnqueuedTimes[0].Equal(t0) || !md.EnqueuedTimes[1].IsZero() {
			t.Errorf("EnqueuedTimes = %v", md.EnqueuedTimes)
		}
	})
	t.Run("missing or malformed", func(t *testing.T) {
		md := decodeEventHubMetadata(map[string]json.RawMessage{
			"PartitionContext":    json.RawMessage(`"nope"`),
			"SequenceNumberArray": json.RawMessage(`{"a":1}`),
		})
		if md.Partition != (PartitionContext{}) || md.SequenceNumbers != nil || md.Offsets != nil {
			t.Errorf("got %+v, want zero", md)
		}
	})
}

func TestInvocationAccessors(t *testing.T) {
	inv := &Invocation{Data: map[string]json.RawMessage{
		"events": invocationtest.HostValue([]string{`{"a":1}`}),
		"msg":    invocationtest.HostValue(`{"Kind":"group"}`),
		"event":  invocationtest.HostValue(`{"id":"1"}`),
		"timer":  json.RawMessage(`{"IsPastDue":true}`),
		"nil":    json.RawMessage(`null`),
	}}
	if ev, err := inv.EventHubBatch("events"); err != nil || len(ev) != 1 {
		t.Errorf("EventHubBatch = %v, %v", ev, err)
	}
	if m, err := inv.QueueMessage("msg"); err != nil || string(m.Body) != `{"Kind":"group"}` {
		t.Errorf("QueueMessage = %+v, %v", m, err)
	}
	if ev, err := inv.EventGridEvent("event"); err != nil || string(ev) != `{"id":"1"}` {
		t.Errorf("EventGridEvent = %s, %v", ev, err)
	}
	if tm, err := inv.Timer("timer"); err != nil || !tm.IsPastDue {
		t.Errorf("Timer = %+v, %v", tm, err)
	}
	for _, name := range []string{"missing", "nil"} {
		_, err := inv.EventHubBatch(name)
		if err == nil || !strings.Contains(err.Error(), `binding "`+name+`"`) {
			t.Errorf("EventHubBatch(%q) error = %v, want it to name the binding", name, err)
		}
	}
	if _, err := inv.Timer("msg"); err == nil || !strings.Contains(err.Error(), `binding "msg"`) {
		t.Errorf("Timer(msg) error = %v, want it to name the binding", err)
	}
}

func TestPeelDepthBound(t *testing.T) {
	v := `{"a":1}`
	for range maxEncodingDepth {
		v = quote(v)
	}
	if got, err := peel([]byte(v)); err != nil || string(got) != `{"a":1}` {
		t.Fatalf("peel at the depth limit = %s, %v", got, err)
	}
	if _, err := peel([]byte(quote(v))); err == nil {
		t.Fatal("peel past the depth limit: want an error")
	}
}
