package remediation

import "strings"

// LabelSecurity is on every runtimelink issue.
const LabelSecurity = "security"

// LabelFor is a runtimelink label with the colour and description it is
// created with: priorities from red to green, runtime risks in one colour.
func LabelFor(name string) Label {
	l := Label{Name: name, Color: "ededed"}
	switch {
	case name == LabelSecurity:
		l.Color, l.Description = "d73a4a", "Security finding tracked by runtimelink"
	case strings.HasPrefix(name, "priority:"):
		p := strings.TrimPrefix(name, "priority:")
		l.Description = "runtimelink priority: " + p
		switch p {
		case "critical":
			l.Color = "b60205"
		case "high":
			l.Color = "d93f0b"
		case "medium":
			l.Color = "fbca04"
		case "low":
			l.Color = "0e8a16"
		}
	case strings.HasPrefix(name, "runtime:"):
		l.Color, l.Description = "5319e7", "Runtime risk of a workload running the code: "+strings.TrimPrefix(name, "runtime:")
	}
	return l
}
