package invocation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/logtest"
)

// logLinesOf parses JSON log lines.
func logLinesOf(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func findLine(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

func newTestServer() (*Server, *logtest.Buffer) {
	out := &logtest.Buffer{}
	return NewServer(slog.New(slog.NewJSONHandler(out, nil))), out
}

func TestReadiness(t *testing.T) {
	srv, _ := newTestServer()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		expectStatus(t, srv, method, "/", http.StatusOK)
	}
	expectStatus(t, srv, http.MethodGet, "/nothing-here", http.StatusNotFound)
}

// expectStatus sends a request without a body and checks the status.
func expectStatus(t *testing.T, srv *Server, method, path string, want int) {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if rec.Code != want {
		t.Errorf("%s %s = %d, want %d", method, path, rec.Code, want)
	}
}

func TestTriggerSuccess(t *testing.T) {
	srv, stdout := newTestServer()
	var gotBody string
	srv.HandleTrigger("sync", func(ctx context.Context, inv *Invocation) error {
		m, err := inv.QueueMessage("msg")
		if err != nil {
			return err
		}
		gotBody = string(m.Body)
		Logger(ctx).Info("synced group", "dequeueCount", m.DequeueCount)
		inv.Logger().Debug("debug lines stay out of Logs")
		inv.SetOutput("out", map[string]string{"group": "g1"})
		inv.SetReturnValue("done")
		return nil
	})

	env := invocationtest.QueueMessage("sync", "msg", []byte(`{"GroupID":"g1"}`), 2)
	res := invocationtest.Invoke(t, srv.Handler(), "sync", "inv-123", env)

	if res.Status != http.StatusOK {
		t.Fatalf("status = %d, want 200; logs %q", res.Status, res.Logs)
	}
	if gotBody != `{"GroupID":"g1"}` {
		t.Errorf("handler saw body %q", gotBody)
	}
	if string(res.Outputs["out"]) != `{"group":"g1"}` || string(res.ReturnValue) != `"done"` {
		t.Errorf("Outputs = %s, ReturnValue = %s", res.Outputs, res.ReturnValue)
	}
	returned := logLinesOf(t, res.Logs)
	if len(returned) != 1 {
		t.Fatalf("Logs = %q, want exactly the one info line", res.Logs)
	}
	line := returned[0]
	if line["msg"] != "synced group" || line["invocationId"] != "inv-123" || line["function"] != "sync" || line["dequeueCount"] != float64(2) {
		t.Errorf("returned log line = %v", line)
	}
	written := findLine(logLinesOf(t, strings.Split(stdout.String(), "\n")), "synced group")
	if written == nil || written["invocationId"] != "inv-123" || written["function"] != "sync" {
		t.Errorf("stdout line = %v; stdout:\n%s", written, stdout)
	}
}

func TestTriggerFailureAnswers500WithLogs(t *testing.T) {
	srv, stdout := newTestServer()
	srv.HandleTrigger("defender_export", func(ctx context.Context, inv *Invocation) error {
		inv.Logger().Info("processing batch")
		return errors.New("upsert finding f1: cosmos unavailable")
	})
	res := invocationtest.Invoke(t, srv.Handler(), "defender_export", "inv-9",
		invocationtest.EventHubBatch("defender_export", "events", []byte(`{}`)))

	if res.Status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.Status)
	}
	if res.Outputs == nil || res.Logs == nil {
		t.Errorf("answer lacks Outputs or Logs: %+v", res)
	}
	lines := logLinesOf(t, res.Logs)
	failed := findLine(lines, "invocation failed")
	if findLine(lines, "processing batch") == nil || failed == nil {
		t.Fatalf("Logs = %q, want the handler's line and the failure", res.Logs)
	}
	if failed["level"] != "ERROR" || failed["error"] != "upsert finding f1: cosmos unavailable" || failed["invocationId"] != "inv-9" {
		t.Errorf("failure line = %v", failed)
	}
	if !strings.Contains(stdout.String(), "cosmos unavailable") {
		t.Errorf("failure not written to stdout:\n%s", stdout)
	}
}

func TestTriggerPanicAnswers500(t *testing.T) {
	srv, _ := newTestServer()
	srv.HandleTrigger("reprioritize", func(ctx context.Context, inv *Invocation) error {
		var m map[string]int
		m["boom"]++ // nil map write
		return nil
	})
	res := invocationtest.Invoke(t, srv.Handler(), "reprioritize", "inv-p",
		invocationtest.Timer("reprioritize", "timer", time.Now(), time.Now(), false))
	if res.Status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", res.Status)
	}
	if l := findLine(logLinesOf(t, res.Logs), "invocation failed"); l == nil || !strings.Contains(l["error"].(string), "panic") {
		t.Errorf("Logs = %q, want the panic reported", res.Logs)
	}
}

func TestTriggerBadEnvelope(t *testing.T) {
	srv, _ := newTestServer()
	called := false
	srv.HandleTrigger("sync", func(context.Context, *Invocation) error { called = true; return nil })
	for _, body := range []string{``, `not json`, `[1,2]`, `{"Data":"x"}`} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/sync", strings.NewReader(body))
		req.Header.Set(HeaderInvocationID, "inv-bad")
		srv.Handler().ServeHTTP(rec, req)
		var res response
		if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
			t.Fatalf("body %q: answer is not JSON: %s", body, rec.Body)
		}
		if rec.Code != http.StatusBadRequest || len(res.Logs) == 0 || !strings.Contains(res.Logs[0], "bad invocation request") {
			t.Errorf("body %q: status %d, Logs %q", body, rec.Code, res.Logs)
		}
	}
	if called {
		t.Error("handler called for a malformed request")
	}
}

func TestTriggerWithoutInvocationIDGetsOne(t *testing.T) {
	srv, _ := newTestServer()
	var id string
	srv.HandleTrigger("registry_events", func(ctx context.Context, inv *Invocation) error {
		id = inv.ID
		inv.Logger().Info("hello")
		return nil
	})
	res := invocationtest.Invoke(t, srv.Handler(), "registry_events", "",
		invocationtest.EventGridEvent("registry_events", "event", []byte(`{"id":"1"}`)))
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(id) {
		t.Fatalf("generated id %q is not a v4 UUID", id)
	}
	if l := findLine(logLinesOf(t, res.Logs), "hello"); l == nil || l["invocationId"] != id {
		t.Errorf("Logs = %q, want invocationId %s", res.Logs, id)
	}
}

func TestTriggerOnlyAcceptsPOST(t *testing.T) {
	srv, _ := newTestServer()
	srv.HandleTrigger("sync", func(context.Context, *Invocation) error { return nil })
	expectStatus(t, srv, http.MethodGet, "/sync", http.StatusMethodNotAllowed)
}

func TestLogsAreCapped(t *testing.T) {
	srv, _ := newTestServer()
	srv.HandleTrigger("sync", func(ctx context.Context, inv *Invocation) error {
		for i := range maxLogLines + 10 {
			inv.Logger().Info("line", "i", i)
		}
		return nil
	})
	res := invocationtest.Invoke(t, srv.Handler(), "sync", "x", invocationtest.QueueMessage("sync", "msg", []byte(`{}`), 1))
	if len(res.Logs) != maxLogLines+1 || !strings.HasPrefix(res.Logs[maxLogLines], "10 more log lines") {
		t.Errorf("got %d lines, last %q", len(res.Logs), res.Logs[len(res.Logs)-1])
	}
}

func TestForwardedHTTP(t *testing.T) {
	srv, stdout := newTestServer()
	srv.HandleHTTP("POST /api/github/webhook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		Logger(r.Context()).Info("webhook received", "event", r.Header.Get("X-GitHub-Event"))
		w.WriteHeader(http.StatusAccepted)
		w.Write(body)
	}))
	srv.HandleHTTP("GET /api/{path...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Logger(r.Context()).Info("api", "path", r.PathValue("path"))
		panic("handler bug")
	}))

	raw := `{"action":"created",  "alert":{"number":1}}` // exact bytes matter for HMAC
	req := invocationtest.ForwardedRequest(http.MethodPost, "/api/github/webhook", strings.NewReader(raw), "inv-http-1")
	req.Header.Set("X-GitHub-Event", "code_scanning_alert")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted || rec.Body.String() != raw {
		t.Errorf("got %d %q, want 202 and the raw body back", rec.Code, rec.Body)
	}

	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, invocationtest.ForwardedRequest(http.MethodGet, "/api/findings", nil, "inv-http-2"))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("panicking handler: status %d, want 500", rec.Code)
	}

	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/health", nil)) // no host header
	lines := logLinesOf(t, strings.Split(stdout.String(), "\n"))
	if l := findLine(lines, "webhook received"); l == nil || l["invocationId"] != "inv-http-1" || l["event"] != "code_scanning_alert" {
		t.Errorf("webhook log line = %v", l)
	}
	if l := findLine(lines, "panic in HTTP handler"); l == nil || l["invocationId"] != "inv-http-2" || l["path"] != "/api/findings" {
		t.Errorf("panic log line = %v", l)
	}
	var api []map[string]any
	for _, l := range lines {
		if l["msg"] == "api" {
			api = append(api, l)
		}
	}
	if len(api) != 2 || api[1]["path"] != "health" {
		t.Fatalf("api lines = %v", api)
	}
	if _, ok := api[1]["invocationId"]; ok {
		t.Errorf("request without the header got an invocationId: %v", api[1])
	}
}

func TestLoggerWithoutContextLogger(t *testing.T) {
	if Logger(context.Background()) != slog.Default() {
		t.Error("Logger(empty ctx) is not slog.Default()")
	}
}

// serve runs srv on a loopback listener until the returned cancel is called.
func serve(t *testing.T, srv *Server) (url string, cancel context.CancelFunc, served <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, done
}

func TestShutdownDrainsInFlightInvocation(t *testing.T) {
	srv, _ := newTestServer()
	started, release := make(chan struct{}), make(chan struct{})
	srv.HandleTrigger("sync", func(ctx context.Context, inv *Invocation) error {
		close(started)
		<-release
		inv.SetOutput("done", true)
		return nil
	})
	url, cancel, served := serve(t, srv)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		env := invocationtest.QueueMessage("sync", "msg", []byte(`{}`), 1)
		resp, err := client.Post(url+"/sync", "application/json", bytes.NewReader(env.Body()))
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	cancel() // what SIGTERM does in main

	// Shutdown closes the listener at once: new requests are refused...
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url + "/")
		if err != nil {
			break
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting requests after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// ...but Serve waits for the running invocation.
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while an invocation was in flight", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"done":true`) {
		t.Fatalf("in-flight invocation: %+v", r)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownDrainIsBounded(t *testing.T) {
	srv, _ := newTestServer()
	srv.DrainTimeout = 50 * time.Millisecond
	started := make(chan struct{})
	srv.HandleTrigger("stuck", func(ctx context.Context, inv *Invocation) error {
		close(started)
		<-ctx.Done() // released only when the server closes the connection
		return ctx.Err()
	})
	url, cancel, served := serve(t, srv)
	go func() {
		resp, err := http.Post(url+"/stuck", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Serve = %v, want the drain deadline", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not give up after DrainTimeout")
	}
}

func TestListenAndServeBadPort(t *testing.T) {
	t.Setenv(PortEnv, "not-a-port")
	srv, _ := newTestServer()
	err := srv.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), PortEnv) {
		t.Fatalf("ListenAndServe = %v, want an error naming %s", err, PortEnv)
	}
}

// GET / answers while start-up is still under way; other requests wait
// for it and are then served by handlers registered during start-up.
func TestHoldAnswersProbeAndQueuesWork(t *testing.T) {
	srv := NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ready := make(chan struct{})
	srv.Hold(ready)
	base, cancel, done := serve(t, srv)
	defer func() { cancel(); <-done }()

	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("probe during start-up: %v, %v", resp, err)
	}
	resp.Body.Close()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Post(base+"/sync", "application/json", strings.NewReader(`{"Data":{},"Metadata":{}}`))
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	select {
	case code := <-got:
		t.Fatalf("work was served before start-up finished: %d", code)
	case <-time.After(200 * time.Millisecond):
	}
	srv.HandleTrigger("sync", func(context.Context, *Invocation) error { return nil })
	close(ready)
	if code := <-got; code != http.StatusOK {
		t.Fatalf("held invocation answered %d, want 200", code)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(fds)
}

// Past the in-flight limit every request is answered at once with 429 and
// Retry-After, nothing answers 500, the admitted requests all complete,
// and no file descriptor outlives the burst.
func TestHTTPInFlightLimit(t *testing.T) {
	srv, logs := newTestServer()
	const limit, extra = 4, 60
	srv.LimitHTTP(limit)
	// The burst is one burst however long a loaded machine takes for it.
	stopped := time.Now()
	srv.refusals.clock = func() time.Time { return stopped }
	entered, release := make(chan struct{}, limit), make(chan struct{})
	srv.HandleHTTP("POST /api/github/webhook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	}))
	srv.HandleTrigger("sync", func(context.Context, *Invocation) error { return nil })
	url, _, _ := serve(t, srv)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	post := func(path, body string) (int, http.Header, error) {
		resp, err := client.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header, nil
	}
	before := openFDs(t)

	admitted := make(chan int, limit)
	for range limit {
		go func() {
			status, _, err := post("/api/github/webhook", "{}")
			if err != nil {
				t.Error(err)
			}
			admitted <- status
		}()
	}
	for range limit {
		<-entered
	}
	// The limit is full: every further request is refused, concurrently.
	var wg sync.WaitGroup
	statuses := make(chan string, extra)
	for range extra {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, h, err := post("/api/github/webhook", "{}")
			if err != nil {
				statuses <- "error " + err.Error()
				return
			}
			statuses <- fmt.Sprintf("%d retry-after=%s", status, h.Get("Retry-After"))
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != "429 retry-after=1" {
			t.Errorf("request past the limit: %s, want 429 retry-after=1", s)
		}
	}
	// Triggers are not HTTP requests: the host paces them, they are never refused.
	if status, _, err := post("/sync", `{"Data":{},"Metadata":{}}`); err != nil || status != http.StatusOK {
		t.Errorf("trigger while HTTP is at its limit: %d %v, want 200", status, err)
	}
	close(release)
	for range limit {
		if s := <-admitted; s != http.StatusOK {
			t.Errorf("admitted request: %d, want 200", s)
		}
	}
	// The slots are free again.
	entered2 := make(chan int, 1)
	go func() {
		s, _, _ := post("/api/github/webhook", "{}")
		entered2 <- s
	}()
	<-entered
	if s := <-entered2; s != http.StatusOK {
		t.Errorf("after the burst: %d, want 200", s)
	}
	// One line for the whole burst, not one per refused request.
	if n := strings.Count(logs.String(), "HTTP requests refused"); n != 1 || !strings.Contains(logs.String(), `"limit":4`) {
		t.Errorf("%d log lines about refusals, want 1 naming the limit:\n%s", n, logs.String())
	}

	// Closed connections leave the process's fd table as the kernel
	// finishes them; wait for it rather than for a fixed time.
	client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for openFDs(t) > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := openFDs(t); after > before {
		t.Errorf("open file descriptors grew from %d to %d across %d refused requests", before, after, extra)
	}
}

// Refusals are logged once per refusalLogEvery, each line counting those
// since the last one.
func TestRefusalLogOneLinePerInterval(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	now := t0
	r := refusalLog{clock: func() time.Time { return now }}
	var got []int
	for _, at := range []time.Duration{0, time.Second, 5 * time.Second, refusalLogEvery, refusalLogEvery + time.Second, 3 * refusalLogEvery} {
		now = t0.Add(at)
		got = append(got, r.note())
	}
	if want := []int{1, 0, 0, 3, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("lines logged %v, want %v", got, want)
	}
}
