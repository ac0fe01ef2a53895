package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// scope is what a finding's code runs as: an image (its name and the
// digests it was found on) for container CVEs, a repository for GHAS
// alerts, whose code ships in every image built from the repository.
type scope struct {
	repo    string   // normalized "owner/name"
	image   string   // normalized image name
	digests []string // sorted, unique
}

// scopeOf picks a finding's scope. A Defender alert names an image when it
// came from a container; otherwise it, like every GHAS alert, takes the
// context of its repository.
func scopeOf(f *model.Finding) scope {
	imageScoped := f.Source == model.SourceDefenderCVE ||
		(f.Source == model.SourceDefenderAlert && (f.Image != "" || len(f.Digests) > 0))
	if !imageScoped {
		return scope{repo: mapping.NormalizeRepository(f.Repository, "")}
	}
	s := scope{image: imageName(f.Image)}
	for _, d := range f.Digests {
		if d = strings.TrimSpace(d); d != "" && !slices.Contains(s.digests, d) {
			s.digests = append(s.digests, d)
		}
	}
	slices.Sort(s.digests)
	return s
}

func imageName(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if n, err := mapping.NormalizeImage(s); err == nil {
		return n
	}
	return strings.ToLower(s)
}

// key identifies the scope in caches.
func (s scope) key() string {
	if s.repo != "" {
		return "repo|" + s.repo
	}
	return "image|" + s.image + "|" + strings.Join(s.digests, ",")
}

func (s scope) empty() bool { return s.repo == "" && s.image == "" && len(s.digests) == 0 }

// workloads selects the scope's workloads from an index: for an image,
// those running one of its digests or any digest of the image name; for a
// repository, those whose image was built from it. Sorted by id.
func (s scope) workloads(ix *mapping.Index) []model.Workload {
	if s.repo != "" {
		return ix.RepoWorkloads(s.repo)
	}
	var out []model.Workload
	add := func(ws []model.Workload) {
		for _, w := range ws {
			if !slices.ContainsFunc(out, func(o model.Workload) bool { return o.ID == w.ID }) {
				out = append(out, w)
			}
		}
	}
	for _, d := range s.digests {
		add(ix.DigestWorkloads(d))
	}
	if s.image != "" {
		add(ix.ImageWorkloads(s.image))
	}
	slices.SortFunc(out, func(a, b model.Workload) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Queries are parameterized; lists go in as array parameters.
const (
	// Gone workloads count for nothing in a score, so they are not loaded.
	sqlWorkloadsOfImage  = "SELECT * FROM c WHERE c.status != @gone AND (c.image = @image OR ARRAY_CONTAINS(@digests, c.digest))"
	sqlWorkloadsOfRepo   = "SELECT * FROM c WHERE c.status != @gone AND (c.repository = @repo OR (c.repository = @name AND LOWER(c.org) = @owner) OR ARRAY_CONTAINS(@digests, c.digest))"
	sqlWorkloadsByDigest = "SELECT * FROM c WHERE c.status != @gone AND ARRAY_CONTAINS(@digests, c.digest)"
	sqlArtifactsOfRepo   = "SELECT * FROM c WHERE c.repository = @repo"
	sqlArtifactsByDigest = "SELECT * FROM c WHERE ARRAY_CONTAINS(@digests, c.digest)"
	sqlAllWorkloads      = "SELECT * FROM c WHERE c.status != @gone"
)

// digestChunk bounds the array parameter of one query.
const digestChunk = 100

// workloads loads the workloads of a scope from the store, through the
// invocation's cache when the context carries one (WithCache) and the
// process's runtime cache when t.RuntimeTTL is set.
func (t *Triage) workloads(ctx context.Context, s scope) ([]model.Workload, error) {
	if s.empty() {
		return nil, nil
	}
	c := cacheFrom(ctx)
	if ws, ok := c.get(s.key()); ok {
		return ws, nil
	}
	rc := t.runtimeCache()
	if ws, ok := rc.get(s.key(), time.Now().Add(-t.RuntimeTTL)); ok {
		c.put(s.key(), ws)
		return ws, nil
	}
	gen, loaded := rc.generation(), time.Now()
	ws, err := loadScope(ctx, t.Store, s)
	if err != nil {
		return nil, err
	}
	c.put(s.key(), ws)
	rc.put(s.key(), ws, gen, loaded)
	return ws, nil
}

// The runtime cache keeps the workloads of each scope for RuntimeTTL,
// across invocations, for every Triage of the process on one store: the
// artifact and workload queries are two of the Cosmos DB round trips of
// every alert, and a repository's runtime changes far less often than its
// alerts arrive.
//
// The trade-off: a workload or artifact written by ANOTHER instance is
// seen here up to RuntimeTTL late, so a finding ingested in that window is
// scored in the runtime as it was before the change (its Deployed,
// RuntimeRisks, score and priority), until something re-scores it: the
// WorkloadChanged run of the instance that wrote the workload covers the
// findings stored before its query, and the nightly run re-scores every
// finding from the whole runtime. Within the process the cache is exact:
// WorkloadChanged and RuntimeChanged (artifact writes) clear it, and a
// load that raced a clear is not kept (generation).
var runtimeCaches sync.Map // *cosmos.Store → *runtimeCache

type runtimeCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]runtimeEntry
}

type runtimeEntry struct {
	ws     []model.Workload
	loaded time.Time // when the load started
}

// runtimeCache returns the process's cache for t.Store, or nil (a cache
// that holds nothing) when RuntimeTTL is not set.
func (t *Triage) runtimeCache() *runtimeCache {
	if t.RuntimeTTL <= 0 || t.Store == nil {
		return nil
	}
	return runtimeCacheOf(t.Store)
}

func runtimeCacheOf(st *cosmos.Store) *runtimeCache {
	if c, ok := runtimeCaches.Load(st); ok {
		return c.(*runtimeCache)
	}
	c, _ := runtimeCaches.LoadOrStore(st, &runtimeCache{m: map[string]runtimeEntry{}})
	return c.(*runtimeCache)
}

// RuntimeChanged is RuntimeChanged for this triage's store; the inventory
// calls it when an artifact's source changed.
func (t *Triage) RuntimeChanged() { RuntimeChanged(t.Store) }

// RuntimeChanged drops what the process cached of the runtime read from
// st. Writers of workloads and artifacts call it (WorkloadChanged does), so
// an instance never scores with a runtime older than its own writes.
func RuntimeChanged(st *cosmos.Store) {
	if st == nil {
		return
	}
	if c, ok := runtimeCaches.Load(st); ok {
		c.(*runtimeCache).clear()
	}
}

// get returns the entry of key if it was loaded after notBefore.
func (c *runtimeCache) get(key string, notBefore time.Time) ([]model.Workload, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !e.loaded.After(notBefore) {
		return nil, false
	}
	return e.ws, true
}

func (c *runtimeCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps ws unless the cache was cleared since gen was taken: that load
// may predate the change that cleared it.
func (c *runtimeCache) put(key string, ws []model.Workload, gen uint64, loaded time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = runtimeEntry{ws: ws, loaded: loaded}
}

func (c *runtimeCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// loadScope reads the candidate workloads of a scope and the artifacts of
// their digests, and selects from them with the same index rules as the
// nightly run, so both agree on which workloads run a finding's code.
func loadScope(ctx context.Context, st *cosmos.Store, s scope) ([]model.Workload, error) {
	var (
		ws   []model.Workload
		arts []model.Artifact
	)
	addWorkload := func(w *model.Workload) error {
		if !slices.ContainsFunc(ws, func(o model.Workload) bool { return o.ID == w.ID && o.Cluster == w.Cluster }) {
			ws = append(ws, *w)
		}
		return nil
	}
	if s.repo == "" {
		q := cosmos.Query{SQL: sqlWorkloadsOfImage, Params: map[string]any{
			"@gone": string(model.WorkloadGone), "@image": s.image, "@digests": nonNil(s.digests),
		}}
		if err := st.Workloads.Query(ctx, q, addWorkload); err != nil {
			return nil, fmt.Errorf("load workloads of image %s: %w", s.image, err)
		}
		return s.workloads(mapping.NewIndex(nil, ws)), nil
	}

	owner, name, _ := strings.Cut(s.repo, "/")
	var digests []string
	q := cosmos.Query{SQL: sqlArtifactsOfRepo, Params: map[string]any{"@repo": s.repo}}
	err := st.Artifacts.Query(ctx, q, func(a *model.Artifact) error {
		arts = append(arts, *a)
		if a.Digest != "" {
			digests = append(digests, a.Digest)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load artifacts of %s: %w", s.repo, err)
	}
	first := true
	for len(digests) > 0 || first {
		n := min(len(digests), digestChunk)
		chunk := digests[:n]
		digests = digests[n:]
		q := cosmos.Query{SQL: sqlWorkloadsByDigest, Params: map[string]any{"@gone": string(model.WorkloadGone), "@digests": nonNil(chunk)}}
		if first {
			q = cosmos.Query{SQL: sqlWorkloadsOfRepo, Params: map[string]any{
				"@gone": string(model.WorkloadGone), "@repo": s.repo,
				"@name": name, "@owner": owner, "@digests": nonNil(chunk),
			}}
			first = false
		}
		if err := st.Workloads.Query(ctx, q, addWorkload); err != nil {
			return nil, fmt.Errorf("load workloads of %s: %w", s.repo, err)
		}
	}
	// The artifact of a workload's digest decides its repository over the
	// workload's own record; read the ones not loaded yet.
	var missing []string
	for _, w := range ws {
		if w.Digest != "" && !slices.Contains(missing, w.Digest) &&
			!slices.ContainsFunc(arts, func(a model.Artifact) bool { return a.Digest == w.Digest }) {
			missing = append(missing, w.Digest)
		}
	}
	more, err := loadArtifacts(ctx, st, missing)
	if err != nil {
		return nil, err
	}
	arts = append(arts, more...)
	return s.workloads(mapping.NewIndex(arts, ws)), nil
}

// loadArtifacts reads the artifacts of digests, a chunk per query.
func loadArtifacts(ctx context.Context, st *cosmos.Store, digests []string) ([]model.Artifact, error) {
	var out []model.Artifact
	for len(digests) > 0 {
		n := min(len(digests), digestChunk)
		q := cosmos.Query{SQL: sqlArtifactsByDigest, Params: map[string]any{"@digests": digests[:n]}}
		digests = digests[n:]
		err := st.Artifacts.Query(ctx, q, func(a *model.Artifact) error {
			out = append(out, *a)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load artifacts: %w", err)
		}
	}
	return out, nil
}

// LoadRuntime reads every workload that is not gone and the artifacts of
// their digests: the whole code-to-runtime map, for mapping.NewIndex. Its
// size follows the number of workloads, not of findings.
func LoadRuntime(ctx context.Context, st *cosmos.Store) ([]model.Workload, []model.Artifact, error) {
	var (
		ws      []model.Workload
		digests []string
		seen    = map[string]bool{}
	)
	q := cosmos.Query{SQL: sqlAllWorkloads, Params: map[string]any{"@gone": string(model.WorkloadGone)}}
	err := st.Workloads.Query(ctx, q, func(w *model.Workload) error {
		ws = append(ws, *w)
		if w.Digest != "" && !seen[w.Digest] {
			seen[w.Digest] = true
			digests = append(digests, w.Digest)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load workloads: %w", err)
	}
	arts, err := loadArtifacts(ctx, st, digests)
	if err != nil {
		return nil, nil, err
	}
	return ws, arts, nil
}

func (t *Triage) loadIndex(ctx context.Context) (*mapping.Index, error) {
	ws, arts, err := LoadRuntime(ctx, t.Store)
	if err != nil {
		return nil, err
	}
	return mapping.NewIndex(arts, ws), nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func isNotFound(err error) bool { return errors.Is(err, cosmos.ErrNotFound) }

// Cache keeps the workloads of each scope for one invocation, so a batch
// of CVEs on one image loads the image's workloads once. It is safe for
// concurrent use and bounded.
type Cache struct {
	mu sync.Mutex
	m  map[string][]model.Workload
}

// maxCached bounds a Cache; past it the cache starts over.
const maxCached = 512

type cacheKey struct{}

// WithCache returns a context whose Upserts share a workload cache. Use
// one per invocation: a cache outlives no invocation, so it never serves
// another invocation's view of the runtime. WorkloadChanged clears it.
func WithCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, cacheKey{}, &Cache{m: map[string][]model.Workload{}})
}

func cacheFrom(ctx context.Context) *Cache {
	c, _ := ctx.Value(cacheKey{}).(*Cache)
	return c
}

func (c *Cache) get(key string) ([]model.Workload, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ws, ok := c.m[key]
	return ws, ok
}

func (c *Cache) put(key string, ws []model.Workload) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		clear(c.m)
	}
	c.m[key] = ws
}

func (c *Cache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
