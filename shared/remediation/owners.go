package remediation

import (
	"regexp"

	"github.com/runtimelink/runtimelink/shared/codeowners"
	"github.com/runtimelink/runtimelink/shared/model"
)

// AffectedPath is the path whose CODEOWNERS own a group: the Dockerfile of
// an image's CVEs (the root Dockerfile when the build did not say), the
// manifest of a Dependabot alert, the file of a code or secret scanning
// alert. findings are the group's, highest first; "" when none names one.
func AffectedPath(g model.Group, findings []model.Finding) string {
	for _, f := range findings {
		switch {
		case g.Kind == model.GroupKindImage && f.Location.Dockerfile != "":
			return f.Location.Dockerfile
		case f.Source == model.SourceDependabot && f.Location.Manifest != "":
			return f.Location.Manifest
		case f.Location.Path != "":
			return f.Location.Path
		}
	}
	if g.Kind == model.GroupKindImage {
		return "Dockerfile"
	}
	return ""
}

// assigneesOf picks the users among CODEOWNERS owners, at most GitHub's
// limit, in the file's order.
func assigneesOf(owners []string) []string {
	users := codeowners.Users(owners)
	out := make([]string, 0, min(len(users), MaxAssignees))
	for _, u := range users {
		if len(out) == MaxAssignees {
			break
		}
		if loginRE.MatchString(u) {
			out = append(out, u)
		}
	}
	return out
}

// teamsOf is the @-mentions of the teams among owners. Only well-formed
// team names are mentioned: CODEOWNERS is a file anyone with write access
// edits, and its text lands in the body.
func teamsOf(owners []string) []string {
	var out []string
	for _, t := range codeowners.Teams(owners) {
		if teamRE.MatchString(t) {
			out = append(out, "@"+t)
		}
	}
	return out
}

var (
	loginRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`)
	teamRE  = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9_.-]{1,100}$`)
)
