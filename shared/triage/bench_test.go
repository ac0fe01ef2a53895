package triage

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// countingTransport counts the requests the store sends to the emulator:
// document writes (create, upsert, replace), point reads and query pages.
type countingTransport struct {
	next                   *http.Client
	writes, reads, queries atomic.Int64
}

func (c *countingTransport) Do(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/docs") {
		switch {
		case req.Method == http.MethodPut:
			c.writes.Add(1)
		case req.Method == http.MethodPost && strings.HasPrefix(req.Header.Get("Content-Type"), "application/query+json"):
			c.queries.Add(1)
		case req.Method == http.MethodPost:
			c.writes.Add(1)
		case req.Method == http.MethodGet:
			c.reads.Add(1)
		}
	}
	return c.next.Do(req)
}

func (c *countingTransport) reset() { c.writes.Store(0); c.reads.Store(0); c.queries.Store(0) }

func benchStore(b *testing.B) (*cosmos.Store, *countingTransport) {
	ct := &countingTransport{next: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the local emulator's self-signed certificate
		MaxIdleConnsPerHost: 32,
	}}}
	return localstack.StoreThrough(b, ct), ct
}

const benchImages = 100

func benchWorkload(i int) model.Workload {
	w := model.Workload{
		ID: model.WorkloadID("aks-bench", "ns", fmt.Sprintf("app-%03d", i)), Cluster: "aks-bench", Namespace: "ns", Name: fmt.Sprintf("app-%03d", i),
		Image: fmt.Sprintf("benchacr.azurecr.io/app-%03d", i), Digest: fmt.Sprintf("sha256:%064x", i+1), Repository: fmt.Sprintf("octo-org/app-%03d", i),
		Production: i%2 == 0, Status: model.WorkloadRunning,
	}
	if i%5 == 0 {
		w.Risks = []model.Risk{{Factor: model.RiskInternetExposed, Source: mapping.RiskSourceDeploymentRecord}}
	}
	return w
}

// loadBench writes n CVE findings spread over benchImages images, already
// scored in their current context (as triage leaves them), and the image
// groups. Findings are generated on the fly, never held all at once.
func loadBench(b *testing.B, tr *Triage, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	var ws []model.Workload
	for i := range benchImages {
		w := benchWorkload(i)
		if _, err := dbOf(tr).Workloads.Put(ctx, &w); err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
	}
	ix := mapping.NewIndex(nil, ws)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A scorer per writer: its cache of prepared contexts is not
			// safe for concurrent use.
			sc := &sweepScorer{policy: tr.policy(), ix: ix, prepared: map[string]preparedContext{}, start: 1 << 62}
			for i := range jobs {
				f := benchFinding(ws, i)
				r, dep, _ := sc.score(ctx, &f)
				applyResult(&f, r, dep, time.Time{})
				_, f.GroupID = GroupOf(&f)
				if _, err := dbOf(tr).Findings.Create(ctx, &f); err != nil {
					failed.Store(&err)
				}
			}
		}()
	}
	for i := range n {
		if failed.Load() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if p := failed.Load(); p != nil {
		b.Fatal(*p)
	}
	for i := range benchImages {
		if _, err := tr.RefreshGroup(ctx, ws[i].Repository, model.ImageGroupID(ws[i].Repository, ws[i].Image)); err != nil {
			b.Fatal(err)
		}
	}
}

// benchFinding is the i-th benchmark CVE, on the image of ws[i % len(ws)].
func benchFinding(ws []model.Workload, i int) model.Finding {
	img := i % len(ws)
	return model.Finding{
		ID: model.ImageCVEFindingID(ws[img].Image, fmt.Sprintf("CVE-2024-%06d", i)), Repository: ws[img].Repository,
		Source: model.SourceDefenderCVE, State: model.StateOpen, CVE: fmt.Sprintf("CVE-2024-%06d", i), Title: "bench",
		Severity: [...]string{"critical", "high", "medium", "low"}[i%4], Image: ws[img].Image, Digests: []string{ws[img].Digest},
		Package: &model.Package{Name: "pkg" + strconv.Itoa(i%37), Version: "1.0.0", FixedVersion: "1.0.1"},
	}
}

// toggleSensitiveData adds the sensitive-data factor to w, or takes it
// off when w has it: the runtime change before each benchmark run.
func toggleSensitiveData(w *model.Workload) {
	if slices.ContainsFunc(w.Risks, func(r model.Risk) bool { return r.Factor == model.RiskSensitiveData }) {
		w.Risks = w.Risks[:len(w.Risks)-1]
	} else {
		w.Risks = append(w.Risks, model.Risk{Factor: model.RiskSensitiveData, Source: "defender-assessment:bench"})
	}
}

// benchSizes reads a comma-separated list of sizes from env, or def.
func benchSizes(b *testing.B, env string, def []int) []int {
	s := os.Getenv(env)
	if s == "" {
		return def
	}
	var sizes []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			b.Fatalf("%s: %v", env, err)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// heapSampler records, while a run goes on, the peak HeapInuse (live and
// not yet collected garbage) and the peak live heap as the last GC marked it
// (runtime/metrics /gc/heap/live:bytes): the memory the run holds.
type heapSampler struct {
	stop       chan struct{}
	done       chan struct{}
	peak, live uint64
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			metrics.Read(sample)
			h.live = max(h.live, sample[0].Value.Uint64())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() (peak, live uint64) { close(h.stop); <-h.done; return h.peak, h.live }

// BenchmarkReprioritize is a full nightly run over n findings in the
// emulator, with the runtime of one image in a hundred changed before each
// run (1% of the findings change). Sizes: 10000 by default; set
// RUNTIMELINK_BENCH_SIZES=10000,30000,100000 for more (loading 100k
// documents into the emulator takes a while). Run with -benchtime=3x.
func BenchmarkReprioritize(b *testing.B) {
	sizes := benchSizes(b, "RUNTIMELINK_BENCH_SIZES", []int{10000})
	for _, n := range sizes {
		// Load once per size, outside the measured sub-benchmark (which
		// the testing package may call more than once).
		store, ct := benchStore(b)
		tr := onDB(store, &syncRecorder{})
		tr.Logger = discardLogger()
		start := time.Now()
		loadBench(b, tr, n)
		load := time.Since(start)
		b.Logf("loaded %d findings in %v (%.0f/s), %d writes", n, load.Round(time.Second), float64(n)/load.Seconds(), ct.writes.Load())
		ctx := context.Background()
		// Settle: a first run over fresh data changes nothing.
		if st, err := tr.Reprioritize(ctx, SweepOptions{MaxRuntime: time.Hour}); err != nil || st.Changed != 0 || st.Scanned != n {
			b.Fatalf("settling run = %+v, %v", st, err)
		}
		w := benchWorkload(0) // production: a risk factor moves its findings
		b.Run("findings="+strconv.Itoa(n), func(b *testing.B) {
			var scanned, changed, writes, queries, reads int64
			var peak, live, base uint64
			for range b.N {
				b.StopTimer()
				toggleSensitiveData(&w)
				if _, err := store.Workloads.Put(ctx, &w); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				base = max(base, ms.HeapInuse)
				ct.reset()
				h := sampleHeap()
				b.StartTimer()
				st, err := tr.Reprioritize(ctx, SweepOptions{MaxRuntime: time.Hour})
				b.StopTimer()
				p, l := h.Stop()
				peak, live = max(peak, p), max(live, l)
				if err != nil || st.Scanned != n || st.Changed != n/benchImages {
					b.Fatalf("run = %+v, %v; want %d changed", st, err, n/benchImages)
				}
				scanned += int64(st.Scanned)
				changed += int64(st.Changed)
				writes += ct.writes.Load()
				queries += ct.queries.Load()
				reads += ct.reads.Load()
			}
			ops := float64(b.N)
			b.ReportMetric(float64(scanned)/b.Elapsed().Seconds(), "findings/s")
			b.ReportMetric(float64(changed)/ops, "changed/op")
			b.ReportMetric(float64(writes)/ops, "cosmos-writes/op")
			b.ReportMetric(float64(queries)/ops, "cosmos-query-pages/op")
			b.ReportMetric(float64(reads)/ops, "cosmos-reads/op")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "peak-live-heap-MB")
			b.ReportMetric(float64(base)/(1<<20), "idle-heap-MB")
			b.ReportMetric(load.Seconds(), "load-s")
		})
	}
}

// BenchmarkSweepScore is the in-memory part of a run: scoring a finding
// against the runtime map with its context prepared once.
func BenchmarkSweepScore(b *testing.B) {
	var ws []model.Workload
	for i := range benchImages {
		ws = append(ws, benchWorkload(i))
	}
	sc := &sweepScorer{policy: scoring.DefaultPolicy(), ix: mapping.NewIndex(nil, ws), prepared: map[string]preparedContext{}, start: 1 << 62}
	fs := make([]model.Finding, 1000)
	for i := range fs {
		img := i % benchImages
		fs[i] = model.Finding{ID: strconv.Itoa(i), Source: model.SourceDefenderCVE, Severity: "high", Image: ws[img].Image, Digests: []string{ws[img].Digest}}
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := fs[i%len(fs)]
		r, dep, _ := sc.score(ctx, &f)
		applyResult(&f, r, dep, time.Time{})
	}
}
