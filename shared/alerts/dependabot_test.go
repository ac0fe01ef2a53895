package alerts

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestDependabotVariants(t *testing.T) {
	const rel = "dependabot_alert/created.json"
	edit := func(f func(m map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return variant(t, rel, f) }
	}
	alert := func(m map[string]any) map[string]any { return obj(m, "alert") }
	adv := func(m map[string]any) map[string]any { return obj(m, "alert", "security_advisory") }
	cvssOf := func(a Alert) any {
		if a.Finding.CVSS == nil {
			return nil
		}
		return *a.Finding.CVSS
	}
	cases := []decodeCase{
		{name: "dismissed with a reason", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "dismissed"
				alert(m)["state"] = "dismissed"
				alert(m)["dismissed_reason"] = "tolerable_risk"
				alert(m)["dismissed_at"] = "2023-06-25T08:00:00Z"
				alert(m)["updated_at"] = "2023-06-25T08:00:00Z"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, "tolerable_risk")
				expect(t, "time", a.Finding.SourceUpdatedAt, ts("2023-06-25T08:00:00Z"))
				expect(t, "first seen", a.Finding.FirstSeen, ts("2023-06-24T13:57:12Z"))
			}},
		{name: "dismissed without a reason", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { m["action"] = "dismissed"; alert(m)["state"] = "dismissed" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, "")
			}},
		{name: "auto_dismissed without a reason", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "auto_dismissed"
				alert(m)["state"] = "auto_dismissed"
				alert(m)["auto_dismissed_at"] = "2023-06-26T00:00:00Z"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, ReasonAutoDismissed)
				expect(t, "time", a.Finding.SourceUpdatedAt, ts("2023-06-26T00:00:00Z"))
			}},
		{name: "fixed", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "fixed"
				alert(m)["state"] = "fixed"
				alert(m)["fixed_at"] = "2023-07-01T00:00:00Z"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateFixed)
				expect(t, "time", a.Finding.SourceUpdatedAt, ts("2023-07-01T00:00:00Z"))
			}},
		{name: "assignees_changed keeps an auto-dismissed state", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { m["action"] = "assignees_changed"; alert(m)["state"] = "auto_dismissed" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, ReasonAutoDismissed)
			}},
		{name: "assignees_changed without a state", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { m["action"] = "assignees_changed"; alert(m)["state"] = nil }),
			wantErr: ErrMalformed},
		{name: "cvss 0 with a null vector is unknown", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["cvss"] = map[string]any{"score": 0, "vector_string": nil} }),
			check:   func(t *testing.T, a Alert) { expect(t, "cvss", cvssOf(a), nil) }},
		{name: "cvss_severities v3 wins over the old cvss field", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				adv(m)["cvss_severities"] = map[string]any{
					"cvss_v3": map[string]any{"score": 7.5, "vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"},
					"cvss_v4": map[string]any{"score": 8.7, "vector_string": "CVSS:4.0/AV:N"},
				}
			}),
			check: func(t *testing.T, a Alert) { expect(t, "cvss", cvssOf(a), any(7.5)) }},
		{name: "unknown cvss_severities v3 falls back to cvss", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				adv(m)["cvss_severities"] = map[string]any{"cvss_v3": map[string]any{"score": 0, "vector_string": nil}}
			}),
			check: func(t *testing.T, a Alert) { expect(t, "cvss", cvssOf(a), any(5.3)) }},
		{name: "cvss null everywhere", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["cvss"] = nil; adv(m)["cvss_severities"] = nil }),
			check:   func(t *testing.T, a Alert) { expect(t, "cvss", cvssOf(a), nil) }},
		{name: "cvss score out of range is ignored", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["cvss"] = map[string]any{"score": 42, "vector_string": "x"} }),
			check:   func(t *testing.T, a Alert) { expect(t, "cvss", cvssOf(a), nil) }},
		{name: "EPSS as a fraction with a string percentile", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				adv(m)["epss"] = []any{map[string]any{"percentage": 0.00045, "percentile": "0.16001e0"}}
			}),
			check: func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.00045) }},
		{name: "EPSS as a percent", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["epss"] = []any{map[string]any{"percentage": 62.5, "percentile": 0.99}} }),
			check:   func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.625) }},
		{name: "EPSS as one object", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["epss"] = map[string]any{"percentage": 0.7, "percentile": "0.98"} }),
			check:   func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.7) }},
		{name: "EPSS that is not a number is ignored", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["epss"] = []any{map[string]any{"percentage": "n/a"}} }),
			check:   func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.0) }},
		{name: "EPSS null", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["epss"] = nil }),
			check:   func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.0) }},
		{name: "severity moderate", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["severity"] = "moderate" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "medium") }},
		{name: "severity in capitals", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["severity"] = "CRITICAL" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "critical") }},
		{name: "advisory severity unknown: the vulnerability's", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				adv(m)["severity"] = nil
				obj(m, "alert", "security_vulnerability")["severity"] = "high"
			}),
			check: func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "high") }},
		{name: "cve_id null: the CVE from identifiers", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) {
				adv(m)["cve_id"] = nil
				adv(m)["identifiers"] = append(adv(m)["identifiers"].([]any), map[string]any{"type": "CVE", "value": "CVE-2022-99999"})
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "cve", a.Finding.CVE, "CVE-2022-25883")
				if want := []string{"GHSA-c2qf-rxjj-qqgw", "CVE-2022-25883", "CVE-2022-99999"}; !reflect.DeepEqual(a.Finding.Aliases, want) {
					t.Errorf("aliases = %q, want %q", a.Finding.Aliases, want)
				}
			}},
		{name: "no patched version", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { obj(m, "alert", "security_vulnerability")["first_patched_version"] = nil }),
			check:   func(t *testing.T, a Alert) { expect(t, "fixed version", a.Finding.Package.FixedVersion, "") }},
		{name: "patched version as a bare string", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { obj(m, "alert", "security_vulnerability")["first_patched_version"] = "7.5.3" }),
			check:   func(t *testing.T, a Alert) { expect(t, "fixed version", a.Finding.Package.FixedVersion, "7.5.3") }},
		{name: "no dependency: the package from the vulnerability", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { alert(m)["dependency"] = nil }),
			check: func(t *testing.T, a Alert) {
				expect(t, "package", *a.Finding.Package, model.Package{Ecosystem: "npm", Name: "semver", VulnerableRange: "< 7.5.2", FixedVersion: "7.5.2"})
				expect(t, "manifest", a.Finding.Location.Manifest, "")
			}},
		{name: "scope null", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { obj(m, "alert", "dependency")["scope"] = nil }),
			check:   func(t *testing.T, a Alert) { expect(t, "scope", a.Finding.Package.Scope, "") }},
		{name: "no advisory", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { alert(m)["security_advisory"] = nil }),
			check: func(t *testing.T, a Alert) {
				expect(t, "title", a.Finding.Title, "Dependabot alert in semver")
				expect(t, "rule", a.Finding.RuleID, "")
				expect(t, "severity", a.Finding.Severity, "medium") // from security_vulnerability
			}},
		{name: "unknown action", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { m["action"] = "exploded" }), wantErr: ErrUnknownAction},
		{name: "epss of the wrong shape does not fail the event", event: EventDependabotAlert,
			payload: edit(func(m map[string]any) { adv(m)["epss"] = "high" }),
			check:   func(t *testing.T, a Alert) { expect(t, "epss", a.Finding.Exploit.EPSS, 0.0) }},
	}
	runDecodeCases(t, cases)

	for action, state := range map[string]model.FindingState{
		"created": model.StateOpen, "reopened": model.StateOpen, "reintroduced": model.StateOpen, "auto_reopened": model.StateOpen,
		"dismissed": model.StateDismissed, "auto_dismissed": model.StateDismissed, "fixed": model.StateFixed,
	} {
		a, err := DecodeDependabot(variant(t, rel, func(m map[string]any) { m["action"] = action }), received)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		expect(t, action, a.Finding.State, state)
	}
}

func TestEPSSProbability(t *testing.T) {
	cases := []struct {
		raw  string
		want float64
		ok   bool
	}{
		{`[{"percentage":0.00045,"percentile":"0.16001e0"}]`, 0.00045, true},
		{`[{"percentage":"0.25","percentile":0.9}]`, 0.25, true},
		{`[{"percentage":45,"percentile":0.9}]`, 0.45, true},
		{`[{"percentage":100}]`, 1, true},
		{`[{"percentage":1}]`, 1, true}, // 1 or less is a fraction
		{`{"percentage":0.5}`, 0.5, true},
		{`[{"percentage":null},{"percentage":0.3}]`, 0.3, true},
		{`[{"percentage":-1}]`, 0, false},
		{`[{"percentage":250}]`, 0, false},
		{`[]`, 0, false},
		{`null`, 0, false},
		{`"0.5"`, 0, false},
	}
	for _, c := range cases {
		got, ok := EPSSProbability(json.RawMessage(c.raw))
		if got != c.want || ok != c.ok {
			t.Errorf("EPSSProbability(%s) = %v, %v; want %v, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}
