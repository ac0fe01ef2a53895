package inventory

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// FindingBatchWriter is a FindingWriter that also takes a whole batch of
// merges at once (triage.Triage's UpsertBatch): each finding read with
// its partition's others, written once and only when its content changed,
// each group refreshed once per batch. The inventory writes Defender
// findings through it when the FindingWriter has it, one Upsert per merge
// otherwise.
type FindingBatchWriter interface {
	UpsertBatch(ctx context.Context, merges []model.FindingMerge) ([]model.FindingMerged, error)
}

// IngestDefender applies Defender export records: container image CVEs
// become findings (resolved when healthy or deleted), cluster assessments'
// risk becomes workload risk, alerts become findings. Records are applied
// in batch order per finding or cluster. The CVEs and alerts of the batch
// are written as one batch (see findings): what they need is read in a
// few queries, and only what changed is written. The first storage
// failure stops the batch and is returned, so the host redelivers it, and
// redelivery writes nothing twice.
func (i *Inventory) IngestDefender(ctx context.Context, recs []defender.Record) (DefenderStats, error) {
	b := &batch{inv: i}
	i.registryHosts(recs)
	// Each record is the whole current state of its assessment,
	// sub-assessment or alert: when a batch holds several of one, the last
	// is the state, and applying the earlier ones would write transitions
	// that a redelivery of the batch would write all over again.
	last := make(map[string]int, len(recs))
	for k := range recs {
		last[string(recs[k].Kind)+"|"+strings.ToLower(recs[k].ID)] = k
	}
	var (
		runtime, deletes []unit
		findings         []*defender.Record
	)
	for k := range recs {
		r := &recs[k]
		if last[string(r.Kind)+"|"+strings.ToLower(r.ID)] != k {
			b.n.ignore(IgnoredSuperseded)
			continue
		}
		switch r.Kind {
		case defender.KindSubAssessment:
			s := r.SubAssessment
			switch {
			case len(s.CVEs) > 0:
				b.n.cves.Add(int64(len(s.CVEs)))
				findings = append(findings, r)
			case r.Action == defender.ActionDelete:
				deletes = append(deletes, unit{key: "sub|" + strings.ToLower(s.ID), run: func(ctx context.Context) error {
					return b.resolveSubAssessment(ctx, s.ID)
				}})
			default:
				b.n.ignore(IgnoredNoCVE)
			}
		case defender.KindAssessment:
			a := r.Assessment
			cluster, ok := clusterOf(a)
			if !ok {
				b.n.ignore(IgnoredNotCluster)
				continue
			}
			b.n.assessments.Add(1)
			runtime = append(runtime, unit{key: unitCluster + cluster, run: func(ctx context.Context) error {
				return b.applyAssessment(ctx, r, a, cluster)
			}})
		case defender.KindAlert:
			b.n.alerts.Add(1)
			findings = append(findings, r)
		}
	}
	// Workload risk first: findings are scored with the runtime context of
	// their workloads, so they are written once that context is final for
	// the batch. Otherwise a CVE scored on one worker could land after the
	// re-scoring a risk change on another worker triggered, stale until a
	// redelivery or the nightly run rewrote it.
	err := i.run(ctx, runtime)
	if err == nil {
		err = b.findings(ctx, findings)
	}
	if err == nil {
		err = i.run(ctx, deletes)
	}
	st := DefenderStats{
		Records:          len(recs),
		CVEs:             int(b.n.cves.Load()),
		Assessments:      int(b.n.assessments.Load()),
		Alerts:           int(b.n.alerts.Load()),
		FindingsWritten:  int(b.n.written.Load()),
		Resolved:         int(b.n.resolved.Load()),
		WorkloadsChanged: int(b.n.workloads.Load()),
		Ignored:          b.n.ignored,
	}
	return st, err
}

// findings writes the CVEs and alerts of a batch as one batch of finding
// merges: the artifacts of their digests are read in a query per hundred
// digests (and created for CVEs on digests never seen), then every
// finding is merged, in record order, through the FindingBatchWriter.
// A CVE that is no longer unhealthy on a digest is resolved where its
// finding is: in its repository's partition, else, not yet moved there
// (see relink), in the unmapped one, which a second, smaller batch looks
// at.
func (b *batch) findings(ctx context.Context, recs []*defender.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := b.readArtifacts(ctx, recs); err != nil {
		return err
	}
	var (
		merges   []model.FindingMerge
		resolves []int // merges that resolve a CVE's digest
	)
	for _, r := range recs {
		switch r.Kind {
		case defender.KindSubAssessment:
			s := r.SubAssessment
			for k := range s.CVEs {
				m, resolve, err := b.cveMerge(ctx, r, s, &s.CVEs[k])
				if err != nil {
					return err
				}
				if resolve {
					resolves = append(resolves, len(merges))
				}
				merges = append(merges, m)
			}
		case defender.KindAlert:
			m, err := b.alertMerge(ctx, r, r.Alert)
			if err != nil {
				return err
			}
			merges = append(merges, m)
		}
	}
	res, err := b.upsert(ctx, merges)
	if err != nil {
		return err
	}
	var again []model.FindingMerge
	for _, k := range resolves {
		switch {
		case res[k].Found:
		case merges[k].Repository == model.UnmappedRepository:
			b.n.ignore(IgnoredUnknownFinding)
		default:
			again = append(again, model.FindingMerge{Repository: model.UnmappedRepository, ID: merges[k].ID, Merge: merges[k].Merge})
		}
	}
	if len(again) == 0 {
		return nil
	}
	res, err = b.upsert(ctx, again)
	if err != nil {
		return err
	}
	for k := range again {
		if !res[k].Found {
			b.n.ignore(IgnoredUnknownFinding)
		}
	}
	return nil
}

// upsert writes merges through the FindingBatchWriter, or one Upsert at a
// time, in order, when the FindingWriter has no batches, and counts the
// findings written (once each) and those that ended resolved.
func (b *batch) upsert(ctx context.Context, merges []model.FindingMerge) ([]model.FindingMerged, error) {
	var (
		out []model.FindingMerged
		err error
	)
	if w, ok := b.inv.Findings.(FindingBatchWriter); ok {
		out, err = w.UpsertBatch(ctx, merges)
	} else {
		out, err = upsertEach(ctx, b.inv.Findings, merges)
	}
	if err != nil {
		return nil, err
	}
	type key struct{ repo, id string }
	final := map[key]*model.Finding{}
	for k, m := range merges {
		if out[k].Written {
			final[key{m.Repository, m.ID}] = out[k].Finding
		}
	}
	for _, f := range final {
		b.count(true, f != nil && f.State == model.StateResolved)
	}
	return out, nil
}

// upsertEach is a batch of merges as one Upsert each.
func upsertEach(ctx context.Context, w FindingWriter, merges []model.FindingMerge) ([]model.FindingMerged, error) {
	out := make([]model.FindingMerged, len(merges))
	for k, m := range merges {
		f, changed, err := w.Upsert(ctx, m.Repository, m.ID, func(f *model.Finding, exists bool) error {
			err := m.Merge(f, exists)
			out[k].Found, out[k].Applied = exists, err == nil
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("write finding %s: %w", m.ID, err)
		}
		out[k].Written = changed
		if f != nil && f.ID != "" {
			out[k].Finding = f
		}
	}
	return out, nil
}

// readArtifacts reads the artifacts of every digest the batch's CVEs and
// alerts name in a query per hundred digests, and creates those of the
// CVEs' digests that have none (what the CVE says of the image), in
// parallel. Later artifact calls of the batch are answered from memory.
func (b *batch) readArtifacts(ctx context.Context, recs []*defender.Record) error {
	var digests []string
	create := map[string]*defender.CVE{}
	seen := map[string]bool{}
	add := func(digest string, c *defender.CVE) {
		if !seen[digest] {
			seen[digest] = true
			digests = append(digests, digest)
		}
		if c != nil && create[digest] == nil {
			create[digest] = c
		}
	}
	for _, r := range recs {
		switch r.Kind {
		case defender.KindSubAssessment:
			for k := range r.SubAssessment.CVEs {
				c := &r.SubAssessment.CVEs[k]
				add(c.Digest, c)
			}
		case defender.KindAlert:
			if _, digest := alertImage(r.Alert); digest != "" {
				add(digest, nil)
			}
		}
	}
	arts, err := b.inv.Store.ArtifactsOf(ctx, digests)
	if err != nil {
		return fmt.Errorf("read the batch's artifacts: %w", err)
	}
	found := map[string]bool{}
	for k := range arts {
		b.known(arts[k].Digest, &arts[k])
		found[arts[k].Digest] = true
	}
	var units []unit
	for _, d := range digests {
		switch c := create[d]; {
		case found[d]:
		case c != nil:
			units = append(units, unit{key: d, run: func(ctx context.Context) error {
				_, _, err := b.artifact(ctx, d, c)
				return err
			}})
		default:
			b.known(d, &model.Artifact{})
		}
	}
	return b.inv.run(ctx, units)
}

// known records what the batch read of a digest's artifact.
func (b *batch) known(digest string, a *model.Artifact) {
	v, _ := b.artifacts.LoadOrStore(digest, &artifactEntry{})
	e := v.(*artifactEntry)
	e.once.Do(func() {
		e.repository, e.dockerfile = cmp.Or(a.Repository, model.UnmappedRepository), a.Dockerfile
	})
}

// cveMerge is the merge of one CVE-on-image: unhealthy opens (or keeps
// open) the finding of (image, CVE) with the digest; healthy, not
// applicable or deleted (resolve) removes the digest and resolves the
// finding once no digest is left, and creates none.
func (b *batch) cveMerge(ctx context.Context, r *defender.Record, s *defender.SubAssessment, c *defender.CVE) (m model.FindingMerge, resolve bool, err error) {
	repo, dockerfile, err := b.artifact(ctx, c.Digest, c)
	if err != nil {
		return m, false, err
	}
	image := cveImage(c)
	id := model.ImageCVEFindingID(image, c.ID)
	if r.Action != defender.ActionDelete && c.Status == defender.StatusUnhealthy {
		return model.FindingMerge{Repository: repo, ID: id, Merge: func(f *model.Finding, exists bool) error {
			if !exists {
				f.ID, f.Repository, f.Source = id, repo, model.SourceDefenderCVE
			}
			mergeCVE(f, s, c, image, dockerfile)
			// A CVE runtime resolved because its image runs nowhere stays
			// resolved while Defender keeps reporting the image (its
			// registry scan): triage makes it active again once a workload
			// runs the image.
			if !exists || (!f.State.Active() && f.StateReason != model.ReasonWorkloadGone) {
				f.State, f.StateReason = model.StateOpen, ""
				f.SourceUpdatedAt = b.inv.eventTime(c.TimeGenerated)
			}
			return nil
		}}, false, nil
	}
	reason := resolveReason(r.Action, c.Status)
	return model.FindingMerge{Repository: repo, ID: id, Merge: func(f *model.Finding, exists bool) error {
		return b.resolveDigest(f, exists, c.Digest, c.SubAssessmentID, reason, c.TimeGenerated)
	}}, true, nil
}

func (b *batch) count(changed, resolved bool) {
	if changed {
		b.n.written.Add(1)
		if resolved {
			b.n.resolved.Add(1)
		}
	}
}

func resolveReason(a defender.Action, s defender.StatusCode) string {
	switch {
	case a == defender.ActionDelete:
		return "deleted"
	case s == defender.StatusNotApplicable:
		return "not-applicable"
	}
	return "healthy"
}

// resolveDigest removes a digest (and the sub-assessment naming it) from a
// finding and resolves the finding when no unhealthy digest is left. An
// absent finding is not created.
func (b *batch) resolveDigest(f *model.Finding, exists bool, digest, subID, reason string, at time.Time) error {
	if !exists {
		return model.ErrSkip
	}
	f.Digests = without(f.Digests, digest)
	f.DefenderIDs = without(f.DefenderIDs, subID)
	if len(f.Digests) == 0 && f.State.Active() {
		f.State, f.StateReason = model.StateResolved, reason
		f.SourceUpdatedAt = b.inv.eventTime(at)
	}
	return nil
}

// alertImage is the image (normalized name) and digest an alert names.
func alertImage(a *defender.Alert) (image, digest string) {
	if a.Image == "" {
		return "", ""
	}
	if ref, err := mapping.ParseImageRef(a.Image); err == nil {
		return ref.Name(), ref.Digest
	}
	return normalizeImage(a.Image), ""
}

// alertMerge stores a security alert as a finding (source defender_alert)
// filed under the repository of the image it names, when known: active
// and in-progress alerts are open, resolved and deleted ones resolved,
// dismissed ones dismissed.
func (b *batch) alertMerge(ctx context.Context, r *defender.Record, a *defender.Alert) (model.FindingMerge, error) {
	image, digest := alertImage(a)
	repo := model.UnmappedRepository
	if digest != "" {
		var err error
		if repo, _, err = b.artifact(ctx, digest, nil); err != nil {
			return model.FindingMerge{}, err
		}
	}
	// An alert about a cluster, node, pod or workload is about something
	// running: triage scores it in that resource's environment. When no
	// repository builds what it is about, it goes to the configured
	// fallback repository, else stays unmapped, listed under its cluster.
	res := a.Resource()
	if res != nil && image == "" && digest == "" && b.inv.ClusterFindingsRepository != "" {
		repo = b.inv.ClusterFindingsRepository
	}
	state, reason := alertState(r.Action, a.Status)
	id := model.DefenderAlertFindingID(a.AlertID)
	return model.FindingMerge{Repository: repo, ID: id, Merge: func(f *model.Finding, exists bool) error {
		if !exists {
			f.ID, f.Repository, f.Source = id, repo, model.SourceDefenderAlert
		}
		fill(&f.RuleID, a.AlertType)
		fill(&f.Title, a.DisplayName, a.AlertType)
		fill(&f.Description, a.Description)
		fill(&f.AlertURL, a.AlertURI)
		fill(&f.Tool, a.ProductName, DefenderTool)
		fill(&f.Image, image)
		if res != nil {
			f.Resource, f.Cluster = res, res.Cluster
		}
		if a.Severity != "" {
			f.Severity = a.Severity
		}
		f.Digests = union(f.Digests, digest)
		f.DefenderIDs = union(f.DefenderIDs, cmp.Or(a.ARMID, a.AlertID))
		if !exists || f.State != state {
			f.State, f.StateReason = state, reason
			f.SourceUpdatedAt = b.inv.eventTime(a.TimeGenerated)
		}
		return nil
	}}, nil
}
