package model

import (
	"regexp"
	"strings"
	"time"
)

// GovernanceAssignment is a Defender for Cloud governance assignment: who
// owns the remediation of one assessment and by when, and the ticket that
// tracks it (runtimelink's GitHub issue). AssessmentID + Key identify it.
type GovernanceAssignment struct {
	// AssessmentID is the assessment's full ARM id:
	// {resourceId}/providers/Microsoft.Security/assessments/{name}.
	AssessmentID string `json:"assessmentId"`
	Key          string `json:"key"`
	// Owner is an e-mail address ("" when nobody is named).
	Owner              string    `json:"owner,omitempty"`
	RemediationDueDate time.Time `json:"remediationDueDate"`
	IsGracePeriod      bool      `json:"isGracePeriod"`
	// ETA is the owner's estimate, with its justification (zero when none).
	ETA              time.Time `json:"eta,omitzero"`
	ETAJustification string    `json:"etaJustification,omitempty"`
	// E-mail notifications Defender sends weekly; nil leaves Defender's default.
	DisableManagerEmail *bool `json:"disableManagerEmail,omitempty"`
	DisableOwnerEmail   *bool `json:"disableOwnerEmail,omitempty"`
	// The ticket: the GitHub issue's number, URL and status. TicketNumber
	// 0 means no ticket.
	TicketNumber int    `json:"ticketNumber,omitempty"`
	TicketLink   string `json:"ticketLink,omitempty"`
	TicketStatus string `json:"ticketStatus,omitempty"`
}

// ID is the assignment's full ARM id.
func (a GovernanceAssignment) ID() string {
	return a.AssessmentID + "/governanceAssignments/" + a.Key
}

// GroupGovernance is what runtimelink knows of a group's governance
// assignments in Defender for Cloud.
type GroupGovernance struct {
	// Assignments are the assignments on the group's assessments as last
	// read from Defender or written by runtimelink: a security manager's
	// and runtimelink's own.
	Assignments []GovernanceAssignment `json:"assignments,omitempty"`
	// ReadAt is when Assignments were last read from Defender.
	ReadAt time.Time `json:"readAt,omitzero"`
	// Since anchors runtimelink's due dates: when it first assigned the
	// group (the due date is Since + the priority's time to fix).
	Since time.Time `json:"since,omitzero"`
	// Priority, Owner and Due are what runtimelink itself last set on its
	// own assignment. Defender showing another owner or due date on it
	// means a person changed them there: they are kept and shown in the
	// issue until the priority changes.
	Priority Priority  `json:"priority,omitempty"`
	Owner    string    `json:"owner,omitempty"`
	Due      time.Time `json:"due,omitzero"`
}

// AssessmentOf returns the assessment id a Defender record id names: an
// assessment id itself, or the parent of a sub-assessment id
// (…/assessments/{name}/subAssessments/{id}). ok is false for anything else
// (an alert, a malformed id).
func AssessmentOf(id string) (assessmentID string, ok bool) {
	id = strings.TrimRight(id, "/")
	if i := strings.Index(strings.ToLower(id), "/subassessments/"); i >= 0 {
		id = id[:i]
	}
	if !assessmentIDRE.MatchString(id) {
		return "", false
	}
	return id, true
}

// assessmentIDRE matches {resourceId}/providers/Microsoft.Security/assessments/{name}.
var assessmentIDRE = regexp.MustCompile(`(?i)^/subscriptions/[^/]+(/.+)?/providers/Microsoft\.Security/assessments/[-\w._()]+$`)
