package triage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

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
	// resource is the running resource a Defender alert is about; its
	// cluster's context scores the alert when its image (if any) runs in
	// no known workload.
	resource *model.Resource
}

// scopeOf picks a finding's scope. A Defender alert names an image when it
// came from a container; otherwise it, like every GHAS alert, takes the
// context of its repository.
func scopeOf(f *model.Finding) scope {
	imageScoped := f.Source == model.SourceDefenderCVE ||
		(f.Source == model.SourceDefenderAlert && (f.Image != "" || len(f.Digests) > 0))
	res := resourceOf(f)
	if !imageScoped {
		if res != nil {
			// About the cluster's own resources, not code of the
			// repository it is filed under (unmapped or a fallback).
			return scope{resource: res}
		}
		return scope{repo: mapping.NormalizeRepository(f.Repository, "")}
	}
	s := scope{image: imageName(f.Image), resource: res}
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
	return "image|" + s.image + "|" + strings.Join(s.digests, ",") + resourceKey(s.resource)
}

func (s scope) empty() bool {
	return s.repo == "" && s.image == "" && len(s.digests) == 0 && s.resource == nil
}

// workloads selects the scope's workloads from an index: for an image,
// those running one of its digests or any digest of the image name; for a
// repository, those whose image was built from it. Sorted by id.
func (s scope) workloads(ix *mapping.Index) []model.Workload {
	if s.repo != "" {
		return ix.RepoWorkloads(s.repo)
	}
	if s.resource != nil {
		if ws := s.imageWorkloads(ix); anyRunning(ws) {
			return ws
		}
		return ix.ResourceWorkloads(*s.resource)
	}
	return s.imageWorkloads(ix)
}

// imageWorkloads are the workloads running the scope's image or digests.
func (s scope) imageWorkloads(ix *mapping.Index) []model.Workload {
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
	if err == nil {
		ws, err = t.withResource(ctx, s, ws)
	}
	if err != nil {
		return nil, err
	}
	c.put(s.key(), ws)
	rc.put(s.key(), ws, gen, loaded)
	return ws, nil
}

// loadScopes is workloads for many image scopes at once (a batch's): the
// workloads of every scope not cached yet are read in one query per
// hundred images and digests, and each scope's selection is cached as
// workloads would have cached it.
func (t *Triage) loadScopes(ctx context.Context, scopes []scope) error {
	c, rc := cacheFrom(ctx), t.runtimeCache()
	var (
		todo             []scope
		images, digests  []string
		seenImg, seenDig = map[string]bool{}, map[string]bool{}
		seenKey          = map[string]bool{}
	)
	for _, s := range scopes {
		if s.repo != "" || (s.image == "" && len(s.digests) == 0) || seenKey[s.key()] {
			continue
		}
		seenKey[s.key()] = true
		if _, ok := c.get(s.key()); ok {
			continue
		}
		if ws, ok := rc.get(s.key(), time.Now().Add(-t.RuntimeTTL)); ok {
			c.put(s.key(), ws)
			continue
		}
		todo = append(todo, s)
		if s.image != "" && !seenImg[s.image] {
			seenImg[s.image] = true
			images = append(images, s.image)
		}
		for _, d := range s.digests {
			if !seenDig[d] {
				seenDig[d] = true
				digests = append(digests, d)
			}
		}
	}
	if len(todo) == 0 {
		return nil
	}
	gen, loaded := rc.generation(), time.Now()
	all, err := t.Store.WorkloadsRunningImages(ctx, images, digests)
	if err != nil {
		return err
	}
	// The same selection as loadScope's from its own query's answer: the
	// index picks each scope's workloads by its image and digests.
	ix := mapping.NewIndex(nil, all)
	for _, s := range todo {
		ws, err := t.withResource(ctx, s, s.imageWorkloads(ix))
		if err != nil {
			return err
		}
		c.put(s.key(), ws)
		rc.put(s.key(), ws, gen, loaded)
	}
	return nil
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
var runtimeCaches sync.Map // Runtime (the store read) → *runtimeCache

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

func runtimeCacheOf(st Runtime) *runtimeCache {
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
func RuntimeChanged(st Runtime) {
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
func loadScope(ctx context.Context, st Runtime, s scope) ([]model.Workload, error) {
	var ws []model.Workload
	addWorkloads := func(more []model.Workload) {
		for _, w := range more {
			if !slices.ContainsFunc(ws, func(o model.Workload) bool { return o.ID == w.ID && o.Cluster == w.Cluster }) {
				ws = append(ws, w)
			}
		}
	}
	if s.repo == "" {
		if s.image == "" && len(s.digests) == 0 {
			return nil, nil // a resource only: Triage.withResource
		}
		more, err := st.WorkloadsRunningImage(ctx, s.image, s.digests)
		if err != nil {
			return nil, err
		}
		addWorkloads(more)
		return s.imageWorkloads(mapping.NewIndex(nil, ws)), nil
	}

	arts, _, err := st.ArtifactsBuiltFrom(ctx, s.repo, 0)
	if err != nil {
		return nil, err
	}
	var digests []string
	for _, a := range arts {
		if a.Digest != "" {
			digests = append(digests, a.Digest)
		}
	}
	more, err := st.WorkloadsRunningRepository(ctx, s.repo, digests)
	if err != nil {
		return nil, err
	}
	addWorkloads(more)
	// The artifact of a workload's digest decides its repository over the
	// workload's own record; read the ones not loaded yet.
	var missing []string
	for _, w := range ws {
		if w.Digest != "" && !slices.Contains(missing, w.Digest) &&
			!slices.ContainsFunc(arts, func(a model.Artifact) bool { return a.Digest == w.Digest }) {
			missing = append(missing, w.Digest)
		}
	}
	extra, err := st.ArtifactsOf(ctx, missing)
	if err != nil {
		return nil, err
	}
	arts = append(arts, extra...)
	return s.workloads(mapping.NewIndex(arts, ws)), nil
}

// LoadRuntime reads every workload that is not gone and the artifacts of
// their digests: the whole code-to-runtime map, for mapping.NewIndex. Its
// size follows the number of workloads, not of findings.
func LoadRuntime(ctx context.Context, st Runtime) ([]model.Workload, []model.Artifact, error) {
	var (
		ws      []model.Workload
		digests []string
		seen    = map[string]bool{}
	)
	err := st.RunningWorkloads(ctx, func(w *model.Workload) error {
		ws = append(ws, *w)
		if w.Digest != "" && !seen[w.Digest] {
			seen[w.Digest] = true
			digests = append(digests, w.Digest)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	arts, err := st.ArtifactsOf(ctx, digests)
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
	ix := mapping.NewIndex(arts, ws)
	if t.Clusters != nil {
		cs, err := t.Clusters.Clusters(ctx)
		if err != nil {
			return nil, err
		}
		ix.WithClusters(cs, t.ProductionClusters)
	}
	return ix, nil
}

func isNotFound(err error) bool { return errors.Is(err, model.ErrNotFound) }

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
