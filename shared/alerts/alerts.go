// Package alerts decodes GitHub webhook payloads into runtimelink's domain
// values: GHAS alerts (code scanning, Dependabot, secret scanning) into
// model.Finding, and published container packages and workflow runs into
// build evidence. It also merges an incoming finding into the stored one so
// that an event delivered out of order never rolls a finding back.
// It is pure: no I/O and no clock (the caller passes the time it received
// the event).
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Event names (X-GitHub-Event) this package decodes.
const (
	EventCodeScanningAlert           = "code_scanning_alert"
	EventDependabotAlert             = "dependabot_alert"
	EventSecretScanningAlert         = "secret_scanning_alert"
	EventSecretScanningAlertLocation = "secret_scanning_alert_location"
	EventRegistryPackage             = "registry_package"
	EventPackage                     = "package"
	EventWorkflowRun                 = "workflow_run"
)

var (
	// ErrMalformed: the body is not the JSON GitHub sends for the event
	// (truncated, wrong types, required fields missing). Answer 400.
	ErrMalformed = errors.New("malformed webhook payload")
	// ErrUnknownAction: a well-formed event whose action runtimelink does not
	// handle. Answer 202 and ignore. The error is an *UnknownActionError.
	ErrUnknownAction = errors.New("unknown webhook action")
	// ErrUnsupportedEvent: Decode was given an event it does not decode.
	ErrUnsupportedEvent = errors.New("unsupported webhook event")
	// ErrNotContainer: a package event about a package that is not a
	// container image (npm, Maven, ...). Answer 202 and ignore.
	ErrNotContainer = errors.New("package is not a container image")
)

// UnknownActionError names the event and action that were not recognised.
// errors.Is(err, ErrUnknownAction) holds for it.
type UnknownActionError struct {
	Event, Action string
}

func (e *UnknownActionError) Error() string {
	return fmt.Sprintf("%s: unknown action %q", e.Event, e.Action)
}

// Is makes errors.Is(err, ErrUnknownAction) true.
func (e *UnknownActionError) Is(target error) bool { return target == ErrUnknownAction }

func malformed(event, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, event, fmt.Sprintf(format, args...))
}

func malformedJSON(event string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, event, err)
}

// Alert is one decoded GHAS alert event.
type Alert struct {
	Event          string
	Action         string
	Finding        model.Finding
	InstallationID int64
	// Sender is the login that caused the event and SenderType its account
	// type ("User", "Bot"), for the loop guard.
	Sender     string
	SenderType string
}

// Decode decodes a GHAS alert event (code_scanning_alert, dependabot_alert,
// secret_scanning_alert or secret_scanning_alert_location). received is when
// the event arrived: the finding's SourceUpdatedAt when the payload carries
// no time of its own.
func Decode(event string, payload []byte, received time.Time) (Alert, error) {
	switch event {
	case EventCodeScanningAlert:
		return DecodeCodeScanning(payload, received)
	case EventDependabotAlert:
		return DecodeDependabot(payload, received)
	case EventSecretScanningAlert, EventSecretScanningAlertLocation:
		return decodeSecretScanning(event, payload, received)
	}
	return Alert{}, fmt.Errorf("%w: %q", ErrUnsupportedEvent, event)
}

// envelope is what every event shares.
type envelope struct {
	Action     string `json:"action"`
	Repository *struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Installation *struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Sender *struct {
		Login string `json:"login"`
		Type  string `json:"type"`
	} `json:"sender"`
}

func (e *envelope) repository() string {
	if e.Repository == nil {
		return ""
	}
	return strings.TrimSpace(e.Repository.FullName)
}

// findingRepository is the repository a finding is filed under: the
// full_name in lower case, as mapping.NormalizeRepository has it, because
// it is the findings partition key and part of the finding id, and GitHub
// names a repository case-insensitively.
func (e *envelope) findingRepository() string { return strings.ToLower(e.repository()) }

func (e *envelope) alert(event string) Alert {
	a := Alert{Event: event, Action: e.Action}
	if e.Installation != nil {
		a.InstallationID = e.Installation.ID
	}
	if e.Sender != nil {
		a.Sender, a.SenderType = e.Sender.Login, e.Sender.Type
	}
	return a
}

// stateRule says what state an action puts the alert in: a fixed state, or
// (fromAlert) whatever state the alert object carries.
type stateRule struct {
	state     model.FindingState
	fromAlert bool
}

func actionState(event, action string, rules map[string]stateRule) (stateRule, error) {
	if action == "" {
		return stateRule{}, malformed(event, "action is missing")
	}
	r, ok := rules[action]
	if !ok {
		return stateRule{}, &UnknownActionError{Event: event, Action: action}
	}
	return r, nil
}

// utc normalises a time so that equal instants compare and encode equally.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }

// latest returns the latest set time, or received when none is set.
// GitHub's "0001-01-01T00:00:00Z" counts as unset.
func latest(received time.Time, ts ...*time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t != nil && !t.IsZero() && t.After(out) {
			out = *t
		}
	}
	if out.IsZero() {
		return utc(received)
	}
	return utc(out)
}

func firstSet(received time.Time, ts ...*time.Time) time.Time {
	for _, t := range ts {
		if t != nil && !t.IsZero() {
			return utc(*t)
		}
	}
	return utc(received)
}

// securitySeverity normalises a security severity to critical, high, medium
// or low; anything else is "" (unknown: scoring then uses its default).
// "moderate" is the advisory database's spelling of medium.
func securitySeverity(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return "critical"
	case "high":
		return "high"
	case "medium", "moderate":
		return "medium"
	case "low":
		return "low"
	}
	return ""
}

// number is a JSON number that may also arrive as a string ("0.16001e0");
// a value that is neither is treated as absent rather than failing the event.
type number struct {
	v  float64
	ok bool
}

func (n *number) UnmarshalJSON(b []byte) error {
	*n = number{}
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if unq, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(unq)
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		*n = number{v: v, ok: true}
	}
	return nil
}

// maxDescription caps descriptions copied into a finding: advisories can be
// long and the full text is one click away on GitHub.
const maxDescription = 8 << 10

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxDescription {
		return s
	}
	cut := maxDescription
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func (e *envelope) action() string { return e.Action }

// decodeEvent unmarshals payload into p, any JSON error being
// ErrMalformed, and answers the rule of its action.
func decodeEvent(event string, payload []byte, p interface{ action() string }, rules map[string]stateRule) (stateRule, error) {
	if err := json.Unmarshal(payload, p); err != nil {
		return stateRule{}, malformedJSON(event, err)
	}
	return actionState(event, p.action(), rules)
}

// alertHead is what every GHAS alert object has.
type alertHead struct {
	Number    int        `json:"number"`
	HTMLURL   string     `json:"html_url"`
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// alertPayload is a GHAS alert event (code scanning, Dependabot, secret
// scanning): the envelope and what decodeAlert needs of its alert.
type alertPayload interface {
	action() string
	findingRepository() string
	// hasAlert tells whether the payload has an alert object; the methods
	// below read it.
	hasAlert() bool
	head() alertHead
	// alertState maps the alert object's state; raw is the state as sent,
	// for the error when ok is false.
	alertState() (s model.FindingState, raw string, ok bool)
}

func (p *codeScanningPayload) hasAlert() bool   { return p.Alert != nil }
func (p *dependabotPayload) hasAlert() bool     { return p.Alert != nil }
func (p *secretScanningPayload) hasAlert() bool { return p.Alert != nil }

func (p *codeScanningPayload) head() alertHead   { return p.Alert.alertHead }
func (p *dependabotPayload) head() alertHead     { return p.Alert.alertHead }
func (p *secretScanningPayload) head() alertHead { return p.Alert.alertHead }

// decodeAlert decodes a GHAS alert event of source into p and checks what
// every one needs to name its finding (requireAlert). It answers the
// finding with what all sources share: id, repository, state (the
// action's), alert number and page, first seen and group.
func decodeAlert(event string, payload []byte, received time.Time, source model.Source, p alertPayload, rules map[string]stateRule) (model.Finding, error) {
	rule, err := decodeEvent(event, payload, p, rules)
	if err != nil {
		return model.Finding{}, err
	}
	repo := p.findingRepository()
	if !p.hasAlert() {
		return model.Finding{}, requireAlert(event, repo, false, 0)
	}
	h := p.head()
	if err := requireAlert(event, repo, true, h.Number); err != nil {
		return model.Finding{}, err
	}
	state := rule.state
	if rule.fromAlert {
		s, raw, ok := p.alertState()
		if !ok {
			return model.Finding{}, malformed(event, "action %q needs alert.state, got %q", p.action(), raw)
		}
		state = s
	}
	f := model.Finding{
		ID:          model.GHASFindingID(source, repo, h.Number),
		Repository:  repo,
		Source:      source,
		State:       state,
		AlertNumber: h.Number,
		AlertURL:    h.HTMLURL,
		FirstSeen:   firstSet(received, h.CreatedAt),
	}
	f.GroupID = model.AlertGroupID(f.ID)
	return f, nil
}

// requireAlert checks what every GHAS alert event needs to name its
// finding: a repository, an alert, and the alert's number.
func requireAlert(event, repo string, hasAlert bool, number int) error {
	switch {
	case repo == "":
		return malformed(event, "repository.full_name is missing")
	case !hasAlert:
		return malformed(event, "alert is missing")
	case number <= 0:
		return malformed(event, "alert.number is missing")
	case !model.SafeInteger(int64(number)):
		// Cosmos DB would give it back rounded, unreadable as an int.
		return malformed(event, "alert.number %d is beyond 2^53", number)
	}
	return nil
}

// FirstNonBlank returns the first of ss that is not empty or white space,
// trimmed ("" when none is): payload fields often carry stray spaces. For
// the first non-empty string as is, use cmp.Or.
func FirstNonBlank(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
