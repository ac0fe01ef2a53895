package remediation

import (
	"slices"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Recorded is the issue as runtimelink last left it (g.Synced), or nil when
// the group has no issue. The sync step plans against it when it is sure
// of it (Unsure), so a group already in step costs no GitHub call.
func Recorded(g model.Group) *Issue {
	s := &g.Synced
	if s.IssueNumber == 0 {
		return nil
	}
	return &Issue{
		Repository: g.Repository, Number: s.IssueNumber, URL: s.IssueURL,
		State: s.State, Reason: s.StateReason, Title: s.Title, BodyHash: s.BodyHash,
		Labels: slices.Clone(s.Labels), Assignees: slices.Clone(s.Assignees), Notes: slices.Clone(s.Notes),
		Recorded: true,
	}
}

// Unsure reports whether the sync step should read the issue from GitHub
// instead of trusting Recorded: the group has no known issue (search for
// its marker before opening one), or its record predates the fields the
// planner compares.
func Unsure(g model.Group) bool {
	s := &g.Synced
	return s.IssueNumber == 0 || s.State == "" || (s.Hash != "" && s.BodyHash == "")
}

// Apply is what the actions do: it returns the issue after them, sets the
// group's status and records the result in g.Synced (Record). The sync step
// calls it with the actions it applied — and fills in the number and URL
// GitHub gave a new issue — so the next plan starts from there; dry-run
// calls it to show the outcome. Planning again from its result gives no
// action.
func Apply(g *model.Group, actual *Issue, actions []Action, now time.Time) *Issue {
	_, is, _ := observe(g, actual) // where Plan started from
	if is != nil {
		is.Labels, is.Assignees, is.Notes = slices.Clone(is.Labels), slices.Clone(is.Assignees), slices.Clone(is.Notes)
	}
	for _, a := range actions {
		switch a.Kind {
		case KindSetStatus:
			if g.Status != a.Status {
				g.Status, g.StatusAt = a.Status, now
			}
		case KindOpen:
			is = &Issue{Repository: a.Repository, State: StateOpen}
			setFields(is, a.Open)
		case KindUpdate:
			if is != nil {
				setFields(is, a.Update)
			}
		case KindReopen:
			if is != nil {
				is.State, is.Reason, is.ClosedAt = StateOpen, ReasonReopened, time.Time{}
			}
		case KindClose:
			if is != nil {
				is.State, is.Reason, is.ClosedAt = StateClosed, a.Reason, now
			}
		case KindComment:
			if is != nil && a.Comment != nil && a.Comment.Note != "" && !slices.Contains(is.Notes, a.Comment.Note) {
				is.Notes = append(is.Notes, a.Comment.Note)
			}
		}
	}
	if is != nil {
		Record(g, is, now)
	}
	return is
}

func setFields(is *Issue, f *Fields) {
	if f == nil {
		return
	}
	if f.Title != nil {
		is.Title = *f.Title
	}
	if f.Body != nil {
		is.Body, is.BodyHash = *f.Body, BodyHash(*f.Body)
	}
	if f.Labels != nil {
		is.Labels = slices.Clone(*f.Labels)
	}
	if f.Assignees != nil {
		is.Assignees = slices.Clone(*f.Assignees)
	}
}

// maxNotes bounds the notes kept on a group: older episodes' notes are
// keyed by a status time that no longer comes back.
const maxNotes = 20

// Record writes what runtimelink now knows of the issue into g.Synced,
// with the desired hash it applied, so Recorded gives it back. Call it
// after applying a plan, or after reading the issue from GitHub.
func Record(g *model.Group, is *Issue, now time.Time) {
	notes := slices.Clone(is.Notes)
	for _, n := range g.Synced.Notes {
		if !slices.Contains(notes, n) {
			notes = append(notes, n)
		}
	}
	if len(notes) > maxNotes {
		notes = notes[len(notes)-maxNotes:]
	}
	// Only the assignees runtimelink chose are its own: the next plan
	// removes those it no longer wants and leaves people's choices alone.
	var ours, unassignable []string
	for _, a := range is.Assignees {
		if containsFold(g.Desired.Assignees, a) {
			ours = append(ours, a)
		}
	}
	for _, a := range g.Desired.Assignees {
		if !containsFold(is.Assignees, a) {
			unassignable = append(unassignable, a)
		}
	}
	num, url := is.Number, is.URL
	if num == 0 {
		num, url = g.Synced.IssueNumber, g.Synced.IssueURL
	}
	g.Synced = model.SyncedIssue{
		IssueNumber: num, IssueURL: url, State: is.State, StateReason: is.Reason,
		Hash: g.Desired.Hash, Title: is.Title, BodyHash: is.bodyHash(),
		Labels: slices.Clone(is.Labels), Assignees: ours, Unassignable: unassignable, Notes: notes, At: now,
	}
}
