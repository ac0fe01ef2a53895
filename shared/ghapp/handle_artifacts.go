package ghapp

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Artifacts records build evidence from GitHub: a container image published
// to GitHub Packages (registry_package, package) names the repository and
// commit its digest came from; a successful workflow_run adds its workflow
// and run to the images already known for its commit.
type Artifacts struct {
	Store ArtifactEvidence
	// Runtime is told when an image's source may have moved, so the
	// runtime context cached for scoring is read again
	// (triage.RuntimeChanged of the store); nil tells nobody.
	Runtime func()
	Now     func() time.Time
}

func (h *Artifacts) runtimeChanged() {
	if h.Runtime != nil {
		h.Runtime()
	}
}

// Handles implements Handler.
func (h *Artifacts) Handles() []string {
	return []string{alerts.EventRegistryPackage, alerts.EventPackage, alerts.EventWorkflowRun}
}

// Handle implements Handler.
func (h *Artifacts) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	switch eventType {
	case alerts.EventRegistryPackage, alerts.EventPackage:
		decode := alerts.DecodeRegistryPackage
		if eventType == alerts.EventPackage {
			decode = alerts.DecodePackage
		}
		img, err := decode(payload, now(h.Now))
		if err != nil {
			return err
		}
		return h.published(ctx, img, deliveryID)
	case alerts.EventWorkflowRun:
		run, err := alerts.DecodeWorkflowRun(payload, now(h.Now))
		if err != nil {
			return err
		}
		return h.workflowRun(ctx, run, deliveryID)
	}
	return fmt.Errorf("%w: %q", ErrUnhandledEvent, eventType)
}

func (h *Artifacts) published(ctx context.Context, img alerts.PublishedImage, deliveryID string) error {
	ref := alerts.FirstNonBlank(img.URL, "delivery:"+deliveryID)
	var evidence []model.Evidence
	if e, ok := img.Evidence(ref); ok {
		e.Repository = mapping.NormalizeRepository(e.Repository, "")
		evidence = append(evidence, e)
	}
	// The image's own claim (org.opencontainers.image.source) is weaker
	// than GitHub's link of the package to a repository, but it is what
	// an unlinked package has.
	if src := mapping.NormalizeRepository(img.SourceRepository, ""); src != "" {
		evidence = append(evidence, model.Evidence{Kind: model.EvidenceOCILabels, Repository: src, Commit: img.Commit, Ref: ref, At: img.At})
	}
	doc, changed, err := h.Store.UpdateArtifact(ctx, img.Digest, func(a *model.Artifact, exists bool) error {
		a.ID, a.Digest = img.Digest, img.Digest
		if a.Registry == "" {
			a.Registry = img.Registry
		}
		if a.Image == "" {
			a.Image = img.Image
		}
		a.Tags = unionSorted(a.Tags, img.Tags)
		for _, e := range evidence {
			a.Evidence, _ = mapping.MergeEvidence(a.Evidence, e)
		}
		resolve(ctx, a)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record published image %s: %w", img.Digest, err)
	}
	if changed {
		h.runtimeChanged() // the image's repository may have moved
	}
	invocation.Logger(ctx).Info("published image recorded", "digest", doc.Digest, "image", doc.Image,
		"repository", doc.Repository, "commit", doc.Commit, "changed", changed)
	return nil
}

func (h *Artifacts) workflowRun(ctx context.Context, run alerts.WorkflowRun, deliveryID string) error {
	if !run.Succeeded() {
		return ignored(alerts.EventWorkflowRun, "run %d is %s/%s, not a completed success", run.RunID, run.Status, alerts.FirstNonBlank(run.Conclusion, "-"))
	}
	repo := mapping.NormalizeRepository(run.Repository, "")
	e := run.Evidence(alerts.FirstNonBlank(run.URL, "workflow_run:"+strconv.FormatInt(run.RunID, 10)))
	e.Repository = repo
	// The run says which commit it built, not which digest: it can only
	// add its workflow and run to images already known for that commit of
	// that repository (the package event of the image carries the rest).
	var digests []string
	err := h.Store.ArtifactsOfCommit(ctx, run.HeadSHA, func(a *model.Artifact) error {
		if mapping.NormalizeRepository(a.Repository, "") == repo {
			digests = append(digests, a.Digest)
		}
		return nil
	})
	if err != nil {
		return err
	}
	log := invocation.Logger(ctx).With("runId", run.RunID, "repository", repo, "commit", run.HeadSHA)
	if len(digests) == 0 {
		log.Info("workflow run: no known image of its commit")
		return nil
	}
	for _, digest := range digests {
		_, changed, err := h.Store.UpdateArtifact(ctx, digest, func(a *model.Artifact, exists bool) error {
			if !exists {
				return model.ErrSkip // deleted meanwhile
			}
			var added bool
			a.Evidence, added = mapping.MergeEvidence(a.Evidence, e)
			if !added {
				return model.ErrSkip
			}
			resolve(ctx, a)
			return nil
		})
		if err != nil {
			return fmt.Errorf("add workflow run %d to image %s: %w", run.RunID, digest, err)
		}
		if changed {
			h.runtimeChanged()
		}
		log.Info("workflow run recorded on image", "digest", digest, "changed", changed)
	}
	return nil
}

// resolve sets the artifact's repository and commit from its strongest
// evidence.
func resolve(ctx context.Context, a *model.Artifact) {
	r, ok := mapping.Resolve(a.Evidence)
	if !ok {
		return
	}
	a.Repository, a.Commit = r.Repository, r.Commit
	if len(r.Conflicts) > 0 {
		invocation.Logger(ctx).Warn("image claimed by more than one repository", "digest", a.Digest,
			"repository", r.Repository, "otherRepository", r.Conflicts[0].Repository, "otherKind", r.Conflicts[0].Kind)
	}
}

func unionSorted(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
