package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// ContextChanged reports whether a workload change can change a score:
// it appeared or disappeared, started or stopped running, moved in or out
// of production, runs another digest, image or repository, or gained,
// lost or re-sourced a risk factor. before or after is nil when the
// workload is new or deleted.
func ContextChanged(before, after *model.Workload) bool {
	running := func(w *model.Workload) bool { return w != nil && w.Status != model.WorkloadGone }
	if !running(before) && !running(after) {
		return false
	}
	if running(before) != running(after) {
		return true
	}
	b, a := before, after
	if b.Production != a.Production || b.Digest != a.Digest || b.Image != a.Image ||
		mapping.NormalizeRepository(b.Repository, b.Org) != mapping.NormalizeRepository(a.Repository, a.Org) ||
		b.ID != a.ID || b.Cluster != a.Cluster || b.Namespace != a.Namespace || b.Name != a.Name {
		return true
	}
	return !slices.Equal(mapping.MergeRisks(b.Risks), mapping.MergeRisks(a.Risks))
}

// WorkloadChanged re-scores, right away, the findings whose runtime
// context a workload change touches: the container CVEs of its digest and
// image, and the GHAS alerts of the repository it is built from (before
// and after the change). Call it after the workload was written; it
// returns how many findings changed. A change that cannot move a score
// (ContextChanged false) costs nothing.
func (t *Triage) WorkloadChanged(ctx context.Context, before, after *model.Workload) (int, error) {
	return t.WorkloadsChanged(ctx, []model.WorkloadChange{{Before: before, After: after}})
}

// WorkloadsChanged is WorkloadChanged for many changes at once, after all
// of them were written (a cluster request's): the findings of all their
// digests and images are read in one query per hundred, those of each
// repository and cluster once, and each finding is re-scored once, with
// every change in place.
func (t *Triage) WorkloadsChanged(ctx context.Context, changes []model.WorkloadChange) (int, error) {
	changes = slices.DeleteFunc(slices.Clone(changes), func(c model.WorkloadChange) bool { return !ContextChanged(c.Before, c.After) })
	if len(changes) == 0 {
		return 0, nil
	}
	cacheFrom(ctx).clear()
	RuntimeChanged(t.Store)
	var ws []*model.Workload
	for _, c := range changes {
		for _, w := range []*model.Workload{c.Before, c.After} {
			if w != nil {
				ws = append(ws, w)
			}
		}
	}
	var images, digests, repos, clusters []string
	seen := map[string]bool{}
	addNew := func(list *[]string, kind, v string) {
		if v != "" && !seen[kind+"\x00"+v] {
			seen[kind+"\x00"+v] = true
			*list = append(*list, v)
		}
	}
	for _, w := range ws {
		addNew(&images, "image", imageName(w.Image))
		addNew(&digests, "digest", w.Digest)
		addNew(&repos, "repo", mapping.NormalizeRepository(w.Repository, w.Org))
		addNew(&clusters, "cluster", strings.ToLower(w.Cluster))
	}
	what := workloadName(changes[0].Before, changes[0].After)
	if len(changes) > 1 {
		what = fmt.Sprintf("%s and %d more", what, len(changes)-1)
	}
	arts, err := t.Store.ArtifactsOf(ctx, digests)
	if err != nil {
		return 0, err
	}
	for _, a := range arts {
		addNew(&repos, "repo", mapping.NormalizeRepository(a.Repository, ""))
	}

	var affected []model.Finding
	found := map[[2]string]bool{}
	add := func(f *model.Finding) {
		if key := [2]string{f.Repository, f.ID}; !found[key] {
			found[key] = true
			affected = append(affected, *f)
		}
	}
	if len(images)+len(digests) > 0 {
		fs, err := t.Store.FindingsOfImages(ctx, images, digests)
		if err != nil {
			return 0, fmt.Errorf("find findings of workload %s: %w", what, err)
		}
		for i := range fs {
			add(&fs[i])
		}
	}
	for _, r := range repos {
		err := t.Store.FindingsOfRepository(ctx, r, func(f *model.Finding) error {
			if scopeOf(f).repo != "" { // container CVEs came with the image query
				add(f)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("find findings of workload %s: %w", what, err)
		}
	}

	changed, err := t.rescoreAll(ctx, affected)
	if err != nil {
		return changed, err
	}
	// Whether a cluster runs production decides the score of the findings
	// about its own resources (kube-system, the dashboard).
	for _, c := range clusters {
		n, err := t.rescoreCluster(ctx, c)
		changed += n
		if err != nil {
			return changed, err
		}
	}
	t.logger().Info("workload change re-scored findings", "workload", what, "affected", len(affected), "changed", changed)
	return changed, nil
}

func workloadName(before, after *model.Workload) string {
	if after != nil {
		return after.ID
	}
	if before != nil {
		return before.ID
	}
	return ""
}

// rescoreAll re-scores fs from the store's runtime, writing those that
// changed, then refreshing each of their groups once (an image's CVEs
// share one); it returns how many changed.
func (t *Triage) rescoreAll(ctx context.Context, fs []model.Finding) (int, error) {
	changed := 0
	var (
		groups []groupRef
		err    error
	)
	for i := range fs {
		var stored *model.Finding
		if stored, err = t.rescore(ctx, &fs[i], t.storeScorer); err != nil {
			break // the groups of those written so far are still refreshed
		}
		if stored == nil {
			continue
		}
		changed++
		if g := (groupRef{stored.Repository, stored.GroupID}); g.id != "" && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		if _, gerr := t.RefreshGroup(ctx, g.repo, g.id); gerr != nil {
			return changed, errors.Join(err, gerr)
		}
	}
	return changed, err
}

// scorer rates a finding in its current context.
type scorer func(ctx context.Context, f *model.Finding) (r scoring.Result, deployed bool, err error)

// storeScorer loads the context of each finding from the store.
func (t *Triage) storeScorer(ctx context.Context, f *model.Finding) (scoring.Result, bool, error) {
	ws, err := t.workloads(ctx, scopeOf(f))
	if err != nil {
		return scoring.Result{}, false, err
	}
	pc := scoring.Prepare(t.policy(), scoring.ContextOf(ws))
	return pc.Score(f), deployed(ws), nil
}

// rescore re-scores one finding (as read, possibly from a query) and, when
// the result differs, writes it under its ETag. It returns the written
// finding, or nil when nothing changed. Scoring the copy first keeps
// unchanged findings at zero writes; the caller refreshes the group.
func (t *Triage) rescore(ctx context.Context, f *model.Finding, score scorer) (*model.Finding, error) {
	r, dep, err := score(ctx, f)
	if err != nil {
		return nil, err
	}
	probe := *f
	now := t.now()
	if !applyResult(&probe, r, dep, now) {
		return nil, nil
	}
	stored, changed, err := t.Store.UpdateFinding(ctx, f.Repository, f.ID, func(doc *model.Finding, exists bool) error {
		if !exists {
			return model.ErrSkip
		}
		r, dep, err := score(ctx, doc)
		if err != nil {
			return err
		}
		if !applyResult(doc, r, dep, now) {
			return model.ErrSkip
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("re-score finding %s: %w", f.ID, err)
	}
	if !changed {
		return nil, nil
	}
	return stored, nil
}
