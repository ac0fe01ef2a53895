package alerts

import (
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// codeScanningActions maps every code_scanning_alert action to a state.
// appeared_in_branch and updated_assignment change nothing about the alert's
// state, so the state comes from the alert object itself.
var codeScanningActions = map[string]stateRule{
	"created":            {state: model.StateOpen},
	"reopened":           {state: model.StateOpen},
	"reopened_by_user":   {state: model.StateOpen},
	"closed_by_user":     {state: model.StateDismissed},
	"fixed":              {state: model.StateFixed},
	"appeared_in_branch": {fromAlert: true},
	"updated_assignment": {fromAlert: true},
}

type codeScanningPayload struct {
	envelope
	Ref       string             `json:"ref"`
	CommitOID string             `json:"commit_oid"`
	Alert     *codeScanningAlert `json:"alert"`
}

type codeScanningAlert struct {
	alertHead
	State           string     `json:"state"`
	DismissedAt     *time.Time `json:"dismissed_at"`
	FixedAt         *time.Time `json:"fixed_at"`
	DismissedReason *string    `json:"dismissed_reason"`
	Rule            *struct {
		ID                    string `json:"id"`
		Name                  string `json:"name"`
		Severity              string `json:"severity"`
		SecuritySeverityLevel string `json:"security_severity_level"`
		Description           string `json:"description"`
		FullDescription       string `json:"full_description"`
	} `json:"rule"`
	Tool *struct {
		Name    string  `json:"name"`
		Version *string `json:"version"`
	} `json:"tool"`
	MostRecentInstance *codeScanningInstance  `json:"most_recent_instance"`
	Instances          []codeScanningInstance `json:"instances"`
}

type codeScanningInstance struct {
	Ref       string `json:"ref"`
	CommitSHA string `json:"commit_sha"`
	Location  *struct {
		Path      string `json:"path"`
		StartLine int    `json:"start_line"`
		EndLine   int    `json:"end_line"`
	} `json:"location"`
}

func (p *codeScanningPayload) alertState() (model.FindingState, string, bool) {
	s, ok := codeScanningState(p.Alert.State)
	return s, p.Alert.State, ok
}

// codeScanningState maps the alert object's state; "closed" is the older
// API's word for fixed.
func codeScanningState(s string) (model.FindingState, bool) {
	switch strings.ToLower(s) {
	case "open":
		return model.StateOpen, true
	case "dismissed":
		return model.StateDismissed, true
	case "fixed", "closed":
		return model.StateFixed, true
	}
	return "", false
}

// CodeScanningSeverity is the severity of a code scanning rule: its
// security_severity_level (critical, high, medium, low) when it has one —
// security rules do — else its plain severity mapped as
// error → high, warning → medium, note → low (GitHub's own order of the
// three; a non-security rule never reaches critical). Unknown → "".
func CodeScanningSeverity(securitySeverityLevel, severity string) string {
	if s := securitySeverity(securitySeverityLevel); s != "" {
		return s
	}
	switch strings.ToLower(strings.TrimSpace(severity)) {
	case "error":
		return "high"
	case "warning":
		return "medium"
	case "note":
		return "low"
	}
	return securitySeverity(severity)
}

// DecodeCodeScanning decodes a code_scanning_alert event.
func DecodeCodeScanning(payload []byte, received time.Time) (Alert, error) {
	const event = EventCodeScanningAlert
	var p codeScanningPayload
	f, err := decodeAlert(event, payload, received, model.SourceCodeScanning, &p, codeScanningActions)
	if err != nil {
		return Alert{}, err
	}
	a := p.Alert
	if f.State == model.StateDismissed && a.DismissedReason != nil {
		f.StateReason = *a.DismissedReason
	}
	created := a.CreatedAt
	if p.Action != "created" {
		created = nil // the creation time says nothing about a later transition
	}
	f.SourceUpdatedAt = latest(received, a.UpdatedAt, a.FixedAt, a.DismissedAt, created)

	if r := a.Rule; r != nil {
		f.RuleID = r.ID
		f.Title = FirstNonBlank(r.Description, r.Name, r.ID)
		if d := strings.TrimSpace(r.FullDescription); d != f.Title {
			f.Description = clip(d)
		}
		f.Severity = CodeScanningSeverity(r.SecuritySeverityLevel, r.Severity)
	}
	if f.Title == "" {
		f.Title = "Code scanning alert " + strconv.Itoa(a.Number)
	}
	if t := a.Tool; t != nil {
		f.Tool = strings.TrimSpace(t.Name)
		if t.Version != nil && strings.TrimSpace(*t.Version) != "" {
			f.Tool += " " + strings.TrimSpace(*t.Version)
		}
	}

	inst := a.MostRecentInstance
	if inst == nil && len(a.Instances) > 0 {
		inst = &a.Instances[0]
	}
	if inst != nil {
		f.Location.Ref = inst.Ref
		f.Location.Commit = inst.CommitSHA
		if l := inst.Location; l != nil {
			f.Location.Path = l.Path
			f.Location.StartLine = max(l.StartLine, 0)
			f.Location.EndLine = max(l.EndLine, 0)
		}
	}
	// The event's own ref and commit describe the analysis that caused it;
	// use them only when the instance does not say.
	if f.Location.Ref == "" {
		f.Location.Ref = p.Ref
	}
	if f.Location.Commit == "" {
		f.Location.Commit = p.CommitOID
	}

	out := p.alert(event)
	out.Finding = f
	return out, nil
}
