package remediation

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// maxBuildRows bounds each list of the build section: a long-lived image
// is found on many digests, and the newest few say enough.
const maxBuildRows = 5

// buildLines is the build context of the shown findings: what was built
// (image, Dockerfile, digests; the commit of a code alert) and the records
// that say it is vulnerable (the Defender for Cloud recommendations, linked
// to the portal of the configured cloud).
func buildLines(in IssueInput, shown []model.Finding) []string {
	var out []string
	g := in.Group
	if g.Kind == model.GroupKindImage {
		line := "Image `" + mdCode(g.Image) + "`"
		if i := slices.IndexFunc(shown, func(f model.Finding) bool { return f.Location.Dockerfile != "" }); i >= 0 {
			line += ", built with `" + mdCode(shown[i].Location.Dockerfile) + "`"
		}
		out = append(out, line)
		var digests []string
		for _, f := range shown {
			for _, d := range f.Digests {
				if !slices.Contains(digests, d) {
					digests = append(digests, d)
				}
			}
		}
		slices.Sort(digests)
		if len(digests) > 0 {
			out = append(out, "Found on "+listCode(digests)+" "+plural(len(digests), "digest", "digests"))
		}
		out = append(out, provenanceLines(in.Artifacts, digests)...)
	} else if top := &shown[0]; top.Location.Commit != "" {
		line := "Found at commit `" + mdCode(top.Location.Commit) + "`"
		if top.Location.Ref != "" {
			line += " of `" + mdCode(top.Location.Ref) + "`"
		}
		out = append(out, line)
	}
	if as := Assessments(shown); len(as) > 0 {
		var links []string
		for _, a := range as[:min(len(as), maxBuildRows)] {
			name := "`" + mdCode(assessmentName(a)) + "`"
			if u := in.Cloud.PortalURL(a); u != "" && safePortalURL(u) {
				name = "[" + name + "](" + u + ")"
			}
			links = append(links, name)
		}
		line := "Microsoft Defender for Cloud " + plural(len(as), "recommendation", "recommendations") + " " + strings.Join(links, ", ")
		if more := len(as) - maxBuildRows; more > 0 {
			line += fmt.Sprintf(" and %d more", more)
		}
		out = append(out, line)
	}
	return out
}

// provenanceLines say, for each digest with a known source (the first
// maxBuildRows), which repository and commit built it, the workflow run
// that did, and the kinds of evidence that say so, strongest first.
func provenanceLines(arts []model.Artifact, digests []string) []string {
	var out []string
	for _, d := range digests {
		i := slices.IndexFunc(arts, func(a model.Artifact) bool { return a.Digest == d })
		if i < 0 {
			continue
		}
		r, ok := mapping.Resolve(arts[i].Evidence)
		if !ok {
			continue
		}
		if len(out) == maxBuildRows {
			out = append(out, "…and the builds of more digests")
			break
		}
		line := "`" + mdCode(d) + "` built from `" + mdCode(r.Repository) + "`"
		if r.Commit != "" {
			line += " at commit `" + mdCode(r.Commit) + "`"
		}
		if run := runOf(arts[i].Evidence, r.Repository); run != "" {
			line += " by " + run
		}
		out = append(out, line+", evidence: "+strings.Join(evidenceKinds(arts[i].Evidence, r.Repository), ", "))
	}
	return out
}

// runOf is the workflow run the strongest evidence naming repository
// with a run gives, linked to GitHub when its address is a safe one.
func runOf(evidence []model.Evidence, repository string) string {
	var best *model.Evidence
	for k := range evidence {
		e := &evidence[k]
		if e.RunID > 0 && strings.EqualFold(mapping.NormalizeRepository(e.Repository, ""), repository) &&
			(best == nil || e.Kind.Strength() > best.Kind.Strength() || (e.Kind == best.Kind && e.At.After(best.At))) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	text := fmt.Sprintf("workflow run %d", best.RunID)
	if best.Workflow != "" {
		text += " of `" + mdCode(best.Workflow) + "`"
	}
	u := safeURL(best.Ref)
	if u == "" || !strings.Contains(u, "/actions/runs/") {
		u = safeURL(fmt.Sprintf("https://github.com/%s/actions/runs/%d", repository, best.RunID))
	}
	if u == "" || !repoRE.MatchString(repository) {
		return text
	}
	return "[" + text + "](" + u + ")"
}

var repoRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// evidenceKinds names the kinds of evidence naming repository, strongest
// first, as GitHub calls what gave them: an attestation, a package
// published to GitHub Packages (registry_package), the workflow run that
// built it (workflow_run), the image's OCI labels, a deployment record.
func evidenceKinds(evidence []model.Evidence, repository string) []string {
	sorted := slices.Clone(evidence)
	slices.SortStableFunc(sorted, func(a, b model.Evidence) int { return b.Kind.Strength() - a.Kind.Strength() })
	var out []string
	for _, e := range sorted {
		if !strings.EqualFold(mapping.NormalizeRepository(e.Repository, ""), repository) {
			continue
		}
		var k string
		switch e.Kind {
		case model.EvidenceAttestation:
			k = "attestation"
		case model.EvidenceGitHubPackage:
			k = "registry_package"
			if e.RunID > 0 {
				k = "workflow_run"
			}
		case model.EvidenceOCILabels:
			k = "OCI labels"
		case model.EvidenceDeploymentRecord:
			k = "deployment record"
		default:
			continue
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// listCode lists values as code spans, the first maxBuildRows of them.
func listCode(vs []string) string {
	var parts []string
	for _, v := range vs[:min(len(vs), maxBuildRows)] {
		parts = append(parts, "`"+mdCode(v)+"`")
	}
	s := strings.Join(parts, ", ")
	if more := len(vs) - maxBuildRows; more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// safePortalURL: a portal link is built from a record's id, which comes
// from an export; it must not break out of the Markdown link.
func safePortalURL(u string) bool {
	return strings.HasPrefix(u, "https://") && !strings.ContainsAny(u, " \t\r\n()<>[]`\"'\\")
}
