package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/logtest"
)

func TestMain(m *testing.M) {
	code := localstack.RunTests(m)
	if fake.dir != "" {
		os.RemoveAll(fake.dir)
	}
	os.Exit(code)
}

// The fake handler is built once per test binary.
var fake struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func fakeHandler(t *testing.T) string {
	t.Helper()
	fake.once.Do(func() {
		if fake.dir, fake.err = os.MkdirTemp("", "devhost-fake-"); fake.err != nil {
			return
		}
		fake.path = filepath.Join(fake.dir, "fakehandler")
		out, err := exec.Command("go", "build", "-o", fake.path, "./testdata/fakehandler").CombinedOutput()
		if err != nil {
			fake.err = fmt.Errorf("build fake handler: %w: %s", err, out)
		}
	})
	if fake.err != nil {
		t.Fatal(fake.err)
	}
	return fake.path
}

// harness is one dev host running one test app with the fake handler.
type harness struct {
	t      *testing.T
	host   *Host
	base   string
	record string
	logs   *logtest.Buffer
	cancel context.CancelFunc
	done   chan error
	exited bool
	runErr error
}

// startHost writes the app files, starts a dev host on a free port and
// stops it when the test ends. env are app settings (FAKE_* drive the fake).
func startHost(t *testing.T, files map[string]string, env map[string]string, tweak func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	record := filepath.Join(t.TempDir(), "record.jsonl")
	environ := []string{"FAKE_RECORD=" + record}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	app, err := LoadApp(LoadOptions{Dir: dir, Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	opts := Options{
		App: app, Addr: "127.0.0.1:0", HandlerPath: fakeHandler(t),
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Stdout: logs, Stderr: logs,
		StopGrace: 10 * time.Second,
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{t: t, host: h, record: record, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { hs.done <- h.Run(ctx) }()
	t.Cleanup(func() {
		hs.stop()
		if t.Failed() {
			t.Logf("dev host log:\n%s", logs.String())
		}
	})
	select {
	case <-h.Ready():
	case err := <-hs.done:
		hs.exited, hs.runErr = true, err
		t.Fatalf("dev host stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("dev host not ready after 30 s")
	}
	hs.base = "http://" + h.Addr()
	return hs
}

// stop cancels the dev host and returns what Run returned.
func (hs *harness) stop() error {
	hs.cancel()
	return hs.wait(30 * time.Second)
}

// wait waits for Run to return on its own.
func (hs *harness) wait(d time.Duration) error {
	if hs.exited {
		return hs.runErr
	}
	select {
	case hs.runErr = <-hs.done:
		hs.exited = true
		return hs.runErr
	case <-time.After(d):
		hs.t.Errorf("dev host did not return within %s", d)
		return errors.New("timeout")
	}
}

// record is one request the fake handler got.
type record struct {
	Event   string              `json:"event"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	Body    []byte              `json:"body"`
}

func (r record) header(name string) string {
	for k, vs := range r.Headers {
		if len(vs) > 0 && equalFold(k, name) {
			return vs[0]
		}
	}
	return ""
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

// records returns what the fake handler recorded so far, optionally only for one path.
func (hs *harness) records(path string) []record {
	hs.t.Helper()
	f, err := os.Open(hs.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		hs.t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			hs.t.Fatalf("record line %q: %v", sc.Text(), err)
		}
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// waitRecords waits until at least n requests to path were recorded.
func (hs *harness) waitRecords(path string, n int, d time.Duration) []record {
	hs.t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs := hs.records(path)
		if len(rs) >= n {
			return rs
		}
		if time.Now().After(deadline) {
			hs.t.Fatalf("%d requests to %s recorded after %s, want %d", len(rs), path, d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envelope is an invocation body as the handler receives it.
type envelope struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

func decodeEnvelope(t *testing.T, r record) envelope {
	t.Helper()
	if r.Method != "POST" {
		t.Fatalf("invocation method = %s, want POST", r.Method)
	}
	if ct := r.header("Content-Type"); !regexp.MustCompile(`^application/json`).MatchString(ct) {
		t.Errorf("Content-Type = %q", ct)
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("envelope %s: %v", r.Body, err)
	}
	return e
}

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	utcNowRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)
)

// checkInvocationHeaders checks the headers the host sets on every call.
func checkInvocationHeaders(t *testing.T, r record) string {
	t.Helper()
	id := r.header("X-Azure-Functions-InvocationId")
	if !uuidRE.MatchString(id) {
		t.Errorf("X-Azure-Functions-InvocationId = %q, want a UUID", id)
	}
	if r.header("X-Azure-Functions-HostVersion") == "" {
		t.Error("no X-Azure-Functions-HostVersion header")
	}
	return id
}

// checkMetadataKeys asserts the exact set of Metadata keys and the sys entry.
func checkMetadataKeys(t *testing.T, e envelope, function string, keys ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(e.Metadata))
	want := slices.Sorted(slices.Values(append(keys, "sys")))
	if !slices.Equal(got, want) {
		t.Errorf("Metadata keys = %v, want %v", got, want)
	}
	var sys map[string]string
	if err := json.Unmarshal(e.Metadata["sys"], &sys); err != nil {
		t.Fatalf("Metadata.sys = %s: %v", e.Metadata["sys"], err)
	}
	if len(sys) != 3 || sys["MethodName"] != function || !utcNowRE.MatchString(sys["UtcNow"]) || !uuidRE.MatchString(sys["RandGuid"]) {
		t.Errorf("Metadata.sys = %v", sys)
	}
}

// jsonString decodes a JSON string value.
func jsonString(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", raw, err)
	}
	return s
}

func mustJSON(t *testing.T, v any) string { t.Helper(); return string(jsontest.Marshal(t, v)) }
