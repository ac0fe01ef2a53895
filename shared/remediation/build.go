package remediation

import (
	"fmt"
	"slices"
	"strings"

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
