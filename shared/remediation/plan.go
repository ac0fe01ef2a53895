package remediation

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

// Plan computes the writes that bring a group's GitHub issue (actual, nil
// when the group has none) to where the group's status and findings say it
// should be at now. g.Desired is the rendered issue (RenderIssue, with the
// group's Owners); g.Synced is what runtimelink last applied.
//
// The transitions (DESIGN.md, Remediation and two-way sync):
//
//   - no issue: open one when an active finding is at or above the
//     policy's MinPriority, otherwise nothing;
//   - open issue: update the fields that differ (a priority change also
//     says why in a comment); every finding resolved → close as completed
//     with a comment saying what was verified, where and when;
//   - fix-claimed (a person closed it as completed): stays closed while
//     Defender has not seen the fix yet, within the reopen grace; still
//     active on a running workload after the grace → reopen with a comment
//     naming the workloads and the evidence; every finding resolved →
//     status resolved and one comment that runtime verified the fix;
//   - risk-accepted (closed as not planned): never reopened; a priority
//     that rises above the accepted one is said once in a comment;
//   - a person reopened it → active, planned as an open issue.
//
// Planning the state that results from applying a plan (Apply) gives no
// action: every transition is a no-op when already in its target state.
func Plan(g model.Group, findings []model.Finding, actual *Issue, now time.Time, p Policy) []Action {
	pl := &planner{g: g, d: g.Desired, p: p, now: now}
	pl.all = slices.Clone(findings)
	slices.SortFunc(pl.all, model.CompareFindings)
	for _, f := range pl.all {
		if f.State.Active() {
			pl.active = append(pl.active, f)
		}
	}
	status, is, change := observe(&pl.g, actual)
	if change != "" {
		pl.setStatus(status, change)
	}
	switch {
	case is == nil:
		pl.noIssue(status)
	case status == model.GroupRiskAccepted:
		pl.riskAccepted(is)
	case status == model.GroupFixClaimed:
		pl.fixClaimed(is)
	case is.Closed():
		pl.closedByUs(is, status)
	default:
		pl.open(is, status)
	}
	return pl.out
}

type planner struct {
	g      model.Group
	d      model.DesiredIssue
	p      Policy
	now    time.Time
	all    []model.Finding // highest first
	active []model.Finding // highest first
	out    []Action
}

// observe is the group's status and its issue, each corrected by the
// other when one did not see a person's change yet: a lost or late webhook
// (GitHub's issue says closed, the status still active), or a record of
// the issue older than the status the webhook set. change, when set, is
// why the status must be written. Plan and Apply both start from it.
func observe(g *model.Group, actual *Issue) (st model.GroupStatus, is *Issue, change string) {
	st = g.Status
	if st == "" {
		st = model.GroupActive
	}
	if actual == nil {
		return st, nil, ""
	}
	c := *actual
	is = &c
	// A status set after runtimelink last wrote the issue is a person's
	// doing (the webhook), newer than a recorded issue.
	personSince := g.StatusAt.After(g.Synced.At)
	switch {
	case (st == model.GroupFixClaimed || st == model.GroupRiskAccepted) && !is.Closed():
		if is.Recorded && personSince {
			// The record predates the person's close.
			is.State, is.Reason = StateClosed, ReasonCompleted
			if st == model.GroupRiskAccepted {
				is.Reason = ReasonNotPlanned
			}
			return st, is, ""
		}
		// GitHub shows it open: a person reopened it.
		return model.GroupActive, is, "the issue was reopened"
	case (st == model.GroupActive || st == model.GroupResolved) && is.Closed():
		if is.Recorded && personSince && st == model.GroupActive {
			// The record predates the person's reopen.
			is.State, is.Reason = StateOpen, ReasonReopened
			return st, is, ""
		}
		if !is.Recorded && g.Synced.State == StateOpen {
			// runtimelink left it open: a person closed it and the webhook
			// has not told us.
			if is.Reason == ReasonNotPlanned {
				return model.GroupRiskAccepted, is, "the issue was closed as not planned"
			}
			return model.GroupFixClaimed, is, "the issue was closed as completed"
		}
	case st == model.GroupResolved && !is.Closed() && !is.Recorded && g.Synced.State == StateClosed:
		return model.GroupActive, is, "the issue was reopened"
	}
	return st, is, ""
}

func reasonWord(r string) string {
	if r == ReasonNotPlanned {
		return "not planned"
	}
	return "completed"
}

// noIssue opens an issue for a group that needs one.
func (pl *planner) noIssue(st model.GroupStatus) {
	if !pl.wantsIssue() || st == model.GroupRiskAccepted {
		return
	}
	if st != model.GroupActive {
		pl.setStatus(model.GroupActive, "an active finding needs an issue")
	}
	pl.ensureLabels(nil)
	title, body, labels, assignees := pl.d.Title, pl.d.Body, pl.d.Labels, pl.assignees(nil)
	why := fmt.Sprintf("%s finding at or above %s with no issue", pl.d.Priority, pl.p.minPriority())
	if pl.d.Priority.Rank() < pl.p.minPriority().Rank() {
		why = fmt.Sprintf("%s finding a security manager assigned in Defender for Cloud, with no issue", pl.d.Priority)
	}
	pl.add(Action{Kind: KindOpen, Why: why,
		Open: &Fields{Title: &title, Body: &body, Labels: &labels, Assignees: &assignees}})
	pl.copilot()
}

// open keeps an open issue in step, and closes it when runtime verified
// every finding resolved.
func (pl *planner) open(is *Issue, st model.GroupStatus) {
	if len(pl.active) == 0 {
		pl.setStatus(model.GroupResolved, "every finding is resolved")
		pl.update(is)
		pl.comment(is, "verified@"+pl.episode(), pl.verifiedBody())
		pl.add(Action{Kind: KindClose, Issue: is.Number, Reason: ReasonCompleted, Why: "every finding is resolved"})
		return
	}
	if st == model.GroupResolved {
		pl.setStatus(model.GroupActive, "a finding is active again")
	}
	if from, to := issuePriority(is), pl.d.Priority; from != "" && to != "" && from != to {
		pl.comment(is, "", pl.priorityBody(from, to))
	}
	pl.update(is)
}

// closedByUs handles a closed issue of an active or resolved group: one
// runtimelink closed (or a person closed and the status already says so).
func (pl *planner) closedByUs(is *Issue, st model.GroupStatus) {
	switch {
	case len(pl.active) == 0:
		if st != model.GroupResolved {
			pl.setStatus(model.GroupResolved, "every finding is resolved")
		}
	case pl.wantsIssue():
		if st != model.GroupActive {
			pl.setStatus(model.GroupActive, "a finding is active again")
		}
		pl.add(Action{Kind: KindReopen, Issue: is.Number, Why: "a closed issue has an active finding again"})
		pl.update(is)
		pl.comment(is, "", pl.againBody())
	}
}

// fixClaimed waits for runtime to verify a fix a person claimed.
func (pl *planner) fixClaimed(is *Issue) {
	if len(pl.active) == 0 {
		pl.setStatus(model.GroupResolved, "runtime verified the claimed fix")
		pl.comment(is, "verified@"+pl.episode(), pl.verifiedBody())
		return
	}
	if pl.now.Before(pl.reopenAt()) {
		return // Defender has not rescanned yet
	}
	running := slices.DeleteFunc(slices.Clone(pl.active), func(f model.Finding) bool { return !f.Deployed })
	if len(running) == 0 {
		return // nothing runs it: the fix is trusted until the source agrees
	}
	pl.setStatus(model.GroupActive, "still active on a running workload after the reopen grace")
	pl.add(Action{Kind: KindReopen, Issue: is.Number, Why: fmt.Sprintf("fix claimed %s but still active on a running workload", day(pl.g.StatusAt))})
	pl.update(is)
	pl.comment(is, "reopen@"+pl.episode(), pl.stillRunningBody(running))
}

// riskAccepted never reopens: a person decided. A priority that rose
// above the one the issue showed when the risk was accepted is said once.
func (pl *planner) riskAccepted(is *Issue) {
	accepted, now := issuePriority(is), pl.d.Priority
	if len(pl.active) == 0 || accepted == "" || now.Rank() <= accepted.Rank() {
		return
	}
	pl.comment(is, "risk-accepted:"+strings.ToLower(string(now))+"@"+pl.episode(), pl.riskRoseBody(accepted, now))
}

// reopenAt is when a claimed fix that runtime has not verified reopens.
func (pl *planner) reopenAt() time.Time { return pl.g.StatusAt.Add(pl.p.reopenGrace()) }

// RecheckAt is when the plan of a group changes with time alone (a claimed
// fix whose grace ends), so the sync step can schedule a look then; zero
// when only a change of the group or its findings changes the plan.
func RecheckAt(g model.Group, p Policy) time.Time {
	if g.Status != model.GroupFixClaimed {
		return time.Time{}
	}
	return g.StatusAt.Add(p.reopenGrace())
}

// wantsIssue: an active finding is at or above the threshold.
func (pl *planner) wantsIssue() bool {
	if len(pl.active) > 0 && ManagerAssigned(pl.g) {
		return true // a security manager asked for it in Defender
	}
	min := pl.p.minPriority()
	return slices.ContainsFunc(pl.active, func(f model.Finding) bool { return f.Priority.Rank() >= min.Rank() })
}

func (pl *planner) add(a Action) {
	a.Repository, a.GroupID = pl.g.Repository, pl.g.ID
	pl.out = append(pl.out, a)
}

// setStatus records a status; it goes first (see KindSetStatus). A plan
// sets one status: a later one (the fix of a claimed fix just observed)
// replaces the earlier.
func (pl *planner) setStatus(s model.GroupStatus, why string) {
	a := Action{Kind: KindSetStatus, Repository: pl.g.Repository, GroupID: pl.g.ID, Status: s, Why: why}
	if len(pl.out) > 0 && pl.out[0].Kind == KindSetStatus {
		a.Why = pl.out[0].Why + "; " + why
		pl.out[0] = a
		return
	}
	pl.out = slices.Insert(pl.out, 0, a)
}

// comment posts a comment; a keyed one only once.
func (pl *planner) comment(is *Issue, note, body string) {
	if note != "" {
		if slices.Contains(is.Notes, note) || slices.Contains(pl.g.Synced.Notes, note) {
			return
		}
		body += "\n" + NoteMarker(note) + "\n"
	}
	pl.add(Action{Kind: KindComment, Issue: is.Number, Comment: &Comment{Body: body, Note: note}, Why: firstLine(body)})
}

// update changes the fields of is that differ from the desired issue.
func (pl *planner) update(is *Issue) {
	var f Fields
	changed := []string{}
	if is.Title != pl.d.Title {
		t := pl.d.Title
		f.Title = &t
		changed = append(changed, "title")
	}
	if is.bodyHash() != pl.d.BodyHash {
		b := pl.d.Body
		f.Body = &b
		changed = append(changed, "body")
	}
	if ls := mergeLabels(is.Labels, pl.d.Labels); !sameSet(ls, is.Labels) {
		pl.ensureLabels(is.Labels)
		f.Labels = &ls
		changed = append(changed, "labels")
	}
	if as := pl.assignees(is); !sameSet(as, is.Assignees) {
		f.Assignees = &as
		changed = append(changed, "assignees")
	}
	if len(changed) == 0 {
		return
	}
	pl.add(Action{Kind: KindUpdate, Issue: is.Number, Update: &f, Why: strings.Join(changed, ", ") + " changed"})
}

// ensureLabels plans the creation of the desired labels the issue does not
// carry yet (the sync step skips those the repository has).
func (pl *planner) ensureLabels(have []string) {
	var ls []Label
	for _, name := range pl.d.Labels {
		if !slices.Contains(have, name) {
			ls = append(ls, LabelFor(name))
		}
	}
	if len(ls) > 0 {
		pl.add(Action{Kind: KindEnsureLabels, Labels: ls, Why: "labels the issue needs"})
	}
}

// assignees is the assignee set the issue should have: the desired users
// but those the issue did not keep (SyncedIssue.Unassignable), plus
// whoever people added (runtimelink removes only the assignees it set
// itself and no longer wants), at most MaxAssignees.
func (pl *planner) assignees(is *Issue) []string {
	out := []string{}
	for _, a := range pl.d.Assignees {
		switch {
		case is == nil:
		case containsFold(pl.g.Synced.Unassignable, a):
			continue
		case containsFold(pl.g.Synced.Assignees, a) && !containsFold(is.Assignees, a):
			continue // runtimelink set it and it is gone: a person's choice
		}
		out = append(out, a)
	}
	if is != nil {
		for _, a := range is.Assignees {
			ours := containsFold(pl.g.Synced.Assignees, a)
			if !containsFold(out, a) && !ours {
				out = append(out, a)
			}
		}
	}
	if out == nil {
		out = []string{}
	}
	return out[:min(len(out), pl.p.maxAssignees())]
}

// Managed labels are runtimelink's; any other label is a person's and kept.
func managedLabel(name string) bool {
	return name == LabelSecurity || strings.HasPrefix(name, "priority:") || strings.HasPrefix(name, "runtime:")
}

func mergeLabels(have, want []string) []string {
	out := []string{}
	for _, l := range have {
		if !managedLabel(l) {
			out = append(out, l)
		}
	}
	for _, l := range want {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsFold(b, x) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// issuePriority reads the priority label of an issue.
func issuePriority(is *Issue) model.Priority {
	for _, l := range is.Labels {
		if v, ok := strings.CutPrefix(l, "priority:"); ok {
			for _, p := range []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow} {
				if strings.EqualFold(v, string(p)) {
					return p
				}
			}
		}
	}
	return ""
}

func stamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// episode keys the one-time comments of the group's current status: the
// time the status was set, or now when this plan sets it (Apply stamps
// it so). A comment said once per status is said again after the status
// changed and came back.
func (pl *planner) episode() string {
	if len(pl.out) > 0 && pl.out[0].Kind == KindSetStatus && pl.out[0].Status != pl.g.Status {
		return stamp(pl.now)
	}
	return stamp(pl.g.StatusAt)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// firstLine is a comment's first line as plain text, for Why: the
// Markdown emphasis and the escapes of inert text (mdCell) removed.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	s = strings.ReplaceAll(strings.ReplaceAll(s, "**", ""), "\u200b", "")
	return strings.TrimSpace(unescapeRE.ReplaceAllString(s, "$1"))
}

var unescapeRE = regexp.MustCompile("\\\\([!-/:-@\\[-`{-~])")

// verifiedBody says what runtime verified, where and when.
func (pl *planner) verifiedBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Verified by runtimelink** on %s: no finding of this group is active any more.\n\n", day(pl.now))
	for _, f := range pl.all[:min(len(pl.all), maxCommentRows)] {
		fmt.Fprintf(&b, "- %s: %s", findingWhere(&f, pl.p.Cloud), resolvedHow(&f))
		if !f.SourceUpdatedAt.IsZero() && !goneImage(&f) {
			fmt.Fprintf(&b, " (%s)", day(f.SourceUpdatedAt))
		}
		if f.Deployed {
			b.WriteString("; it was " + runsWhere(&f))
		}
		b.WriteString("\n")
	}
	if more := len(pl.all) - maxCommentRows; more > 0 {
		fmt.Fprintf(&b, "- …and %d more.\n", more)
	}
	if len(pl.all) == 0 {
		b.WriteString("- No finding is left in this group.\n")
	}
	return b.String()
}

// stillRunningBody names the workloads a claimed fix did not reach and the
// evidence that says so.
func (pl *planner) stillRunningBody(running []model.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Reopened by runtimelink**: the fix claimed on %s has not reached the running workloads after %s.\n\n",
		day(pl.g.StatusAt), pl.p.reopenGrace())
	for _, f := range running[:min(len(running), maxCommentRows)] {
		fmt.Fprintf(&b, "- %s (%s, score %s): %s", findingWhere(&f, pl.p.Cloud), f.Priority, fmtScore(f.Score), runsWhere(&f))
		if ev := evidence(&f, pl.p.Cloud); ev != "" {
			b.WriteString("; " + ev)
		}
		b.WriteString("\n")
	}
	if more := len(running) - maxCommentRows; more > 0 {
		fmt.Fprintf(&b, "- …and %d more.\n", more)
	}
	return b.String()
}

func (pl *planner) againBody() string {
	top := &pl.active[0]
	return fmt.Sprintf("**Reopened by runtimelink**: %s is active again (%s, score %s): %s.\n",
		findingWhere(top, pl.p.Cloud), top.Priority, fmtScore(top.Score), runsWhere(top))
}

func (pl *planner) priorityBody(from, to model.Priority) string {
	top := &pl.active[0]
	dir := "raised"
	if to.Rank() < from.Rank() {
		dir = "lowered"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Priority %s from %s to %s** by runtimelink: %s now scores %s.\n\n", dir, from, to, findingWhere(top, pl.p.Cloud), fmtScore(top.Score))
	b.WriteString(ExplanationMarkdown(top.Explanation, top.Score, pl.p.Cloud))
	return b.String()
}

func (pl *planner) riskRoseBody(accepted, now model.Priority) string {
	top := &pl.active[0]
	return fmt.Sprintf("**Priority rose from %s to %s** since this risk was accepted: %s now scores %s (%s). "+
		"runtimelink does not reopen an issue closed as not planned; reopen it to have it tracked again.\n",
		accepted, now, findingWhere(top, pl.p.Cloud), fmtScore(top.Score), runsWhere(top))
}

// maxCommentRows bounds the lists of a comment.
const maxCommentRows = 50

// findingWhere names a finding and what it is on, inert; a running
// resource (a Defender alert's cluster) by name, linked to its page in
// cloud's portal.
func findingWhere(f *model.Finding, cloud mapping.Cloud) string {
	name := mdCell(vulnName(f))
	switch {
	case f.Image != "":
		return fmt.Sprintf("%s on `%s`", name, mdCode(f.Image))
	case f.AlertNumber > 0:
		return fmt.Sprintf("%s (%s alert `#%d`)", name, SourceName(f.Source), f.AlertNumber)
	case f.Resource != nil && f.Resource.ResourceID != "":
		return name + " on " + sourceMarkdown(f.Resource.ResourceID, cloud)
	}
	return name
}

// runsWhere is the deployment factor of a finding's score: the workloads.
func runsWhere(f *model.Finding) string {
	for _, x := range f.Explanation.Factors {
		if x.Name == scoring.FactorDeployment && x.Source != "" {
			return mdCell(x.Source)
		}
	}
	if f.Deployed {
		return "running"
	}
	return "not running anywhere"
}

// evidence is the record that shows a finding still active: a Defender
// record by name, linked to its page in cloud's portal.
func evidence(f *model.Finding, cloud mapping.Cloud) string {
	var parts []string
	if len(f.DefenderIDs) > 0 {
		parts = append(parts, "Defender for Cloud record "+sourceMarkdown(f.DefenderIDs[0], cloud))
	}
	if len(f.Digests) > 0 {
		parts = append(parts, "digest `"+mdCode(f.Digests[0])+"`")
	}
	if f.AlertNumber > 0 {
		if u := safeURL(f.AlertURL); u != "" {
			parts = append(parts, fmt.Sprintf("%s alert [#%d](%s) still open", SourceName(f.Source), f.AlertNumber, u))
		} else {
			parts = append(parts, fmt.Sprintf("%s alert `#%d` still open", SourceName(f.Source), f.AlertNumber)) // a bare #N references issue N
		}
	}
	s := strings.Join(parts, ", ")
	if s != "" && !f.SourceUpdatedAt.IsZero() {
		s += " reported it active on " + day(f.SourceUpdatedAt)
	}
	return s
}

// goneImage: runtime resolved the finding, its image running nowhere.
func goneImage(f *model.Finding) bool {
	return f.State == model.StateResolved && f.StateReason == model.ReasonWorkloadGone && f.Image != ""
}

// resolvedHow says how a finding stopped being active.
func resolvedHow(f *model.Finding) string {
	reason := mdCell(f.StateReason)
	switch f.State {
	case model.StateFixed:
		return "fixed, says " + SourceName(f.Source)
	case model.StateDismissed:
		if reason != "" {
			return "dismissed (" + reason + ")"
		}
		return "dismissed"
	case model.StateResolved:
		if goneImage(f) {
			how := "image `" + mdCode(f.Image) + "` no longer runs on any workload"
			if !f.SourceUpdatedAt.IsZero() {
				how += " since " + day(f.SourceUpdatedAt)
			}
			return how + ", verified by runtimelink"
		}
		// The reasons the inventory gives a Defender resolution.
		switch strings.ToLower(f.StateReason) {
		case "healthy":
			return "Healthy, says " + SourceName(f.Source)
		case "not-applicable":
			return "not applicable any more, says " + SourceName(f.Source)
		case "deleted":
			return SourceName(f.Source) + " deleted its record: the image runs nowhere any more"
		case "":
			return "resolved, says " + SourceName(f.Source)
		}
		return "resolved (" + reason + "), says " + SourceName(f.Source)
	}
	return "active"
}
