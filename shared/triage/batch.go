package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/runtimelink/runtimelink/shared/model"
)

// UpsertBatch is Upsert for a batch of merges (one Defender export
// batch), costing what the batch changes rather than what it names:
//
//   - the findings are read with one query per partition (FindingsIn),
//     not one read each, partitions in parallel;
//   - each finding's merges run in batch order on the finding as read,
//     then it is completed (scored, grouped, linked) and written once,
//     only when its content changed, under the ETag it was read with;
//     writes run in parallel, at most Workers at a time;
//   - peers are looked up with one query per repository for the batch;
//   - every group the batch touched is refreshed once, after all the
//     findings are written, so a batch of thousands of CVEs on one image
//     writes that image's group once instead of racing itself on it.
//
// A finding whose write loses to another writer (another instance
// between the batch's read and its write) is replayed the guarded way
// (Upsert's read-modify-write loop). The first error stops the batch and
// is returned: the findings written so far stay, and a redelivery of the
// batch writes nothing twice (unchanged content is not written; a group
// behind its findings is refreshed by the redelivery).
//
// Peers are read before the batch's writes: a batch's own findings are
// not each other's peers (a Defender batch holds no Dependabot alerts).
func (t *Triage) UpsertBatch(ctx context.Context, merges []model.FindingMerge) ([]model.FindingMerged, error) {
	docs := batchDocs(merges)
	if err := t.readBatch(ctx, docs); err != nil {
		return nil, err
	}
	out := make([]model.FindingMerged, len(merges))
	for _, d := range docs {
		f := d.f
		if f == nil {
			f = &model.Finding{}
		} else {
			d.stored = slices.Clone(f.Related)
		}
		applied, err := applyMerges(f, d.f != nil, d.merges, merges, out)
		if err != nil {
			return nil, fmt.Errorf("upsert finding %s: %w", d.id, err)
		}
		d.exists, d.applied, d.f = d.f != nil, applied, f
	}
	if cacheFrom(ctx) == nil {
		ctx = WithCache(ctx) // the batch's scopes, loaded once
	}
	var scopes []scope
	for _, d := range docs {
		if d.applied {
			scopes = append(scopes, scopeOf(d.f))
		}
	}
	if err := t.loadScopes(ctx, scopes); err != nil {
		return nil, fmt.Errorf("load the batch's runtime context: %w", err)
	}
	peers, err := t.batchPeers(ctx, docs)
	if err != nil {
		return nil, err
	}
	err = each(ctx, t.workers(), len(docs), func(ctx context.Context, k int) error {
		return t.saveBatchDoc(ctx, docs[k], merges, out, peers)
	})
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var f *model.Finding
		if d.exists || d.applied {
			f = d.f
		}
		for _, k := range d.merges {
			out[k].Written, out[k].Finding = d.written, f
		}
	}
	if err := t.afterBatch(ctx, docs); err != nil {
		return out, err
	}
	return out, nil
}

// batchDoc is one finding of a batch.
type batchDoc struct {
	repo, id string
	merges   []int          // the batch's merges of this finding, in order
	f        *model.Finding // as read (nil: none), then as merged
	stored   []string       // its Related as read
	exists   bool           // it was stored when read
	applied  bool           // some merge did not skip
	written  bool
	created  bool
	peers    []model.Finding
}

// batchDocs lists the findings merges name, in order of first mention.
func batchDocs(merges []model.FindingMerge) []*batchDoc {
	type key struct{ repo, id string }
	index := make(map[key]*batchDoc, len(merges))
	var docs []*batchDoc
	for k, m := range merges {
		d := index[key{m.Repository, m.ID}]
		if d == nil {
			d = &batchDoc{repo: m.Repository, id: m.ID}
			index[key{m.Repository, m.ID}] = d
			docs = append(docs, d)
		}
		d.merges = append(d.merges, k)
	}
	return docs
}

// readBatch reads the stored findings of docs, one query per partition
// (per thousand findings), partitions in parallel.
func (t *Triage) readBatch(ctx context.Context, docs []*batchDoc) error {
	var repos []string
	byRepo := map[string]map[string]*batchDoc{}
	for _, d := range docs {
		if byRepo[d.repo] == nil {
			byRepo[d.repo] = map[string]*batchDoc{}
			repos = append(repos, d.repo)
		}
		byRepo[d.repo][d.id] = d
	}
	return each(ctx, t.workers(), len(repos), func(ctx context.Context, k int) error {
		in := byRepo[repos[k]]
		ids := make([]string, 0, len(in))
		for id := range in {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		fs, err := t.Store.FindingsIn(ctx, repos[k], ids)
		if err != nil {
			return fmt.Errorf("read the batch's findings of %s: %w", repos[k], err)
		}
		for i := range fs {
			if d := in[fs[i].ID]; d != nil {
				d.f = &fs[i]
			}
		}
		return nil
	})
}

// applyMerges runs one finding's merges (indexes into merges) in order on
// f, recording in out what each found and did; exists says f is stored.
func applyMerges(f *model.Finding, exists bool, idx []int, merges []model.FindingMerge, out []model.FindingMerged) (applied bool, err error) {
	for _, k := range idx {
		out[k].Found = exists
		err := merges[k].Merge(f, exists)
		switch {
		case errors.Is(err, model.ErrSkip):
			out[k].Applied = false
			continue
		case err != nil:
			return false, err
		}
		out[k].Applied, applied, exists = true, true, true
	}
	return applied, nil
}

// saveBatchDoc completes and writes one merged finding of a batch.
func (t *Triage) saveBatchDoc(ctx context.Context, d *batchDoc, merges []model.FindingMerge, out []model.FindingMerged,
	peers func(ctx context.Context, f *model.Finding) ([]model.Finding, error)) error {
	if !d.applied {
		return nil
	}
	var err error
	if d.peers, err = t.complete(ctx, d.f, d.exists, d.stored, peers); err != nil {
		return fmt.Errorf("upsert finding %s: %w", d.id, err)
	}
	d.written, err = t.Store.SaveFinding(ctx, d.f, d.exists)
	d.created = d.written && !d.exists
	switch {
	case errors.Is(err, model.ErrPreconditionFailed):
		// Written by someone else since the batch read it: replay this
		// finding's merges on a fresh read, the guarded way.
		w, err := t.write(ctx, d.repo, d.id, func(f *model.Finding, exists bool) error {
			applied, err := applyMerges(f, exists, d.merges, merges, out)
			if err == nil && !applied {
				return model.ErrSkip
			}
			return err
		})
		if err != nil {
			return err
		}
		d.f, d.exists, d.applied = w.f, !w.created || w.changed, !w.skipped
		d.written, d.created, d.peers = w.changed, w.changed && w.created, w.peers
	case err != nil:
		return fmt.Errorf("upsert finding %s: %w", d.id, err)
	}
	return nil
}

// peerChunk bounds the vulnerability ids of one peer query.
const peerChunk = 500

// batchPeers looks up the peers of every finding of a batch with one
// query per repository spelling and source (per peerChunk ids), and
// returns what finds one finding's peers among them.
func (t *Triage) batchPeers(ctx context.Context, docs []*batchDoc) (func(ctx context.Context, f *model.Finding) ([]model.Finding, error), error) {
	type where struct {
		repo   string
		source model.Source
	}
	var (
		order []where
		want  = map[where][]string{}
		seen  = map[where]map[string]bool{}
	)
	for _, d := range docs {
		if !d.applied {
			continue
		}
		other, params, repos := peerQuery(d.f)
		for _, repo := range repos {
			w := where{repo, other}
			if seen[w] == nil {
				seen[w] = map[string]bool{}
				order = append(order, w)
			}
			for _, p := range params {
				if !seen[w][p] {
					seen[w][p] = true
					want[w] = append(want[w], p)
				}
			}
		}
	}
	var mu sync.Mutex
	cands := map[where][]model.Finding{}
	err := each(ctx, t.workers(), len(order), func(ctx context.Context, k int) error {
		w := order[k]
		for chunk := range slices.Chunk(want[w], peerChunk) {
			fs, err := t.Store.FindingsNamingVulnerability(ctx, w.repo, w.source, chunk)
			if err != nil {
				return fmt.Errorf("find findings correlated with the batch's: %w", err)
			}
			mu.Lock()
			cands[w] = append(cands[w], fs...)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return func(_ context.Context, f *model.Finding) ([]model.Finding, error) {
		other, _, repos := peerQuery(f)
		var out []model.Finding
		for _, repo := range repos {
			out = addPeers(out, f, cands[where{repo, other}])
		}
		return out, nil
	}, nil
}

// groupRef names one group.
type groupRef struct{ repo, id string }

// afterBatch is after for a whole batch: each peer gets its new links in
// one write, and each group the batch touched is refreshed once.
func (t *Triage) afterBatch(ctx context.Context, docs []*batchDoc) error {
	var (
		mu      sync.Mutex
		refresh []groupRef
		queued  = map[groupRef]bool{}
	)
	add := func(repo, id string) {
		mu.Lock()
		defer mu.Unlock()
		if g := (groupRef{repo, id}); !queued[g] {
			queued[g] = true
			refresh = append(refresh, g)
		}
	}
	type peerLinks struct {
		p   *model.Finding
		ids []string
	}
	var (
		links   []*peerLinks
		linkOf  = map[groupRef]*peerLinks{} // by peer repository and id
		creates []*model.Finding
		check   = map[string][]*batchDoc{}
		repos   []string
	)
	for _, d := range docs {
		if !d.applied {
			continue
		}
		f := d.f
		for i := range d.peers {
			p := &d.peers[i]
			linked := slices.Contains(p.Related, f.ID)
			if !linked {
				l := linkOf[groupRef{p.Repository, p.ID}]
				if l == nil {
					l = &peerLinks{p: p}
					linkOf[groupRef{p.Repository, p.ID}] = l
					links = append(links, l)
				}
				l.ids = append(l.ids, f.ID)
			}
			// A peer's issue shows this finding under "same vulnerability".
			if (d.written || !linked) && p.GroupID != "" {
				add(p.Repository, p.GroupID)
			}
		}
		switch {
		case f.GroupID == "":
		case d.created && len(d.peers) == 0:
			creates = append(creates, f)
		case d.written:
			add(f.Repository, f.GroupID)
		default:
			if check[f.Repository] == nil {
				repos = append(repos, f.Repository)
			}
			check[f.Repository] = append(check[f.Repository], d)
		}
	}
	err := each(ctx, t.workers(), len(links), func(ctx context.Context, k int) error {
		return t.link(ctx, links[k].p, links[k].ids...)
	})
	if err != nil {
		return err
	}
	err = each(ctx, t.workers(), len(creates), func(ctx context.Context, k int) error {
		done, err := t.createAlertGroup(ctx, creates[k])
		if err == nil && !done {
			add(creates[k].Repository, creates[k].GroupID)
		}
		return err
	})
	if err != nil {
		return err
	}
	// Unchanged findings: their group is refreshed only when it was
	// computed before the finding's last write or misses it (a retry
	// after a failure between the finding's write and its group's).
	err = each(ctx, t.workers(), len(repos), func(ctx context.Context, k int) error {
		ds := check[repos[k]]
		var ids []string
		for _, d := range ds {
			if !slices.Contains(ids, d.f.GroupID) {
				ids = append(ids, d.f.GroupID)
			}
		}
		gs, err := t.Store.GroupMembers(ctx, repos[k], ids)
		if err != nil {
			return fmt.Errorf("read the batch's groups of %s: %w", repos[k], err)
		}
		byID := make(map[string]*model.Group, len(gs))
		for i := range gs {
			byID[gs[i].ID] = &gs[i]
		}
		for _, d := range ds {
			g := byID[d.f.GroupID]
			if g == nil || g.TS < d.f.TS || !slices.Contains(g.FindingIDs, d.f.ID) {
				add(d.f.Repository, d.f.GroupID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return each(ctx, t.workers(), len(refresh), func(ctx context.Context, k int) error {
		_, err := t.RefreshGroup(ctx, refresh[k].repo, refresh[k].id)
		return err
	})
}

// each runs fn for 0..n-1, at most workers at a time, and returns the
// first error (the others are cancelled through ctx).
func each(ctx context.Context, workers, n int, fn func(ctx context.Context, k int) error) error {
	if n == 0 {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for k := range n {
		g.Go(func() error { return fn(ctx, k) })
	}
	return g.Wait()
}

func (t *Triage) workers() int {
	if t.Workers > 0 {
		return t.Workers
	}
	return 8
}
