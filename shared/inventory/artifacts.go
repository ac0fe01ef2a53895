package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/registry"
)

// errRelinkFirst stops an artifact update whose source repository would
// change, so workloads and findings are re-linked before the artifact says
// so: if the re-link fails, the retried input finds the artifact unchanged
// and re-links again, instead of finding nothing left to do.
var errRelinkFirst = errors.New("re-link before storing the new source")

// UpdateArtifact applies fn to the artifact of digest (a new one when
// absent; fn may return model.ErrSkip to write nothing), re-resolves its
// source repository and commit from its evidence and, when the repository
// changes, moves the workloads and findings of the digest to it. When the
// storage record GitHub should hold changed, a storage sync is enqueued.
func (i *Inventory) UpdateArtifact(ctx context.Context, digest string, fn func(a *model.Artifact, exists bool) error) (*model.Artifact, bool, error) {
	return i.updateArtifactFrom(ctx, digest, nil, fn)
}

// updateArtifactFrom is UpdateArtifact whose first read may be a batch
// read: read, when not nil, holds the document as read (nil: none).
func (i *Inventory) updateArtifactFrom(ctx context.Context, digest string, read **model.Artifact, fn func(a *model.Artifact, exists bool) error) (*model.Artifact, bool, error) {
	relinked := map[string]bool{}
	for attempt := 0; ; attempt++ {
		var from, to string
		update := func(a *model.Artifact, exists bool) error {
			if !exists {
				a.ID, a.Digest = digest, digest
			}
			old := a.Repository
			if err := fn(a, exists); err != nil {
				return err
			}
			i.resolve(a)
			if a.Repository != old && !relinked[a.Repository] {
				from, to = old, a.Repository
				return errRelinkFirst
			}
			return nil
		}
		var a *model.Artifact
		var changed bool
		var err error
		if read != nil && attempt == 0 {
			a, changed, err = saveFrom(*read, cloneArtifact, update,
				func(a *model.Artifact, exists bool) (bool, error) { return i.Store.SaveArtifact(ctx, a, exists) },
				func() (*model.Artifact, bool, error) { return i.Store.UpdateArtifact(ctx, digest, update) })
		} else {
			a, changed, err = i.Store.UpdateArtifact(ctx, digest, update)
		}
		if errors.Is(err, errRelinkFirst) && attempt < 3 {
			if err := i.relink(ctx, digest, from, to); err != nil {
				return nil, false, err
			}
			relinked[to] = true
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("update artifact %s: %w", digest, err)
		}
		if changed {
			// The artifact's repository is part of the runtime context
			// the finding writer may cache; drop this process's copy.
			if c, ok := i.Findings.(interface{ RuntimeChanged() }); ok {
				c.RuntimeChanged()
			}
			if rec, _, ok := StorageRecord(a); ok && RecordHash(rec) != a.StorageRecordHash {
				if err := i.enqueueStorage(ctx, a); err != nil {
					return a, true, err
				}
			}
		}
		return a, changed, nil
	}
}

// resolve sets the artifact's repository and commit from its strongest
// evidence; without usable evidence they are left as they are.
func (i *Inventory) resolve(a *model.Artifact) {
	r, ok := mapping.Resolve(a.Evidence)
	if !ok {
		return
	}
	if len(r.Conflicts) > 0 && a.Repository != r.Repository {
		i.logger().Warn("image digest claimed by more than one repository",
			"digest", a.Digest, "repository", r.Repository, "evidence", string(r.Best.Kind),
			"otherRepository", r.Conflicts[0].Repository, "otherEvidence", string(r.Conflicts[0].Kind))
	}
	a.Repository, a.Commit = r.Repository, r.Commit
}

// fillImage names the image of an artifact that has none yet.
func fillImage(a *model.Artifact, image string) {
	if a.Image != "" || image == "" {
		return
	}
	a.Image = normalizeImage(image)
	if reg, _, ok := strings.Cut(a.Image, "/"); ok && a.Registry == "" {
		a.Registry = reg
	}
}

// normalizeImage is mapping.NormalizeImage, or the lower-cased input when
// it does not parse (so it still matches itself).
func normalizeImage(s string) string {
	if n, err := mapping.NormalizeImage(s); err == nil {
		return n
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// AddEvidence records a piece of evidence of where digest was built (an
// attestation, a GitHub package or workflow run, OCI labels, a deployment
// record) on its artifact, naming the image when the artifact has none.
// Evidence seen before changes nothing.
func (i *Inventory) AddEvidence(ctx context.Context, digest, image string, ev model.Evidence) (*model.Artifact, bool, error) {
	return i.UpdateArtifact(ctx, digest, addEvidence(image, ev))
}

// addEvidence is AddEvidence's change of an artifact.
func addEvidence(image string, ev model.Evidence) func(a *model.Artifact, exists bool) error {
	return func(a *model.Artifact, exists bool) error {
		fillImage(a, image)
		merged, added := mapping.MergeEvidence(a.Evidence, ev)
		if !added && exists {
			return model.ErrSkip
		}
		a.Evidence = merged
		return nil
	}
}

// cloneArtifact copies a deeply enough that edits of the copy's slices do
// not show through.
func cloneArtifact(a *model.Artifact) *model.Artifact {
	c := *a
	c.Tags, c.Evidence, c.StorageRecords = slices.Clone(a.Tags), slices.Clone(a.Evidence), slices.Clone(a.StorageRecords)
	return &c
}

// saveFrom is a read-modify-write whose read was a batch read: stored is
// the document as read (nil: there was none), copied before fn changes
// it. save writes it under the ETag it was read with, without reading
// again; when another writer got there first, update does the whole
// read-modify-write from a fresh read.
func saveFrom[T any](stored *T, clone func(*T) *T, fn func(doc *T, exists bool) error,
	save func(doc *T, exists bool) (bool, error), update func() (*T, bool, error)) (*T, bool, error) {
	doc, exists := new(T), stored != nil
	if exists {
		doc = clone(stored)
	}
	if err := fn(doc, exists); err != nil {
		if errors.Is(err, model.ErrSkip) {
			return doc, false, nil
		}
		return nil, false, err
	}
	written, err := save(doc, exists)
	if errors.Is(err, model.ErrPreconditionFailed) {
		return update()
	}
	if err != nil {
		return nil, false, err
	}
	return doc, written, nil
}

// RecordImageEvent stores what an ACR event says: a push names the image,
// the digest and a tag (and undoes an earlier deletion); a deletion marks
// the digest deleted, or removes the tag from the digests that carry it
// when the event names only a tag.
func (i *Inventory) RecordImageEvent(ctx context.Context, ev registry.Event) (bool, error) {
	if ev.Registry == "" {
		// The event names no host: the registry's, in the configured cloud.
		ev.Registry = i.Cloud.ACRLoginServer(ev.Topic)
	}
	image := normalizeImage(ev.Image())
	switch ev.Action {
	case registry.ActionPushed:
		a, changed, err := i.UpdateArtifact(ctx, ev.Digest, func(a *model.Artifact, exists bool) error {
			a.Image, a.Registry = image, strings.ToLower(ev.Registry)
			if ev.Tag != "" && !slices.Contains(a.Tags, ev.Tag) {
				a.Tags = append(a.Tags, ev.Tag)
				slices.Sort(a.Tags)
			}
			a.Deleted = false
			return nil
		})
		if err == nil && changed && a.Repository == "" && IsACR(a.Registry) {
			// No source known yet: the storage sync looks up the image's
			// attestation, and pushes the record once it knows the repository.
			err = i.enqueueStorage(ctx, a)
		}
		return changed, err
	case registry.ActionDeleted:
		if ev.Digest != "" {
			_, changed, err := i.UpdateArtifact(ctx, ev.Digest, func(a *model.Artifact, exists bool) error {
				if !exists {
					return model.ErrSkip // never seen: nothing to mark
				}
				fillImage(a, image)
				a.Deleted = true
				return nil
			})
			return changed, err
		}
		return i.untag(ctx, image, ev.Tag)
	}
	return false, fmt.Errorf("record image event %s: action %q", ev.ID, ev.Action)
}

// untag removes a tag from every digest of an image that carries it.
func (i *Inventory) untag(ctx context.Context, image, tag string) (bool, error) {
	arts, _, err := i.Store.ArtifactsTagged(ctx, image, tag, maxRelink)
	if err != nil {
		return false, err
	}
	changedAny := false
	for _, a := range arts {
		_, changed, err := i.UpdateArtifact(ctx, a.Digest, func(a *model.Artifact, exists bool) error {
			k := slices.Index(a.Tags, tag)
			if !exists || k < 0 {
				return model.ErrSkip
			}
			a.Tags = slices.Delete(a.Tags, k, k+1)
			return nil
		})
		if err != nil {
			return changedAny, err
		}
		changedAny = changedAny || changed
	}
	return changedAny, nil
}

// maxRelink bounds how many workloads or findings one change of an image's
// source re-links; more than this on one digest means something else is
// wrong, and the nightly run repairs the rest.
const maxRelink = 5000

// relink points the workloads and findings of a digest at its new source
// repository: workloads get the repository (and their runtime context
// change is announced), findings move from the old partition (the old
// repository, and the unmapped one) to the new.
func (i *Inventory) relink(ctx context.Context, digest, from, to string) error {
	i.logger().Info("image source changed; re-linking workloads and findings",
		"digest", digest, "from", from, "to", to)
	ws, _, err := i.Store.WorkloadsOnDigests(ctx, []string{digest}, maxRelink)
	if err != nil {
		return fmt.Errorf("re-link digest %s: find workloads: %w", digest, err)
	}
	for _, w := range ws {
		var before *model.Workload
		after, changed, err := i.Store.UpdateWorkload(ctx, w.Cluster, w.ID, func(cur *model.Workload, exists bool) error {
			if !exists || cur.Digest != digest || cur.Repository == to {
				return model.ErrSkip
			}
			before = cloneWorkload(cur)
			cur.Repository = to
			return nil
		})
		if err != nil {
			return fmt.Errorf("re-link workload %s to %s: %w", w.ID, to, err)
		}
		if changed {
			if err := i.workloadChanged(ctx, before, after); err != nil {
				return err
			}
		}
	}
	partitions := []string{model.UnmappedRepository}
	if from != "" && from != model.UnmappedRepository {
		partitions = append(partitions, from)
	}
	for _, p := range partitions {
		if p == to {
			continue
		}
		fs, _, err := i.Store.FindingsOnDigestIn(ctx, p, digest, maxRelink)
		if err != nil {
			return fmt.Errorf("re-link digest %s: find findings in %s: %w", digest, p, err)
		}
		for k := range fs {
			if err := i.moveFinding(ctx, &fs[k], to); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveFinding re-files a finding under another repository (the partition
// key cannot change in place): merged into the finding of the same id there,
// then deleted from the old partition. Its group is cleared so triage
// assigns the group of the new repository.
func (i *Inventory) moveFinding(ctx context.Context, f *model.Finding, to string) error {
	from := f.Repository
	_, _, err := i.Findings.Upsert(ctx, to, f.ID, func(n *model.Finding, exists bool) error {
		if !exists {
			*n = *f
			n.Meta = model.Meta{}
			n.Repository = to
			n.GroupID = ""
			return nil
		}
		n.Digests = union(n.Digests, f.Digests...)
		n.DefenderIDs = union(n.DefenderIDs, f.DefenderIDs...)
		if f.State.Active() && !n.State.Active() {
			n.State, n.StateReason, n.SourceUpdatedAt = f.State, f.StateReason, f.SourceUpdatedAt
		}
		if !f.FirstSeen.IsZero() && (n.FirstSeen.IsZero() || f.FirstSeen.Before(n.FirstSeen)) {
			n.FirstSeen = f.FirstSeen
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("move finding %s from %s to %s: %w", f.ID, from, to, err)
	}
	if err := i.Store.DeleteFinding(ctx, from, f.ID); err != nil {
		return fmt.Errorf("move finding %s from %s to %s: %w", f.ID, from, to, err)
	}
	return nil
}

// union adds values to a sorted set (sorted, without duplicates or empty
// strings), returning a new slice.
func union(set []string, values ...string) []string {
	out := slices.Clone(set)
	for _, v := range values {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// without removes a value from a set, returning a new slice.
func without(set []string, v string) []string {
	out := make([]string, 0, len(set))
	for _, s := range set {
		if s != v {
			out = append(out, s)
		}
	}
	return out
}
