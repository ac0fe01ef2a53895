// Package triage is where a finding enters runtimelink's state: it merges
// what a source says into the stored finding, scores it with the runtime
// context of the workloads running its code, links it to the same
// vulnerability seen from the other side, assigns its group, and enqueues
// a sync when the group's desired GitHub state changed. Webhooks, the
// Defender export, backfill, workload changes and the nightly run all go
// through it.
package triage

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// Triage holds what ingesting a finding needs. The zero Policy means
// scoring.DefaultPolicy and the zero MinPriority means High, so a Triage
// built without them still scores as DESIGN.md says; the app's wiring
// (shared/app) fills both from the configuration.
type Triage struct {
	Store Store
	// Sync is nil when nothing is to be enqueued (tools, tests).
	Sync   SyncQueue
	Logger *slog.Logger
	Now    func() time.Time
	// Policy weighs every score.
	Policy scoring.Policy
	// MinPriority is the lowest priority whose group gets an open issue.
	MinPriority model.Priority
	// Cloud links the issues' Defender for Cloud records to its portal.
	Cloud mapping.Cloud
	// RuntimeTTL, when set, keeps the runtime context of each repository
	// and image in a process-wide cache for that long (see runtimeCaches
	// for what that trades). The app sets DefaultRuntimeTTL.
	RuntimeTTL time.Duration
	// Clusters scores findings about a running resource (a Defender alert
	// on a cluster, node, pod or workload) in that resource's environment;
	// nil: such a finding takes the context of its repository.
	Clusters Clusters
	// ProductionClusters names production clusters besides those running
	// a production workload (RUNTIMELINK_PRODUCTION_CLUSTERS).
	ProductionClusters mapping.ClusterRule
	// Workers bounds the concurrent Cosmos DB calls of a batch
	// (UpsertBatch); 0 means 8.
	Workers int
}

// DefaultRuntimeTTL is how long the app's Triage trusts a cached runtime
// context written by another instance.
const DefaultRuntimeTTL = 30 * time.Second

func (t *Triage) policy() scoring.Policy {
	if t.Policy == (scoring.Policy{}) {
		return scoring.DefaultPolicy()
	}
	return t.Policy
}

func (t *Triage) minPriority() model.Priority {
	if t.MinPriority.Rank() == 0 {
		return model.PriorityHigh
	}
	return t.MinPriority
}

func (t *Triage) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// Upsert merges a source's view into the finding (repository, id): merge
// gets the stored finding (zero value and exists=false when new) and
// changes it in place, or returns model.ErrSkip to change nothing. Before
// the write the finding is scored in its runtime context, linked to its
// correlated findings and given its group. The write is ETag-guarded and
// skipped when nothing changed; changed reports whether it was written.
//
// After the write the group's desired issue is recomputed and a sync is
// enqueued when it changed. A retry after a failure between the two writes
// (the finding then looks unchanged) still repairs the group: it is
// recomputed whenever it is older than the finding.
func (t *Triage) Upsert(ctx context.Context, repository, id string, merge func(f *model.Finding, exists bool) error) (f *model.Finding, changed bool, err error) {
	w, err := t.write(ctx, repository, id, merge)
	if err != nil {
		return nil, false, err
	}
	if w.skipped {
		return w.f, false, nil
	}
	if err := t.after(ctx, w.f, w.changed && w.created, w.changed, w.peers); err != nil {
		return w.f, w.changed, fmt.Errorf("upsert finding %s: %w", id, err)
	}
	return w.f, w.changed, nil
}

// written is what write did to one finding.
type written struct {
	f                         *model.Finding
	changed, created, skipped bool
	peers                     []model.Finding
}

// write is Upsert up to the finding's own write: merge, complete, and the
// ETag-guarded write, retried from a fresh read when it loses.
func (t *Triage) write(ctx context.Context, repository, id string, merge func(f *model.Finding, exists bool) error) (written, error) {
	var w written
	f, changed, err := t.Store.UpdateFinding(ctx, repository, id, func(f *model.Finding, exists bool) error {
		w.created = !exists
		stored := slices.Clone(f.Related)
		if err := merge(f, exists); err != nil {
			w.skipped = true
			return err
		}
		w.skipped = false
		var err error
		w.peers, err = t.complete(ctx, f, exists, stored, t.peers)
		return err
	})
	if err != nil {
		return w, fmt.Errorf("upsert finding %s: %w", id, err)
	}
	w.f, w.changed = f, changed
	return w, nil
}

// complete does to a merged finding what every write of one does: dates
// a new one, scores it in its runtime context, gives it its group and
// links it to its correlated findings (peers finds them; stored are the
// links it had). It returns the peers.
func (t *Triage) complete(ctx context.Context, f *model.Finding, exists bool, stored []string,
	peers func(ctx context.Context, f *model.Finding) ([]model.Finding, error)) ([]model.Finding, error) {
	if !exists && f.FirstSeen.IsZero() {
		f.FirstSeen = t.now()
	}
	ws, err := t.workloads(ctx, scopeOf(f))
	if err != nil {
		return nil, err
	}
	assess(t.policy(), f, ws, t.now())
	_, f.GroupID = GroupOf(f)
	ps, err := peers(ctx, f)
	if err != nil {
		return nil, err
	}
	f.Related = relatedIDs(stored, ps)
	return ps, nil
}

// after brings what depends on a finding in step with it: the peers' links
// back to it and the groups showing it.
//
// created says this call created the finding: its group, when it has no
// other finding, is then created without reading it first.
func (t *Triage) after(ctx context.Context, f *model.Finding, created, changed bool, peers []model.Finding) error {
	for i := range peers {
		p := &peers[i]
		linked := slices.Contains(p.Related, f.ID)
		if !linked {
			if err := t.link(ctx, p, f.ID); err != nil {
				return err
			}
		}
		// A peer's issue shows this finding under "same vulnerability".
		if (changed || !linked) && p.GroupID != "" {
			if _, err := t.RefreshGroup(ctx, p.Repository, p.GroupID); err != nil {
				return err
			}
		}
	}
	if f.GroupID == "" {
		return nil
	}
	if created && len(peers) == 0 {
		done, err := t.createAlertGroup(ctx, f)
		if done || err != nil {
			return err
		}
	}
	if !changed {
		g, err := t.Store.Group(ctx, f.Repository, f.GroupID)
		switch {
		case err == nil && g.TS >= f.TS && slices.Contains(g.FindingIDs, f.ID):
			return nil // the group was computed after the finding's last write
		case err != nil && !isNotFound(err):
			return fmt.Errorf("read group %s: %w", f.GroupID, err)
		}
	}
	_, err := t.RefreshGroup(ctx, f.Repository, f.GroupID)
	return err
}

// link adds ids to the Related list of a peer finding.
func (t *Triage) link(ctx context.Context, p *model.Finding, ids ...string) error {
	_, _, err := t.Store.UpdateFinding(ctx, p.Repository, p.ID, func(doc *model.Finding, exists bool) error {
		var add []model.Finding
		for _, id := range ids {
			if !slices.Contains(doc.Related, id) {
				add = append(add, model.Finding{ID: id})
			}
		}
		if !exists || len(add) == 0 {
			return model.ErrSkip
		}
		doc.Related = relatedIDs(doc.Related, add)
		return nil
	})
	if err != nil {
		return fmt.Errorf("link finding %s to %v: %w", p.ID, ids, err)
	}
	return nil
}

// assess scores f in the context of the workloads running its code and
// records the context summary the API filters on.
func assess(p scoring.Policy, f *model.Finding, ws []model.Workload, now time.Time) {
	pc := scoring.Prepare(p, scoring.ContextOf(ws))
	applyResult(f, pc.Score(f), deployed(ws), now)
}

// applyResult stores a result and its context summary on f and reports
// whether that changed f. An image CVE whose image stopped running on
// every workload (the last one running it is gone: decommissioned,
// deleted) is resolved by runtime at now (model.ReasonWorkloadGone), and
// one resolved so is active again once a workload runs the image.
func applyResult(f *model.Finding, r scoring.Result, deployed bool, now time.Time) bool {
	risks := risksOf(r.Explanation)
	changed := r.Apply(f)
	if f.Source == model.SourceDefenderCVE {
		switch {
		case f.Deployed && !deployed && f.State.Active():
			f.State, f.StateReason, f.SourceUpdatedAt = model.StateResolved, model.ReasonWorkloadGone, now
			changed = true
		case deployed && f.State == model.StateResolved && f.StateReason == model.ReasonWorkloadGone:
			f.State, f.StateReason, f.SourceUpdatedAt = model.StateOpen, "", now
			changed = true
		}
	}
	if f.Deployed != deployed || !slices.Equal(f.RuntimeRisks, risks) {
		f.Deployed, f.RuntimeRisks = deployed, risks
		changed = true
	}
	return changed
}

// deployed: some running workload runs the code.
func deployed(ws []model.Workload) bool {
	for i := range ws {
		if ws[i].Status != model.WorkloadGone {
			return true
		}
	}
	return false
}

// risksOf lists the runtime risk factors an explanation counted.
func risksOf(e model.Explanation) []model.RiskFactor {
	var out []model.RiskFactor
	for _, f := range e.Factors {
		rf := model.RiskFactor(f.Name)
		if slices.Contains(model.RiskFactors, rf) {
			out = append(out, rf)
		}
	}
	return out
}

// GroupOf says which group (one GitHub issue) a finding belongs to:
// container CVEs group per repository and image, every other finding is a
// group of its own. Findings of no known repository have no group: there
// is no repository to open an issue on.
func GroupOf(f *model.Finding) (kind, id string) {
	if f.Repository == "" || f.Repository == model.UnmappedRepository {
		return "", ""
	}
	if f.Source == model.SourceDefenderCVE && f.Image != "" {
		return GroupKindImage, model.ImageGroupID(f.Repository, f.Image)
	}
	return GroupKindAlert, model.AlertGroupID(f.ID)
}

// Group kinds (model.Group.Kind), named here too for triage's callers.
const (
	GroupKindImage = model.GroupKindImage
	GroupKindAlert = model.GroupKindAlert
)

func (t *Triage) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}
