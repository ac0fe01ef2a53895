package cosmos_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func finding(repo string, n int) *model.Finding {
	return &model.Finding{
		ID:         model.GHASFindingID(model.SourceCodeScanning, repo, n),
		Repository: repo,
		Source:     model.SourceCodeScanning,
		State:      model.StateOpen,
		Title:      fmt.Sprintf("alert %d", n),
		Severity:   "high",
	}
}

func TestOpenCreatesEveryContainerIdempotently(t *testing.T) {
	st := localstack.ForTest(t)
	db := localstack.DatabaseName(t)
	s1 := localstack.OpenStore(t, st.CosmosEndpoint, db)
	// Opening again on an existing database and containers must succeed.
	s2 := localstack.OpenStore(t, st.CosmosEndpoint, db)
	ctx := ctxT(t)
	if err := s2.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// Every container is usable with its partition key.
	if _, err := s1.Artifacts.Create(ctx, &model.Artifact{ID: "sha256:a", Digest: "sha256:a"}); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	if _, err := s1.Workloads.Create(ctx, &model.Workload{ID: "w", Cluster: "c"}); err != nil {
		t.Fatalf("workloads: %v", err)
	}
	if _, err := s1.Groups.Create(ctx, &model.Group{ID: "g", Repository: "o/r"}); err != nil {
		t.Fatalf("groups: %v", err)
	}
	if _, err := s1.Deliveries.Create(ctx, &model.Delivery{ID: "d", Event: "ping", TTL: 60}); err != nil {
		t.Fatalf("deliveries: %v", err)
	}
	if _, err := s1.Installations.Create(ctx, &model.Installation{ID: "octo-org", Org: "octo-org"}); err != nil {
		t.Fatalf("installations: %v", err)
	}
	if _, err := s1.Leases.Create(ctx, &model.Lease{ID: "reprioritize"}); err != nil {
		t.Fatalf("leases: %v", err)
	}
	got, err := s2.Installations.Get(ctx, "octo-org", "octo-org")
	if err != nil || got.Org != "octo-org" || got.ETag == "" {
		t.Fatalf("get installation = %+v, %v", got, err)
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	f := finding("octo-org/app", 1)
	created, err := s.Findings.Create(ctx, f)
	if err != nil || !created {
		t.Fatalf("first create = %v, %v", created, err)
	}
	again := finding("octo-org/app", 1)
	again.Title = "changed"
	created, err = s.Findings.Create(ctx, again)
	if err != nil || created {
		t.Fatalf("second create = %v, %v; want false, nil", created, err)
	}
	got, err := s.Findings.Get(ctx, "octo-org/app", f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "alert 1" {
		t.Fatalf("second create overwrote the first: %q", got.Title)
	}
}

func TestGetMissingIsErrNotFound(t *testing.T) {
	s := localstack.Store(t)
	_, err := s.Findings.Get(ctxT(t), "octo-org/app", "nope")
	if !errors.Is(err, cosmos.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if err := s.Findings.Delete(ctxT(t), "octo-org/app", "nope"); err != nil {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestPutSkipsUnchangedContent(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	f := finding("octo-org/app", 2)
	changed, err := s.Findings.Put(ctx, f)
	if err != nil || !changed {
		t.Fatalf("first put = %v, %v", changed, err)
	}
	first, _ := s.Findings.Get(ctx, f.Repository, f.ID)

	changed, err = s.Findings.Put(ctx, finding("octo-org/app", 2))
	if err != nil || changed {
		t.Fatalf("unchanged put = %v, %v; want no write", changed, err)
	}
	second, _ := s.Findings.Get(ctx, f.Repository, f.ID)
	if first.ETag != second.ETag {
		t.Fatalf("etag changed on an unchanged put: %s → %s", first.ETag, second.ETag)
	}

	g := finding("octo-org/app", 2)
	g.Severity = "critical"
	changed, err = s.Findings.Put(ctx, g)
	if err != nil || !changed {
		t.Fatalf("changed put = %v, %v", changed, err)
	}
	third, _ := s.Findings.Get(ctx, f.Repository, f.ID)
	if third.Severity != "critical" || third.ETag == second.ETag {
		t.Fatalf("changed put not written: %+v", third)
	}
}

func TestPutWithStaleETagFails(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	f := finding("octo-org/app", 3)
	if _, err := s.Findings.Put(ctx, f); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Findings.Get(ctx, f.Repository, f.ID)
	b, _ := s.Findings.Get(ctx, f.Repository, f.ID)
	a.Title = "a"
	if _, err := s.Findings.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Title = "b"
	if _, err := s.Findings.Put(ctx, b); !errors.Is(err, cosmos.ErrPreconditionFailed) {
		t.Fatalf("stale put err = %v, want ErrPreconditionFailed", err)
	}
}

func TestUpdateCreatesSkipsAndNoops(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	id, pk := "reprioritize", "reprioritize"
	doc, changed, err := s.Leases.Update(ctx, pk, id, func(l *model.Lease, exists bool) error {
		if exists {
			t.Fatal("lease exists before first update")
		}
		l.ID, l.Holder = id, "a"
		return nil
	})
	if err != nil || !changed || doc.ETag == "" {
		t.Fatalf("create via update = %+v, %v, %v", doc, changed, err)
	}
	_, changed, err = s.Leases.Update(ctx, pk, id, func(l *model.Lease, exists bool) error {
		l.Holder = "a" // same content
		return nil
	})
	if err != nil || changed {
		t.Fatalf("no-op update = %v, %v; want no write", changed, err)
	}
	_, changed, err = s.Leases.Update(ctx, pk, id, func(*model.Lease, bool) error { return cosmos.ErrSkip })
	if err != nil || changed {
		t.Fatalf("skipped update = %v, %v", changed, err)
	}
	boom := errors.New("boom")
	if _, _, err := s.Leases.Update(ctx, pk, id, func(*model.Lease, bool) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("callback error not returned: %v", err)
	}
}

// Concurrent ETag-guarded updates of one document all land: the losers are
// retried from a fresh read, none is lost.
func TestConcurrentUpdatesAllLand(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	repo := "octo-org/app"
	f := finding(repo, 4)
	if _, err := s.Findings.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	calls := 0
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, _, err := s.Findings.Update(ctx, repo, f.ID, func(doc *model.Finding, exists bool) error {
				mu.Lock()
				calls++
				mu.Unlock()
				doc.Aliases = append(doc.Aliases, fmt.Sprintf("writer-%d", i))
				return nil
			})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("update: %v", err)
		}
	}
	got, err := s.Findings.Get(ctx, repo, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Aliases) != writers {
		t.Fatalf("got %d of %d updates: %v", len(got.Aliases), writers, got.Aliases)
	}
	if calls <= writers {
		t.Logf("no conflict happened (%d callbacks for %d writers); the two-writer test below forces one", calls, writers)
	}
}

// Two writers, forced to interleave: writer 1 reads, then writer 0 reads
// the same version and commits, and only then may writer 1 write. Its write
// carries the ETag writer 0 made stale, so it must fail and be retried from
// a fresh read, and both changes land. The order is set by channels, not by
// timing: without the ETag guard writer 1 would overwrite writer 0.
func TestTwoInterleavedUpdatesOneRetried(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	repo := "octo-org/app"
	f := finding(repo, 5)
	if _, err := s.Findings.Create(ctx, f); err != nil {
		t.Fatal(err)
	}
	update := func(i int, attempts *int, firstRead func()) error {
		_, _, err := s.Findings.Update(ctx, repo, f.ID, func(doc *model.Finding, exists bool) error {
			*attempts++
			if *attempts == 1 && firstRead != nil {
				firstRead()
			}
			doc.Aliases = append(doc.Aliases, fmt.Sprintf("w%d", i))
			return nil
		})
		return err
	}
	writer1Read := make(chan struct{})
	writer0Committed := make(chan struct{})
	var attempts [2]int
	var errs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[1] = update(1, &attempts[1], func() {
			close(writer1Read) // writer 1 holds the current ETag...
			<-writer0Committed // ...and writes only after writer 0 has
		})
	}()
	go func() {
		defer wg.Done()
		defer close(writer0Committed)
		select {
		case <-writer1Read:
		case <-ctx.Done():
			errs[0] = ctx.Err()
			return
		}
		errs[0] = update(0, &attempts[0], nil)
	}()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got, _ := s.Findings.Get(ctx, repo, f.ID)
	if strings.Join(got.Aliases, ",") != "w0,w1" {
		t.Fatalf("aliases = %v, want [w0 w1]", got.Aliases)
	}
	if attempts[0] != 1 || attempts[1] != 2 {
		t.Fatalf("attempts = %v, want writer 0 once and writer 1 retried once", attempts)
	}
}

func TestQueryStreamsAcrossPartitionsAndPages(t *testing.T) {
	s := localstack.Store(t)
	ctx := ctxT(t)
	const n = 250 // > 2 pages of 100
	for i := 0; i < n; i++ {
		repo := fmt.Sprintf("octo-org/repo-%d", i%7)
		if _, err := s.Findings.Create(ctx, finding(repo, i)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	err := s.Findings.Query(ctx, cosmos.Query{SQL: "SELECT * FROM c"}, func(f *model.Finding) error {
		if seen[f.ID] {
			return fmt.Errorf("duplicate %s", f.ID)
		}
		seen[f.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("streamed %d of %d", len(seen), n)
	}

	// One partition, with a parameter.
	count := 0
	err = s.Findings.Query(ctx, cosmos.Query{
		SQL:          "SELECT * FROM c WHERE c.severity = @sev",
		Params:       map[string]any{"@sev": "high"},
		PartitionKey: "octo-org/repo-3",
	}, func(f *model.Finding) error {
		if f.Repository != "octo-org/repo-3" {
			return fmt.Errorf("partition leak: %s", f.Repository)
		}
		count++
		return nil
	})
	if err != nil || count != 36 {
		t.Fatalf("partition query: %d, %v; want 36", count, err)
	}

	// Cursor paging visits every document once.
	seen = map[string]bool{}
	cursor, pages := "", 0
	for {
		docs, next, err := s.Findings.Page(ctx, cosmos.Query{SQL: "SELECT * FROM c"}, 40, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range docs {
			if seen[d.ID] {
				t.Fatalf("page %d repeats %s", pages, d.ID)
			}
			seen[d.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
		if pages > 50 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != n || pages < 2 {
		t.Fatalf("paged %d docs in %d pages", len(seen), pages)
	}
	// Malformed cursors are refused locally, before any call to Cosmos DB
	// (ErrMalformedCursor comes only from the cursor check).
	_, real, err := s.Findings.Page(ctx, cosmos.Query{SQL: "SELECT * FROM c"}, 10, "")
	if err != nil || real == "" {
		t.Fatalf("first page: next %q, %v", real, err)
	}
	other := cosmos.Query{SQL: "SELECT * FROM c WHERE c.repository = @r", Params: map[string]any{"@r": "octo-org/a"}}
	for name, c := range map[string]string{
		"bad base64":        "%%%",
		"base64 of garbage": base64.RawURLEncoding.EncodeToString([]byte("garbage")),
		"raw token":         base64.RawURLEncoding.EncodeToString([]byte(`{"token":"x"}`)),
		"huge":              strings.Repeat("A", cosmos.MaxCursorLen+1),
	} {
		if _, _, err := s.Findings.Page(ctx, cosmos.Query{SQL: "SELECT * FROM c"}, 10, c); !errors.Is(err, cosmos.ErrMalformedCursor) {
			t.Errorf("%s: err = %v, want ErrMalformedCursor", name, err)
		}
	}
	if _, _, err := s.Findings.Page(ctx, other, 10, real); !errors.Is(err, cosmos.ErrMalformedCursor) {
		t.Errorf("cursor of another query: err = %v, want ErrMalformedCursor", err)
	}
	withParam := cosmos.Query{SQL: "SELECT * FROM c", Params: map[string]any{"@unused": 1}}
	if _, _, err := s.Findings.Page(ctx, withParam, 10, real); !errors.Is(err, cosmos.ErrMalformedCursor) {
		t.Errorf("cursor of other parameters: err = %v, want ErrMalformedCursor", err)
	}
}

// A crash of the emulator in the middle of a write gives a clear error and
// leaves no partial document behind.
func TestEmulatorKilledDuringWrite(t *testing.T) {
	localstack.ForTest(t) // installs the emulators
	ctx := ctxT(t)
	proc, err := localstack.StartCosmos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	endpoint := localstack.CosmosEndpoint(proc.Port)
	store := localstack.OpenStore(t, endpoint, "killtest")

	// The transport streams the write's body and kills the emulator once
	// 4 KiB of it are on the wire: the process dies mid-request.
	kill := &killingTransport{
		base:  &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec
		after: 4096, kill: proc.Stop,
	}
	viaKiller, err := cosmos.Open(ctx, cosmos.Options{
		Endpoint: endpoint, Key: localstack.CosmosKey, Database: "killtest",
		Emulator: true, Transport: &http.Client{Transport: kill},
	})
	if err != nil {
		t.Fatal(err)
	}
	small := finding("octo-org/app", 1)
	if _, err := store.Findings.Create(ctx, small); err != nil {
		t.Fatal(err)
	}

	big := finding("octo-org/app", 2)
	big.Description = strings.Repeat("x", 256<<10)
	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()

	// 1. The connection dies mid-body (the client side crashes): the
	// emulator, still up, must hold no part of the document.
	kill.armed.Store(true)
	_, err = viaKiller.Findings.Put(wctx, big)
	if err == nil {
		t.Fatal("a write cut off mid-request reported success")
	}
	if _, gerr := store.Findings.Get(wctx, big.Repository, big.ID); !errors.Is(gerr, cosmos.ErrNotFound) {
		t.Fatalf("after a cut write the document is %v; want it absent, not partial", gerr)
	}
	checkClearError(t, err, big.ID)

	// 2. The emulator process is killed mid-body.
	kill.killOnCut = true
	_, err = viaKiller.Findings.Put(wctx, big)
	if err == nil {
		t.Fatal("a write to an emulator killed mid-request reported success")
	}
	if !kill.fired.Load() {
		t.Fatalf("the emulator was not killed during the write: %v", err)
	}
	checkClearError(t, err, big.ID)
	if _, err := store.Findings.Get(wctx, small.Repository, small.ID); err == nil {
		t.Fatal("the killed emulator still answers")
	}
}

func checkClearError(t *testing.T, err error, id string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, "findings") || !strings.Contains(msg, id) {
		t.Fatalf("error does not say what was being done: %v", err)
	}
	if strings.Contains(msg, localstack.CosmosKey) {
		t.Fatal("error leaks the account key")
	}
	t.Logf("error seen by the caller: %v", firstLine(msg))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// killingTransport kills the emulator once `after` bytes of an armed
// write's body have been sent.
type killingTransport struct {
	base  http.RoundTripper
	after int
	kill  func()
	// killOnCut kills the emulator at the cut; otherwise only the
	// connection dies.
	killOnCut bool
	armed     atomic.Bool
	fired     atomic.Bool
}

func (k *killingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.armed.Load() && r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		r = r.Clone(r.Context())
		r.Body = &killingBody{rc: r.Body, left: k.after, t: k}
		r.ContentLength = -1 // stream it, so the kill lands mid-body
		r.GetBody = nil
	}
	return k.base.RoundTrip(r)
}

type killingBody struct {
	rc   io.ReadCloser
	left int
	t    *killingTransport
}

func (b *killingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.t.killOnCut && !b.t.fired.Swap(true) {
			b.t.kill()
		}
		return 0, errors.New("connection cut mid-write")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= n
	return n, err
}

func (b *killingBody) Close() error { return b.rc.Close() }
