// Package riskreport lays out runtimelink's report page: the open
// findings by priority, how many the runtime context raised or lowered,
// the top findings with the factors of their scores, and the
// code-to-runtime map of every repository. It reads through the small
// Source interface (shared/store in the app); rendering it is the API's.
package riskreport

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/scoring"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Source is what the report reads: the open findings and the runtime.
type Source interface {
	OpenFindings(ctx context.Context, fn func(f *model.Finding) error) error
	triage.Runtime
}

// Options say how the report scores and when and by what it was made.
// The zero Policy is scoring.DefaultPolicy, the zero Threshold High.
type Options struct {
	Policy    scoring.Policy
	Threshold model.Priority // the lowest priority that gets an issue
	Generated time.Time
	Version   string
	// Cloud links the Defender records explanations name to its portal
	// (RUNTIMELINK_CLOUD); the zero Cloud names them without a link.
	Cloud mapping.Cloud
	// ClusterFindingsTeam ("org/team"; "" = off) owns the findings about a
	// cluster no repository builds (RUNTIMELINK_CLUSTER_FINDINGS_TEAM);
	// ClusterFallback says what becomes of them, fallback on or off
	// (config.Config.ClusterFindingsFallback), shown with them.
	ClusterFindingsTeam string
	ClusterFallback     string
}

// topFindings is how many findings the report explains.
const topFindings = 15

// Report is what the report page shows.
type Report struct {
	Generated string
	Version   string
	Threshold model.Priority
	// Counts are the open findings by priority, Critical first.
	Counts []PriorityCount
	Open   int
	// Deployed counts open findings running somewhere, Production those
	// running in production, Exposed those with a runtime risk factor.
	Deployed, Production, Exposed int
	// Raised and Lowered count open findings whose runtime context moved
	// them to another priority band than their base score alone.
	Raised, Lowered int
	Top             []TopFinding
	Repos           []RepoMap
	// Unmapped are running workloads whose image has no known source.
	Unmapped []WorkloadRow
	// Clusters lists, per cluster, the open findings about its own
	// resources that no repository builds (an alert on kube-system): their
	// owners are unknown, but they run there.
	Clusters []ClusterFindings
	// ClusterFallback says whether such findings have a fallback
	// repository and team, each on or off (Options.ClusterFallback).
	ClusterFallback string
}

// ClusterFindings are the open findings about one cluster's own resources.
type ClusterFindings struct {
	Cluster string
	// Owner is the fallback team ("owner @org/team") or "owners unknown".
	Owner    string
	Counts   []PriorityCount
	Findings []ClusterFinding
}

// ClusterFinding is one of them.
type ClusterFinding struct {
	Title, Resource string
	Priority        model.Priority
	Score           float64
}

// PriorityCount is one priority's number of open findings.
type PriorityCount struct {
	Priority model.Priority
	Count    int
	Percent  float64 // of all open findings, for the bar
}

// TopFinding is one explained finding of the report.
type TopFinding struct {
	Rank         int
	F            model.Finding
	Base         float64
	BasePriority model.Priority
	Move         string // "raised", "lowered" or ""
	Owner        string // the repository, or the cluster with its fallback team or owners unknown (mapping.OwnerLabel)
	Where        string // image, manifest or code location
	Factors      []FactorRow
	Capped       bool
	Sum          float64 // of the factors, before the cap
}

// FactorRow is one factor of a score.
type FactorRow struct {
	// Source is readable: a Defender record by name, not its ARM id;
	// Parts are the same with the portal link of each record.
	Name, Effect, Change, Source string
	Parts                        []mapping.SourcePart
	Kind                         string // base, up, down, same
	Width                        float64
}

// RepoMap is one repository's code→runtime map.
type RepoMap struct {
	Repository string
	Counts     []PriorityCount // open findings
	Images     []ImageMap
	Running    int
}

// ImageMap is one image built from a repository.
type ImageMap struct {
	Image   string
	Digests []DigestMap
}

// DigestMap is one digest and the workloads running it.
type DigestMap struct {
	Digest, Commit, Evidence string
	Workloads                []WorkloadRow
}

// WorkloadRow is one workload in the map.
type WorkloadRow struct {
	Name, Environment, Region string
	Production                bool
	Risks                     []string
}

// Build reads the open findings once, streaming (only the counts, the
// top findings and per-repository counts are kept), and the
// code-to-runtime map, and lays out the report.
func Build(ctx context.Context, src Source, o Options) (*Report, error) {
	policy := o.Policy
	if policy == (scoring.Policy{}) {
		policy = scoring.DefaultPolicy()
	}
	threshold := o.Threshold
	if threshold.Rank() == 0 {
		threshold = model.PriorityHigh
	}
	rep := &Report{Generated: o.Generated.UTC().Format("2006-01-02 15:04 UTC"), Version: o.Version, Threshold: threshold, ClusterFallback: o.ClusterFallback}

	counts := map[model.Priority]int{}
	repoCounts := map[string]map[model.Priority]int{}
	var top []model.Finding
	clusters := map[string]*ClusterFindings{}
	err := src.OpenFindings(ctx, func(f *model.Finding) error {
		rep.Open++
		if f.Cluster != "" && (f.Repository == "" || f.Repository == model.UnmappedRepository) {
			c := clusters[f.Cluster]
			if c == nil {
				c = &ClusterFindings{Cluster: f.Cluster, Owner: mapping.ClusterOwner(o.ClusterFindingsTeam)}
				clusters[f.Cluster] = c
			}
			cf := ClusterFinding{Title: f.Title, Priority: f.Priority, Score: f.Score}
			if r := f.Resource; r != nil {
				cf.Resource = strings.Trim(r.Namespace+"/"+r.Name, "/")
			}
			c.Findings = append(c.Findings, cf)
		}
		counts[f.Priority]++
		repo := mapping.NormalizeRepository(f.Repository, "")
		if repo == "" {
			repo = f.Repository
		}
		if repoCounts[repo] == nil {
			repoCounts[repo] = map[model.Priority]int{}
		}
		repoCounts[repo][f.Priority]++
		if f.Deployed {
			rep.Deployed++
		}
		if len(f.RuntimeRisks) > 0 {
			rep.Exposed++
		}
		if deployFactor(f) == policy.Deployment.Production && f.Deployed {
			rep.Production++
		}
		switch _, moved := policy.Movement(f); moved {
		case 1:
			rep.Raised++
		case -1:
			rep.Lowered++
		}
		top = keepTop(top, *f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	rep.Counts = priorityCounts(counts, rep.Open)
	for i, f := range top {
		rep.Top = append(rep.Top, topFinding(policy, o, i+1, f))
	}
	for _, c := range clusters {
		slices.SortFunc(c.Findings, func(a, b ClusterFinding) int {
			if d := b.Priority.Rank() - a.Priority.Rank(); d != 0 {
				return d
			}
			return strings.Compare(a.Title, b.Title)
		})
		n := map[model.Priority]int{}
		for _, f := range c.Findings {
			n[f.Priority]++
		}
		c.Counts = priorityCounts(n, 0)
		rep.Clusters = append(rep.Clusters, *c)
	}
	slices.SortFunc(rep.Clusters, func(a, b ClusterFindings) int { return strings.Compare(a.Cluster, b.Cluster) })

	ws, arts, err := triage.LoadRuntime(ctx, src)
	if err != nil {
		return nil, err
	}
	rep.Repos, rep.Unmapped = runtimeMap(mapping.NewIndex(arts, ws), ws, repoCounts)
	return rep, nil
}

// keepTop keeps the topFindings highest findings, highest first.
func keepTop(top []model.Finding, f model.Finding) []model.Finding {
	i, _ := slices.BinarySearchFunc(top, f, model.CompareFindings)
	if i >= topFindings {
		return top
	}
	top = slices.Insert(top, i, f)
	if len(top) > topFindings {
		top = top[:topFindings]
	}
	return top
}

func priorityCounts(counts map[model.Priority]int, total int) []PriorityCount {
	var out []PriorityCount
	for _, p := range []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow} {
		pc := PriorityCount{Priority: p, Count: counts[p]}
		if total > 0 {
			pc.Percent = math.Round(float64(pc.Count)*1000/float64(total)) / 10
		}
		out = append(out, pc)
	}
	return out
}

func deployFactor(f *model.Finding) float64 {
	for _, x := range f.Explanation.Factors {
		if x.Name == scoring.FactorDeployment {
			return x.Value
		}
	}
	return 0
}

func topFinding(p scoring.Policy, o Options, rank int, f model.Finding) TopFinding {
	cloud := o.Cloud
	t := TopFinding{Rank: rank, F: f, Base: scoring.BaseOf(&f), Capped: f.Explanation.Capped, Owner: mapping.OwnerLabel(&f, o.ClusterFindingsTeam)}
	var moved int
	t.BasePriority, moved = p.Movement(&f)
	switch moved {
	case 1:
		t.Move = "raised"
	case -1:
		t.Move = "lowered"
	}
	switch {
	case f.Image != "":
		t.Where = f.Image
	case f.Location.Manifest != "":
		t.Where = f.Location.Manifest
	case f.Location.Path != "":
		t.Where = f.Location.Path
	}
	for _, x := range f.Explanation.Factors {
		t.Sum += x.Contribution
		row := FactorRow{Name: x.Name, Effect: remediation.FactorEffect(x), Change: signed(x.Contribution),
			Source: mapping.ReadableSourceText(x.Source), Parts: mapping.ReadableSource(cloud, x.Source), Kind: "same"}
		switch {
		case x.Name == scoring.FactorBase:
			row.Kind, row.Change = "base", Num(x.Contribution)
		case x.Contribution > 0:
			row.Kind = "up"
		case x.Contribution < 0:
			row.Kind = "down"
		}
		row.Width = math.Min(100, math.Abs(x.Contribution)*10)
		t.Factors = append(t.Factors, row)
	}
	t.Sum = math.Round(t.Sum*100) / 100
	return t
}

// runtimeMap lays out, per repository, the images built from it, their
// digests and the workloads running them; repositories with open findings
// but nothing running are listed too.
func runtimeMap(ix *mapping.Index, ws []model.Workload, repoCounts map[string]map[model.Priority]int) ([]RepoMap, []WorkloadRow) {
	repos := ix.Repositories()
	for r := range repoCounts {
		if !slices.Contains(repos, r) && r != model.UnmappedRepository {
			repos = append(repos, r)
		}
	}
	var out []RepoMap
	for _, repo := range repos {
		rm := RepoMap{Repository: repo, Counts: priorityCounts(repoCounts[repo], 0)}
		for _, w := range ix.RepoWorkloads(repo) {
			rm.Running++
			img := imageEntry(&rm, w.Image)
			dg := digestEntry(img, w.Digest)
			if dg.Evidence == "" {
				dg.Evidence = "deployment record"
				if src, ok := ix.Source(w.Digest); ok {
					dg.Commit = shortCommit(src.Commit)
					if src.Best.Kind != "" {
						dg.Evidence = string(src.Best.Kind)
					} else {
						dg.Evidence = "registry record"
					}
				}
			}
			dg.Workloads = append(dg.Workloads, workloadRow(&w))
		}
		out = append(out, rm)
	}
	slices.SortFunc(out, func(a, b RepoMap) int {
		for i := range a.Counts {
			if a.Counts[i].Count != b.Counts[i].Count {
				return b.Counts[i].Count - a.Counts[i].Count
			}
		}
		return strings.Compare(a.Repository, b.Repository)
	})
	var unmapped []WorkloadRow
	for i := range ws {
		if _, ok := ix.WorkloadRepo(ws[i].ID); !ok {
			row := workloadRow(&ws[i])
			row.Name += " · " + ws[i].Image
			unmapped = append(unmapped, row)
		}
	}
	slices.SortFunc(unmapped, func(a, b WorkloadRow) int { return strings.Compare(a.Name, b.Name) })
	return out, unmapped
}

func imageEntry(rm *RepoMap, image string) *ImageMap {
	return entry(&rm.Images, func(m *ImageMap) bool { return m.Image == image }, ImageMap{Image: image})
}

func digestEntry(img *ImageMap, digest string) *DigestMap {
	return entry(&img.Digests, func(m *DigestMap) bool { return m.Digest == digest }, DigestMap{Digest: digest})
}

// entry is the element of *xs that is, appending fresh when none is.
func entry[T any](xs *[]T, is func(*T) bool, fresh T) *T {
	for i := range *xs {
		if is(&(*xs)[i]) {
			return &(*xs)[i]
		}
	}
	*xs = append(*xs, fresh)
	return &(*xs)[len(*xs)-1]
}

func workloadRow(w *model.Workload) WorkloadRow {
	name := w.Cluster + "/" + w.Name
	if w.Namespace != "" {
		name = w.Cluster + "/" + w.Namespace + "/" + w.Name
	}
	row := WorkloadRow{Name: name, Environment: w.Environment, Region: w.Region, Production: w.Production}
	for _, r := range mapping.MergeRisks(w.Risks) {
		if !slices.Contains(row.Risks, string(r.Factor)) {
			row.Risks = append(row.Risks, string(r.Factor))
		}
	}
	return row
}

// ShortDigest is a digest cut to its algorithm and 12 hex digits.
func ShortDigest(d string) string {
	if algo, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		return algo + ":" + hex[:12]
	}
	return d
}

func shortCommit(c string) string {
	if len(c) > 7 {
		return c[:7]
	}
	return c
}

func signed(v float64) string {
	switch {
	case v > 0:
		return "+" + Num(v)
	case v < 0:
		return "−" + Num(-v)
	}
	return "±0"
}

// Num writes a score or contribution with at most two decimals.
func Num(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
