package mapping

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func TestRiskFromDefender(t *testing.T) {
	tests := []struct {
		in   string
		want model.RiskFactor
		ok   bool
	}{
		{"Internet exposure", model.RiskInternetExposed, true},
		{"Sensitive data", model.RiskSensitiveData, true},
		{"Critical resource", model.RiskCriticalResource, true},
		{"Lateral movement", model.RiskLateralMovement, true},
		{"internet-exposed", model.RiskInternetExposed, true},
		{"sensitive-data", model.RiskSensitiveData, true},
		{"critical-resource", model.RiskCriticalResource, true},
		{"lateral-movement", model.RiskLateralMovement, true},
		{"InternetExposure", model.RiskInternetExposed, true},
		{"INTERNET_EXPOSED", model.RiskInternetExposed, true},
		{"  internet   exposure ", model.RiskInternetExposed, true},
		{"SensitiveData", model.RiskSensitiveData, true},
		{"Critical resources", model.RiskCriticalResource, true},
		{"lateral_movement", model.RiskLateralMovement, true},
		{"Data exposure", "", false}, // a risk category, not a factor
		{"Internet exposure!", "", false},
		{"internet", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := RiskFromDefender(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RiskFromDefender(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// Every factor in the sample Defender records maps.
func TestRiskFromDefenderSamples(t *testing.T) {
	for _, name := range []string{"assessment-risk.json", "attackpaths-resourcegraph.json"} {
		raw := sampletest.Testdata(t, "defender", name)
		var doc any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		factors := collect(doc, "riskFactors")
		if len(factors) == 0 {
			t.Fatalf("%s: no riskFactors found", name)
		}
		for _, f := range factors {
			if _, ok := RiskFromDefender(f); !ok {
				t.Errorf("%s: risk factor %q does not map", name, f)
			}
		}
	}
}

// collect gathers every string in arrays under key, anywhere in doc.
func collect(doc any, key string) []string {
	var out []string
	switch v := doc.(type) {
	case map[string]any:
		for k, x := range v {
			if arr, ok := x.([]any); ok && k == key {
				for _, s := range arr {
					if s, ok := s.(string); ok {
						out = append(out, s)
					}
				}
				continue
			}
			out = append(out, collect(x, key)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, collect(x, key)...)
		}
	}
	return out
}

func TestMergeRisks(t *testing.T) {
	dep := func(f model.RiskFactor) model.Risk { return model.Risk{Factor: f, Source: RiskSourceDeploymentRecord} }
	asmt := func(f model.RiskFactor) model.Risk {
		return model.Risk{Factor: f, Source: RiskSourceAssessmentPrefix + "/subscriptions/s/assessments/a1"}
	}
	tests := []struct {
		name string
		in   [][]model.Risk
		want []model.Risk
	}{
		{name: "nothing", in: nil, want: nil},
		{name: "empty sets", in: [][]model.Risk{{}, nil}, want: nil},
		{
			name: "union, deduplicated by factor and source, sorted",
			in: [][]model.Risk{
				{dep(model.RiskSensitiveData), dep(model.RiskInternetExposed)},
				{asmt(model.RiskInternetExposed), dep(model.RiskInternetExposed)},
				{asmt(model.RiskInternetExposed)},
			},
			want: []model.Risk{asmt(model.RiskInternetExposed), dep(model.RiskInternetExposed), dep(model.RiskSensitiveData)},
		},
		{
			name: "risks without a factor are dropped",
			in:   [][]model.Risk{{{Source: RiskSourceDeploymentRecord}, dep(model.RiskLateralMovement)}},
			want: []model.Risk{dep(model.RiskLateralMovement)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MergeRisks(tc.in...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MergeRisks = %+v, want %+v", got, tc.want)
			}
			// Order of the sets and within them does not matter.
			var flipped [][]model.Risk
			for i := len(tc.in) - 1; i >= 0; i-- {
				set := append([]model.Risk(nil), tc.in[i]...)
				for a, b := 0, len(set)-1; a < b; a, b = a+1, b-1 {
					set[a], set[b] = set[b], set[a]
				}
				flipped = append(flipped, set)
			}
			if got := MergeRisks(flipped...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MergeRisks(reversed) = %+v, want %+v", got, tc.want)
			}
		})
	}
	// Inputs are not modified.
	in := []model.Risk{dep(model.RiskSensitiveData), dep(model.RiskCriticalResource)}
	MergeRisks(in)
	if in[0].Factor != model.RiskSensitiveData {
		t.Error("MergeRisks sorted its input in place")
	}
}

func TestFactors(t *testing.T) {
	risks := []model.Risk{
		{Factor: model.RiskSensitiveData, Source: "deployment-record"},
		{Factor: model.RiskInternetExposed, Source: "defender-assessment:a"},
		{Factor: model.RiskInternetExposed, Source: "deployment-record"},
		{Factor: "made-up", Source: "deployment-record"},
		{Factor: model.RiskCriticalResource, Source: "attack-path:p"},
	}
	want := []model.RiskFactor{model.RiskCriticalResource, model.RiskInternetExposed, model.RiskSensitiveData}
	if got := Factors(risks); !reflect.DeepEqual(got, want) {
		t.Errorf("Factors = %v, want %v", got, want)
	}
	if got := Factors(nil); got != nil {
		t.Errorf("Factors(nil) = %v", got)
	}
}
