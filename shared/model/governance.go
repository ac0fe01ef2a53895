package model

import "time"

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
