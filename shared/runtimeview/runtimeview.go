// Package runtimeview answers runtimelink's two code↔runtime questions:
// where the code of a repository runs (Repository), and which code a
// workload runs and what is wrong with it (Workload). Both read through
// the small Reader interface (shared/store in the app) with bounded reads,
// and decide through mapping.Index, so a workload counts for the
// repository its image's strongest evidence names, as in scoring.
package runtimeview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Reader is what the views read. Limits bound each answer: past them the
// view says Truncated instead of reading without end. Errors wrap
// model.ErrNotFound for a missing document.
type Reader interface {
	ArtifactsBuiltFrom(ctx context.Context, repo string, limit int) ([]model.Artifact, bool, error)
	ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error)
	Artifact(ctx context.Context, digest string) (*model.Artifact, error)
	WorkloadsNamingRepository(ctx context.Context, repo string, limit int) ([]model.Workload, bool, error)
	WorkloadsOnDigests(ctx context.Context, digests []string, limit int) ([]model.Workload, bool, error)
	WorkloadsNamed(ctx context.Context, cluster, namespace, name string) ([]model.Workload, error)
	FindingsOnDigest(ctx context.Context, digest string, limit int) ([]model.Finding, bool, error)
}

// Bounds of the answers.
const (
	maxRepoArtifacts = 500
	maxRepoWorkloads = 2000
	maxDigestFinds   = 500
)

// RepoRuntime is where the code of a repository runs.
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

// WorkloadRuntime is which code a workload runs and what is wrong with it.
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

// Repository reads, with bounded reads, the artifacts built from repo
// (normalized "owner/name") and the workloads that run them or name the
// repository, and says where its code runs.
func Repository(ctx context.Context, r Reader, repo string) (*RepoRuntime, error) {
	arts, artsComplete, err := r.ArtifactsBuiltFrom(ctx, repo, maxRepoArtifacts)
	if err != nil {
		return nil, fmt.Errorf("artifacts of %s: %w", repo, err)
	}
	digests := make([]string, 0, len(arts))
	for _, a := range arts {
		digests = append(digests, a.Digest)
	}
	ws, namingComplete, err := r.WorkloadsNamingRepository(ctx, repo, maxRepoWorkloads)
	if err != nil {
		return nil, fmt.Errorf("workloads of %s: %w", repo, err)
	}
	running, runningComplete, err := r.WorkloadsOnDigests(ctx, digests, maxRepoWorkloads)
	if err != nil {
		return nil, fmt.Errorf("workloads of %s: %w", repo, err)
	}
	ws = append(ws, running...)
	// The artifacts of workloads that only name the repository decide
	// where those workloads belong.
	var missing []string
	for _, w := range ws {
		if w.Digest != "" && !slices.Contains(digests, w.Digest) && !slices.Contains(missing, w.Digest) {
			missing = append(missing, w.Digest)
		}
	}
	more, err := r.ArtifactsOf(ctx, missing)
	if err != nil {
		return nil, fmt.Errorf("artifacts of workloads of %s: %w", repo, err)
	}
	arts = append(arts, more...)
	out := RepositoryOf(repo, arts, ws)
	out.Truncated = !artsComplete || !namingComplete || !runningComplete
	return out, nil
}

// RepositoryOf says where repo's code runs, given the artifacts and
// workloads that may run it.
func RepositoryOf(repo string, arts []model.Artifact, ws []model.Workload) *RepoRuntime {
	out := &RepoRuntime{Repository: repo, Environments: []string{}, Risks: []model.RiskFactor{}, Workloads: []WorkloadView{}, Images: []ImageView{}}
	ix := mapping.NewIndex(arts, ws)
	running := map[string]int{}
	envs := map[string]bool{}
	for _, wl := range ix.RepoWorkloads(repo) {
		out.Workloads = append(out.Workloads, workloadView(&wl, ix))
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
	return out
}

// workloadView is the answer's form of a workload, with its source from ix.
func workloadView(w *model.Workload, ix *mapping.Index) WorkloadView {
	v := WorkloadView{
		ID: w.ID, Cluster: w.Cluster, Namespace: w.Namespace, Name: w.Name,
		DeploymentName: w.DeploymentName(), Org: w.Org,
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

// Workload reads one workload (namespace "" for none), its digest's
// artifact and the findings on that digest; the error wraps
// model.ErrNotFound when there is no such workload. One cluster and
// deployment name may hold a workload per environment (GitHub's record
// identity): environment and region (logical and physical environment,
// "" = any) pick among them (PickWorkload).
func Workload(ctx context.Context, r Reader, cluster, namespace, name, environment, region string) (*WorkloadRuntime, error) {
	ws, err := r.WorkloadsNamed(ctx, cluster, namespace, name)
	if err != nil {
		return nil, err
	}
	wl, ok := PickWorkload(ws, environment, region)
	if !ok {
		return nil, fmt.Errorf("workload %s/%s in %s: %w", namespace, name, cluster, model.ErrNotFound)
	}
	var art *model.Artifact
	var fs []model.Finding
	if wl.Digest != "" {
		art, err = r.Artifact(ctx, wl.Digest)
		switch {
		case errors.Is(err, model.ErrNotFound):
			art = nil
		case err != nil:
			return nil, fmt.Errorf("artifact %s: %w", wl.Digest, err)
		}
		fs, _, err = r.FindingsOnDigest(ctx, wl.Digest, maxDigestFinds)
		if err != nil {
			return nil, fmt.Errorf("findings on %s: %w", wl.Digest, err)
		}
	}
	return WorkloadOf(wl, art, fs), nil
}

// PickWorkload chooses among the workloads of one cluster and deployment
// name: those of environment and region ("" = any); of those left, a
// running one before a gone one, production first, then by environment,
// region and org. ok is false when none is left.
func PickWorkload(ws []model.Workload, environment, region string) (w *model.Workload, ok bool) {
	ws = slices.DeleteFunc(slices.Clone(ws), func(w model.Workload) bool {
		return (environment != "" && w.Environment != environment) || (region != "" && w.Region != region)
	})
	if len(ws) == 0 {
		return nil, false
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
	return &ws[0], true
}

// WorkloadOf says which code wl runs (art is its digest's artifact, nil
// when there is none) and what is wrong with it (fs, the findings on its
// digest), highest first.
func WorkloadOf(wl *model.Workload, art *model.Artifact, fs []model.Finding) *WorkloadRuntime {
	var arts []model.Artifact
	if art != nil {
		arts = append(arts, *art)
	}
	ix := mapping.NewIndex(arts, []model.Workload{*wl})
	out := &WorkloadRuntime{WorkloadView: workloadView(wl, ix), CVEs: []FindingView{}, Alerts: []FindingView{}, Evidence: []model.Evidence{}}
	if src, ok := ix.Source(wl.Digest); ok {
		out.Source = &SourceView{Repository: src.Repository, Commit: src.Commit, Evidence: string(src.Best.Kind),
			Workflow: src.Best.Workflow, RunID: src.Best.RunID}
	} else if repo := mapping.NormalizeRepository(wl.Repository, wl.Org); repo != "" {
		out.Source = &SourceView{Repository: repo}
	}
	if art != nil {
		out.ImageTags = art.Tags
		if art.Evidence != nil {
			out.Evidence = art.Evidence
		}
	}
	fs = slices.Clone(fs)
	slices.SortFunc(fs, model.CompareFindings)
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
	return out
}
