package groupsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
)

// errStale: the group changed under the plan (a webhook, another
// instance); the sync runs again at once from the new state.
var errStale = errors.New("the group changed while it was being synced")

// step is one GitHub request: an action, or several adjacent actions that
// change the issue's fields and state merged into one PATCH.
type step struct {
	actions []remediation.Action
	kind    remediation.Kind
	patch   github.IssuePatch
	labels  []github.Label // KindEnsureLabels: the ones the repository lacks
}

// steps turns the plan's GitHub actions into requests: status actions out
// (they go to the store), adjacent update / reopen / close merged.
func steps(actions []remediation.Action) []step {
	var out []step
	for _, a := range actions {
		switch a.Kind {
		case remediation.KindSetStatus:
			continue
		case remediation.KindUpdate, remediation.KindReopen, remediation.KindClose:
			if n := len(out); n > 0 && out[n-1].kind == remediation.KindUpdate && out[n-1].actions[0].Issue == a.Issue {
				addToPatch(&out[n-1].patch, a)
				out[n-1].actions = append(out[n-1].actions, a)
				continue
			}
			st := step{actions: []remediation.Action{a}, kind: remediation.KindUpdate}
			addToPatch(&st.patch, a)
			out = append(out, st)
		case remediation.KindEnsureLabels, remediation.KindOpen, remediation.KindComment:
			out = append(out, step{actions: []remediation.Action{a}, kind: a.Kind})
		default:
			// Not a GitHub write (Defender governance has its own applier).
		}
	}
	return out
}

func addToPatch(p *github.IssuePatch, a remediation.Action) {
	switch a.Kind {
	case remediation.KindUpdate:
		if f := a.Update; f != nil {
			p.Title, p.Body, p.Labels, p.Assignees = or(f.Title, p.Title), or(f.Body, p.Body), or(f.Labels, p.Labels), or(f.Assignees, p.Assignees)
		}
	case remediation.KindReopen:
		st := remediation.StateOpen
		p.State, p.StateReason = &st, nil
	case remediation.KindClose:
		st, r := remediation.StateClosed, a.Reason
		p.State, p.StateReason = &st, &r
	}
}

func or[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

func toLabels(ls []remediation.Label) []github.Label {
	out := make([]github.Label, 0, len(ls))
	for _, l := range ls {
		out = append(out, github.Label{Name: l.Name, Color: l.Color, Description: l.Description})
	}
	return out
}

// labelChecker is the part of *github.Issues that tells which labels a
// repository lacks before any is created, so the budget is exact.
type labelChecker interface {
	MissingLabels(ctx context.Context, repo string, labels []github.Label) ([]github.Label, error)
}

// apply makes the plan's writes: status first (in the store), then the
// GitHub requests within the budget, then the record of what was applied.
// A failure records what was applied before it.
func (s *Syncer) apply(ctx context.Context, loaded, g *model.Group, actual *remediation.Issue, actions []remediation.Action, api *countingAPI) (*remediation.Issue, error) {
	repo := g.IssueRepository()
	if actual != nil && !actual.Recorded && actual.Repository != "" {
		repo = actual.Repository // GitHub's answer: where the issue is now
	}
	org := Org(g.Repository)
	plan := steps(actions)
	writes := 0
	for i := range plan {
		st := &plan[i]
		if st.kind == remediation.KindEnsureLabels {
			want := toLabels(st.actions[0].Labels)
			if lc, ok := api.IssueAPI.(labelChecker); ok {
				missing, err := lc.MissingLabels(ctx, repo, want)
				if err != nil {
					return actual, s.classify(err)
				}
				want = missing
			}
			st.labels = want
			writes += len(want)
			continue
		}
		writes++
	}
	if err := s.reserve(ctx, org, writes, g.Desired.Priority); err != nil {
		return actual, err
	}
	// Status before any other field: a webhook echo of the writes below
	// finds it already there.
	if err := s.setStatus(ctx, g, actions); err != nil {
		return actual, err
	}

	var applied []remediation.Action
	var created *github.Issue
	var failure error
	for _, st := range plan {
		var err error
		switch st.kind {
		case remediation.KindEnsureLabels:
			if len(st.labels) > 0 {
				if lc, ok := api.IssueAPI.(interface {
					CreateLabels(ctx context.Context, repo string, labels []github.Label) (int, error)
				}); ok {
					var n int
					n, err = lc.CreateLabels(ctx, repo, st.labels)
					api.calls += n
				} else {
					_, err = api.EnsureLabels(ctx, repo, st.labels)
				}
			}
		case remediation.KindOpen:
			if err = s.claimOpen(ctx, g); err != nil {
				return actual, err
			}
			f := st.actions[0].Open
			created, err = api.Create(ctx, repo, github.NewIssue{Title: deref(f.Title), Body: deref(f.Body),
				Labels: derefSlice(f.Labels), Assignees: derefSlice(f.Assignees)})
			if err == nil {
				s.log().Info("issue opened", "repository", repo, "groupId", g.ID, "priority", string(g.Desired.Priority),
					"issue", created.Number, "assignees", created.Assignees, "labels", created.Labels)
			}
		case remediation.KindUpdate:
			n := st.actions[0].Issue
			var is *github.Issue
			is, err = api.Update(ctx, repo, n, st.patch)
			if err == nil {
				s.logState(repo, g, n, st, is)
			}
		case remediation.KindComment:
			_, err = api.Comment(ctx, repo, st.actions[0].Issue, st.actions[0].Comment.Body)
		}
		if err != nil {
			failure = s.classify(err)
			break
		}
		applied = append(applied, st.actions...)
	}
	// The status actions were applied first.
	for _, a := range actions {
		if a.Kind == remediation.KindSetStatus {
			applied = append([]remediation.Action{a}, applied...)
		}
	}
	now := s.now()
	after := *g
	is := remediation.Apply(&after, actual, applied, now)
	if created != nil && is != nil {
		is.Number, is.URL, is.Repository = created.Number, created.HTMLURL, repo
		// GitHub's answer is the truth of what it took (assignees it dropped).
		is.Labels, is.Assignees = slices.Clone(created.Labels), slices.Clone(created.Assignees)
		remediation.Record(&after, is, now)
	}
	if is != nil {
		if err := s.save(ctx, loaded, &after); err != nil {
			return is, errors.Join(failure, err)
		}
	}
	return is, failure
}

// logState writes the lines the workbook counts.
func (s *Syncer) logState(repo string, g *model.Group, n int, st step, is *github.Issue) {
	for _, a := range st.actions {
		switch a.Kind {
		case remediation.KindClose:
			s.log().Info("issue closed", "repository", repo, "groupId", g.ID, "priority", string(g.Desired.Priority),
				"issue", n, "stateReason", is.StateReason)
		case remediation.KindReopen:
			s.log().Info("issue reopened", "repository", repo, "groupId", g.ID, "priority", string(g.Desired.Priority), "issue", n)
		}
	}
}

// classify turns GitHub's "wait" into a Deferred; anything else stays an
// error that fails the invocation (a 5xx is retried by the host).
func (s *Syncer) classify(err error) error {
	if d, ok := github.RetryDelay(err, s.now()); ok {
		return &Deferred{Delay: d, Reason: err.Error()}
	}
	return err
}

// setStatus writes the planned status, guarded: a status a person set
// since the group was read wins, and the sync runs again.
func (s *Syncer) setStatus(ctx context.Context, g *model.Group, actions []remediation.Action) error {
	var to model.GroupStatus
	for _, a := range actions {
		if a.Kind == remediation.KindSetStatus {
			to = a.Status
		}
	}
	if to == "" || to == g.Status {
		return nil
	}
	now := s.now()
	_, _, err := s.Store.UpdateGroup(ctx, g.Repository, g.ID, func(cur *model.Group, exists bool) error {
		if !exists || cur.Status != g.Status || !cur.StatusAt.Equal(g.StatusAt) {
			return errStale
		}
		cur.Status, cur.StatusAt = to, now
		return nil
	})
	if errors.Is(err, errStale) {
		return &Deferred{Delay: time.Second, Reason: errStale.Error()}
	}
	if err != nil {
		return fmt.Errorf("set status of group %s: %w", g.ID, err)
	}
	return nil
}

// claimOpen marks the group as being opened, so a second instance syncing
// the same group does not open a second issue: it sees the claim and
// comes back later. A claim older than claimTTL is a crashed attempt; this
// sync already looked for its issue (byMarker) before planning an open.
func (s *Syncer) claimOpen(ctx context.Context, g *model.Group) error {
	now := s.now()
	_, _, err := s.Store.UpdateGroup(ctx, g.Repository, g.ID, func(cur *model.Group, exists bool) error {
		switch {
		case !exists || cur.Synced.IssueNumber != 0:
			return errStale
		case cur.Synced.State == openingState && !cur.Synced.At.Equal(g.Synced.At) && now.Sub(cur.Synced.At) < claimTTL:
			return errClaimed
		}
		cur.Synced.State, cur.Synced.At = openingState, now
		return nil
	})
	switch {
	case errors.Is(err, errStale):
		return &Deferred{Delay: time.Second, Reason: errStale.Error()}
	case errors.Is(err, errClaimed):
		return &Deferred{Delay: claimTTL, Reason: "another instance is opening this group's issue"}
	case err != nil:
		return fmt.Errorf("claim the opening of group %s: %w", g.ID, err)
	}
	return nil
}

var errClaimed = errors.New("claimed")

// save records the outcome: synced state, status, owners and the desired
// issue it was planned from. before is the group as it was read; a desired
// issue triage rewrote meanwhile is kept, and the group stays pending (its
// own sync request is on the queue).
func (s *Syncer) save(ctx context.Context, before, after *model.Group) error {
	_, _, err := s.Store.UpdateGroup(ctx, before.Repository, before.ID, func(cur *model.Group, exists bool) error {
		if !exists {
			return model.ErrSkip
		}
		cur.Synced = after.Synced
		if after.Governance != nil {
			cur.Governance = after.Governance // what was read from Defender
		}
		if after.Status != before.Status {
			cur.Status, cur.StatusAt = after.Status, after.StatusAt
		}
		if cur.Desired.Hash == before.Desired.Hash {
			cur.Owners, cur.Desired = after.Owners, after.Desired
		} else {
			cur.Synced.Hash = "" // planned from an older desired state
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record sync of group %s: %w", before.ID, err)
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func derefSlice(p *[]string) []string {
	if p == nil {
		return nil
	}
	return *p
}

// notesFromComments reads the one-time comment keys from comments.
func notesFromComments(cs []github.Comment) []string {
	var out []string
	for _, c := range cs {
		i := strings.LastIndex(c.Body, remediation.NotePrefix)
		if i < 0 {
			continue
		}
		key, _, ok := strings.Cut(c.Body[i+len(remediation.NotePrefix):], " -->")
		if ok && key != "" && !slices.Contains(out, key) {
			out = append(out, key)
		}
	}
	return out
}
