package scoring

import "github.com/runtimelink/runtimelink/shared/model"

// BaseOf is the base score recorded in a finding's explanation — what it
// scored before runtime context — or its score when it has no explanation.
func BaseOf(f *model.Finding) float64 {
	for _, x := range f.Explanation.Factors {
		if x.Name == FactorBase {
			return x.Value
		}
	}
	return f.Score
}

// Movement says what runtime context did to a finding's priority: the band
// its base score alone falls in, and +1 (raised), -1 (lowered) or 0.
func (p Policy) Movement(f *model.Finding) (base model.Priority, moved int) {
	base = p.Bands.Priority(BaseOf(f))
	switch {
	case f.Priority.Rank() > base.Rank():
		return base, 1
	case f.Priority.Rank() < base.Rank():
		return base, -1
	}
	return base, 0
}
