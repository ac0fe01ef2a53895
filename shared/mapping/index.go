package mapping

import (
	"maps"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Index answers code → runtime and runtime → code over a set of artifacts
// and workloads the caller loaded. It is read-only once built.
type Index struct {
	workloads  []model.Workload // sorted by id, one per id
	byID       map[string]int
	repoOf     []string // per workload: its source repository, "" when unknown
	byRepo     map[string][]int
	byImage    map[string][]int
	byDigest   map[string][]int
	artifacts  map[string]model.Artifact
	resolution map[string]Resolution
	byCluster  map[string][]int // lower-case cluster name
	clusters   map[string]model.Cluster
	rule       ClusterRule
}

// NewIndex indexes workloads by repository, image and digest. A workload's
// repository is the one of its digest's artifact (the strongest evidence:
// the artifact's Repository, else a resolution of its evidence) and, when
// no artifact names one, the workload's own Repository (its deployment
// record's github_repository). Gone workloads are indexed too; callers
// filter on Status. When two workloads share an id, the one seen last
// (LastSeen) is kept.
func NewIndex(artifacts []model.Artifact, workloads []model.Workload) *Index {
	ix := &Index{
		byID:       make(map[string]int, len(workloads)),
		byRepo:     make(map[string][]int),
		byImage:    make(map[string][]int),
		byDigest:   make(map[string][]int),
		byCluster:  make(map[string][]int),
		artifacts:  make(map[string]model.Artifact, len(artifacts)),
		resolution: make(map[string]Resolution, len(artifacts)),
	}
	for _, a := range artifacts {
		d := a.Digest
		if d == "" {
			d = a.ID
		}
		if d == "" {
			continue
		}
		ix.artifacts[d] = a
		if r, ok := Resolve(a.Evidence); ok {
			ix.resolution[d] = r
		}
	}

	ws := slices.Clone(workloads)
	slices.SortStableFunc(ws, func(a, b model.Workload) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return b.LastSeen.Compare(a.LastSeen) // newest first
	})
	ws = slices.CompactFunc(ws, func(a, b model.Workload) bool { return a.ID == b.ID })
	ix.workloads = ws
	ix.repoOf = make([]string, len(ws))
	for i := range ws {
		w := &ws[i]
		ix.byID[w.ID] = i
		repo := ix.digestRepo(w.Digest)
		if repo == "" {
			repo = NormalizeRepository(w.Repository, w.Org)
		}
		ix.repoOf[i] = repo
		if repo != "" {
			ix.byRepo[repo] = append(ix.byRepo[repo], i)
		}
		if img := imageKey(w.Image); img != "" {
			ix.byImage[img] = append(ix.byImage[img], i)
		}
		if w.Digest != "" {
			ix.byDigest[w.Digest] = append(ix.byDigest[w.Digest], i)
		}
		if c := strings.ToLower(w.Cluster); c != "" {
			ix.byCluster[c] = append(ix.byCluster[c], i)
		}
	}
	return ix
}

// WithClusters adds what Defender says of clusters as a whole, and the
// rule naming production clusters, for ResourceWorkloads; it returns ix.
func (ix *Index) WithClusters(clusters []model.Cluster, rule ClusterRule) *Index {
	ix.clusters = make(map[string]model.Cluster, len(clusters))
	for _, c := range clusters {
		ix.clusters[strings.ToLower(c.ID)] = c
	}
	ix.rule = rule
	return ix
}

// ResourceWorkloads is the runtime context of a finding about a running
// resource (see the package function ResourceWorkloads), from the
// indexed workloads of its cluster.
func (ix *Index) ResourceWorkloads(r model.Resource) []model.Workload {
	name := strings.ToLower(r.Cluster)
	var c *model.Cluster
	if v, ok := ix.clusters[name]; ok {
		c = &v
	}
	return ResourceWorkloads(r, c, ix.pick(ix.byCluster[name]), ix.rule)
}

// digestRepo is the repository the artifact of a digest is built from.
func (ix *Index) digestRepo(digest string) string {
	if digest == "" {
		return ""
	}
	if a, ok := ix.artifacts[digest]; ok {
		if r := NormalizeRepository(a.Repository, ""); r != "" {
			return r
		}
	}
	return ix.resolution[digest].Repository
}

// imageKey normalises an image name for lookups; a name that does not
// parse is used as given, lower case, so it still matches itself.
func imageKey(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return ""
	}
	if ref, err := ParseImageRef(s); err == nil {
		return ref.Name()
	}
	return strings.ToLower(s)
}

func (ix *Index) pick(idx []int) []model.Workload {
	if len(idx) == 0 {
		return nil
	}
	out := make([]model.Workload, len(idx))
	for i, j := range idx {
		out[i] = ix.workloads[j]
	}
	return out
}

// RepoWorkloads lists the workloads running images built from a
// repository (any accepted spelling), sorted by id.
func (ix *Index) RepoWorkloads(repo string) []model.Workload {
	return ix.pick(ix.byRepo[NormalizeRepository(repo, "")])
}

// WorkloadRepo is the source repository of a workload.
func (ix *Index) WorkloadRepo(workloadID string) (string, bool) {
	i, ok := ix.byID[workloadID]
	if !ok || ix.repoOf[i] == "" {
		return "", false
	}
	return ix.repoOf[i], true
}

// Workload returns one workload by id.
func (ix *Index) Workload(id string) (model.Workload, bool) {
	i, ok := ix.byID[id]
	if !ok {
		return model.Workload{}, false
	}
	return ix.workloads[i], true
}

// ImageWorkloads lists the workloads running any digest of an image,
// sorted by id; the name may carry a tag or digest, both ignored.
func (ix *Index) ImageWorkloads(image string) []model.Workload {
	return ix.pick(ix.byImage[imageKey(image)])
}

// DigestWorkloads lists the workloads running one digest, sorted by id.
func (ix *Index) DigestWorkloads(digest string) []model.Workload {
	return ix.pick(ix.byDigest[strings.TrimSpace(digest)])
}

// Artifact returns the artifact of a digest.
func (ix *Index) Artifact(digest string) (model.Artifact, bool) {
	a, ok := ix.artifacts[digest]
	return a, ok
}

// Source says which code a digest was built from and on what evidence.
// The artifact's own Repository and Commit, set when it was stored, win
// over a fresh resolution of its evidence (which may have been trimmed).
func (ix *Index) Source(digest string) (Resolution, bool) {
	r, ok := ix.resolution[digest]
	a, known := ix.artifacts[digest]
	if !known {
		return r, ok
	}
	if repo := NormalizeRepository(a.Repository, ""); repo != "" && repo != r.Repository {
		return Resolution{Repository: repo, Commit: a.Commit}, true
	}
	if ok && a.Commit != "" {
		r.Commit = a.Commit
	}
	return r, ok
}

// Repositories lists every repository with at least one workload, sorted.
func (ix *Index) Repositories() []string {
	return slices.Sorted(maps.Keys(ix.byRepo))
}
