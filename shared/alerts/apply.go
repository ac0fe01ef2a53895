package alerts

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// stateRank breaks ties between events with the same SourceUpdatedAt:
// the higher rank wins. A closing state carries a decision (a user's
// dismissal with its reason, a resolution, a fix seen by analysis) while
// "open" is also what informational events (assignment, validity checks,
// a new branch) repeat; GitHub's timestamps have one-second resolution, so
// "closed and something else in the same second" must not reopen. The
// nightly sweep re-reads every alert and repairs the rare wrong tie.
func stateRank(s model.FindingState) int {
	switch s {
	case model.StateDismissed:
		return 4
	case model.StateResolved:
		return 3
	case model.StateFixed:
		return 2
	case model.StateOpen:
		return 1
	}
	return 0
}

// Apply merges an incoming finding (decoded from an event) into the stored
// one, both for the same finding id, so that delivery order does not matter:
//
//   - existing == nil: the incoming finding is taken as is;
//   - incoming newer (a later SourceUpdatedAt, or the same time and a
//     higher stateRank): the incoming state and fields win;
//   - otherwise (older, or a tie it loses): the stored state, reason and
//     time stay; the incoming event may only fill informational fields the
//     stored finding lacks (location, package, CVSS, EPSS, aliases, ...).
//
// Fields the decoders never set — scoring output, group id, Defender ids,
// image and digests — and the store's Meta are always kept from existing.
// FirstSeen is the earliest known. Equal inputs in either order give the
// same state: Apply(a, b) and Apply(b, a) agree on State, StateReason and
// SourceUpdatedAt. changed is false when the result equals existing, so an
// unchanged finding is not written and not re-synced.
func Apply(existing *model.Finding, incoming model.Finding) (merged model.Finding, changed bool) {
	if existing == nil {
		return clone(incoming), true
	}
	newer := incoming.SourceUpdatedAt.After(existing.SourceUpdatedAt) ||
		(incoming.SourceUpdatedAt.Equal(existing.SourceUpdatedAt) && stateRank(incoming.State) > stateRank(existing.State))

	if newer {
		merged = clone(incoming)
		fillInformational(&merged, existing)
		keepStored(&merged, existing)
	} else {
		merged = clone(*existing)
		fillInformational(&merged, &incoming)
	}
	merged.FirstSeen = earliest(existing.FirstSeen, incoming.FirstSeen)
	return merged, !sameContent(&merged, existing)
}

// keepStored copies what only later steps (scoring, grouping, Defender
// ingest) and the store write.
func keepStored(dst, stored *model.Finding) {
	dst.Meta = stored.Meta
	dst.Score = stored.Score
	dst.Priority = stored.Priority
	dst.Explanation = cloneExplanation(stored.Explanation)
	if stored.GroupID != "" {
		dst.GroupID = stored.GroupID
	}
	dst.DefenderIDs = cloneSlice(stored.DefenderIDs)
	if dst.Image == "" {
		dst.Image = stored.Image
	}
	if len(dst.Digests) == 0 {
		dst.Digests = cloneSlice(stored.Digests)
	}
}

// fillInformational fills fields that describe the alert, not its state,
// when dst lacks them. Location is filled as a whole (path, lines and commit
// belong together); exploit flags only ever turn on (a secret once public
// stays leaked); aliases are united.
func fillInformational(dst, src *model.Finding) {
	fill := func(d *string, s string) {
		if *d == "" {
			*d = s
		}
	}
	if dst.AlertNumber == 0 {
		dst.AlertNumber = src.AlertNumber
	}
	fill(&dst.AlertURL, src.AlertURL)
	fill(&dst.RuleID, src.RuleID)
	fill(&dst.Title, src.Title)
	fill(&dst.Description, src.Description)
	fill(&dst.Tool, src.Tool)
	fill(&dst.CVE, src.CVE)
	fill(&dst.GHSA, src.GHSA)
	fill(&dst.Severity, src.Severity)
	fill(&dst.SecretType, src.SecretType)
	fill(&dst.Validity, src.Validity)
	fill(&dst.GroupID, src.GroupID)
	if dst.CVSS == nil && src.CVSS != nil {
		v := *src.CVSS
		dst.CVSS = &v
	}
	if dst.Exploit.EPSS == 0 {
		dst.Exploit.EPSS = src.Exploit.EPSS
	}
	dst.Exploit.KnownExploited = dst.Exploit.KnownExploited || src.Exploit.KnownExploited
	dst.Exploit.ExploitKit = dst.Exploit.ExploitKit || src.Exploit.ExploitKit
	dst.Exploit.PublicExploit = dst.Exploit.PublicExploit || src.Exploit.PublicExploit

	if len(src.Aliases) > 0 {
		a := newAliases(dst.Aliases...)
		for _, id := range src.Aliases {
			a.add(id)
		}
		dst.Aliases = a.list
	}

	if codeLocationEmpty(dst.Location) {
		dst.Location.Path = src.Location.Path
		dst.Location.StartLine = src.Location.StartLine
		dst.Location.EndLine = src.Location.EndLine
		dst.Location.Ref = src.Location.Ref
		dst.Location.Commit = src.Location.Commit
	}
	fill(&dst.Location.Manifest, src.Location.Manifest)
	fill(&dst.Location.Dockerfile, src.Location.Dockerfile)

	if src.Package != nil {
		if dst.Package == nil {
			p := *src.Package
			dst.Package = &p
		} else {
			fill(&dst.Package.Ecosystem, src.Package.Ecosystem)
			fill(&dst.Package.Name, src.Package.Name)
			fill(&dst.Package.Version, src.Package.Version)
			fill(&dst.Package.VulnerableRange, src.Package.VulnerableRange)
			fill(&dst.Package.FixedVersion, src.Package.FixedVersion)
			fill(&dst.Package.Scope, src.Package.Scope)
		}
	}
}

// codeLocationEmpty: nothing is known of where in the code the alert is.
func codeLocationEmpty(l model.Location) bool {
	return l.Path == "" && l.StartLine == 0 && l.EndLine == 0 && l.Ref == "" && l.Commit == ""
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

// clone deep-copies a finding so the merged result never shares slices or
// pointers with the caller's values.
func clone(f model.Finding) model.Finding {
	f.Aliases = cloneSlice(f.Aliases)
	f.Digests = cloneSlice(f.Digests)
	f.DefenderIDs = cloneSlice(f.DefenderIDs)
	f.Explanation = cloneExplanation(f.Explanation)
	if f.CVSS != nil {
		v := *f.CVSS
		f.CVSS = &v
	}
	if f.Package != nil {
		p := *f.Package
		f.Package = &p
	}
	return f
}

func cloneExplanation(e model.Explanation) model.Explanation {
	e.Factors = cloneSlice(e.Factors)
	return e
}

// cloneSlice copies s, keeping nil and empty apart (they encode differently).
func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// sameContent compares two findings as they would be stored (JSON), so that
// nil and empty slices, and time zones of the same instant, are equal.
func sameContent(a, b *model.Finding) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
