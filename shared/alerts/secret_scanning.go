package alerts

import (
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// secretScanningActions maps every secret_scanning_alert action to a state.
// validated, publicly_leaked, assigned and unassigned leave the state as the
// alert object has it. revoked is the older action for a resolution of
// "revoked".
var secretScanningActions = map[string]stateRule{
	"created":         {state: model.StateOpen},
	"reopened":        {state: model.StateOpen},
	"resolved":        {state: model.StateResolved},
	"revoked":         {state: model.StateResolved},
	"validated":       {fromAlert: true},
	"publicly_leaked": {fromAlert: true},
	"assigned":        {fromAlert: true},
	"unassigned":      {fromAlert: true},
}

// secretScanningLocationActions: secret_scanning_alert_location has one
// action; it reports a new place the secret was found and leaves the state
// as the alert object has it.
var secretScanningLocationActions = map[string]stateRule{
	"created": {fromAlert: true},
}

// SecretScanningSeverity is the severity of every secret scanning alert: a
// leaked secret is usable the moment it leaks. Scoring gives secret
// scanning its own base (9.0) whatever the severity says.
const SecretScanningSeverity = "critical"

type secretScanningPayload struct {
	envelope
	Alert    *secretScanningAlert `json:"alert"`
	Location *struct {
		Type    string `json:"type"`
		Details *struct {
			Path      string `json:"path"`
			StartLine int    `json:"start_line"`
			EndLine   int    `json:"end_line"`
			CommitSHA string `json:"commit_sha"`
		} `json:"details"`
	} `json:"location"`
}

type secretScanningAlert struct {
	alertHead
	State                 *string    `json:"state"`
	SecretType            string     `json:"secret_type"`
	SecretTypeDisplayName string     `json:"secret_type_display_name"`
	Validity              string     `json:"validity"`
	Resolution            *string    `json:"resolution"`
	ResolutionComment     *string    `json:"resolution_comment"`
	PubliclyLeaked        *bool      `json:"publicly_leaked"`
	ResolvedAt            *time.Time `json:"resolved_at"`
}

// alertState is always known: state falls back on the resolution.
func (p *secretScanningPayload) alertState() (model.FindingState, string, bool) {
	return p.Alert.state(), "", true
}

// state is the alert object's own state: "state" when the payload has it
// (the REST shape), else derived from "resolution" (the webhook shape has
// only that: null while the alert is open).
func (a *secretScanningAlert) state() model.FindingState {
	if a.State != nil {
		switch strings.ToLower(*a.State) {
		case "open":
			return model.StateOpen
		case "resolved":
			return model.StateResolved
		}
	}
	if a.Resolution != nil && *a.Resolution != "" {
		return model.StateResolved
	}
	return model.StateOpen
}

// DecodeSecretScanning decodes a secret_scanning_alert event.
func DecodeSecretScanning(payload []byte, received time.Time) (Alert, error) {
	return decodeSecretScanning(EventSecretScanningAlert, payload, received)
}

// DecodeSecretScanningLocation decodes a secret_scanning_alert_location
// event: the alert plus one place the secret was found.
func DecodeSecretScanningLocation(payload []byte, received time.Time) (Alert, error) {
	return decodeSecretScanning(EventSecretScanningAlertLocation, payload, received)
}

func decodeSecretScanning(event string, payload []byte, received time.Time) (Alert, error) {
	actions := secretScanningActions
	if event == EventSecretScanningAlertLocation {
		actions = secretScanningLocationActions
	}
	var p secretScanningPayload
	f, err := decodeAlert(event, payload, received, model.SourceSecretScanning, &p, actions)
	if err != nil {
		return Alert{}, err
	}
	a := p.Alert
	f.RuleID, f.SecretType = a.SecretType, a.SecretType
	f.Title = FirstNonBlank(a.SecretTypeDisplayName, a.SecretType, "Secret scanning alert")
	f.Tool, f.Severity = "Secret scanning", SecretScanningSeverity
	f.Validity = strings.ToLower(strings.TrimSpace(a.Validity))
	if f.State == model.StateResolved {
		if a.Resolution != nil {
			f.StateReason = *a.Resolution
		}
		if f.StateReason == "" && p.Action == "revoked" {
			f.StateReason = "revoked"
		}
	}
	// A secret anyone can read on the internet is as usable as an exploit
	// that is published: the scoring's public-exploit factor applies.
	f.Exploit.PublicExploit = a.PubliclyLeaked != nil && *a.PubliclyLeaked
	created := a.CreatedAt
	if p.Action != "created" || event == EventSecretScanningAlertLocation {
		created = nil
	}
	f.SourceUpdatedAt = latest(received, a.UpdatedAt, a.ResolvedAt, created)

	if l := p.Location; l != nil && l.Details != nil {
		f.Location.Path = l.Details.Path
		f.Location.StartLine = max(l.Details.StartLine, 0)
		f.Location.EndLine = max(l.Details.EndLine, 0)
		f.Location.Commit = l.Details.CommitSHA
	}

	out := p.alert(event)
	out.Finding = f
	return out, nil
}
