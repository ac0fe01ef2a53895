package alerts

import (
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestSecretScanningVariants(t *testing.T) {
	const rel = "secret_scanning_alert/reopened.json"
	edit := func(f func(m map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return variant(t, rel, f) }
	}
	alert := func(m map[string]any) map[string]any { return obj(m, "alert") }
	// location turns the sample into a secret_scanning_alert_location event:
	// the same alert plus where the secret was found.
	location := func(typ string, details map[string]any) func(m map[string]any) {
		return func(m map[string]any) {
			m["action"] = "created"
			m["location"] = map[string]any{"type": typ, "details": details}
		}
	}
	cases := []decodeCase{
		{name: "resolved with a resolution", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "resolved"
				alert(m)["resolution"] = "false_positive"
				alert(m)["resolved_at"] = "2024-05-01T10:00:00Z"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateResolved)
				expect(t, "reason", a.Finding.StateReason, "false_positive")
				expect(t, "time", a.Finding.SourceUpdatedAt, ts("2024-05-01T10:00:00Z"))
			}},
		{name: "resolved without a resolution", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "resolved" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateResolved)
				expect(t, "reason", a.Finding.StateReason, "")
				expect(t, "time", a.Finding.SourceUpdatedAt, received)
			}},
		{name: "revoked (older action)", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "revoked" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateResolved)
				expect(t, "reason", a.Finding.StateReason, "revoked")
			}},
		{name: "validated on an open alert", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "validated"; alert(m)["validity"] = "Active" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateOpen)
				expect(t, "validity", a.Finding.Validity, "active")
			}},
		{name: "validated on a resolved alert", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "validated"
				alert(m)["validity"] = "inactive"
				alert(m)["resolution"] = "wont_fix"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateResolved)
				expect(t, "reason", a.Finding.StateReason, "wont_fix")
			}},
		{name: "REST-shaped alert with a state field", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "assigned"; alert(m)["state"] = "resolved" }),
			check:   func(t *testing.T, a Alert) { expect(t, "state", a.Finding.State, model.StateResolved) }},
		{name: "publicly leaked", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "publicly_leaked"; alert(m)["publicly_leaked"] = true }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateOpen)
				expect(t, "public exploit", a.Finding.Exploit.PublicExploit, true)
			}},
		{name: "created with display name and times", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) {
				m["action"] = "created"
				alert(m)["secret_type_display_name"] = "Adafruit IO Key"
				alert(m)["created_at"] = "2024-04-30T09:00:00Z"
				alert(m)["html_url"] = "https://github.com/Codertocat/Hello-World/security/secret-scanning/191"
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "title", a.Finding.Title, "Adafruit IO Key")
				expect(t, "rule", a.Finding.RuleID, "adafruit_io_key")
				expect(t, "time", a.Finding.SourceUpdatedAt, ts("2024-04-30T09:00:00Z"))
				expect(t, "first seen", a.Finding.FirstSeen, ts("2024-04-30T09:00:00Z"))
				expect(t, "url", a.Finding.AlertURL, "https://github.com/Codertocat/Hello-World/security/secret-scanning/191")
			}},
		{name: "severity is always critical", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { alert(m)["severity"] = "low" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, SecretScanningSeverity) }},
		{name: "location in a commit", event: EventSecretScanningAlertLocation,
			payload: edit(location("commit", map[string]any{
				"path": "config/secrets.yml", "start_line": 3, "end_line": 4, "start_column": 1, "end_column": 40,
				"blob_sha": "af5626b4a114abcb82d63db7c8082c3c4756e51b", "commit_sha": "f14d7debf9775f957cf4f1e8176da0786431f72b",
			})),
			check: func(t *testing.T, a Alert) {
				expect(t, "event", a.Event, EventSecretScanningAlertLocation)
				expect(t, "state", a.Finding.State, model.StateOpen)
				expect(t, "location", a.Finding.Location, model.Location{Path: "config/secrets.yml", StartLine: 3, EndLine: 4, Commit: "f14d7debf9775f957cf4f1e8176da0786431f72b"})
				expect(t, "id", a.Finding.ID, "secret_scanning:codertocat:hello-world:191")
			}},
		{name: "location in an issue title has no path", event: EventSecretScanningAlertLocation,
			payload: edit(location("issue_title", map[string]any{"issue_title_url": "https://api.github.com/repos/o/r/issues/1"})),
			check:   func(t *testing.T, a Alert) { expect(t, "location", a.Finding.Location, model.Location{}) }},
		{name: "location of a resolved alert keeps it resolved", event: EventSecretScanningAlertLocation,
			payload: edit(func(m map[string]any) {
				location("commit", map[string]any{"path": "a.env"})(m)
				alert(m)["resolution"] = "revoked"
			}),
			check: func(t *testing.T, a Alert) { expect(t, "state", a.Finding.State, model.StateResolved) }},
		{name: "location event with another action", event: EventSecretScanningAlertLocation,
			payload: edit(func(m map[string]any) { location("commit", nil)(m); m["action"] = "deleted" }),
			wantErr: ErrUnknownAction},
		{name: "unknown action", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { m["action"] = "leaked_to_the_moon" }), wantErr: ErrUnknownAction},
		{name: "alert number missing", event: EventSecretScanningAlert,
			payload: edit(func(m map[string]any) { alert(m)["number"] = nil }), wantErr: ErrMalformed},
	}
	runDecodeCases(t, cases)

	for action, state := range map[string]model.FindingState{
		"created": model.StateOpen, "reopened": model.StateOpen, "resolved": model.StateResolved, "revoked": model.StateResolved,
		"validated": model.StateOpen, "publicly_leaked": model.StateOpen, "assigned": model.StateOpen, "unassigned": model.StateOpen,
	} {
		a, err := DecodeSecretScanning(variant(t, rel, func(m map[string]any) { m["action"] = action }), received)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		expect(t, action, a.Finding.State, state)
	}
	if _, err := DecodeSecretScanningLocation(variant(t, rel, location("commit", map[string]any{"path": "x"})), received); err != nil {
		t.Fatalf("DecodeSecretScanningLocation: %v", err)
	}
}
