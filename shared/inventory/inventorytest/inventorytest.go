// Package inventorytest is what tests of the ingest functions share: a
// state store on the local emulator whose requests are counted (and can be
// made to fail), a recording sync queue, the app dependencies the function
// adapters take, and the list of the repository's Defender samples.
package inventorytest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

// Counts are the Cosmos DB requests seen, by kind.
type Counts struct {
	Reads   int64 // point reads (GET of a document)
	Queries int64 // query pages
	Writes  int64 // creates, upserts, replaces, deletes
}

// Total is every request.
func (c Counts) Total() int64 { return c.Reads + c.Queries + c.Writes }

// Sub is c minus d.
func (c Counts) Sub(d Counts) Counts {
	return Counts{Reads: c.Reads - d.Reads, Queries: c.Queries - d.Queries, Writes: c.Writes - d.Writes}
}

// Counter is a Cosmos DB transport (cosmos.Options.Transport) that counts
// document requests and can be told to fail them.
type Counter struct {
	base                   *http.Client
	reads, queries, writes atomic.Int64
	fail                   atomic.Bool
	// With limitWrites, writesLeft more writes pass, then every write
	// fails (FailWritesAfter).
	limitWrites atomic.Bool
	writesLeft  atomic.Int64
	delay       atomic.Int64 // time.Duration added to every request
	byColl      sync.Map     // container name → *atomic.Int64 of writes
}

// ErrInjected is the failure Fail makes every request return.
var ErrInjected = errors.New("injected storage failure")

// Do implements policy.Transporter.
func (c *Counter) Do(req *http.Request) (*http.Response, error) {
	if d := time.Duration(c.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
	}
	isDoc := strings.Contains(req.URL.Path, "/docs")
	if isDoc && c.fail.Load() {
		return nil, ErrInjected
	}
	if isDoc {
		switch {
		case req.Method == http.MethodGet:
			c.reads.Add(1)
		case req.Method == http.MethodPost && (strings.EqualFold(req.Header.Get("x-ms-documentdb-query"), "true") ||
			strings.HasPrefix(req.Header.Get("Content-Type"), "application/query+json")):
			c.queries.Add(1)
		default:
			if c.limitWrites.Load() && c.writesLeft.Add(-1) < 0 {
				return nil, ErrInjected
			}
			c.writes.Add(1)
			n, _ := c.byColl.LoadOrStore(collection(req.URL.Path), new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
		}
	}
	return c.base.Do(req)
}

// collection is the container a document request's path names
// (/dbs/{db}/colls/{container}/docs[/{id}]).
func collection(path string) string {
	_, rest, _ := strings.Cut(path, "/colls/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// WritesTo returns the document writes to one container so far.
func (c *Counter) WritesTo(container string) int64 {
	if n, ok := c.byColl.Load(container); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// FailWritesAfter lets n more document writes pass, then fails every
// write (reads and queries pass); a negative n lets every write pass.
func (c *Counter) FailWritesAfter(n int64) {
	c.writesLeft.Store(n)
	c.limitWrites.Store(n >= 0)
}

// Delay makes every Cosmos DB request wait d before it is sent, as if the
// account were d further away (benchmarks: a real account's round trip
// exposes every call made one after the other). 0 turns it off.
func (c *Counter) Delay(d time.Duration) { c.delay.Store(int64(d)) }

// Counts returns the counts so far.
func (c *Counter) Counts() Counts {
	return Counts{Reads: c.reads.Load(), Queries: c.queries.Load(), Writes: c.writes.Load()}
}

// Fail makes every document request fail (on) or pass (off).
func (c *Counter) Fail(on bool) { c.fail.Store(on) }

// Store opens a fresh database on the test binary's emulator through a
// Counter. The database is dropped when the test ends.
func Store(t testing.TB) (*cosmos.Store, *Counter) {
	t.Helper()
	// The app's own client to the emulator (its connection pool), with
	// more patience for a loaded machine.
	base := cosmos.HTTPClient(true)
	base.Timeout = 60 * time.Second
	c := &Counter{base: base}
	s := localstack.StoreThrough(t, c)
	t.Cleanup(func() { c.Fail(false) }) // before the database is dropped
	return s, c
}

// Sync records sync requests; set Err to make EnqueueSync fail.
type Sync struct {
	mu       sync.Mutex
	requests []queue.SyncRequest
	delays   []time.Duration // per request; 0 when enqueued without a delay
	Err      error
}

// EnqueueSyncAfter implements queue.Delayed.
func (s *Sync) EnqueueSyncAfter(_ context.Context, r queue.SyncRequest, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for len(s.delays) < len(s.requests) {
		s.delays = append(s.delays, 0)
	}
	s.requests = append(s.requests, r)
	s.delays = append(s.delays, d)
	return nil
}

// Delays returns the visibility delay of each request (0: none), in order.
func (s *Sync) Delays() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]time.Duration(nil), s.delays...)
	for len(out) < len(s.requests) {
		out = append(out, 0)
	}
	return out
}

// EnqueueSync implements queue.Sync.
func (s *Sync) EnqueueSync(_ context.Context, r queue.SyncRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	s.requests = append(s.requests, r)
	return nil
}

// Requests returns the requests of a kind ("" for all) in order.
func (s *Sync) Requests(kind string) []queue.SyncRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []queue.SyncRequest
	for _, r := range s.requests {
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the requests.
func (s *Sync) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Token is the deployments bearer token of Deps.
const Token = "test-deployments-token"

// Now is the fixed clock of Deps.
var Now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// Deps builds the dependencies of a function adapter on store and sync,
// with the deployments token set, GitHub off, a fixed clock, and logs to
// the test's output.
func Deps(t testing.TB, store *cosmos.Store, sync queue.Sync) *app.Deps {
	t.Helper()
	cfg := &config.Config{
		Secrets: config.SecretNames{
			GitHubAppPrivateKey: "github-app-private-key",
			GitHubWebhookSecret: "github-webhook-secret",
			DeploymentsToken:    "deployments-token",
		},
		DeploymentsToken: config.Secret(Token),
		Cloud:            mapping.CloudPublic,
	}
	return (&app.Deps{
		Config:  cfg,
		Sync:    sync,
		Secrets: keyvault.NewEnv(map[string]string{cfg.Secrets.DeploymentsToken: Token}),
		Logger:  slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Now:     func() time.Time { return Now },
		Checks:  map[string]app.Pinger{},
	}).WithDatabase(store)
}

// Function is a function adapter served as the Functions host calls it,
// on a fresh Store (with its Counter) and a recording Sync queue.
type Function struct {
	Handler http.Handler
	Store   *cosmos.Store
	Counter *Counter
	Sync    *Sync
}

// Serve registers a function adapter (its package's Register) on a new
// invocation server with Deps on a fresh Store and Sync; the server logs
// like Deps, to the test's output.
func Serve(t testing.TB, register func(*invocation.Server, *app.Deps)) *Function {
	t.Helper()
	store, cnt := Store(t)
	sy := &Sync{}
	d := Deps(t, store, sy)
	srv := invocation.NewServer(d.Logger)
	register(srv, d)
	return &Function{Handler: srv.Handler(), Store: store, Counter: cnt, Sync: sy}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// DefenderRecords lists the Defender export samples in testdata/defender
// (every .json file that is an export record, not a Resource Graph answer,
// an Event Grid event or deployment-record bodies), sorted.
func DefenderRecords(t testing.TB) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(sampletest.Root(t), "testdata", "defender", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		base := filepath.Base(n)
		if strings.HasPrefix(base, "alert-") || strings.HasPrefix(base, "assessment-") || strings.HasPrefix(base, "subassessment-") {
			out = append(out, base)
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no Defender samples in testdata/defender")
	}
	return out
}
