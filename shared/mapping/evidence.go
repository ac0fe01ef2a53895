package mapping

import (
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// MaxEvidencePerKind bounds how many pieces of evidence of one kind an
// artifact keeps (the newest): an image redeployed daily must not grow its
// document without end.
const MaxEvidencePerKind = 5

// Resolution is the source of an image digest as the evidence tells it.
type Resolution struct {
	// Best is the strongest evidence (most recent among equals).
	Best model.Evidence
	// Repository is Best's repository, normalised.
	Repository string
	// Commit is the commit of the strongest evidence naming the same
	// repository that has one: a deployment record rarely carries a commit
	// while OCI labels of the same build do.
	Commit string
	// Conflicts lists the evidence naming another repository, strongest
	// first, for the caller to log: a digest claimed by two repositories
	// is worth a look.
	Conflicts []model.Evidence
}

// Resolve picks the source repository of a digest from its evidence:
// strongest kind first (attestation > github-package > oci-labels >
// deployment-record), then the most recent, then by repository, commit and
// ref so the answer never depends on the order of the input. Evidence
// without a repository or of an unknown kind cannot name a source and is
// ignored. ok is false when no evidence names one.
func Resolve(evidence []model.Evidence) (Resolution, bool) {
	usable := make([]model.Evidence, 0, len(evidence))
	for _, e := range evidence {
		if e.Kind.Strength() > 0 && NormalizeRepository(e.Repository, "") != "" {
			usable = append(usable, e)
		}
	}
	if len(usable) == 0 {
		return Resolution{}, false
	}
	slices.SortFunc(usable, compareEvidence)
	r := Resolution{Best: usable[0], Repository: NormalizeRepository(usable[0].Repository, "")}
	for _, e := range usable {
		if NormalizeRepository(e.Repository, "") != r.Repository {
			r.Conflicts = append(r.Conflicts, e)
		} else if r.Commit == "" && e.Commit != "" {
			r.Commit = e.Commit
		}
	}
	return r, true
}

// compareEvidence orders evidence strongest first, then newest, then by
// its identifying fields.
func compareEvidence(a, b model.Evidence) int {
	if sa, sb := a.Kind.Strength(), b.Kind.Strength(); sa != sb {
		return sb - sa
	}
	if c := b.At.Compare(a.At); c != 0 {
		return c
	}
	if c := strings.Compare(strings.ToLower(a.Repository), strings.ToLower(b.Repository)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Commit, b.Commit); c != 0 {
		return c
	}
	if c := strings.Compare(a.Ref, b.Ref); c != 0 {
		return c
	}
	if c := strings.Compare(a.Workflow, b.Workflow); c != 0 {
		return c
	}
	switch {
	case a.RunID < b.RunID:
		return -1
	case a.RunID > b.RunID:
		return 1
	}
	return strings.Compare(string(a.Kind), string(b.Kind))
}

// sameEvidence: the same piece of evidence seen again (a redelivered
// webhook, a re-posted deployment record). Its time does not matter.
func sameEvidence(a, b model.Evidence) bool {
	return a.Kind == b.Kind &&
		strings.EqualFold(a.Repository, b.Repository) &&
		a.Commit == b.Commit &&
		a.Ref == b.Ref
}

// MergeEvidence adds e to an artifact's evidence. It is idempotent: evidence
// already present (same kind, repository, commit and ref) changes nothing,
// whatever its time. It is bounded: at most MaxEvidencePerKind of each kind
// are kept, the newest; evidence older than all kept ones of its kind is
// not added. Evidence of an unknown kind is not added. The result is
// sorted as Resolve orders it, so the stored document does not depend on
// arrival order; existing is never modified. changed reports whether e was
// added.
func MergeEvidence(existing []model.Evidence, e model.Evidence) (merged []model.Evidence, changed bool) {
	if e.Kind.Strength() == 0 {
		return existing, false
	}
	for _, x := range existing {
		if sameEvidence(x, e) {
			return existing, false
		}
	}
	all := make([]model.Evidence, 0, len(existing)+1)
	all = append(all, existing...)
	all = append(all, e)
	slices.SortFunc(all, compareEvidence)
	// Keep the newest MaxEvidencePerKind of each kind; the sort put them
	// first within their kind.
	out := all[:0]
	kept := make(map[model.EvidenceKind]int, 4)
	added := false
	for _, x := range all {
		if kept[x.Kind] >= MaxEvidencePerKind {
			continue
		}
		kept[x.Kind]++
		out = append(out, x)
		if !added && x == e {
			added = true
		}
	}
	if !added {
		return existing, false
	}
	return out, true
}
