package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

// Bounds of the code↔runtime answers: past them the answer says
// "truncated" instead of reading without end.
const (
	maxRepoArtifacts   = 500
	maxRepoWorkloads   = 2000
	maxDigestFinds     = 500
	runtimeDigestChunk = 100
)

// RepoRuntime answers GET /api/repos/{owner}/{repo}/runtime: where the
// code of a repository runs.
type RepoRuntime struct {
	Repository string `json:"repository"`
	// Running and Production summarize the running workloads.
	Running    int  `json:"running"`
	Production bool `json:"production"`
	// Environments are the logical environments it runs in, sorted.
	Environments []string `json:"environments"`
	// Risks are the runtime risk factors of the running workloads.
	Risks     []model.RiskFactor `json:"risks"`
	Workloads []WorkloadView     `json:"workloads"`
	Images    []ImageView        `json:"images"`
	Truncated bool               `json:"truncated,omitempty"`
}

// WorkloadView is one workload in an answer.
type WorkloadView struct {
	ID             string            `json:"id"`
	Cluster        string            `json:"cluster"`
	Namespace      string            `json:"namespace,omitempty"`
	Name           string            `json:"name"`
	DeploymentName string            `json:"deploymentName"`
	Org            string            `json:"org,omitempty"`
	Image          string            `json:"image"`
	Digest         string            `json:"digest"`
	Version        string            `json:"version,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	Production     bool              `json:"production"`
	Region         string            `json:"region,omitempty"`
	ResourceID     string            `json:"resourceId,omitempty"`
	Status         string            `json:"status"`
	Risks          []model.Risk      `json:"risks"`
	Tags           map[string]string `json:"tags,omitempty"`
	Repository     string            `json:"repository,omitempty"`
	Commit         string            `json:"commit,omitempty"`
	FirstSeen      time.Time         `json:"firstSeen"`
	LastSeen       time.Time         `json:"lastSeen"`
}

// ImageView is one image built from a repository, with its digests.
type ImageView struct {
	Image   string       `json:"image"`
	Digests []DigestView `json:"digests"`
}

// DigestView is one digest of an image.
type DigestView struct {
	Digest   string   `json:"digest"`
	Tags     []string `json:"tags,omitempty"`
	Commit   string   `json:"commit,omitempty"`
	Deleted  bool     `json:"deleted,omitempty"`
	Evidence []string `json:"evidence"` // evidence kinds, strongest first
	Running  int      `json:"running"`  // running workloads on it
}

// WorkloadRuntime answers GET /api/workloads/{cluster}/{namespace}/{name}:
// which code a workload runs and what is wrong with it.
type WorkloadRuntime struct {
	WorkloadView
	Source    *SourceView      `json:"source,omitempty"`
	ImageTags []string         `json:"imageTags,omitempty"`
	CVEs      []FindingView    `json:"cves"`
	Alerts    []FindingView    `json:"alerts"`
	Evidence  []model.Evidence `json:"evidence"`
}

// SourceView says which code built the workload's image, and on what.
type SourceView struct {
	Repository string `json:"repository"`
	Commit     string `json:"commit,omitempty"`
	Evidence   string `json:"evidence,omitempty"` // kind of the strongest evidence
	Workflow   string `json:"workflow,omitempty"`
	RunID      int64  `json:"runId,omitempty"`
}

// FindingView is one finding on the workload's digest.
type FindingView struct {
	ID           string         `json:"id"`
	Source       string         `json:"source"`
	Repository   string         `json:"repository"`
	CVE          string         `json:"cve,omitempty"`
	Title        string         `json:"title"`
	Severity     string         `json:"severity,omitempty"`
	CVSS         *float64       `json:"cvss,omitempty"`
	State        string         `json:"state"`
	Package      string         `json:"package,omitempty"`
	Version      string         `json:"version,omitempty"`
	FixedVersion string         `json:"fixedVersion,omitempty"`
	Score        float64        `json:"score"`
	Priority     model.Priority `json:"priority,omitempty"`
}

// NoNamespace stands for the empty namespace in workload paths (workloads
// reported by deployment records whose deployment_name names none).
const NoNamespace = "-"

func repoRuntime(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		repo := mapping.NormalizeRepository(r.PathValue("owner")+"/"+r.PathValue("repo"), "")
		if repo == "" {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "not a repository name"})
			return
		}
		out, err := loadRepoRuntime(r.Context(), d.Store, repo)
		if err != nil {
			invocation.Logger(r.Context()).Error("code→runtime answer failed", "repository", repo, "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error"})
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// loadRepoRuntime reads, with bounded queries, the artifacts built from a
// repository and the workloads that run them or name the repository, and
// answers through mapping.Index, so a workload counts for the repository
// its image's strongest evidence names.
func loadRepoRuntime(ctx context.Context, st *cosmos.Store, repo string) (*RepoRuntime, error) {
	out := &RepoRuntime{Repository: repo, Environments: []string{}, Risks: []model.RiskFactor{}, Workloads: []WorkloadView{}, Images: []ImageView{}}
	arts, full, err := collectBounded(ctx, st.Artifacts, cosmos.Query{
		SQL: "SELECT * FROM c WHERE c.repository = @repo", Params: map[string]any{"@repo": repo},
	}, maxRepoArtifacts)
	if err != nil {
		return nil, fmt.Errorf("artifacts of %s: %w", repo, err)
	}
	out.Truncated = !full
	digests := make([]string, 0, len(arts))
	for _, a := range arts {
		digests = append(digests, a.Digest)
	}
	ws, full, err := collectBounded(ctx, st.Workloads, cosmos.Query{
		SQL: "SELECT * FROM c WHERE c.repository = @repo", Params: map[string]any{"@repo": repo},
	}, maxRepoWorkloads)
	if err != nil {
		return nil, fmt.Errorf("workloads of %s: %w", repo, err)
	}
	out.Truncated = out.Truncated || !full
	for chunk := range slices.Chunk(digests, runtimeDigestChunk) {
		more, full, err := collectBounded(ctx, st.Workloads, cosmos.Query{
			SQL: "SELECT * FROM c WHERE ARRAY_CONTAINS(@digests, c.digest)", Params: map[string]any{"@digests": chunk},
		}, maxRepoWorkloads)
		if err != nil {
			return nil, fmt.Errorf("workloads of %s: %w", repo, err)
		}
		out.Truncated = out.Truncated || !full
		ws = append(ws, more...)
	}
	// The artifacts of workloads that only name the repository decide
	// where those workloads belong.
	var missing []string
	for _, w := range ws {
		if w.Digest != "" && !slices.Contains(digests, w.Digest) && !slices.Contains(missing, w.Digest) {
			missing = append(missing, w.Digest)
		}
	}
	for chunk := range slices.Chunk(missing, runtimeDigestChunk) {
		more, _, err := collectBounded(ctx, st.Artifacts, cosmos.Query{
			SQL: "SELECT * FROM c WHERE ARRAY_CONTAINS(@digests, c.id)", Params: map[string]any{"@digests": chunk},
		}, runtimeDigestChunk)
		if err != nil {
			return nil, fmt.Errorf("artifacts of workloads of %s: %w", repo, err)
		}
		arts = append(arts, more...)
	}

	ix := mapping.NewIndex(arts, ws)
	running := map[string]int{}
	envs := map[string]bool{}
	for _, wl := range ix.RepoWorkloads(repo) {
		v := workloadView(&wl, ix)
		out.Workloads = append(out.Workloads, v)
		if wl.Status == model.WorkloadGone {
			continue
		}
		out.Running++
		running[wl.Digest]++
		out.Production = out.Production || wl.Production
		if wl.Environment != "" {
			envs[wl.Environment] = true
		}
		for _, f := range mapping.Factors(wl.Risks) {
			if !slices.Contains(out.Risks, f) {
				out.Risks = append(out.Risks, f)
			}
		}
	}
	for e := range envs {
		out.Environments = append(out.Environments, e)
	}
	slices.Sort(out.Environments)
	slices.Sort(out.Risks)

	byImage := map[string]*ImageView{}
	var names []string
	for _, a := range arts {
		if src, ok := ix.Source(a.Digest); !ok || src.Repository != repo {
			continue
		}
		img := a.Image
		if byImage[img] == nil {
			byImage[img] = &ImageView{Image: img}
			names = append(names, img)
		}
		dv := DigestView{Digest: a.Digest, Tags: a.Tags, Commit: a.Commit, Deleted: a.Deleted, Running: running[a.Digest], Evidence: []string{}}
		for _, e := range a.Evidence {
			if !slices.Contains(dv.Evidence, string(e.Kind)) {
				dv.Evidence = append(dv.Evidence, string(e.Kind))
			}
		}
		byImage[img].Digests = append(byImage[img].Digests, dv)
	}
	slices.Sort(names)
	for _, n := range names {
		iv := byImage[n]
		slices.SortFunc(iv.Digests, func(a, b DigestView) int { return strings.Compare(a.Digest, b.Digest) })
		out.Images = append(out.Images, *iv)
	}
	return out, nil
}

// workloadView is the answer's form of a workload, with its source from ix.
func workloadView(w *model.Workload, ix *mapping.Index) WorkloadView {
	v := WorkloadView{
		ID: w.ID, Cluster: w.Cluster, Namespace: w.Namespace, Name: w.Name,
		DeploymentName: inventory.DeploymentName(w), Org: w.Org,
		Image: w.Image, Digest: w.Digest, Version: w.Version,
		Environment: w.Environment, Production: w.Production, Region: w.Region,
		ResourceID: w.ResourceID, Status: string(w.Status), Risks: w.Risks, Tags: w.Tags,
		Repository: w.Repository, FirstSeen: w.FirstSeen, LastSeen: w.LastSeen,
	}
	if v.Risks == nil {
		v.Risks = []model.Risk{}
	}
	if repo, ok := ix.WorkloadRepo(w.ID); ok {
		v.Repository = repo
	}
	if src, ok := ix.Source(w.Digest); ok && src.Repository == v.Repository {
		v.Commit = src.Commit
	}
	return v
}

func workloadRuntime(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cluster, ns, name := r.PathValue("cluster"), r.PathValue("namespace"), r.PathValue("name")
		if ns == NoNamespace {
			ns = ""
		}
		q := r.URL.Query()
		out, err := loadWorkloadRuntime(r.Context(), d.Store, cluster, ns, name, q.Get("environment"), q.Get("region"))
		switch {
		case errors.Is(err, cosmos.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "no such workload"})
		case err != nil:
			invocation.Logger(r.Context()).Error("runtime→code answer failed", "cluster", cluster, "name", name, "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error"})
		default:
			writeJSON(w, http.StatusOK, out)
		}
	}
}

// loadWorkloadRuntime reads one workload, its digest's artifact and the
// findings on that digest. One cluster and deployment name may hold a
// workload per environment (GitHub's record identity): environment and
// region (logical and physical environment, "" = any) pick one; of those
// left, a running one before a gone one, production first, then by
// environment name.
func loadWorkloadRuntime(ctx context.Context, st *cosmos.Store, cluster, ns, name, env, region string) (*WorkloadRuntime, error) {
	wl, err := pickWorkload(ctx, st, cluster, ns, name, env, region)
	if err != nil {
		return nil, err
	}
	var arts []model.Artifact
	if wl.Digest != "" {
		a, err := st.Artifacts.Get(ctx, wl.Digest, wl.Digest)
		switch {
		case err == nil:
			arts = append(arts, *a)
		case !errors.Is(err, cosmos.ErrNotFound):
			return nil, fmt.Errorf("artifact %s: %w", wl.Digest, err)
		}
	}
	ix := mapping.NewIndex(arts, []model.Workload{*wl})
	out := &WorkloadRuntime{WorkloadView: workloadView(wl, ix), CVEs: []FindingView{}, Alerts: []FindingView{}, Evidence: []model.Evidence{}}
	if src, ok := ix.Source(wl.Digest); ok {
		out.Source = &SourceView{Repository: src.Repository, Commit: src.Commit, Evidence: string(src.Best.Kind),
			Workflow: src.Best.Workflow, RunID: src.Best.RunID}
	} else if repo := mapping.NormalizeRepository(wl.Repository, wl.Org); repo != "" {
		out.Source = &SourceView{Repository: repo}
	}
	if len(arts) > 0 {
		out.ImageTags = arts[0].Tags
		if arts[0].Evidence != nil {
			out.Evidence = arts[0].Evidence
		}
	}
	if wl.Digest == "" {
		return out, nil
	}
	fs, _, err := collectBounded(ctx, st.Findings, cosmos.Query{
		SQL: "SELECT * FROM c WHERE ARRAY_CONTAINS(c.digests, @digest)", Params: map[string]any{"@digest": wl.Digest},
	}, maxDigestFinds)
	if err != nil {
		return nil, fmt.Errorf("findings on %s: %w", wl.Digest, err)
	}
	slices.SortFunc(fs, func(a, b model.Finding) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, f := range fs {
		fv := FindingView{ID: f.ID, Source: string(f.Source), Repository: f.Repository, CVE: f.CVE, Title: f.Title,
			Severity: f.Severity, CVSS: f.CVSS, State: string(f.State), Score: f.Score, Priority: f.Priority}
		if f.Package != nil {
			fv.Package, fv.Version, fv.FixedVersion = f.Package.Name, f.Package.Version, f.Package.FixedVersion
		}
		if f.Source == model.SourceDefenderAlert {
			out.Alerts = append(out.Alerts, fv)
		} else {
			out.CVEs = append(out.CVEs, fv)
		}
	}
	return out, nil
}

var errRuntimeEnough = errors.New("enough")

// collectBounded runs q and returns at most limit results; full is false when
// there were more.
func collectBounded[T any](ctx context.Context, c *cosmos.Container[T], q cosmos.Query, limit int) (out []T, full bool, err error) {
	full = true
	err = c.Query(ctx, q, func(doc *T) error {
		if len(out) >= limit {
			full = false
			return errRuntimeEnough
		}
		out = append(out, *doc)
		return nil
	})
	if err != nil && !errors.Is(err, errRuntimeEnough) {
		return nil, false, err
	}
	return out, full, nil
}

func pickWorkload(ctx context.Context, st *cosmos.Store, cluster, ns, name, env, region string) (*model.Workload, error) {
	ws, err := store.New(st).WorkloadsNamed(ctx, cluster, ns, name)
	if err != nil {
		return nil, err
	}
	ws = slices.DeleteFunc(ws, func(w model.Workload) bool {
		return (env != "" && w.Environment != env) || (region != "" && w.Region != region)
	})
	if len(ws) == 0 {
		return nil, cosmos.ErrNotFound
	}
	rank := func(w *model.Workload) int {
		n := 0
		if w.Status == model.WorkloadGone {
			n += 2
		}
		if !w.Production {
			n++
		}
		return n
	}
	slices.SortStableFunc(ws, func(a, b model.Workload) int {
		if d := rank(&a) - rank(&b); d != 0 {
			return d
		}
		return strings.Compare(a.Environment+"\x00"+a.Region+"\x00"+a.Org, b.Environment+"\x00"+b.Region+"\x00"+b.Org)
	})
	return &ws[0], nil
}
