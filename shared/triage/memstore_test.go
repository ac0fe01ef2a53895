package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/proctest"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// memStore is an in-process Store for the benchmark that must measure the
// nightly run's own cost at sizes the local emulator cannot hold (100,000
// and 1,000,000 findings). It is a stand-in for the network and the
// service, not a test double for behaviour (the tests run on the
// emulator):
//   - the findings as loaded are not held: finding i is made again from i
//     (benchFinding, scored in the runtime of the load) whenever it is
//     read, so the process holds what the run holds, not the data set, and
//     its peak RSS is the run's own;
//   - every document crosses JSON as a Cosmos DB page does, so reads
//     decode as the real store does;
//   - writes (findings re-scored, groups, the lease) are kept as JSON, and
//     each call is counted as the request it stands for.
//
// It knows the benchmark's layout: finding i is on the image of
// ws[i % len(ws)], in that image's group.
type memStore struct {
	n    int
	base func(i int) model.Finding

	mu       sync.Mutex
	etag     int64
	findings map[string][]byte // written since the load: repository \x00 id
	// paged maps the ids of the last page and group read to their index,
	// for the writes that follow a read (a write of any other base finding
	// fails: the benchmark would not be measuring what it says).
	paged  map[string]int
	groups map[string][]byte
	leases map[string][]byte
	ws     []model.Workload

	pages, reads, writes atomic.Int64
}

func newMemStore(ws []model.Workload, n int, loaded time.Time) *memStore {
	frozen := slices.Clone(ws)
	sc := &sweepScorer{policy: scoring.DefaultPolicy(), ix: mapping.NewIndex(nil, frozen), prepared: map[string]preparedContext{}, start: 1 << 62}
	base := func(i int) model.Finding {
		f := benchFinding(frozen, i)
		r, dep, _ := sc.score(context.Background(), &f)
		applyResult(&f, r, dep, time.Time{})
		_, f.GroupID = GroupOf(&f)
		f.TS = loaded.Unix()
		return f
	}
	return &memStore{n: n, base: base, findings: map[string][]byte{}, paged: map[string]int{},
		groups: map[string][]byte{}, leases: map[string][]byte{}, ws: ws}
}

func (m *memStore) reset() { m.pages.Store(0); m.reads.Store(0); m.writes.Store(0) }

func key(repository, id string) string { return repository + "\x00" + id }

func decode[T any](b []byte) (*T, error) {
	doc := new(T)
	if err := json.Unmarshal(b, doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// finding is the current finding i (a write since the load, or as
// loaded), through JSON; under m.mu.
func (m *memStore) finding(i int) (*model.Finding, error) {
	f := m.base(i)
	if b, ok := m.findings[key(f.Repository, f.ID)]; ok {
		return decode[model.Finding](b)
	}
	b, err := json.Marshal(&f)
	if err != nil {
		return nil, err
	}
	return decode[model.Finding](b)
}

// memUpdate is Container.Update in memory: fn on the current document
// (cur, nil when there is none), no write when the content is unchanged,
// a new ETag and _ts on a write. One writer at a time (the run is).
func memUpdate[T any](m *memStore, docs map[string][]byte, k string, cur *T, fn func(doc *T, exists bool) error, meta func(*T) *model.Meta) (*T, bool, error) {
	m.reads.Add(1)
	exists := cur != nil
	if !exists {
		cur = new(T)
	}
	before, _ := content(cur, meta)
	if err := fn(cur, exists); err != nil {
		if err == model.ErrSkip {
			return cur, false, nil
		}
		return nil, false, err
	}
	after, err := content(cur, meta)
	if err != nil {
		return nil, false, err
	}
	if exists && bytes.Equal(before, after) {
		return cur, false, nil
	}
	m.writes.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.etag++
	mt := meta(cur)
	mt.ETag, mt.TS = strconv.FormatInt(m.etag, 10), time.Now().Unix()
	b, err := json.Marshal(cur)
	if err != nil {
		return nil, false, err
	}
	docs[k] = b
	return cur, true, nil
}

func content[T any](doc *T, meta func(*T) *model.Meta) ([]byte, error) {
	cp := *doc
	*meta(&cp) = model.Meta{}
	return json.Marshal(&cp)
}

func findingMeta(f *model.Finding) *model.Meta { return &f.Meta }
func groupMeta(g *model.Group) *model.Meta     { return &g.Meta }
func leaseMeta(l *model.Lease) *model.Meta     { return &l.Meta }

// stored reads one document of docs (nil when there is none).
func stored[T any](m *memStore, docs map[string][]byte, k string) (*T, error) {
	m.mu.Lock()
	b, ok := docs[k]
	m.mu.Unlock()
	if !ok {
		return nil, nil
	}
	return decode[T](b)
}

func notFound(kind, id string) error { return fmt.Errorf("%s %s: %w", kind, id, model.ErrNotFound) }

func (m *memStore) Finding(ctx context.Context, repository, id string) (*model.Finding, error) {
	m.reads.Add(1)
	f, err := m.current(repository, id)
	if err == nil && f == nil {
		err = notFound("finding", id)
	}
	return f, err
}

// current is a finding written since the load, or one of the last page
// or group read; any other is an error.
func (m *memStore) current(repository, id string) (*model.Finding, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.findings[key(repository, id)]; ok {
		return decode[model.Finding](b)
	}
	i, ok := m.paged[id]
	if !ok {
		return nil, fmt.Errorf("memStore: finding %s was not just read; the benchmark does not hold its data set", id)
	}
	return m.finding(i)
}

func (m *memStore) UpdateFinding(_ context.Context, repository, id string, fn func(f *model.Finding, exists bool) error) (*model.Finding, bool, error) {
	cur, err := m.current(repository, id)
	if err != nil {
		return nil, false, err
	}
	return memUpdate(m, m.findings, key(repository, id), cur, fn, findingMeta)
}

// read returns the current findings at indexes and remembers them for the
// writes that follow.
func (m *memStore) read(indexes func(yield func(int) bool)) ([]model.Finding, error) {
	m.pages.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.paged)
	var out []model.Finding
	for i := range indexes {
		f, err := m.finding(i)
		if err != nil {
			return nil, err
		}
		m.paged[f.ID] = i
		out = append(out, *f)
	}
	return out, nil
}

func (m *memStore) FindingsOfGroup(_ context.Context, repository, groupID string) ([]model.Finding, error) {
	img := slices.IndexFunc(m.ws, func(w model.Workload) bool {
		return w.Repository == repository && model.ImageGroupID(repository, w.Image) == groupID
	})
	if img < 0 {
		return nil, nil
	}
	return m.read(func(yield func(int) bool) {
		for i := img; i < m.n && yield(i); i += len(m.ws) {
		}
	})
}

// The benchmark's findings have no correlated peers and no alerts, so the
// run never asks the queries below; they answer as the store would for
// that data, without a scan of a million findings.

func (m *memStore) FindingsByID(context.Context, []string) ([]model.Finding, error) {
	m.pages.Add(1)
	return nil, nil
}

func (m *memStore) FindingsNamingVulnerability(context.Context, string, model.Source, []string) ([]model.Finding, error) {
	m.pages.Add(1)
	return nil, nil
}

func (m *memStore) FindingsOfImages(context.Context, []string, []string) ([]model.Finding, error) {
	return nil, fmt.Errorf("memStore: FindingsOfImages is not part of the nightly run")
}

func (m *memStore) FindingsOfRepository(context.Context, string, func(f *model.Finding) error) error {
	return fmt.Errorf("memStore: FindingsOfRepository is not part of the nightly run")
}

func (m *memStore) FindingsIn(context.Context, string, []string) ([]model.Finding, error) {
	return nil, fmt.Errorf("memStore: FindingsIn is not part of the nightly run")
}

func (m *memStore) SaveFinding(context.Context, *model.Finding, bool) (bool, error) {
	return false, fmt.Errorf("memStore: SaveFinding is not part of the nightly run")
}

// FindingsPage pages in index order; the cursor is the next index.
func (m *memStore) FindingsPage(_ context.Context, pageSize int, cursor string) ([]model.Finding, string, error) {
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, "", fmt.Errorf("findings page: bad cursor %q", cursor)
		}
		from = n
	}
	to := min(from+pageSize, m.n)
	fs, err := m.read(func(yield func(int) bool) {
		for i := from; i < to && yield(i); i++ {
		}
	})
	next := ""
	if to < m.n {
		next = strconv.Itoa(to)
	}
	return fs, next, err
}

func (m *memStore) Group(_ context.Context, repository, id string) (*model.Group, error) {
	m.reads.Add(1)
	g, err := stored[model.Group](m, m.groups, key(repository, id))
	if err == nil && g == nil {
		err = notFound("group", id)
	}
	return g, err
}

func (m *memStore) CreateGroup(ctx context.Context, g *model.Group) (bool, error) {
	created := false
	_, _, err := m.UpdateGroup(ctx, g.Repository, g.ID, func(cur *model.Group, exists bool) error {
		if exists {
			return model.ErrSkip
		}
		*cur, created = *g, true
		return nil
	})
	return created, err
}

func (m *memStore) UpdateGroup(_ context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (*model.Group, bool, error) {
	k := key(repository, id)
	cur, err := stored[model.Group](m, m.groups, k)
	if err != nil {
		return nil, false, err
	}
	return memUpdate(m, m.groups, k, cur, fn, groupMeta)
}

func (m *memStore) GroupMembers(context.Context, string, []string) ([]model.Group, error) {
	return nil, fmt.Errorf("memStore: GroupMembers is not part of the nightly run")
}

// GroupsBehind streams the groups behind their sync with only what the
// store's query selects (a group's body and finding ids stay behind).
func (m *memStore) GroupsBehind(_ context.Context, stale time.Time, fn func(g *model.Group) error) error {
	m.pages.Add(1)
	m.mu.Lock()
	keys := make([]string, 0, len(m.groups))
	for k := range m.groups {
		keys = append(keys, k)
	}
	m.mu.Unlock()
	for _, k := range keys {
		g, err := stored[model.Group](m, m.groups, k)
		if err != nil || g == nil {
			return err
		}
		if !NeedsSync(g, stale) {
			continue
		}
		p := model.Group{ID: g.ID, Repository: g.Repository,
			Desired: model.DesiredIssue{Open: g.Desired.Open, Hash: g.Desired.Hash},
			Synced:  model.SyncedIssue{IssueNumber: g.Synced.IssueNumber, Hash: g.Synced.Hash, At: g.Synced.At}}
		if err := fn(&p); err != nil {
			return err
		}
	}
	return nil
}

// heldBytes is the JSON the store holds (groups, re-scored findings,
// leases): part of the process's memory that a real store keeps elsewhere.
func (m *memStore) heldBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int
	for _, docs := range []map[string][]byte{m.findings, m.groups, m.leases} {
		for k, b := range docs {
			n += len(k) + len(b)
		}
	}
	return uint64(n)
}

func (m *memStore) Lease(_ context.Context, id string) (*model.Lease, error) {
	m.reads.Add(1)
	l, err := stored[model.Lease](m, m.leases, id)
	if err == nil && l == nil {
		err = notFound("lease", id)
	}
	return l, err
}

func (m *memStore) UpdateLease(_ context.Context, id string, fn func(l *model.Lease, exists bool) error) (*model.Lease, bool, error) {
	cur, err := stored[model.Lease](m, m.leases, id)
	if err != nil {
		return nil, false, err
	}
	return memUpdate(m, m.leases, id, cur, fn, leaseMeta)
}

func (m *memStore) ArtifactsBuiltFrom(context.Context, string, int) ([]model.Artifact, bool, error) {
	return nil, false, fmt.Errorf("memStore: ArtifactsBuiltFrom is not part of the nightly run")
}

func (m *memStore) ArtifactsOf(context.Context, []string) ([]model.Artifact, error) {
	m.pages.Add(1)
	return nil, nil
}

func (m *memStore) running(match func(w *model.Workload) bool) []model.Workload {
	m.pages.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(m.ws), func(w model.Workload) bool { return !match(&w) })
}

func (m *memStore) WorkloadsRunning(_ context.Context, digests []string) ([]model.Workload, error) {
	return m.running(func(w *model.Workload) bool { return slices.Contains(digests, w.Digest) }), nil
}

func (m *memStore) WorkloadsRunningImage(_ context.Context, image string, digests []string) ([]model.Workload, error) {
	return m.running(func(w *model.Workload) bool { return w.Image == image || slices.Contains(digests, w.Digest) }), nil
}

func (m *memStore) WorkloadsRunningImages(_ context.Context, images, digests []string) ([]model.Workload, error) {
	return m.running(func(w *model.Workload) bool {
		return slices.Contains(images, w.Image) || slices.Contains(digests, w.Digest)
	}), nil
}

func (m *memStore) WorkloadsRunningRepository(_ context.Context, repo string, digests []string) ([]model.Workload, error) {
	return m.running(func(w *model.Workload) bool { return w.Repository == repo || slices.Contains(digests, w.Digest) }), nil
}

func (m *memStore) RunningWorkloads(_ context.Context, fn func(w *model.Workload) error) error {
	for _, w := range m.running(func(*model.Workload) bool { return true }) {
		if err := fn(&w); err != nil {
			return err
		}
	}
	return nil
}

var _ Store = (*memStore)(nil)

// BenchmarkReprioritizeInProcess is the nightly run's own cost — paging,
// decoding, scoring, grouping, rendering — at sizes the local emulator
// cannot hold, against memStore instead of Cosmos DB (no network, no
// service time: BenchmarkReprioritize on the emulator measures those).
// The estate grows as a real one does: one image (workload, group) per
// perImage findings, and before each run the runtime of one image in a
// hundred changes, so 1% of the findings change. Sizes: 100000 and
// 1000000 (RUNTIMELINK_BENCH_MEM_SIZES). Run one size per process for
// peak-rss-MB, the process's high-water mark: memStore holds no findings
// as loaded, so it is what the run holds (with the test binary) plus
// store-held-MB, the groups and re-scored findings the store keeps, which
// a real store keeps elsewhere; the run's own part is flat in N when the
// run is. The GC lets the heap grow to twice what is live, the store's
// documents included, so run-live-MB, the most the run kept live above
// what was live before it (as each GC found it), is the run's own figure.
func BenchmarkReprioritizeInProcess(b *testing.B) {
	const perImage = 1000 // CVEs on one image: a large base image
	sizes := benchSizes(b, "RUNTIMELINK_BENCH_MEM_SIZES", []int{100000, 1000000})
	for _, n := range sizes {
		var ws []model.Workload
		for i := range max(1, n/perImage) {
			ws = append(ws, benchWorkload(i))
		}
		// The images whose runtime changes: one in a hundred, production
		// ones (a risk factor moves their findings' scores).
		var moved []int
		for i := 0; i < len(ws) && len(moved) < max(1, len(ws)/100); i += 2 {
			moved = append(moved, i)
		}
		m := newMemStore(ws, n, time.Now().Add(-time.Hour))
		tr := &Triage{Store: m, Sync: &syncRecorder{}, Logger: discardLogger()}
		ctx := context.Background()
		for _, w := range ws {
			if _, err := tr.RefreshGroup(ctx, w.Repository, model.ImageGroupID(w.Repository, w.Image)); err != nil {
				b.Fatal(err)
			}
		}
		if st, err := tr.Reprioritize(ctx, SweepOptions{MaxRuntime: time.Hour}); err != nil || st.Changed != 0 || st.Scanned != n {
			b.Fatalf("settling run = %+v, %v", st, err)
		}
		b.Run("findings="+strconv.Itoa(n), func(b *testing.B) {
			var scanned, changed, writes, pages, reads int64
			var peak, live uint64
			for range b.N {
				b.StopTimer()
				m.mu.Lock()
				for _, i := range moved {
					toggleSensitiveData(&m.ws[i])
				}
				m.mu.Unlock()
				runtime.GC()
				idle := liveHeap()
				m.reset()
				h := sampleHeap()
				b.StartTimer()
				st, err := tr.Reprioritize(ctx, SweepOptions{MaxRuntime: time.Hour})
				b.StopTimer()
				p, l := h.Stop()
				peak, live = max(peak, p), max(live, l-min(l, idle))
				if want := len(moved) * (n / len(ws)); err != nil || st.Scanned != n || st.Changed != want {
					b.Fatalf("run = %+v, %v; want %d changed", st, err, want)
				}
				scanned += int64(st.Scanned)
				changed += int64(st.Changed)
				writes += m.writes.Load()
				pages += m.pages.Load()
				reads += m.reads.Load()
			}
			ops := float64(b.N)
			b.ReportMetric(float64(scanned)/b.Elapsed().Seconds(), "findings/s")
			b.ReportMetric(b.Elapsed().Seconds()/ops, "run-s")
			b.ReportMetric(float64(changed)/ops, "changed/op")
			b.ReportMetric(float64(writes)/float64(scanned), "writes/finding")
			b.ReportMetric(float64(pages+reads)/float64(scanned), "requests/finding")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "run-live-MB")
			b.ReportMetric(float64(proctest.StatusKB("VmHWM"))/(1<<10), "peak-rss-MB")
			b.ReportMetric(float64(m.heldBytes())/(1<<20), "store-held-MB")
		})
	}
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
