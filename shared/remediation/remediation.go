// Package remediation decides what runtimelink does about a finding group:
// it renders the GitHub issue the group should have (RenderIssue) and plans
// the writes that bring the actual issue there (Plan), from the group's
// status, its findings, the issue as GitHub has it and the clock. It is
// pure — no I/O, no clock of its own — so every transition is a table test
// and dry-run serves the very plan the sync step would apply.
package remediation

import (
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Issue states and close reasons, as GitHub's REST API spells them.
const (
	StateOpen   = "open"
	StateClosed = "closed"

	ReasonCompleted  = "completed"
	ReasonNotPlanned = "not_planned"
	ReasonReopened   = "reopened"
)

// Issue is a group's GitHub issue as GitHub has it — or, when the sync step
// did not read it back, as runtimelink last left it (Recorded).
type Issue struct {
	Repository string `json:"repository"`
	Number     int    `json:"number"`
	URL        string `json:"url,omitempty"`
	State      string `json:"state"`                 // open / closed
	Reason     string `json:"stateReason,omitempty"` // completed / not_planned / reopened
	Title      string `json:"title"`
	// Body is the issue's body when it was read from GitHub; a recorded
	// issue has only BodyHash.
	Body      string    `json:"body,omitempty"`
	BodyHash  string    `json:"bodyHash,omitempty"`
	Labels    []string  `json:"labels"`
	Assignees []string  `json:"assignees"`
	ClosedAt  time.Time `json:"closedAt,omitzero"`
	// Notes are the keys of the one-time comments runtimelink already
	// posted (NoteMarker in their bodies), so a comment that must be said
	// once is never said twice, even when the record of it was lost.
	Notes []string `json:"notes,omitempty"`
	// Recorded is true when this is runtimelink's record of the issue
	// (Recorded) rather than GitHub's answer: a status set after the record
	// then wins over it.
	Recorded bool `json:"recorded,omitempty"`
}

// Closed reports whether the issue is closed.
func (is *Issue) Closed() bool { return is != nil && is.State == StateClosed }

// bodyHash is the hash of the issue's body, however it is known.
func (is *Issue) bodyHash() string {
	if is.Body != "" {
		return BodyHash(is.Body)
	}
	return is.BodyHash
}

// Policy is what the planner is told by the configuration.
type Policy struct {
	// MinPriority is the lowest priority that opens an issue
	// (RUNTIMELINK_ISSUE_MIN_PRIORITY; zero means High).
	MinPriority model.Priority
	// ReopenGrace is how long a group whose fix was claimed may stay
	// unhealthy on a running workload before its issue is reopened: the
	// time Defender needs to scan the fixed image (RUNTIMELINK_REOPEN_GRACE;
	// zero means DefaultReopenGrace).
	ReopenGrace time.Duration
	// MaxAssignees caps the assignees of an issue (zero means GitHub's 10).
	MaxAssignees int
	// CopilotAssign hands new Critical issues to Copilot coding agent
	// (RUNTIMELINK_COPILOT_ASSIGN).
	CopilotAssign bool
	// Cloud links the Defender records and resources comments name to its
	// portal, as the issue body does (RUNTIMELINK_CLOUD); the zero Cloud
	// names them without a link.
	Cloud mapping.Cloud
}

// DefaultReopenGrace covers Defender's daily rescan of a running image
// with a day to spare.
const DefaultReopenGrace = 48 * time.Hour

// MaxAssignees is GitHub's limit of assignees on one issue.
const MaxAssignees = 10

func (p Policy) minPriority() model.Priority {
	if p.MinPriority.Rank() == 0 {
		return model.PriorityHigh
	}
	return p.MinPriority
}

func (p Policy) reopenGrace() time.Duration {
	if p.ReopenGrace <= 0 {
		return DefaultReopenGrace
	}
	return p.ReopenGrace
}

func (p Policy) maxAssignees() int {
	if p.MaxAssignees <= 0 || p.MaxAssignees > MaxAssignees {
		return MaxAssignees
	}
	return p.MaxAssignees
}

// Kind names what an action does. The GitHub kinds are below; the Defender
// side adds its own kinds (governance assignments) with their payloads.
type Kind string

const (
	// KindSetStatus records the group's new status in the store. It is
	// planned first, before any GitHub write, so the webhook echo of our
	// own write finds the status already there (DESIGN.md's loop guard).
	KindSetStatus Kind = "set-status"
	// KindEnsureLabels creates the labels that do not exist yet in the
	// repository, with their colours; existing ones are left as they are.
	KindEnsureLabels Kind = "ensure-labels"
	// KindOpen creates the issue (after searching for the group's marker:
	// a lost mapping is found again rather than duplicated).
	KindOpen Kind = "open"
	// KindUpdate changes only the fields it carries.
	KindUpdate Kind = "update"
	// KindReopen reopens a closed issue.
	KindReopen Kind = "reopen"
	// KindComment adds a comment.
	KindComment Kind = "comment"
	// KindClose closes the issue with a reason (completed / not_planned).
	KindClose Kind = "close"
)

// Action is one write the sync step makes. Kind says which payload field
// is set; Why says, in one line, why the planner wants it (the dry-run
// report and the logs show it).
type Action struct {
	Kind       Kind   `json:"kind"`
	Repository string `json:"repository"`
	GroupID    string `json:"groupId"`
	// Issue is the issue number; 0 for KindOpen and KindEnsureLabels.
	Issue int    `json:"issue,omitempty"`
	Why   string `json:"why"`

	Status  model.GroupStatus `json:"status,omitempty"` // KindSetStatus
	Labels  []Label           `json:"labels,omitempty"` // KindEnsureLabels
	Open    *Fields           `json:"open,omitempty"`   // KindOpen: every field
	Update  *Fields           `json:"update,omitempty"` // KindUpdate: the changed fields only
	Comment *Comment          `json:"comment,omitempty"`
	// Reason is the close reason of KindClose.
	Reason string `json:"stateReason,omitempty"`
	// Assignment is the governance assignment of KindPutAssignment.
	Assignment *model.GovernanceAssignment `json:"assignment,omitempty"`
	// Copilot is what KindAssignCopilot hands to Copilot coding agent.
	Copilot *CopilotTask `json:"copilot,omitempty"`
}

// Fields are issue fields. A nil field is left as it is; Labels and
// Assignees, when set, are the whole new set (GitHub replaces the set).
type Fields struct {
	Title     *string   `json:"title,omitempty"`
	Body      *string   `json:"body,omitempty"`
	Labels    *[]string `json:"labels,omitempty"`
	Assignees *[]string `json:"assignees,omitempty"`
}

// Comment is a comment to post. Note, when set, is the key of a comment
// that must be posted once: its marker ends the body, and the sync step
// records the key (Apply) so the next plan knows it was said.
type Comment struct {
	Body string `json:"body"`
	Note string `json:"note,omitempty"`
}

// Label is a label runtimelink uses, with the colour and description it
// gets when it has to be created.
type Label struct {
	Name        string `json:"name"`
	Color       string `json:"color"` // six hex digits, no '#'
	Description string `json:"description,omitempty"`
}

// NotePrefix starts the hidden marker of a one-time comment.
const NotePrefix = "<!-- runtimelink:note="

// NoteMarker is the hidden marker ending a one-time comment.
func NoteMarker(key string) string { return NotePrefix + key + " -->" }
