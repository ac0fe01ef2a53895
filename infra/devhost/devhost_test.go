package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const forwardingHostJSON = `{
  "version": "2.0",
  "customHandler": {"description": {"defaultExecutablePath": "handler"}, "enableForwardingHttpRequest": true},
  "extensions": {"eventHubs": {"maxEventBatchSize": 2}}
}`

func httpFunctionJSON(route, authLevel string, methods ...string) string {
	return mustJSONNoT(map[string]any{"bindings": []map[string]any{
		{"type": "httpTrigger", "direction": "in", "name": "req", "route": route, "authLevel": authLevel, "methods": methods},
		{"type": "http", "direction": "out", "name": "res"},
	}})
}

func mustJSONNoT(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func do(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestForwardHTTP(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":                     forwardingHostJSON,
		"github_webhook/function.json":  httpFunctionJSON("github/webhook", "anonymous", "post"),
		"secure/function.json":          httpFunctionJSON("secure", "function", "get"),
		"functions/api/function.json":   httpFunctionJSON("things/{id}", "", "get", "delete"),
		"functions/timer/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 0 1 1 *"}]}`,
	}, nil, func(o *Options) { o.FunctionKey = "k1" })

	// The raw body survives byte for byte (HMAC verification needs it).
	body := []byte("{\"action\":\"created\",\x00\xff not even json \r\n  ")
	resp, answer := do(t, "POST", hs.base+"/api/github/webhook?x=1&y=%20z", body, map[string]string{
		"X-Hub-Signature-256": "sha256=abc", "X-GitHub-Delivery": "d-1", "X-GitHub-Event": "ping",
		"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/1",
	})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Fake") != "forwarded" || !bytes.Equal(answer, body) {
		t.Fatalf("answer = %d %v %q; want the handler's 201, header and body", resp.StatusCode, resp.Header, answer)
	}
	rs := hs.waitRecords("/api/github/webhook", 1, 5*time.Second)
	r := rs[0]
	if r.Method != "POST" || r.Query != "x=1&y=%20z" || !bytes.Equal(r.Body, body) {
		t.Errorf("forwarded %s %s?%s body %q", r.Method, r.Path, r.Query, r.Body)
	}
	for k, want := range map[string]string{
		"X-Hub-Signature-256": "sha256=abc", "X-GitHub-Delivery": "d-1", "X-GitHub-Event": "ping",
		"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/1 " + userAgent,
	} {
		if got := r.header(k); got != want {
			t.Errorf("forwarded header %s = %q, want %q", k, got, want)
		}
	}
	if r.Host != hs.host.Addr() {
		t.Errorf("forwarded Host = %q, want the original %q", r.Host, hs.host.Addr())
	}
	first := checkInvocationHeaders(t, r)

	// A second request gets its own invocation id; route params and methods work.
	resp, _ = do(t, "DELETE", hs.base+"/api/things/42", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key on a function-level route: %d, want 401", resp.StatusCode)
	}
	resp, _ = do(t, "DELETE", hs.base+"/api/things/42", nil, map[string]string{"x-functions-key": "k1"})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("with x-functions-key: %d, want 201", resp.StatusCode)
	}
	if second := checkInvocationHeaders(t, hs.waitRecords("/api/things/42", 1, 5*time.Second)[0]); second == first {
		t.Error("two requests share an invocation id")
	}
	if resp, _ = do(t, "GET", hs.base+"/api/secure?code=k1", nil, nil); resp.StatusCode != http.StatusCreated {
		t.Errorf("with ?code=: %d, want 201", resp.StatusCode)
	}
	if resp, _ = do(t, "GET", hs.base+"/api/secure?code=wrong", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: %d, want 401", resp.StatusCode)
	}

	// No route: 404, and nothing reaches the handler.
	before := len(hs.records(""))
	for _, req := range [][2]string{{"GET", "/api/github/webhook"}, {"GET", "/api/nothing"}, {"POST", "/api/timer"}, {"GET", "/github/webhook"}} {
		if resp, _ := do(t, req[0], hs.base+req[1], nil, map[string]string{"x-functions-key": "k1"}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s = %d, want 404", req[0], req[1], resp.StatusCode)
		}
	}
	if after := len(hs.records("")); after != before {
		t.Errorf("unrouted requests reached the handler: %d new records", after-before)
	}
}

func TestHTTPWithoutForwarding(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":           `{"customHandler": {"description": {"defaultExecutablePath": "handler"}}}`,
		"hello/function.json": httpFunctionJSON("hello/{name}", "anonymous", "post"),
	}, nil, nil)
	resp, _ := do(t, "POST", hs.base+"/api/hello/ada?lang=en", []byte(`{"a":1}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusNoContent { // the fake sets no "res" output
		t.Errorf("status = %d, want 204", resp.StatusCode)
	}
	r := hs.waitRecords("/hello", 1, 5*time.Second)[0]
	checkInvocationHeaders(t, r)
	e := decodeEnvelope(t, r)
	var req struct {
		URL        string              `json:"Url"`
		Method     string              `json:"Method"`
		Query      map[string]string   `json:"Query"`
		Headers    map[string][]string `json:"Headers"`
		Params     map[string]string   `json:"Params"`
		Identities []any               `json:"Identities"`
		Body       string              `json:"Body"`
	}
	if err := json.Unmarshal(e.Data["req"], &req); err != nil {
		t.Fatal(err)
	}
	if req.URL != hs.base+"/api/hello/ada?lang=en" || req.Method != "POST" || req.Query["lang"] != "en" ||
		req.Params["name"] != "ada" || req.Body != `{"a":1}` || req.Headers["Content-Type"][0] != "application/json" || req.Identities == nil {
		t.Errorf("Data.req = %s", e.Data["req"])
	}
	checkMetadataKeys(t, e, "hello", "Query", "Headers", "name")
	if got := string(e.Metadata["name"]); got != `"\"ada\""` {
		t.Errorf("Metadata.name = %s, want the JSON-encoded string", got)
	}
}

func TestTimerAdminInvoke(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":                  forwardingHostJSON,
		"reprioritize/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 2 * * *"}]}`,
		"sync/function.json":         `{"bindings":[{"type":"httpTrigger","direction":"in","name":"req"},{"type":"http","direction":"out","name":"res"}]}`,
	}, nil, nil)
	resp, _ := do(t, "POST", hs.base+"/admin/functions/reprioritize", []byte(`{"input": ""}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin invoke = %d, want 202", resp.StatusCode)
	}
	r := hs.waitRecords("/reprioritize", 1, 5*time.Second)[0]
	checkInvocationHeaders(t, r)
	e := decodeEnvelope(t, r)
	if got, want := mustJSON(t, e.Data), `{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}}`; got != want {
		t.Errorf("Data = %s\nwant   %s", got, want)
	}
	checkMetadataKeys(t, e, "reprioritize")

	if resp, _ := do(t, "POST", hs.base+"/admin/functions/nope", []byte(`{}`), nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown function = %d, want 404", resp.StatusCode)
	}
	if resp, _ := do(t, "POST", hs.base+"/admin/functions/sync", []byte(`{}`), nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("admin invoke of an HTTP function = %d, want 400", resp.StatusCode)
	}
	if resp, body := do(t, "GET", hs.base+"/admin/host/status", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Running") {
		t.Errorf("host status = %d %s", resp.StatusCode, body)
	}
}

func TestTimerSchedule(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":          forwardingHostJSON,
		"tick/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"myTimer","schedule":"* * * * * *"}]}`,
	}, nil, nil)
	rs := hs.waitRecords("/tick", 2, 10*time.Second)
	var infos [2]struct {
		MyTimer struct {
			Schedule       map[string]bool `json:"Schedule"`
			ScheduleStatus *struct {
				Last, Next, LastUpdated string
			} `json:"ScheduleStatus"`
			IsPastDue bool `json:"IsPastDue"`
		} `json:"myTimer"`
	}
	for i := range infos {
		e := decodeEnvelope(t, rs[i])
		checkMetadataKeys(t, e, "tick")
		if err := json.Unmarshal(mustJSONRaw(t, e.Data), &infos[i]); err != nil {
			t.Fatal(err)
		}
		ti := infos[i].MyTimer
		if !ti.Schedule["AdjustForDST"] || ti.ScheduleStatus == nil || ti.IsPastDue {
			t.Fatalf("timer %d = %s", i, e.Data["myTimer"])
		}
	}
	parse := func(s string) time.Time {
		v, err := time.Parse("2006-01-02T15:04:05.9999999-07:00", s)
		if err != nil {
			t.Fatalf("ScheduleStatus date %q: %v", s, err)
		}
		return v
	}
	first, second := infos[0].MyTimer.ScheduleStatus, infos[1].MyTimer.ScheduleStatus
	if first.Last != "0001-01-01T00:00:00" {
		t.Errorf("first run Last = %q, want .NET's default DateTime", first.Last)
	}
	// The second run's Last is the first run's occurrence, one second before the first's Next.
	if !parse(second.Last).Equal(parse(first.Next).Add(-time.Second)) {
		t.Errorf("second Last = %s, first Next = %s", second.Last, first.Next)
	}
	if !parse(second.Next).After(parse(second.Last)) {
		t.Errorf("second Next %s not after its Last %s", second.Next, second.Last)
	}
}

func mustJSONRaw(t *testing.T, v any) []byte { return []byte(mustJSON(t, v)) }

func TestEventHubInject(t *testing.T) {
	files := map[string]string{
		"host.json": forwardingHostJSON, // maxEventBatchSize 2
		"defender_export/function.json": `{"bindings":[{"type":"eventHubTrigger","direction":"in","name":"events",
			"eventHubName":"defender-export","connection":"EventHubConnection","cardinality":"many","consumerGroup":"$Default"}]}`,
	}
	events := []string{`{"id":"a","properties":{"status":{"code":"Unhealthy"}}}`, `{"id":"b","n":[1,2.5,null]}`, `"just a string"`}
	body := "[" + strings.Join(events, ",") + "]"

	t.Run("batches", func(t *testing.T) {
		hs := startHost(t, files, nil, nil)
		resp, answer := do(t, "POST", hs.base+"/admin/eventhub/defender_export", []byte(body), nil)
		if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(answer)) != `{"batches":2,"events":3}` {
			t.Fatalf("inject = %d %s", resp.StatusCode, answer)
		}
		rs := hs.waitRecords("/defender_export", 2, 5*time.Second)
		for i, want := range []struct {
			events []string
			seqs   string
		}{{events[:2], `[0,1]`}, {events[2:], `[2]`}} {
			checkInvocationHeaders(t, rs[i])
			e := decodeEnvelope(t, rs[i])
			// Double encoding: a JSON string holding a JSON array of strings,
			// each string one event document.
			var got []string
			if err := json.Unmarshal([]byte(jsonString(t, e.Data["events"])), &got); err != nil {
				t.Fatalf("Data.events = %s: %v", e.Data["events"], err)
			}
			if strings.Join(got, "\n") != strings.Join(want.events, "\n") {
				t.Errorf("batch %d events = %q, want %q", i, got, want.events)
			}
			checkMetadataKeys(t, e, "defender_export", "PartitionContext", "SequenceNumberArray", "OffsetArray",
				"EnqueuedTimeUtcArray", "PartitionKeyArray", "PropertiesArray", "SystemPropertiesArray")
			if s := jsonString(t, e.Metadata["SequenceNumberArray"]); s != want.seqs {
				t.Errorf("SequenceNumberArray = %s, want %s", s, want.seqs)
			}
			var sysProps []map[string]any
			if err := json.Unmarshal([]byte(jsonString(t, e.Metadata["SystemPropertiesArray"])), &sysProps); err != nil || len(sysProps) != len(want.events) {
				t.Errorf("SystemPropertiesArray = %s (%v)", e.Metadata["SystemPropertiesArray"], err)
			}
			var pc map[string]string
			if err := json.Unmarshal(e.Metadata["PartitionContext"], &pc); err != nil || pc["EventHubName"] != "defender-export" || pc["ConsumerGroup"] != "$Default" {
				t.Errorf("PartitionContext = %s (%v), want an object", e.Metadata["PartitionContext"], err)
			}
		}
		if resp, _ := do(t, "POST", hs.base+"/admin/eventhub/defender_export", []byte(`not json`), nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("bad body = %d, want 400", resp.StatusCode)
		}
		if resp, _ := do(t, "POST", hs.base+"/admin/eventhub/nope", []byte(body), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown function = %d, want 404", resp.StatusCode)
		}
	})

	t.Run("failed batch stops delivery", func(t *testing.T) {
		hs := startHost(t, files, map[string]string{"FAKE_FAIL": "defender_export=1"}, nil)
		resp, answer := do(t, "POST", hs.base+"/admin/eventhub/defender_export", []byte(body), nil)
		var got struct {
			HandlerStatus int    `json:"handlerStatus"`
			HandlerAnswer string `json:"handlerAnswer"`
			Delivered     int    `json:"delivered"`
		}
		if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(answer, &got) != nil ||
			got.HandlerStatus != 500 || !strings.Contains(got.HandlerAnswer, "fake failure") || got.Delivered != 0 {
			t.Fatalf("inject = %d %s, want 500 with the handler's answer", resp.StatusCode, answer)
		}
		if n := len(hs.records("/defender_export")); n != 1 {
			t.Errorf("%d invocations after the first batch failed, want 1", n)
		}
	})

	t.Run("cardinality one", func(t *testing.T) {
		hs := startHost(t, map[string]string{
			"host.json":         forwardingHostJSON,
			"one/function.json": `{"bindings":[{"type":"eventHubTrigger","direction":"in","name":"event","eventHubName":"h"}]}`,
		}, nil, nil)
		if resp, answer := do(t, "POST", hs.base+"/admin/eventhub/one", []byte(body), nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("inject = %d %s", resp.StatusCode, answer)
		}
		rs := hs.waitRecords("/one", 3, 5*time.Second)
		for i, r := range rs {
			e := decodeEnvelope(t, r)
			// One event body as a string, which the host JSON-encodes once more.
			if got := jsonString(t, json.RawMessage(jsonString(t, e.Data["event"]))); got != events[i] {
				t.Errorf("event %d = %q, want %q", i, got, events[i])
			}
			checkMetadataKeys(t, e, "one", "PartitionContext", "SequenceNumber", "Offset", "EnqueuedTimeUtc", "Properties", "SystemProperties")
		}
	})
}

func TestEventGrid(t *testing.T) {
	files := map[string]string{
		"host.json":                     forwardingHostJSON,
		"registry_events/function.json": `{"bindings":[{"type":"eventGridTrigger","direction":"in","name":"event"}]}`,
	}
	events := []string{
		`{"id":"e1","topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr","subject":"app:1.0","eventType":"Microsoft.ContainerRegistry.ImagePushed","eventTime":"2024-05-01T10:00:00Z","data":{"id":"x","target":{"digest":"sha256:aa","repository":"app","tag":"1.0"}},"dataVersion":"1.0","metadataVersion":"1"}`,
		`{"id":"e2","subject":"app:1.0","eventType":"Microsoft.ContainerRegistry.ImageDeleted","eventTime":"2024-05-01T10:01:00Z","data":{"target":{"digest":"sha256:aa","repository":"app"}},"dataVersion":"1.0"}`,
	}
	body := []byte("[" + strings.Join(events, ",") + "]")
	url := "/runtime/webhooks/eventgrid?functionName=registry_events"
	notification := map[string]string{"aeg-event-type": "Notification", "Content-Type": "application/json"}

	t.Run("handshake and delivery", func(t *testing.T) {
		hs := startHost(t, files, nil, nil)
		validation := `[{"id":"v","topic":"/subscriptions/s","subject":"","data":{"validationCode":"512d38b6"},"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2024-05-01T10:00:00Z","dataVersion":"2","metadataVersion":"1"}]`
		resp, answer := do(t, "POST", hs.base+url, []byte(validation), map[string]string{"aeg-event-type": "SubscriptionValidation"})
		if resp.StatusCode != http.StatusOK || string(bytes.TrimSpace(answer)) != `{"validationResponse":"512d38b6"}` {
			t.Errorf("validation = %d %s", resp.StatusCode, answer)
		}
		resp, answer = do(t, "POST", hs.base+url, body, notification)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("notification = %d %s, want 202", resp.StatusCode, answer)
		}
		rs := hs.records("/registry_events")
		if len(rs) != 2 {
			t.Fatalf("%d invocations, want one per event", len(rs))
		}
		seen := map[string]bool{}
		for _, r := range rs {
			checkInvocationHeaders(t, r)
			e := decodeEnvelope(t, r)
			got := string(e.Data["event"])
			if got != events[0] && got != events[1] {
				t.Errorf("Data.event = %s, want one of the events as an object, unchanged", got)
			}
			seen[got] = true
			checkMetadataKeys(t, e, "registry_events", "data")
			var ev struct{ Data json.RawMessage }
			_ = json.Unmarshal(e.Data["event"], &ev)
			if string(e.Metadata["data"]) != string(ev.Data) {
				t.Errorf("Metadata.data = %s, want the event's data %s", e.Metadata["data"], ev.Data)
			}
		}
		if len(seen) != 2 {
			t.Error("the same event was delivered twice")
		}
		// A CloudEvents delivery is a single object: one invocation.
		cloudEvent := `{"specversion":"1.0","type":"Microsoft.ContainerRegistry.ImagePushed","source":"/acr","id":"c1","data":{"target":{"digest":"sha256:bb"}}}`
		if resp, answer := do(t, "POST", hs.base+url, []byte(cloudEvent), notification); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("cloud event = %d %s, want 202", resp.StatusCode, answer)
		}
		if rs := hs.records("/registry_events"); len(rs) != 3 || string(decodeEnvelope(t, rs[2]).Data["event"]) != cloudEvent {
			t.Errorf("cloud event not delivered as one invocation with the event object")
		}
		if resp, _ := do(t, "POST", hs.base+"/runtime/webhooks/eventgrid?functionName=nope", body, notification); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown function = %d, want 404", resp.StatusCode)
		}
		if resp, _ := do(t, "POST", hs.base+url, body, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("no aeg-event-type = %d, want 400", resp.StatusCode)
		}
	})

	t.Run("a failed event fails the delivery", func(t *testing.T) {
		hs := startHost(t, files, map[string]string{"FAKE_FAIL": "registry_events=1"}, nil)
		resp, answer := do(t, "POST", hs.base+url, body, notification)
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(answer), "fake failure") {
			t.Errorf("notification = %d %s, want 500 so Event Grid redelivers", resp.StatusCode, answer)
		}
	})
}

func TestInvalidAnswerFailsInvocation(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":          forwardingHostJSON,
		"tick/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 0 1 1 *"}]}`,
	}, map[string]string{"FAKE_BAD_ANSWER": "tick"}, nil)
	if resp, _ := do(t, "POST", hs.base+"/admin/functions/tick", []byte(`{"input":""}`), nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin invoke = %d", resp.StatusCode)
	}
	waitUntil(t, "a failed invocation in the log", 5*time.Second, func() bool {
		l := hs.logs.String()
		return strings.Contains(l, "status=Failed") && strings.Contains(l, "cannot read")
	})
}

func TestHandlerDeathStopsHost(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":         forwardingHostJSON,
		"die/function.json": httpFunctionJSON("die", "anonymous", "get"),
	}, nil, nil)
	resp, _ := do(t, "GET", hs.base+"/api/die", nil, nil)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("request that killed the handler = %d, want 500", resp.StatusCode)
	}
	err := hs.wait(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Run = %v, want the handler's exit reason", err)
	}
}

func TestStopSendsSIGTERM(t *testing.T) {
	hs := startHost(t, map[string]string{
		"host.json":          forwardingHostJSON,
		"tick/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 0 1 1 *"}]}`,
	}, nil, nil)
	if err := hs.stop(); err != nil {
		t.Fatalf("Run = %v, want nil after a clean stop", err)
	}
	rs := hs.records("")
	if len(rs) != 1 || rs[0].Event != "sigterm" {
		t.Fatalf("handler records = %+v, want it to have seen SIGTERM", rs)
	}
}

func TestHandlerNeverReady(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"host.json":          `{"customHandler": {"description": {"defaultExecutablePath": "/bin/false"}}}`,
		"tick/function.json": `{"bindings":[{"type":"timerTrigger","direction":"in","name":"timer","schedule":"0 0 0 1 1 *"}]}`,
	})
	app, err := LoadApp(LoadOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{App: app, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "exited before answering GET /") {
		t.Fatalf("Run = %v", err)
	}
}

// host.json's HTTP limits act as the host's request queue: at most
// maxConcurrentRequests requests reach the handler at once, the next ones
// wait, and beyond maxOutstandingRequests a request is refused with 429 at
// once without reaching the handler.
func TestHTTPThrottle(t *testing.T) {
	release := filepath.Join(t.TempDir(), "release")
	hs := startHost(t, map[string]string{
		"host.json": `{
		  "version": "2.0",
		  "customHandler": {"description": {"defaultExecutablePath": "handler"}, "enableForwardingHttpRequest": true},
		  "extensions": {"http": {"maxConcurrentRequests": 2, "maxOutstandingRequests": 3}}
		}`,
		"hold/function.json": httpFunctionJSON("hold", "anonymous", "post"),
	}, map[string]string{"FAKE_RELEASE": release}, nil)
	if got := hs.host.app.Host.HTTPThrottle; got != (HTTPThrottle{MaxConcurrent: 2, MaxOutstanding: 3}) {
		t.Fatalf("throttle read from host.json = %+v", got)
	}
	answers := make(chan int, 3)
	for i := range 3 {
		go func() {
			resp, err := http.Post(hs.base+"/api/hold", "text/plain", strings.NewReader(fmt.Sprint(i)))
			if err != nil {
				t.Error(err)
				answers <- 0
				return
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}()
	}
	hs.waitRecords("/api/hold", 2, 10*time.Second)
	waitUntil(t, "three outstanding requests", 10*time.Second, func() bool { return hs.host.httpQueue.outstanding.Load() == 3 })
	if n := len(hs.records("/api/hold")); n != 2 {
		t.Errorf("%d requests reached the handler, want maxConcurrentRequests = 2", n)
	}
	resp, _ := do(t, "POST", hs.base+"/api/hold", []byte("3"), nil)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("fourth outstanding request: %d, want 429", resp.StatusCode)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if s := <-answers; s != http.StatusCreated {
			t.Errorf("admitted request: %d, want the handler's 201", s)
		}
	}
	if rs := hs.records("/api/hold"); len(rs) != 3 {
		t.Errorf("%d requests reached the handler, want the 3 admitted", len(rs))
	}
	if n := hs.host.httpQueue.outstanding.Load(); n != 0 {
		t.Errorf("%d requests still outstanding after all were answered", n)
	}
	if !strings.Contains(hs.logs.String(), "too many outstanding HTTP requests") {
		t.Error("the refusal is not logged")
	}
}
