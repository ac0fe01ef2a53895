package alerts

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

// TestSamples decodes every GHAS alert payload in testdata/github and
// compares the whole result.
func TestSamples(t *testing.T) {
	const (
		csRepo = "codertocat/hello-world"
		csURL  = "https://github.com/Codertocat/Hello-World/security/code-scanning/10"
		csID   = "code_scanning:codertocat:hello-world:10"
		sqli   = "Building a SQL or Java Persistence query from user-controlled sources is vulnerable to insertion of malicious code by the user."
		depID  = "dependabot:wolfy1339:pika-pack:20"
		secID  = "secret_scanning:codertocat:hello-world:191"
	)
	want := map[string]Alert{
		"code_scanning_alert/closed-by-user.json": {
			Event: EventCodeScanningAlert, Action: "closed_by_user", InstallationID: 14662836, Sender: "Codertocat", SenderType: "User",
			Finding: model.Finding{
				ID: csID, Repository: csRepo, Source: model.SourceCodeScanning,
				State: model.StateDismissed, StateReason: "false positive",
				SourceUpdatedAt: ts("2021-02-11T02:59:08Z"), // dismissed_at
				AlertNumber:     10, AlertURL: csURL,
				RuleID:   "ANCHOREVULN_CVE-2020-27218_java-archive_http2-hpack_9.4.27.v20200227",
				Title:    "CVE-2020-27218 Severity=Medium Package=http2-hpack Version=9.4.27.v20200227",
				Tool:     "Anchore Container Vulnerability Report (T0)",
				Severity: "high", // rule.severity "error"
				Location: model.Location{Path: "/usr/local/jetty/lib/http2/http2-hpack-9.4.27.v20200227.jar", StartLine: 1, EndLine: 1, Ref: "refs/heads/master", Commit: "b30b5f3b935825766a22ab1bce14788bf9627f6c"},
				GroupID:  "alert:" + csID, FirstSeen: ts("2021-02-11T02:49:18Z"),
			},
		},
		"code_scanning_alert/created.json": {
			Event: EventCodeScanningAlert, Action: "created", InstallationID: 14662836, Sender: "github", SenderType: "Organization",
			Finding: model.Finding{
				ID: csID, Repository: csRepo, Source: model.SourceCodeScanning, State: model.StateOpen,
				SourceUpdatedAt: ts("2021-02-11T03:10:43Z"), // created_at: nothing later is set
				AlertNumber:     10, AlertURL: csURL, RuleID: "java/sql-injection",
				Title: "Query built from user-controlled sources", Description: sqli, Tool: "CodeQL", Severity: "high",
				Location: model.Location{Path: "src/main/java/com/github/demo/service/BookService.java", StartLine: 84, EndLine: 84, Ref: "refs/heads/code-feature", Commit: "788437584c2522f27feab10d8e631bab3e9e783a"},
				GroupID:  "alert:" + csID, FirstSeen: ts("2021-02-11T03:10:43Z"),
			},
		},
		"code_scanning_alert/fixed.json": {
			Event: EventCodeScanningAlert, Action: "fixed", InstallationID: 14662836, Sender: "github", SenderType: "Organization",
			Finding: model.Finding{
				ID: csID, Repository: csRepo, Source: model.SourceCodeScanning, State: model.StateFixed,
				SourceUpdatedAt: received, // no updated_at / fixed_at in the payload
				AlertNumber:     10, AlertURL: csURL, RuleID: "java/sql-injection",
				Title: "Query built from user-controlled sources", Description: sqli, Tool: "CodeQL", Severity: "high",
				// most_recent_instance, not the event's commit_oid
				Location: model.Location{Path: "src/main/java/com/github/demo/service/BookService.java", StartLine: 84, EndLine: 84, Ref: "refs/pull/11/merge", Commit: "0048a27ccd962b83b1bd781bbc6f7e8fd1b2caea"},
				GroupID:  "alert:" + csID, FirstSeen: ts("2021-02-11T03:10:43Z"),
			},
		},
		"code_scanning_alert/reopened.json": {
			Event: EventCodeScanningAlert, Action: "reopened", Sender: "github", SenderType: "Organization",
			Finding: model.Finding{
				ID: csID, Repository: csRepo, Source: model.SourceCodeScanning, State: model.StateOpen,
				SourceUpdatedAt: received, // created_at is not the time of a reopen
				AlertNumber:     10, AlertURL: csURL, RuleID: "Style/FrozenStringLiteralComment",
				Title:    "Add the frozen_string_literal comment to the top of files to help transition to frozen string literals by default.",
				Tool:     "Rubocop",
				Severity: "low", // rule.severity "note"
				// the instance has a ref but no commit: the event's commit_oid fills in
				Location: model.Location{Ref: "refs/heads/master", Commit: "d6e4c75c141dbacecc279b721b8b9393d5405795"},
				GroupID:  "alert:" + csID, FirstSeen: ts("2020-07-22T14:06:31Z"),
			},
		},
		"dependabot_alert/created.json": {
			Event: EventDependabotAlert, Action: "created", InstallationID: 13986380, Sender: "github", SenderType: "Organization",
			Finding: model.Finding{
				ID: depID, Repository: "wolfy1339/pika-pack", Source: model.SourceDependabot, State: model.StateOpen,
				SourceUpdatedAt: ts("2023-06-24T13:57:12Z"),
				AlertNumber:     20, AlertURL: "https://github.com/wolfy1339/pika-pack/security/dependabot/20",
				RuleID: "GHSA-c2qf-rxjj-qqgw", Title: "semver vulnerable to Regular Expression Denial of Service",
				Description: "Versions of the package semver before 7.5.2 are vulnerable to Regular Expression Denial of Service (ReDoS) via the function new Range, when untrusted user data is provided as a range.",
				Tool:        "Dependabot", CVE: "CVE-2022-25883", GHSA: "GHSA-c2qf-rxjj-qqgw",
				Aliases:  []string{"GHSA-c2qf-rxjj-qqgw", "CVE-2022-25883"},
				Severity: "medium", CVSS: ptr(5.3),
				Location: model.Location{Manifest: "package-lock.json"},
				Package:  &model.Package{Ecosystem: "npm", Name: "semver", VulnerableRange: "< 7.5.2", FixedVersion: "7.5.2", Scope: "runtime"},
				GroupID:  "alert:" + depID, FirstSeen: ts("2023-06-24T13:57:12Z"),
			},
		},
		"secret_scanning_alert/reopened.json": {
			Event: EventSecretScanningAlert, Action: "reopened", Sender: "Codertocat", SenderType: "User",
			Finding: model.Finding{
				ID: secID, Repository: "codertocat/hello-world", Source: model.SourceSecretScanning, State: model.StateOpen,
				SourceUpdatedAt: received, AlertNumber: 191, RuleID: "adafruit_io_key", Title: "adafruit_io_key",
				Tool: "Secret scanning", Severity: "critical", SecretType: "adafruit_io_key",
				GroupID: "alert:" + secID, FirstSeen: received,
			},
		},
	}
	files := samplesOf(t, EventCodeScanningAlert, EventDependabotAlert, EventSecretScanningAlert)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			w, ok := want[rel]
			if !ok {
				t.Fatalf("no expected result for %s: add one", rel)
			}
			got, err := Decode(strings.Split(rel, "/")[0], sample(t, rel), received)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got\n%s\nwant\n%s", jsonOf(t, got), jsonOf(t, w))
			}
			// A decoded finding must survive a round trip through the store's
			// encoding unchanged.
			b, _ := json.Marshal(got.Finding)
			var back model.Finding
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !sameContent(&back, &got.Finding) {
				t.Errorf("finding does not round-trip through JSON")
			}
		})
	}
	if len(files) != len(want) {
		t.Errorf("%d samples, %d expected results: a sample is missing", len(files), len(want))
	}
}

// decodeCase is one variation of a sample payload.
type decodeCase struct {
	name    string
	event   string
	payload func(t *testing.T) []byte
	wantErr error                       // errors.Is target; nil: must decode
	check   func(t *testing.T, a Alert) // when it decodes
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Decode(tc.event, tc.payload(t), received)
			if !decoded(t, err, tc.wantErr) {
				if a.Finding.ID != "" {
					t.Errorf("a failed decode returned a finding: %+v", a.Finding)
				}
				return
			}
			tc.check(t, a)
		})
	}
}

// decoded fails the test unless err is what the case expects: errors.Is
// wantErr, or nil when wantErr is nil. It reports whether there is a
// result to check.
func decoded(t *testing.T, err, wantErr error) bool {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func expect[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestCodeScanningVariants(t *testing.T) {
	const created = "code_scanning_alert/created.json"
	const closed = "code_scanning_alert/closed-by-user.json"
	edit := func(rel string, f func(m map[string]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte { return variant(t, rel, f) }
	}
	rule := func(m map[string]any) map[string]any { return obj(m, "alert", "rule") }
	cases := []decodeCase{
		{name: "security_severity_level wins over severity", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["security_severity_level"] = "critical" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "critical") }},
		{name: "security_severity_level in other case", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["security_severity_level"] = "Medium" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "medium") }},
		{name: "null security_severity_level falls back to severity", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["security_severity_level"] = nil; rule(m)["severity"] = "warning" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "medium") }},
		{name: "severity ERROR in capitals", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["severity"] = "ERROR" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "high") }},
		{name: "unknown severity is left unknown", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["severity"] = "none" }),
			check:   func(t *testing.T, a Alert) { expect(t, "severity", a.Finding.Severity, "") }},
		{name: "dismissed without a reason", event: EventCodeScanningAlert,
			payload: edit(closed, func(m map[string]any) { obj(m, "alert")["dismissed_reason"] = nil }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, "")
			}},
		{name: "reopened_by_user is open", event: EventCodeScanningAlert,
			payload: edit(closed, func(m map[string]any) { m["action"] = "reopened_by_user"; obj(m, "alert")["state"] = "open" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateOpen)
				expect(t, "reason", a.Finding.StateReason, "") // a reopened alert carries no dismissal reason
			}},
		{name: "appeared_in_branch keeps the alert's state", event: EventCodeScanningAlert,
			payload: edit(closed, func(m map[string]any) { m["action"] = "appeared_in_branch" }),
			check: func(t *testing.T, a Alert) {
				expect(t, "state", a.Finding.State, model.StateDismissed)
				expect(t, "reason", a.Finding.StateReason, "false positive")
			}},
		{name: "updated_assignment on a fixed alert", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { m["action"] = "updated_assignment"; obj(m, "alert")["state"] = "fixed" }),
			check:   func(t *testing.T, a Alert) { expect(t, "state", a.Finding.State, model.StateFixed) }},
		{name: "appeared_in_branch without alert.state", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { m["action"] = "appeared_in_branch"; delete(obj(m, "alert"), "state") }),
			wantErr: ErrMalformed},
		{name: "updated_at later than dismissed_at is the state's time", event: EventCodeScanningAlert,
			payload: edit(closed, func(m map[string]any) { obj(m, "alert")["updated_at"] = "2021-02-12T00:00:00Z" }),
			check:   func(t *testing.T, a Alert) { expect(t, "time", a.Finding.SourceUpdatedAt, ts("2021-02-12T00:00:00Z")) }},
		{name: "fixed_at is the time of a fix", event: EventCodeScanningAlert,
			payload: edit("code_scanning_alert/fixed.json", func(m map[string]any) { obj(m, "alert")["fixed_at"] = "2021-02-11T04:00:00+01:00" }),
			check:   func(t *testing.T, a Alert) { expect(t, "time", a.Finding.SourceUpdatedAt, ts("2021-02-11T03:00:00Z")) }},
		{name: "tool version is kept", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { obj(m, "alert", "tool")["version"] = "2.15.0" }),
			check:   func(t *testing.T, a Alert) { expect(t, "tool", a.Finding.Tool, "CodeQL 2.15.0") }},
		{name: "no instances: the event's ref and commit", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) {
				obj(m, "alert")["instances"] = []any{}
				obj(m, "alert")["most_recent_instance"] = nil
			}),
			check: func(t *testing.T, a Alert) {
				expect(t, "location", a.Finding.Location, model.Location{Ref: "refs/heads/code-feature", Commit: "788437584c2522f27feab10d8e631bab3e9e783a"})
			}},
		{name: "instance location null", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { obj(m, "alert")["instances"].([]any)[0].(map[string]any)["location"] = nil }),
			check: func(t *testing.T, a Alert) {
				expect(t, "path", a.Finding.Location.Path, "")
				expect(t, "commit", a.Finding.Location.Commit, "788437584c2522f27feab10d8e631bab3e9e783a")
			}},
		{name: "empty description: the rule name is the title", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { rule(m)["description"] = ""; rule(m)["name"] = "SQL injection" }),
			check:   func(t *testing.T, a Alert) { expect(t, "title", a.Finding.Title, "SQL injection") }},
		{name: "no rule at all", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { obj(m, "alert")["rule"] = nil }),
			check: func(t *testing.T, a Alert) {
				expect(t, "title", a.Finding.Title, "Code scanning alert 10")
				expect(t, "severity", a.Finding.Severity, "")
			}},
		{name: "unknown action", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { m["action"] = "teleported" }), wantErr: ErrUnknownAction},
		{name: "action missing", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { delete(m, "action") }), wantErr: ErrMalformed},
		{name: "repository missing", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { delete(m, "repository") }), wantErr: ErrMalformed},
		{name: "alert null", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { m["alert"] = nil }), wantErr: ErrMalformed},
		{name: "alert number missing", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { delete(obj(m, "alert"), "number") }), wantErr: ErrMalformed},
		{name: "alert number of the wrong type", event: EventCodeScanningAlert,
			payload: edit(created, func(m map[string]any) { obj(m, "alert")["number"] = "10" }), wantErr: ErrMalformed},
		{name: "bad timestamp", event: EventCodeScanningAlert,
			payload: edit(closed, func(m map[string]any) { obj(m, "alert")["dismissed_at"] = "yesterday" }), wantErr: ErrMalformed},
	}
	runDecodeCases(t, cases)
}

func TestCodeScanningActionsTable(t *testing.T) {
	want := map[string]model.FindingState{
		"created": model.StateOpen, "reopened": model.StateOpen, "reopened_by_user": model.StateOpen,
		"closed_by_user": model.StateDismissed, "fixed": model.StateFixed,
	}
	for action, state := range want {
		payload := variant(t, "code_scanning_alert/created.json", func(m map[string]any) { m["action"] = action })
		a, err := DecodeCodeScanning(payload, received)
		if err != nil {
			t.Fatalf("%s: %v", action, err)
		}
		expect(t, action, a.Finding.State, state)
	}
}

func TestCodeScanningSeverity(t *testing.T) {
	cases := []struct{ level, severity, want string }{
		{"critical", "error", "critical"}, {"high", "note", "high"}, {"medium", "", "medium"}, {"low", "error", "low"},
		{"", "error", "high"}, {"", "warning", "medium"}, {"", "note", "low"},
		{" HIGH ", "", "high"}, {"moderate", "", "medium"}, {"", "Warning", "medium"},
		{"", "high", "high"}, {"", "recommendation", ""}, {"", "", ""}, {"bogus", "note", "low"},
	}
	for _, c := range cases {
		if got := CodeScanningSeverity(c.level, c.severity); got != c.want {
			t.Errorf("CodeScanningSeverity(%q, %q) = %q, want %q", c.level, c.severity, got, c.want)
		}
	}
}

func TestTruncatedBodies(t *testing.T) {
	for _, rel := range samplesOf(t, EventCodeScanningAlert, EventDependabotAlert, EventSecretScanningAlert) {
		body := sample(t, rel)
		for _, n := range []int{0, 1, len(body) / 2, len(body) - 2} {
			_, err := Decode(strings.Split(rel, "/")[0], body[:n], received)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s cut to %d bytes: err = %v, want ErrMalformed", rel, n, err)
			}
		}
	}
	for _, c := range []struct {
		rel    string
		decode func([]byte) error
	}{
		{"registry_package/published.docker.json", func(b []byte) error { _, err := DecodeRegistryPackage(b, received); return err }},
		{"package/published.docker.json", func(b []byte) error { _, err := DecodePackage(b, received); return err }},
		{"workflow_run/completed.json", func(b []byte) error { _, err := DecodeWorkflowRun(b, received); return err }},
	} {
		body := sample(t, c.rel)
		if err := c.decode(body[:len(body)/2]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s cut in half: err = %v, want ErrMalformed", c.rel, err)
		}
	}
}

func TestUnknownActionError(t *testing.T) {
	payload := variant(t, "dependabot_alert/created.json", func(m map[string]any) { m["action"] = "exploded" })
	_, err := Decode(EventDependabotAlert, payload, received)
	var ua *UnknownActionError
	if !errors.As(err, &ua) || ua.Event != EventDependabotAlert || ua.Action != "exploded" {
		t.Fatalf("err = %#v, want *UnknownActionError{dependabot_alert, exploded}", err)
	}
	if errors.Is(err, ErrMalformed) {
		t.Error("an unknown action is not malformed: the caller answers 202, not 400")
	}
	if !strings.Contains(err.Error(), `"exploded"`) {
		t.Errorf("message %q does not name the action", err)
	}
}

func TestUnsupportedEvent(t *testing.T) {
	for _, e := range []string{"issues", "ping", "", "code_scanning"} {
		if _, err := Decode(e, []byte(`{}`), received); !errors.Is(err, ErrUnsupportedEvent) {
			t.Errorf("Decode(%q): err = %v, want ErrUnsupportedEvent", e, err)
		}
	}
}
