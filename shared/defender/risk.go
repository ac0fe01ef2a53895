package defender

import (
	"slices"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// MapRiskFactors maps Defender risk factor names ("Internet exposure",
// "Sensitive data", ...) to the factors GitHub's artifact metadata knows,
// through the one mapping runtimelink uses (mapping.RiskFromDefender). Names
// GitHub has no factor for are dropped here (callers keep the raw names);
// the result is sorted and without duplicates.
func MapRiskFactors(names []string) []model.RiskFactor {
	var out []model.RiskFactor
	for _, n := range names {
		if f, ok := mapping.RiskFromDefender(n); ok && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}
