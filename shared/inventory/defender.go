package inventory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// DefenderTool names Defender in findings' Tool field.
const DefenderTool = "Microsoft Defender for Cloud"

// DefenderStats counts what ingesting a batch of Defender records did.
type DefenderStats struct {
	Records     int // records given
	CVEs        int // CVE-on-image entries read from sub-assessments
	Assessments int // assessments on Kubernetes clusters applied to workloads
	Alerts      int // alerts stored as findings
	// FindingsWritten counts finding writes (new or changed); Resolved those
	// that left the finding resolved.
	FindingsWritten int
	Resolved        int
	// WorkloadsChanged counts workloads whose risks changed.
	WorkloadsChanged int
	// Ignored counts records read but not used, by reason.
	Ignored map[string]int
}

// Reasons a record is ignored.
const (
	IgnoredNoCVE          = "sub-assessment names no CVE"
	IgnoredNotCluster     = "assessment not on a Kubernetes cluster"
	IgnoredUnknownFinding = "healthy or deleted CVE never seen unhealthy"
	IgnoredNoDigest       = "deleted sub-assessment matches no finding"
	IgnoredSuperseded     = "superseded by a later record of the same batch"
)

type counters struct {
	cves, assessments, alerts, written, resolved, workloads atomic.Int64
	mu                                                      sync.Mutex
	ignored                                                 map[string]int
}

func (c *counters) ignore(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ignored == nil {
		c.ignored = map[string]int{}
	}
	c.ignored[reason]++
}

// unit is one write of a batch. Units with the same key touch the same
// documents and run in batch order on one worker; others run in parallel.
type unit struct {
	key string
	run func(ctx context.Context) error
}

// unitCluster prefixes the keys of units that change workloads.
const unitCluster = "cluster|"

// batch is the state of one IngestDefender call: counters and a cache of the
// artifacts read, so a digest named by many CVEs is read once.
type batch struct {
	inv       *Inventory
	n         counters
	artifacts sync.Map // digest → *artifactEntry
	clusters  sync.Map // cluster match key → *clusterEntry
}

type artifactEntry struct {
	once       sync.Once
	repository string
	dockerfile string
	err        error
}

type clusterEntry struct {
	once      sync.Once
	workloads []workloadRef
	err       error
}

type workloadRef struct{ cluster, id string }

// run executes units on a fixed set of workers, each unit on the worker its
// key hashes to, and stops at the first error.
func (i *Inventory) run(ctx context.Context, units []unit) error {
	if len(units) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n := min(i.workers(), len(units))
	queues := make([]chan unit, n)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := range queues {
		queues[w] = make(chan unit, 64)
		wg.Add(1)
		go func(q <-chan unit) {
			defer wg.Done()
			for u := range q {
				if ctx.Err() != nil {
					continue // drain
				}
				if err := u.run(ctx); err != nil {
					once.Do(func() { first = err; cancel(err) })
				}
			}
		}(queues[w])
	}
	for _, u := range units {
		h := fnv.New32a()
		h.Write([]byte(u.key))
		queues[int(h.Sum32())%n] <- u
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// registryHosts gives the CVEs that name their registry only by resource
// id (the legacy format) the login server of that registry in the
// configured cloud.
func (i *Inventory) registryHosts(recs []defender.Record) {
	for k := range recs {
		s := recs[k].SubAssessment
		if recs[k].Kind != defender.KindSubAssessment || s == nil {
			continue
		}
		for c := range s.CVEs {
			if cve := &s.CVEs[c]; cve.Registry == "" {
				cve.Registry = i.Cloud.ACRLoginServer(cmp.Or(cve.ResourceID, s.ResourceID))
			}
		}
	}
}

// cveImage is the normalized image a CVE was found on. A CVE whose
// registry is not known keeps its bare repository name: it is an ACR
// repository, not a Docker Hub one, so no default registry is filled in.
func cveImage(c *defender.CVE) string {
	if c.Registry == "" {
		return strings.ToLower(c.Repository)
	}
	return normalizeImage(c.Registry + "/" + c.Repository)
}

// artifact returns what the findings of a digest need from its artifact:
// its source repository (model.UnmappedRepository when unknown) and its
// Dockerfile. With create set, an unknown digest gets an artifact holding
// what the CVE says of the image (registry, name, tags). Each digest is
// read once per batch.
func (b *batch) artifact(ctx context.Context, digest string, create *defender.CVE) (repository, dockerfile string, err error) {
	v, _ := b.artifacts.LoadOrStore(digest, &artifactEntry{})
	e := v.(*artifactEntry)
	e.once.Do(func() {
		var a *model.Artifact
		if create != nil {
			a, _, e.err = b.inv.UpdateArtifact(ctx, digest, func(a *model.Artifact, exists bool) error {
				if exists {
					return model.ErrSkip
				}
				a.Registry = create.Registry
				a.Image = cveImage(create)
				a.Tags = union(nil, create.Tags...)
				return nil
			})
		} else {
			a, e.err = b.inv.Store.Artifact(ctx, digest)
			if errors.Is(e.err, model.ErrNotFound) {
				a, e.err = &model.Artifact{}, nil
			}
		}
		if e.err != nil {
			e.err = fmt.Errorf("read artifact %s: %w", digest, e.err)
			return
		}
		e.repository, e.dockerfile = a.Repository, a.Dockerfile
		if e.repository == "" {
			e.repository = model.UnmappedRepository
		}
	})
	if e.err != nil {
		// A failed read is not cached: the batch stops and is redelivered.
		b.artifacts.Delete(digest)
	}
	return e.repository, e.dockerfile, e.err
}

// resolveSubAssessment handles a deletion that carries only the
// sub-assessment id: the findings resting on it drop it, and one resting on
// nothing else is resolved.
func (b *batch) resolveSubAssessment(ctx context.Context, subID string) error {
	fs, _, err := b.inv.Store.FindingsOfDefenderRecord(ctx, subID, maxRelink)
	if err != nil {
		return fmt.Errorf("find findings of deleted sub-assessment %s: %w", subID, err)
	}
	if len(fs) == 0 {
		b.n.ignore(IgnoredNoDigest)
	}
	for _, f := range fs {
		got, changed, err := b.inv.Findings.Upsert(ctx, f.Repository, f.ID, func(f *model.Finding, exists bool) error {
			if !exists {
				return model.ErrSkip
			}
			f.DefenderIDs = without(f.DefenderIDs, subID)
			if len(f.DefenderIDs) == 0 {
				// The sub-assessment does not say which digest it named:
				// only a finding resting on nothing else can be resolved.
				f.Digests = nil
				if f.State.Active() {
					f.State, f.StateReason = model.StateResolved, "deleted"
					f.SourceUpdatedAt = b.inv.now()
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("drop deleted sub-assessment %s from finding %s: %w", subID, f.ID, err)
		}
		b.count(changed, changed && got != nil && got.State == model.StateResolved)
	}
	return nil
}

// mergeCVE folds what a record says about a CVE into its finding so that
// the result does not depend on the order records arrive in: text fields
// are filled when empty, severity and scores only go up, exploitability
// flags only turn on, and the package is the least one in sort order when
// several records name different ones. Applying the same record twice
// changes nothing.
func mergeCVE(f *model.Finding, s *defender.SubAssessment, c *defender.CVE, image, dockerfile string) {
	f.Image = image
	f.CVE = c.ID
	fill(&f.Title, c.Title, c.ID)
	fill(&f.Description, s.Description)
	fill(&f.RuleID, s.AssessmentKey)
	fill(&f.Tool, DefenderTool)
	fill(&f.Location.Dockerfile, dockerfile)
	if severityRank(c.Severity) > severityRank(f.Severity) {
		f.Severity = c.Severity
	}
	if c.CVSS != nil && (f.CVSS == nil || *c.CVSS > *f.CVSS) {
		v := *c.CVSS
		f.CVSS = &v
	}
	f.Exploit.KnownExploited = f.Exploit.KnownExploited || c.Exploit.KnownExploited
	f.Exploit.ExploitKit = f.Exploit.ExploitKit || c.Exploit.ExploitKit
	f.Exploit.PublicExploit = f.Exploit.PublicExploit || c.Exploit.PublicExploit
	f.Exploit.EPSS = max(f.Exploit.EPSS, c.Exploit.EPSS)
	if c.Package.Name != "" && (f.Package == nil || lessPackage(c.Package, *f.Package)) {
		p := c.Package
		f.Package = &p
	}
	f.Digests = union(f.Digests, c.Digest)
	f.DefenderIDs = union(f.DefenderIDs, c.SubAssessmentID)
}

func fill(dst *string, values ...string) {
	if *dst != "" {
		return
	}
	for _, v := range values {
		if v != "" {
			*dst = v
			return
		}
	}
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 4
	case "high":
		return 3
	case "medium":
		return 2
	case "low":
		return 1
	}
	return 0
}

func lessPackage(a, b model.Package) bool {
	for _, p := range [][2]string{{a.Name, b.Name}, {a.Version, b.Version}, {a.FixedVersion, b.FixedVersion}, {a.Ecosystem, b.Ecosystem}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return false
}

// clusterOf names the Kubernetes cluster an assessment is about, lower
// case: AKS managed clusters and Arc-connected clusters. Other resources'
// assessments do not describe a workload's runtime.
func clusterOf(a *defender.Assessment) (string, bool) {
	if name, _, ok := defender.ClusterOf(a.ResourceID); ok {
		return name, true
	}
	switch strings.ToLower(a.Resource.ResourceType) {
	case "managedclusters", "connectedclusters", "microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters":
		if a.Resource.ResourceName != "" {
			return strings.ToLower(a.Resource.ResourceName), true
		}
	}
	return "", false
}

// clusterWorkloads lists the workloads of a cluster, matched by the cluster
// name (case-insensitive) or by the Azure resource id of the cluster, once
// per batch.
func (b *batch) clusterWorkloads(ctx context.Context, cluster, resourceID string) ([]workloadRef, error) {
	key := cluster + "|" + resourceID
	v, _ := b.clusters.LoadOrStore(key, &clusterEntry{})
	e := v.(*clusterEntry)
	e.once.Do(func() {
		ws, _, err := b.inv.Store.WorkloadsOfCluster(ctx, cluster, resourceID, maxRelink)
		if err != nil {
			e.err = err
			return
		}
		for _, w := range ws {
			e.workloads = append(e.workloads, workloadRef{cluster: w.Cluster, id: w.ID})
		}
	})
	if e.err != nil {
		b.clusters.Delete(key)
	}
	return e.workloads, e.err
}

// applyAssessment sets the risk factors one assessment gives the workloads
// of its cluster (source "defender-assessment:<id>"): those of its risk
// block while it is unhealthy, none once it is healthy, not applicable or
// deleted. Workloads matched by name learn the cluster's resource id, which
// attack paths are matched on.
func (b *batch) applyAssessment(ctx context.Context, r *defender.Record, a *defender.Assessment, cluster string) error {
	rid := strings.ToLower(a.ResourceID)
	refs, err := b.clusterWorkloads(ctx, cluster, rid)
	if err != nil {
		return err
	}
	source := mapping.RiskSourceAssessmentPrefix + strings.ToLower(a.ID)
	var desired []model.Risk
	if r.Action != defender.ActionDelete && a.Status == defender.StatusUnhealthy && a.Risk != nil {
		for _, f := range a.Risk.RiskFactors {
			desired = append(desired, model.Risk{Factor: f, Source: source})
		}
	}
	// Kept on the cluster too: its workloads reported later get them, and
	// findings about the cluster itself are scored with them.
	if err := b.inv.setClusterRisks(ctx, cluster, rid, source, desired, r.IsSnapshot); err != nil {
		return err
	}
	for _, ref := range refs {
		changed, err := b.inv.setRisks(ctx, ref.cluster, ref.id, source, desired, func(w *model.Workload) {
			if w.ResourceID == "" && strings.EqualFold(w.Cluster, cluster) {
				w.ResourceID = rid
			}
		})
		if err != nil {
			return err
		}
		if changed {
			b.n.workloads.Add(1)
		}
	}
	return nil
}

// setRisks replaces the risks of one source on a workload (also may edit
// it further in the same write); a change is announced and synced.
func (i *Inventory) setRisks(ctx context.Context, cluster, id, source string, desired []model.Risk, also func(w *model.Workload)) (bool, error) {
	var before *model.Workload
	after, changed, err := i.Store.UpdateWorkload(ctx, cluster, id, func(w *model.Workload, exists bool) error {
		if !exists {
			return model.ErrSkip
		}
		before = cloneWorkload(w)
		w.Risks = mapping.MergeRisks(withoutSource(w.Risks, source), desired)
		if also != nil {
			also(w)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("set %s risks of workload %s: %w", source, id, err)
	}
	if changed {
		if err := i.workloadChanged(ctx, before, after); err != nil {
			return true, err
		}
	}
	return changed, nil
}

// withoutSource drops the risks of one source.
func withoutSource(risks []model.Risk, source string) []model.Risk {
	out := make([]model.Risk, 0, len(risks))
	for _, r := range risks {
		if r.Source != source {
			out = append(out, r)
		}
	}
	return out
}

func alertState(action defender.Action, status string) (model.FindingState, string) {
	switch {
	case action == defender.ActionDelete:
		return model.StateResolved, "deleted"
	case status == "Resolved":
		return model.StateResolved, "resolved"
	case status == "Dismissed":
		return model.StateDismissed, "dismissed"
	}
	return model.StateOpen, ""
}
