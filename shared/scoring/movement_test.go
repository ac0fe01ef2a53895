package scoring

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestMovement(t *testing.T) {
	p := DefaultPolicy()
	cvss := func(v float64) *float64 { return &v }
	prod := Context{Workloads: []WorkloadContext{{ID: "w", Production: true, Running: true,
		Risks: []model.Risk{{Factor: model.RiskInternetExposed, Source: "s"}, {Factor: model.RiskSensitiveData, Source: "s"}}}}}
	for _, tc := range []struct {
		name      string
		f         model.Finding
		ctx       Context
		base      model.Priority
		moved     int
		baseScore float64
	}{
		{"raised by production exposure", model.Finding{CVSS: cvss(7.5)}, prod, model.PriorityHigh, 1, 7.5},
		{"lowered when it runs nowhere", model.Finding{CVSS: cvss(9.5)}, Context{}, model.PriorityCritical, -1, 9.5},
		{"same band", model.Finding{CVSS: cvss(5.0), Source: model.SourceCodeScanning}, Context{Workloads: []WorkloadContext{{ID: "w", Production: true, Running: true}}}, model.PriorityMedium, 0, 5.0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			Score(p, &f, tc.ctx).Apply(&f)
			if got := BaseOf(&f); got != tc.baseScore {
				t.Errorf("BaseOf = %v, want %v", got, tc.baseScore)
			}
			base, moved := p.Movement(&f)
			if base != tc.base || moved != tc.moved {
				t.Errorf("Movement = %s, %d; want %s, %d (score %v %s)", base, moved, tc.base, tc.moved, f.Score, f.Priority)
			}
		})
	}
	// No explanation: the score is the base, nothing moved it.
	f := model.Finding{Score: 8, Priority: model.PriorityHigh}
	if base, moved := p.Movement(&f); base != model.PriorityHigh || moved != 0 || BaseOf(&f) != 8 {
		t.Errorf("unexplained finding: %s, %d, %v", base, moved, BaseOf(&f))
	}
}
