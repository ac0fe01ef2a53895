package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Correlation: a Dependabot alert for vulnerability X in repository R and a
// Defender CVE X on an image built from R are one story seen from both
// sides (the dependency in the manifest, the package in the running
// image). They are linked through Finding.Related so issues, the API and
// the report show them together.
//
// Scoring does not merge them: each is scored in its own runtime context.
// The Dependabot alert takes the context of every workload built from R
// (so it is never rated as less deployed than the image finding), the
// Defender finding that of the workloads running its image. Neither
// borrows the other's exploitability, so a finding's score depends only on
// its own record and the runtime, and the nightly run, which sees one
// finding at a time, reproduces it exactly. They stay two issues (one per
// GHAS alert, one per image, as DESIGN.md groups them), each naming the
// other.

// vulnIDs lists the identifiers a finding names its vulnerability by
// (CVE, GHSA, aliases), without duplicates.
func vulnIDs(f *model.Finding) []string {
	var out []string
	for _, id := range append([]string{f.CVE, f.GHSA}, f.Aliases...) {
		if id = strings.TrimSpace(id); id != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, id) }) {
			out = append(out, id)
		}
	}
	return out
}

// Correlated reports whether a and b are the same vulnerability seen from
// both sides: one a Dependabot alert, the other a Defender CVE on an image
// mapped to the same repository, naming a common CVE or GHSA id.
func Correlated(a, b *model.Finding) bool {
	if a.ID == b.ID {
		return false
	}
	if a.Source == model.SourceDefenderCVE {
		a, b = b, a
	}
	if a.Source != model.SourceDependabot || b.Source != model.SourceDefenderCVE {
		return false
	}
	repo := mapping.NormalizeRepository(a.Repository, "")
	if repo == "" || repo != mapping.NormalizeRepository(b.Repository, "") {
		return false
	}
	ids := vulnIDs(b)
	for _, id := range vulnIDs(a) {
		if slices.ContainsFunc(ids, func(o string) bool { return strings.EqualFold(o, id) }) {
			return true
		}
	}
	return false
}

// relatedIDs unites the ids already linked with those of new peers, sorted.
func relatedIDs(existing []string, peers []model.Finding) []string {
	out := slices.Clone(existing)
	for _, p := range peers {
		if !slices.Contains(out, p.ID) {
			out = append(out, p.ID)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return out
}

// peers finds the findings correlated with f. Both sides live in the
// repository's partition (a mapped image CVE is stored under its source
// repository), so this is one single-partition query per spelling of the
// repository name.
func (t *Triage) peers(ctx context.Context, f *model.Finding) ([]model.Finding, error) {
	other, params, repos := peerQuery(f)
	var out []model.Finding
	for _, repo := range repos {
		cands, err := t.Store.FindingsNamingVulnerability(ctx, repo, other, params)
		if err != nil {
			return nil, fmt.Errorf("find findings correlated with %s: %w", f.ID, err)
		}
		out = addPeers(out, f, cands)
	}
	return out, nil
}

// peerQuery says where f's peers are: findings of source other, in one of
// repos (the spellings of its repository), naming one of params (every
// case spelling of its vulnerability ids). No repos: f has none.
func peerQuery(f *model.Finding) (other model.Source, params, repos []string) {
	switch f.Source {
	case model.SourceDependabot:
		other = model.SourceDefenderCVE
	case model.SourceDefenderCVE:
		other = model.SourceDependabot
	default:
		return "", nil, nil
	}
	ids := vulnIDs(f)
	norm := mapping.NormalizeRepository(f.Repository, "")
	if len(ids) == 0 || norm == "" {
		return "", nil, nil
	}
	// Queries match exactly: pass every case spelling the sources use
	// (upper-case CVE ids, GHSA ids as GitHub writes them).
	for _, id := range ids {
		for _, v := range []string{id, strings.ToUpper(id), strings.ToLower(id), ghsaSpelling(id)} {
			if v != "" && !slices.Contains(params, v) {
				params = append(params, v)
			}
		}
	}
	return other, params, uniqueStrings(f.Repository, norm)
}

// addPeers adds the candidates correlated with f to out, once each.
func addPeers(out []model.Finding, f *model.Finding, cands []model.Finding) []model.Finding {
	for i := range cands {
		p := &cands[i]
		if Correlated(f, p) && !slices.ContainsFunc(out, func(o model.Finding) bool { return o.ID == p.ID }) {
			out = append(out, *p)
		}
	}
	return out
}

// ghsaSpelling writes a GHSA id as GitHub does: "GHSA-" and lower case.
func ghsaSpelling(id string) string {
	if len(id) > 5 && strings.EqualFold(id[:5], "GHSA-") {
		return "GHSA-" + strings.ToLower(id[5:])
	}
	return ""
}

func uniqueStrings(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
