package alerts

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

func finding(state model.FindingState, reason string, at string) model.Finding {
	return model.Finding{
		ID: "secret_scanning:o:r:1", Repository: "o/r", Source: model.SourceSecretScanning,
		State: state, StateReason: reason, SourceUpdatedAt: ts(at), AlertNumber: 1,
		Title: "GitHub Personal Access Token", Severity: "critical", FirstSeen: ts("2024-01-01T00:00:00Z"),
	}
}

func TestApply(t *testing.T) {
	open := finding(model.StateOpen, "", "2024-02-01T00:00:00Z")
	resolved := finding(model.StateResolved, "revoked", "2024-02-02T00:00:00Z")
	cases := []struct {
		name        string
		existing    *model.Finding
		incoming    model.Finding
		wantState   model.FindingState
		wantReason  string
		wantAt      time.Time
		wantChanged bool
		check       func(t *testing.T, merged model.Finding)
	}{
		{name: "first event creates", existing: nil, incoming: open,
			wantState: model.StateOpen, wantAt: open.SourceUpdatedAt, wantChanged: true},
		{name: "newer resolution wins", existing: &open, incoming: resolved,
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true},
		{name: "older open event does not reopen", existing: &resolved, incoming: open,
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: false},
		{name: "the same event twice changes nothing", existing: &resolved, incoming: resolved,
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: false},
		{name: "newer reopen clears the reason", existing: &resolved,
			incoming:  finding(model.StateOpen, "", "2024-02-03T00:00:00Z"),
			wantState: model.StateOpen, wantReason: "", wantAt: ts("2024-02-03T00:00:00Z"), wantChanged: true},
		{name: "tie: a dismissal beats open", existing: &open,
			incoming:  finding(model.StateDismissed, "false positive", "2024-02-01T00:00:00Z"),
			wantState: model.StateDismissed, wantReason: "false positive", wantAt: open.SourceUpdatedAt, wantChanged: true},
		{name: "tie: open does not beat a dismissal", existing: ptr(finding(model.StateDismissed, "false positive", "2024-02-01T00:00:00Z")),
			incoming:  open,
			wantState: model.StateDismissed, wantReason: "false positive", wantAt: open.SourceUpdatedAt, wantChanged: false},
		{name: "tie: fixed beats open, dismissed beats fixed", existing: ptr(finding(model.StateFixed, "", "2024-02-01T00:00:00Z")),
			incoming:  finding(model.StateDismissed, "won't fix", "2024-02-01T00:00:00Z"),
			wantState: model.StateDismissed, wantReason: "won't fix", wantAt: open.SourceUpdatedAt, wantChanged: true},
		{name: "same instant in another time zone is a tie", existing: &resolved,
			incoming: func() model.Finding {
				f := open
				f.SourceUpdatedAt = resolved.SourceUpdatedAt.In(time.FixedZone("X", 7200))
				return f
			}(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: false},
		{name: "older location event fills the location only", existing: &resolved,
			incoming: func() model.Finding {
				f := open
				f.Location = model.Location{Path: "config/.env", StartLine: 2, EndLine: 2, Commit: "abc"}
				f.Validity = "active"
				return f
			}(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true,
			check: func(t *testing.T, m model.Finding) {
				expect(t, "location", m.Location, model.Location{Path: "config/.env", StartLine: 2, EndLine: 2, Commit: "abc"})
				expect(t, "validity", m.Validity, "active")
			}},
		{name: "newer event without a location keeps the known one", existing: func() *model.Finding {
			f := open
			f.Location = model.Location{Path: "config/.env", StartLine: 2}
			f.Validity = "active"
			return &f
		}(), incoming: func() model.Finding { f := resolved; f.Validity = "inactive"; return f }(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true,
			check: func(t *testing.T, m model.Finding) {
				expect(t, "path", m.Location.Path, "config/.env")
				expect(t, "validity", m.Validity, "inactive") // newer information wins
			}},
		{name: "older event does not overwrite newer information", existing: func() *model.Finding {
			f := resolved
			f.Validity = "inactive"
			return &f
		}(), incoming: func() model.Finding { f := open; f.Validity = "active"; return f }(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: false,
			check: func(t *testing.T, m model.Finding) { expect(t, "validity", m.Validity, "inactive") }},
		{name: "stored-only fields survive a newer event", existing: func() *model.Finding {
			f := open
			f.Meta = model.Meta{ETag: `"etag-1"`, TS: 42, ContentHash: "h"}
			f.Score, f.Priority = 9.5, model.PriorityCritical
			f.Explanation = model.Explanation{Factors: []model.Factor{{Name: "base", Op: "=", Value: 9, Contribution: 9}}}
			f.GroupID = "alert:custom"
			f.DefenderIDs = []string{"/subscriptions/x/assessments/y"}
			f.Image, f.Digests = "ghcr.io/o/r", []string{helloDigest}
			return &f
		}(), incoming: resolved,
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true,
			check: func(t *testing.T, m model.Finding) {
				expect(t, "etag", m.ETag, `"etag-1"`)
				expect(t, "score", m.Score, 9.5)
				expect(t, "priority", m.Priority, model.PriorityCritical)
				expect(t, "factors", len(m.Explanation.Factors), 1)
				expect(t, "group", m.GroupID, "alert:custom")
				expect(t, "defender ids", len(m.DefenderIDs), 1)
				expect(t, "image", m.Image, "ghcr.io/o/r")
				expect(t, "digests", len(m.Digests), 1)
			}},
		{name: "first seen is the earliest", existing: &open,
			incoming:  func() model.Finding { f := resolved; f.FirstSeen = ts("2023-12-01T00:00:00Z"); return f }(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true,
			check: func(t *testing.T, m model.Finding) { expect(t, "first seen", m.FirstSeen, ts("2023-12-01T00:00:00Z")) }},
		{name: "older event adds aliases, CVSS, EPSS, package and exploit flags", existing: func() *model.Finding {
			f := resolved
			f.Aliases = []string{"GHSA-1"}
			f.Package = &model.Package{Name: "semver"}
			return &f
		}(), incoming: func() model.Finding {
			f := open
			f.Aliases = []string{"ghsa-1", "CVE-2"}
			f.CVSS = ptr(7.5)
			f.Exploit = model.Exploitability{EPSS: 0.3, PublicExploit: true}
			f.Package = &model.Package{Name: "other", Ecosystem: "npm", FixedVersion: "7.5.2"}
			return f
		}(),
			wantState: model.StateResolved, wantReason: "revoked", wantAt: resolved.SourceUpdatedAt, wantChanged: true,
			check: func(t *testing.T, m model.Finding) {
				if want := []string{"GHSA-1", "CVE-2"}; !reflect.DeepEqual(m.Aliases, want) {
					t.Errorf("aliases = %q, want %q", m.Aliases, want)
				}
				expect(t, "cvss", *m.CVSS, 7.5)
				expect(t, "epss", m.Exploit.EPSS, 0.3)
				expect(t, "public exploit", m.Exploit.PublicExploit, true)
				expect(t, "package", *m.Package, model.Package{Name: "semver", Ecosystem: "npm", FixedVersion: "7.5.2"})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before []byte
			if tc.existing != nil {
				before, _ = json.Marshal(tc.existing)
			}
			inBefore, _ := json.Marshal(tc.incoming)

			merged, changed := Apply(tc.existing, tc.incoming)
			expect(t, "state", merged.State, tc.wantState)
			expect(t, "reason", merged.StateReason, tc.wantReason)
			if !merged.SourceUpdatedAt.Equal(tc.wantAt) {
				t.Errorf("time = %v, want %v", merged.SourceUpdatedAt, tc.wantAt)
			}
			expect(t, "changed", changed, tc.wantChanged)
			if tc.check != nil {
				tc.check(t, merged)
			}

			// Apply never changes its inputs, and its result shares nothing with them.
			if tc.existing != nil {
				if after, _ := json.Marshal(tc.existing); string(after) != string(before) {
					t.Error("Apply changed existing")
				}
			}
			if inAfter, _ := json.Marshal(tc.incoming); string(inAfter) != string(inBefore) {
				t.Error("Apply changed incoming")
			}
			if merged.Package != nil && (merged.Package == tc.incoming.Package || (tc.existing != nil && merged.Package == tc.existing.Package)) {
				t.Error("merged shares its package with an input")
			}
			if len(merged.Aliases) > 0 && tc.existing != nil && len(tc.existing.Aliases) > 0 && &merged.Aliases[0] == &tc.existing.Aliases[0] {
				t.Error("merged shares its aliases with existing")
			}

			// Applying the same event again is a no-op.
			if again, changed := Apply(&merged, tc.incoming); changed {
				t.Errorf("re-applying the event changed the finding:\n%s", jsonOf(t, again))
			}
		})
	}
}

// TestApplyAnyOrder replays a sequence of events in every delivery order:
// the result must always be the state of the latest event.
func TestApplyAnyOrder(t *testing.T) {
	events := []model.Finding{
		finding(model.StateOpen, "", "2024-01-01T00:00:00Z"),
		finding(model.StateDismissed, "false positive", "2024-01-02T00:00:00Z"),
		finding(model.StateOpen, "", "2024-01-03T00:00:00Z"),
		finding(model.StateResolved, "revoked", "2024-01-04T00:00:00Z"),
		finding(model.StateOpen, "", "2024-01-04T00:00:00Z"), // same second as the resolution
	}
	events[0].Location = model.Location{Path: "a.env", StartLine: 1}
	var permute func(order []int, rest []int)
	n := 0
	permute = func(order []int, rest []int) {
		if len(rest) == 0 {
			n++
			var f *model.Finding
			for _, i := range order {
				m, _ := Apply(f, events[i])
				f = &m
			}
			if f.State != model.StateResolved || f.StateReason != "revoked" || !f.SourceUpdatedAt.Equal(ts("2024-01-04T00:00:00Z")) {
				t.Errorf("order %v ends %s %q %v, want resolved revoked 2024-01-04", order, f.State, f.StateReason, f.SourceUpdatedAt)
			}
			if f.Location.Path != "a.env" {
				t.Errorf("order %v lost the location", order)
			}
			return
		}
		for i := range rest {
			next := append(append([]int(nil), rest[:i]...), rest[i+1:]...)
			permute(append(append([]int(nil), order...), rest[i]), next)
		}
	}
	permute(nil, []int{0, 1, 2, 3, 4})
	if n != 120 {
		t.Fatalf("ran %d orders, want 120", n)
	}
}

// TestApplySamples runs the real code scanning events through Apply in both
// orders: the dismissal (with its own time) and the later fix.
func TestApplySamples(t *testing.T) {
	closed, err := Decode(EventCodeScanningAlert, sample(t, "code_scanning_alert/closed-by-user.json"), received)
	if err != nil {
		t.Fatal(err)
	}
	fixed, err := Decode(EventCodeScanningAlert, sample(t, "code_scanning_alert/fixed.json"), received)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Apply(nil, closed.Finding)
	a, _ = Apply(&a, fixed.Finding)
	b, _ := Apply(nil, fixed.Finding)
	b, _ = Apply(&b, closed.Finding)
	if !sameContent(&a, &b) {
		t.Errorf("order matters:\n%s\n%s", jsonOf(t, a), jsonOf(t, b))
	}
	expect(t, "state", a.State, model.StateFixed)
}

func TestApplyEmptyVersusNil(t *testing.T) {
	stored := open()
	stored.Explanation.Factors = []model.Factor{} // as read back from "factors": []
	incoming := open()
	if _, changed := Apply(&stored, incoming); changed {
		t.Error("an empty and a missing factor list are the same content")
	}
}

func open() model.Finding { return finding(model.StateOpen, "", "2024-02-01T00:00:00Z") }
