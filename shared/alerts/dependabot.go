package alerts

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// dependabotActions maps every dependabot_alert action to a state.
// assignees_changed leaves the state as the alert object has it.
var dependabotActions = map[string]stateRule{
	"created":           {state: model.StateOpen},
	"reopened":          {state: model.StateOpen},
	"reintroduced":      {state: model.StateOpen},
	"auto_reopened":     {state: model.StateOpen},
	"dismissed":         {state: model.StateDismissed},
	"auto_dismissed":    {state: model.StateDismissed},
	"fixed":             {state: model.StateFixed},
	"assignees_changed": {fromAlert: true},
}

// ReasonAutoDismissed is the StateReason of an alert that a Dependabot
// auto-triage rule dismissed without giving a reason of its own.
const ReasonAutoDismissed = "auto_dismissed"

type dependabotPayload struct {
	envelope
	Alert *dependabotAlert `json:"alert"`
}

type dependabotAlert struct {
	alertHead
	State           string     `json:"state"`
	DismissedAt     *time.Time `json:"dismissed_at"`
	FixedAt         *time.Time `json:"fixed_at"`
	AutoDismissedAt *time.Time `json:"auto_dismissed_at"`
	DismissedReason *string    `json:"dismissed_reason"`
	Dependency      *struct {
		Package      *advisoryPackage `json:"package"`
		ManifestPath string           `json:"manifest_path"`
		Scope        *string          `json:"scope"`
	} `json:"dependency"`
	SecurityAdvisory *struct {
		GHSAID      string  `json:"ghsa_id"`
		CVEID       *string `json:"cve_id"`
		Summary     string  `json:"summary"`
		Description string  `json:"description"`
		Severity    string  `json:"severity"`
		Identifiers []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifiers"`
		CVSS           *cvss `json:"cvss"`
		CVSSSeverities *struct {
			CVSSV3 *cvss `json:"cvss_v3"`
		} `json:"cvss_severities"`
		EPSS json.RawMessage `json:"epss"`
	} `json:"security_advisory"`
	SecurityVulnerability *struct {
		Package                *advisoryPackage `json:"package"`
		Severity               string           `json:"severity"`
		VulnerableVersionRange string           `json:"vulnerable_version_range"`
		FirstPatchedVersion    patchedVersion   `json:"first_patched_version"`
	} `json:"security_vulnerability"`
}

type advisoryPackage struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

type cvss struct {
	Score        number  `json:"score"`
	VectorString *string `json:"vector_string"`
}

// score is the CVSS base score, or nil when unknown: GitHub reports an
// advisory without CVSS as score 0 with a null vector.
func (c *cvss) score() *float64 {
	if c == nil || !c.Score.ok || c.Score.v < 0 || c.Score.v > 10 {
		return nil
	}
	hasVector := c.VectorString != nil && strings.TrimSpace(*c.VectorString) != ""
	if c.Score.v == 0 && !hasVector {
		return nil
	}
	v := c.Score.v
	return &v
}

// patchedVersion is {"identifier": "7.5.2"} in Dependabot alerts and a bare
// string in the global advisories API; both are accepted.
type patchedVersion string

func (p *patchedVersion) UnmarshalJSON(b []byte) error {
	*p = ""
	var s string
	if json.Unmarshal(b, &s) == nil {
		*p = patchedVersion(s)
		return nil
	}
	var o struct {
		Identifier string `json:"identifier"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*p = patchedVersion(o.Identifier)
	return nil
}

type epssEntry struct {
	Percentage number `json:"percentage"`
	Percentile number `json:"percentile"`
}

// EPSSProbability reads a Dependabot advisory's `epss` value (an array of
// {percentage, percentile}, or one such object) and returns the exploit
// probability as a fraction in 0..1, and whether one was present.
//
// GitHub documents `percentage` as a fraction (0.00045 means 0.045 %; the
// epss_percentage:>0.01 filter means "more than 1 %"), but payloads from
// other tools and older exports carry it as a percent (0..100). A value
// above 1 is therefore read as a percent and divided by 100; a value of 1
// or less is a fraction. Negative, non-numeric and > 100 values are ignored.
func EPSSProbability(raw json.RawMessage) (float64, bool) {
	var entries []epssEntry
	if json.Unmarshal(raw, &entries) != nil {
		var one epssEntry
		if json.Unmarshal(raw, &one) != nil {
			return 0, false
		}
		entries = []epssEntry{one}
	}
	for _, e := range entries {
		p := e.Percentage
		switch {
		case !p.ok || p.v < 0 || p.v > 100:
			continue
		case p.v > 1:
			return p.v / 100, true
		default:
			return p.v, true
		}
	}
	return 0, false
}

func (p *dependabotPayload) alertState() (model.FindingState, string, bool) {
	s, ok := dependabotState(p.Alert.State)
	return s, p.Alert.State, ok
}

func dependabotState(s string) (model.FindingState, bool) {
	switch strings.ToLower(s) {
	case "open":
		return model.StateOpen, true
	case "dismissed", "auto_dismissed":
		return model.StateDismissed, true
	case "fixed":
		return model.StateFixed, true
	}
	return "", false
}

// DecodeDependabot decodes a dependabot_alert event.
func DecodeDependabot(payload []byte, received time.Time) (Alert, error) {
	const event = EventDependabotAlert
	var p dependabotPayload
	f, err := decodeAlert(event, payload, received, model.SourceDependabot, &p, dependabotActions)
	if err != nil {
		return Alert{}, err
	}
	a := p.Alert
	f.Tool = "Dependabot"
	if f.State == model.StateDismissed {
		if a.DismissedReason != nil {
			f.StateReason = *a.DismissedReason
		}
		if f.StateReason == "" && (p.Action == "auto_dismissed" || strings.EqualFold(a.State, "auto_dismissed")) {
			f.StateReason = ReasonAutoDismissed
		}
	}
	created := a.CreatedAt
	if p.Action != "created" {
		created = nil
	}
	f.SourceUpdatedAt = latest(received, a.UpdatedAt, a.DismissedAt, a.FixedAt, a.AutoDismissedAt, created)

	pkg := model.Package{}
	if d := a.Dependency; d != nil {
		f.Location.Manifest = d.ManifestPath
		if d.Package != nil {
			pkg.Ecosystem, pkg.Name = d.Package.Ecosystem, d.Package.Name
		}
		if d.Scope != nil {
			pkg.Scope = *d.Scope
		}
	}
	if v := a.SecurityVulnerability; v != nil {
		if v.Package != nil {
			pkg.Ecosystem = FirstNonBlank(pkg.Ecosystem, v.Package.Ecosystem)
			pkg.Name = FirstNonBlank(pkg.Name, v.Package.Name)
		}
		pkg.VulnerableRange = v.VulnerableVersionRange
		pkg.FixedVersion = string(v.FirstPatchedVersion)
		f.Severity = securitySeverity(v.Severity)
	}
	if pkg != (model.Package{}) {
		f.Package = &pkg
	}

	if sa := a.SecurityAdvisory; sa != nil {
		f.GHSA = strings.TrimSpace(sa.GHSAID)
		if sa.CVEID != nil {
			f.CVE = strings.TrimSpace(*sa.CVEID)
		}
		aliases := newAliases(f.GHSA, f.CVE)
		for _, id := range sa.Identifiers {
			aliases.add(id.Value)
			if f.CVE == "" && strings.EqualFold(id.Type, "CVE") {
				f.CVE = strings.TrimSpace(id.Value)
			}
			if f.GHSA == "" && strings.EqualFold(id.Type, "GHSA") {
				f.GHSA = strings.TrimSpace(id.Value)
			}
		}
		f.Aliases = aliases.list
		f.Title = strings.TrimSpace(sa.Summary)
		f.Description = clip(sa.Description)
		if s := securitySeverity(sa.Severity); s != "" {
			f.Severity = s
		}
		if sa.CVSSSeverities != nil {
			f.CVSS = sa.CVSSSeverities.CVSSV3.score()
		}
		if f.CVSS == nil {
			f.CVSS = sa.CVSS.score()
		}
		if len(sa.EPSS) > 0 {
			f.Exploit.EPSS, _ = EPSSProbability(sa.EPSS)
		}
	}
	f.RuleID = f.GHSA
	if f.Title == "" {
		f.Title = strings.TrimSpace(FirstNonBlank(f.GHSA, f.CVE, "Dependabot alert") + " in " + FirstNonBlank(pkg.Name, "a dependency"))
	}

	out := p.alert(event)
	out.Finding = f
	return out, nil
}

// aliases collects vulnerability ids in first-seen order without duplicates.
type aliases struct {
	list []string
	seen map[string]bool
}

func newAliases(ids ...string) *aliases {
	a := &aliases{seen: map[string]bool{}}
	for _, id := range ids {
		a.add(id)
	}
	return a
}

func (a *aliases) add(id string) {
	id = strings.TrimSpace(id)
	if id == "" || a.seen[strings.ToUpper(id)] {
		return
	}
	a.seen[strings.ToUpper(id)] = true
	a.list = append(a.list, id)
}
