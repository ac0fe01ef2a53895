package scoring

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name   string
		json   string
		want   func(p *Policy) // applied to the default policy; nil: default
		errMsg string          // exact error; "" means no error
	}{
		{name: "empty is the default", json: ""},
		{name: "blank is the default", json: " \n\t"},
		{name: "empty object is the default", json: "{}"},
		{
			name: "overrides on top of the default",
			json: `{"riskFactors": {"internet-exposed": 2}, "bands": {"high": 6.5}, "cap": 9.5}`,
			want: func(p *Policy) { p.Risk.InternetExposed = 2; p.Bands.High = 6.5; p.Cap = 9.5 },
		},
		{
			name: "every section",
			json: `{"base":{"critical":10,"high":8,"medium":5.5,"low":1,"secretScanning":8.5,"unknown":2},
			        "deployment":{"notRunning":0,"nonProduction":0.6,"production":1.2},
			        "riskFactors":{"internet-exposed":1.6,"sensitive-data":1.1,"critical-resource":0.8,"lateral-movement":0.9},
			        "exploitability":{"exploited":1.5,"epss":0.25,"epssThreshold":0.1},
			        "cap":10,"bands":{"critical":8.5,"high":6,"medium":3}}`,
			want: func(p *Policy) {
				p.Base = BaseWeights{Critical: 10, High: 8, Medium: 5.5, Low: 1, SecretScanning: 8.5, Unknown: 2}
				p.Deployment = DeploymentWeights{NotRunning: 0, NonProduction: 0.6, Production: 1.2}
				p.Risk = RiskWeights{InternetExposed: 1.6, SensitiveData: 1.1, CriticalResource: 0.8, LateralMovement: 0.9}
				p.Exploit = ExploitWeights{Exploited: 1.5, EPSS: 0.25, EPSSThreshold: 0.1}
				p.Bands = Bands{Critical: 8.5, High: 6, Medium: 3}
			},
		},
		{name: "unknown nested key", json: `{"riskFactors": {"internet_exposed": 2}}`, errMsg: `policy: unknown key "riskFactors.internet_exposed"`},
		{name: "unknown top-level key", json: `{"weights": {}}`, errMsg: `policy: unknown key "weights"`},
		{name: "unknown key after a valid one", json: `{"cap": 10, "base": {"high": 7, "severe": 8}}`, errMsg: `policy: unknown key "base.severe"`},
		{name: "keys are case-sensitive", json: `{"Base": {"high": 7}}`, errMsg: `policy: unknown key "Base"`},
		{name: "base out of range", json: `{"base": {"critical": 11}}`, errMsg: `policy: key "base.critical" = 11 is out of range [0, 10]`},
		{name: "negative base", json: `{"base": {"low": -1}}`, errMsg: `policy: key "base.low" = -1 is out of range [0, 10]`},
		{name: "multiplier out of range", json: `{"deployment": {"production": 2.5}}`, errMsg: `policy: key "deployment.production" = 2.5 is out of range [0, 2]`},
		{name: "addend out of range", json: `{"riskFactors": {"sensitive-data": 6}}`, errMsg: `policy: key "riskFactors.sensitive-data" = 6 is out of range [0, 5]`},
		{name: "EPSS threshold out of range", json: `{"exploitability": {"epssThreshold": 50}}`, errMsg: `policy: key "exploitability.epssThreshold" = 50 is out of range [0, 1]`},
		{name: "cap out of range", json: `{"cap": 12}`, errMsg: `policy: key "cap" = 12 is out of range [0, 10]`},
		{name: "string instead of number", json: `{"base": {"high": "7.5"}}`, errMsg: `policy: key "base.high" must be a number`},
		{name: "null instead of number", json: `{"base": {"high": null}}`, errMsg: `policy: key "base.high" must be a number`},
		{name: "object instead of number", json: `{"cap": {"value": 10}}`, errMsg: `policy: key "cap" must be a number`},
		{name: "array instead of number", json: `{"cap": [10], "bands": {"nope": 1}}`, errMsg: `policy: key "cap" must be a number`},
		{name: "number instead of section", json: `{"riskFactors": 2}`, errMsg: `policy: key "riskFactors" must be a JSON object`},
		{name: "not an object", json: `[1, 2]`, errMsg: `policy: the policy must be a JSON object`},
		{name: "key given twice", json: `{"cap": 10, "cap": 9}`, errMsg: `policy: key "cap" given twice`},
		{name: "bands out of order", json: `{"bands": {"high": 9.5}}`, errMsg: `policy: key "bands.critical" = 9 must be above "bands.high" (9.5)`},
		{name: "medium band above high", json: `{"bands": {"medium": 7}}`, errMsg: `policy: key "bands.high" = 7 must be above "bands.medium" (7)`},
		{name: "zero medium band", json: `{"bands": {"medium": 0}}`, errMsg: `policy: key "bands.medium" = 0 must be above 0`},
		{name: "cap below the critical band", json: `{"cap": 8}`, errMsg: `policy: key "cap" = 8 must not be below "bands.critical" (9): nothing could be Critical`},
		{name: "trailing data", json: `{"cap": 10} {"cap": 9}`, errMsg: `policy: unexpected data after the JSON object`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy([]byte(tc.json))
			if tc.errMsg != "" {
				if err == nil || err.Error() != tc.errMsg {
					t.Fatalf("error = %v, want %q", err, tc.errMsg)
				}
				if got != DefaultPolicy() {
					t.Errorf("a failed parse returned a half-applied policy: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := DefaultPolicy()
			if tc.want != nil {
				tc.want(&want)
			}
			if got != want {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParsePolicySyntaxError(t *testing.T) {
	for _, in := range []string{`{"cap": }`, `{"base": {"high": 7}`, `{"cap" 10}`} {
		if _, err := ParsePolicy([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("ParsePolicy(%s) error = %v, want a policy error", in, err)
		}
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := DefaultPolicy()
	p.Risk.LateralMovement = 1.25
	p.Bands.Medium = 3.5
	raw := p.JSON()
	if !json.Valid(raw) {
		t.Fatalf("JSON() is not valid JSON: %s", raw)
	}
	back, err := ParsePolicy(raw)
	if err != nil {
		t.Fatalf("ParsePolicy(JSON()): %v\n%s", err, raw)
	}
	if back != p {
		t.Errorf("round trip changed the policy:\n got %+v\nwant %+v", back, p)
	}
	want := `{"base":{"critical":9.5,"high":7.5,"medium":5,"low":2,"secretScanning":9,"unknown":5},` +
		`"deployment":{"notRunning":0.5,"nonProduction":0.75,"production":1},` +
		`"riskFactors":{"internet-exposed":1.5,"sensitive-data":1,"critical-resource":0.75,"lateral-movement":0.75},` +
		`"exploitability":{"exploited":1,"epss":0.5,"epssThreshold":0.5},"cap":10,"bands":{"critical":9,"high":7,"medium":4}}`
	if got := string(DefaultPolicy().JSON()); got != want {
		t.Errorf("default policy JSON:\n got %s\nwant %s", got, want)
	}
}

func TestDefaultPolicyValid(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatal(err)
	}
	p := DefaultPolicy()
	p.Deployment.NonProduction = -0.1
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), `"deployment.nonProduction"`) {
		t.Errorf("Validate() = %v, want an error naming deployment.nonProduction", err)
	}
}
