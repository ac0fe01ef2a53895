package mapping

import (
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Risk sources, as recorded in model.Risk.Source.
const (
	RiskSourceDeploymentRecord = "deployment-record"
	RiskSourceAssessmentPrefix = "defender-assessment:" // + assessment id
	RiskSourceAttackPathPrefix = "attack-path:"         // + attack path id
)

// riskNames maps a risk factor name folded to lower-case letters only
// (spaces, hyphens and underscores dropped) to its factor. Defender spells
// them "Internet exposure", "Sensitive data", "Critical resource",
// "Lateral movement"; GitHub "internet-exposed" and so on.
var riskNames = map[string]model.RiskFactor{
	"internetexposure":  model.RiskInternetExposed,
	"internetexposed":   model.RiskInternetExposed,
	"sensitivedata":     model.RiskSensitiveData,
	"criticalresource":  model.RiskCriticalResource,
	"criticalresources": model.RiskCriticalResource,
	"lateralmovement":   model.RiskLateralMovement,
}

// RiskFromDefender maps a risk factor name from Defender (assessment risk,
// attack paths) or GitHub to runtimelink's factor. It is tolerant of case,
// spaces, hyphens and underscores ("Internet exposure", "internet-exposed",
// "InternetExposure"). ok is false for factors runtimelink does not weigh.
func RiskFromDefender(name string) (model.RiskFactor, bool) {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			b.WriteByte(c)
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c == ' ' || c == '-' || c == '_' || c == '\t':
		default:
			return "", false
		}
	}
	f, ok := riskNames[b.String()]
	return f, ok
}

// MergeRisks unions sets of risks, one per (factor, source), sorted by
// factor then source so a workload's stored risks do not depend on the
// order the records came in. Risks without a factor are dropped.
func MergeRisks(sets ...[]model.Risk) []model.Risk {
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	out := make([]model.Risk, 0, n)
	for _, s := range sets {
		for _, r := range s {
			if r.Factor != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, compareRisk)
	return slices.Compact(out)
}

func compareRisk(a, b model.Risk) int {
	if c := strings.Compare(string(a.Factor), string(b.Factor)); c != 0 {
		return c
	}
	return strings.Compare(a.Source, b.Source)
}

// Factors lists the distinct known factors of risks, sorted: the
// runtime_risks of a GitHub deployment record, which accepts no others.
func Factors(risks []model.Risk) []model.RiskFactor {
	var out []model.RiskFactor
	for _, f := range model.RiskFactors {
		for _, r := range risks {
			if r.Factor == f {
				out = append(out, f)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}
