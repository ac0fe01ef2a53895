package remediation

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// randomWorld is any state a group and its issue can be in, including
// ones a lost webhook or a stale record leave behind.
func randomWorld(r *rand.Rand) (*world, time.Time) {
	prios := []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow}
	var fs []model.Finding
	for i := range r.IntN(4) {
		f := cve("CVE-2024-"+string(rune('1'+i)), prios[r.IntN(len(prios))], r.IntN(2) == 0)
		if r.IntN(3) == 0 {
			f = resolved(f, []string{"healthy", "deleted", ""}[r.IntN(3)])
		}
		fs = append(fs, f)
	}
	w := newWorld(fs...)
	if r.IntN(3) == 0 {
		w.g.Owners = []string{"@monalisa", "@octocat", "@octo-org/payments"}[:r.IntN(4)]
		w.set(fs...)
	}
	// Every time is before now: the status, the record, the close.
	now := t0.Add(time.Duration(r.IntN(200)) * time.Hour)
	hour := func(n int) time.Time { return now.Add(-time.Duration(r.IntN(n)) * time.Hour) }
	statuses := []model.GroupStatus{"", model.GroupActive, model.GroupFixClaimed, model.GroupRiskAccepted, model.GroupResolved}
	w.g.Status, w.g.StatusAt = statuses[r.IntN(len(statuses))], hour(100)
	if r.IntN(4) > 0 {
		labels := []string{"security", "priority:critical", "priority:high", "priority:low", "runtime:internet-exposed", "team:payments"}
		is := &Issue{
			Repository: repo, Number: 7,
			State:  []string{StateOpen, StateClosed}[r.IntN(2)],
			Reason: []string{"", ReasonCompleted, ReasonNotPlanned, ReasonReopened}[r.IntN(4)],
			Title:  []string{w.g.Desired.Title, "old title"}[r.IntN(2)],
			Body:   []string{w.g.Desired.Body, "old body"}[r.IntN(2)],
			Labels: pick(r, labels), Assignees: pick(r, []string{"octocat", "monalisa", "hubot"}),
			Notes:    pick(r, []string{"verified@" + stamp(w.g.StatusAt), "reopen@" + stamp(w.g.StatusAt)}),
			Recorded: r.IntN(2) == 0,
		}
		w.is = is
		w.g.Synced = model.SyncedIssue{IssueNumber: 7, State: []string{StateOpen, StateClosed}[r.IntN(2)],
			Assignees: pick(r, []string{"octocat", "monalisa"}), At: hour(100)}
		if is.Recorded {
			Record(&w.g, is, w.g.Synced.At)
			*is = *Recorded(w.g)
		}
	}
	return w, now
}

func pick(r *rand.Rand, from []string) []string {
	out := []string{}
	for _, s := range from {
		if r.IntN(2) == 0 {
			out = append(out, s)
		}
	}
	return out
}

// Planning the state that results from applying a plan gives no action,
// from any state: the sync step's second run makes no call.
func TestPlanIsIdempotent(t *testing.T) {
	for seed := range uint64(5000) {
		r := rand.New(rand.NewPCG(seed, 1))
		w, now := randomWorld(r)
		before := *w
		acts := Plan(w.g, w.fs, w.is, now, policy)
		w.is = Apply(&w.g, w.is, acts, now)
		if w.is != nil && w.is.Number == 0 {
			w.is.Number, w.g.Synced.IssueNumber = 7, 7
		}
		for _, actual := range []*Issue{w.is, Recorded(w.g)} {
			if again := Plan(w.g, w.fs, actual, now, policy); len(again) > 0 {
				t.Fatalf("seed %d: status %q, issue %+v, synced %+v\nfirst plan %v\nsecond plan (recorded=%v) %v\n%s", seed,
					before.g.Status, before.is, before.g.Synced, kinds(acts), actual != nil && actual.Recorded, kinds(again), dump(again))
			}
		}
		// Nothing but a set-status is planned without an issue to write to.
		if before.is == nil {
			for _, a := range acts {
				if a.Issue != 0 {
					t.Fatalf("seed %d: %s on issue %d of a group with none", seed, a.Kind, a.Issue)
				}
			}
		}
		active := slices.ContainsFunc(before.fs, func(f model.Finding) bool { return f.State.Active() })
		for _, a := range acts {
			switch {
			case a.Kind == KindOpen && before.is != nil:
				t.Fatalf("seed %d: opens a second issue", seed)
			case a.Kind == KindClose && active:
				t.Fatalf("seed %d: closes an issue with an active finding", seed)
			case a.Kind == KindReopen && !active:
				t.Fatalf("seed %d: reopens an issue with no active finding", seed)
			}
		}
		// A risk accepted is never reopened; only a comment is said.
		if before.g.Status == model.GroupRiskAccepted && before.is != nil && before.is.Closed() {
			if slices.ContainsFunc(acts, func(a Action) bool { return a.Kind != KindComment }) {
				t.Fatalf("seed %d: a risk-accepted issue plans %v", seed, kinds(acts))
			}
		}
	}
}
