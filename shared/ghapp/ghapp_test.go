package ghapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/alerts"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/model"
)

type recorder struct {
	events []string
	calls  []string
	err    error
}

func (r *recorder) Handles() []string { return r.events }
func (r *recorder) Handle(_ context.Context, event, delivery string, _ []byte) error {
	r.calls = append(r.calls, event+"/"+delivery)
	return r.err
}

func TestDispatcher(t *testing.T) {
	a := &recorder{events: []string{"ping", "issues"}}
	b := &recorder{events: []string{"star"}, err: errors.New("boom")}
	d, err := NewDispatcher(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Handles(), ","); got != "issues,ping,star" {
		t.Errorf("Handles = %s", got)
	}
	ctx := context.Background()
	if err := d.Handle(ctx, "issues", "d1", nil); err != nil || strings.Join(a.calls, ",") != "issues/d1" {
		t.Errorf("issues: %v, calls %v", err, a.calls)
	}
	if err := d.Handle(ctx, "star", "d2", nil); err == nil || err.Error() != "boom" {
		t.Errorf("star: %v, want the handler's error", err)
	}
	err = d.Handle(ctx, "fork", "d3", nil)
	if !errors.Is(err, ErrUnhandledEvent) || !IsIgnored(err) || IsMalformed(err) {
		t.Errorf("fork: %v, want an ignorable ErrUnhandledEvent", err)
	}
	if _, err := NewDispatcher(a, &recorder{events: []string{"ping"}}); err == nil {
		t.Error("two handlers for ping accepted")
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		err                error
		ignored, malformed bool
	}{
		{&alerts.UnknownActionError{Event: "x", Action: "y"}, true, false},
		{fmt.Errorf("wrapped: %w", alerts.ErrNotContainer), true, false},
		{ignored("issues", "because"), true, false},
		{malformed("issues", "because"), false, true},
		{fmt.Errorf("decode: %w", alerts.ErrMalformed), false, true},
		{errors.New("cosmos is down"), false, false},
	}
	for _, c := range cases {
		if IsIgnored(c.err) != c.ignored || IsMalformed(c.err) != c.malformed {
			t.Errorf("%v: ignored %v malformed %v, want %v %v", c.err, IsIgnored(c.err), IsMalformed(c.err), c.ignored, c.malformed)
		}
	}
}

func TestCheckJSONObject(t *testing.T) {
	cases := map[string]bool{
		`{}`:                 true,
		"  \n{\"a\":1}\n":    true,
		``:                   false,
		`   `:                false,
		`[]`:                 false,
		`"string"`:           false,
		`{"a":`:              false,
		`{"a":1}{"b":2}`:     false,
		`{"a":1} trailing`:   false,
		`null`:               false,
		"{\"a\":\"\xff\"}":   true, // invalid UTF-8 is replaced, not refused, by encoding/json
		`{"a":[1,2,{"b":}]}`: false,
	}
	for in, ok := range cases {
		err := checkJSONObject("ping", []byte(in))
		if (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", in, err, ok)
		}
		if err != nil && !IsMalformed(err) {
			t.Errorf("%q: %v is not malformed", in, err)
		}
	}
}

func TestCheckHeaders(t *testing.T) {
	cases := []struct {
		event, delivery string
		ok              bool
	}{
		{"ping", "72d3162e-cc78-11e3-81ab-4c9367dc0958", true},
		{"", "72d3162e-cc78-11e3-81ab-4c9367dc0958", false},
		{"ping", "", false},
		{"ping", "a/b", false},
		{"ping", "a#b", false},
		{"ping", " padded", false},
		{"ping", strings.Repeat("a", 256), false},
		{strings.Repeat("e", 101), "id", false},
	}
	for _, c := range cases {
		if err := checkHeaders(c.event, c.delivery); (err == nil) != c.ok {
			t.Errorf("(%q, %q): %v, want ok=%v", c.event, c.delivery, err, c.ok)
		}
	}
}

func TestFlexTime(t *testing.T) {
	want := time.Date(2019, 5, 15, 15, 19, 51, 0, time.UTC)
	cases := map[string]time.Time{
		`1557933591`:                  want,
		`"2019-05-15T15:19:51Z"`:      want,
		`"2019-05-15T17:19:51+02:00"`: want,
		`null`:                        {},
		`""`:                          {},
	}
	for in, w := range cases {
		var f flexTime
		if err := json.Unmarshal([]byte(in), &f); err != nil || !f.t.Equal(w) {
			t.Errorf("%s: %v %v, want %v", in, f.t, err, w)
		}
	}
	for _, bad := range []string{`"yesterday"`, `true`, `{}`} {
		var f flexTime
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s accepted as %v", bad, f.t)
		}
	}
}

// A listed (REST) alert decodes to the finding its webhook would give:
// same id, lower-case repository, the alert's own state.
func TestDecodeListedAlert(t *testing.T) {
	received := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, source := range BackfillSources {
		t.Run(string(source), func(t *testing.T) {
			raw := githubtest.GenerateAlerts(t, source, 2, "Octo-Org/App")
			for i, a := range raw {
				var head struct {
					Number int `json:"number"`
				}
				_ = json.Unmarshal(a, &head)
				f, err := decodeListedAlert(source, github.RawAlert{Repository: "Octo-Org/App", Number: head.Number, JSON: a}, received)
				if err != nil {
					t.Fatal(err)
				}
				if f.ID != model.GHASFindingID(source, "octo-org/app", i+1) || f.Repository != "octo-org/app" || f.Source != source {
					t.Errorf("finding %s in %s (%s)", f.ID, f.Repository, f.Source)
				}
				if f.State != model.StateOpen || f.SourceUpdatedAt.Equal(received) || f.AlertURL == "" {
					t.Errorf("finding %s: state %s at %s, url %q", f.ID, f.State, f.SourceUpdatedAt, f.AlertURL)
				}
			}
		})
	}
	// The alert's state is kept, whatever it is.
	var m map[string]any
	_ = json.Unmarshal(githubtest.GenerateAlerts(t, model.SourceDependabot, 1)[0], &m)
	m["state"], m["dismissed_reason"], m["dismissed_at"] = "dismissed", "tolerable_risk", "2025-02-01T00:00:00Z"
	b, _ := json.Marshal(m)
	f, err := decodeListedAlert(model.SourceDependabot, github.RawAlert{Repository: "octo-org/hello-world", Number: 1, JSON: b}, received)
	if err != nil || f.State != model.StateDismissed || f.StateReason != "tolerable_risk" {
		t.Errorf("dismissed alert: %+v %v", f.State, err)
	}
	if _, err := decodeListedAlert(model.SourceDependabot, github.RawAlert{Repository: "o/r", JSON: json.RawMessage(`{"number":"x"}`)}, received); !IsMalformed(err) {
		t.Errorf("garbage alert: %v, want malformed", err)
	}
}
