// Package groupsync reconciles one finding group with its GitHub issue: it
// loads the group and its findings, resolves the CODEOWNERS of the affected
// path, reads the issue when the record of it cannot be trusted, asks the
// planner (shared/remediation) what to write, writes it within the
// installation's budget of content-creating calls, and records what it
// wrote, so a second run in a row makes no GitHub call at all.
//
// Nothing is created twice: a group's issue is searched for by its marker
// before one is opened, an open is claimed on the group (ETag-guarded)
// before the call, and a claim left by a crashed attempt makes the next
// attempt list the repository's recent issues, which unlike the search
// index has no lag.
package groupsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/remediation"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Store is the state group sync reads and writes (*store.Store).
type Store interface {
	// Group reads a group; the error wraps model.ErrNotFound when there is none.
	Group(ctx context.Context, repository, id string) (*model.Group, error)
	// FindingsOfGroup reads every finding of a group.
	FindingsOfGroup(ctx context.Context, repository, groupID string) ([]model.Finding, error)
	// FindingsByID reads findings by id (the related findings the body shows).
	FindingsByID(ctx context.Context, ids []string) ([]model.Finding, error)
	// ArtifactsOf reads the artifacts of digests (the build section).
	ArtifactsOf(ctx context.Context, digests []string) ([]model.Artifact, error)
	// UpdateGroup is an ETag-guarded read-modify-write of a group.
	UpdateGroup(ctx context.Context, repository, id string, fn func(g *model.Group, exists bool) error) (*model.Group, bool, error)
	Budget
}

// IssueAPI is the issue calls of one installation (*github.Issues).
type IssueAPI interface {
	Get(ctx context.Context, repo string, number int) (*github.Issue, error)
	Create(ctx context.Context, repo string, in github.NewIssue) (*github.Issue, error)
	Update(ctx context.Context, repo string, number int, p github.IssuePatch) (*github.Issue, error)
	Comment(ctx context.Context, repo string, number int, body string) (*github.Comment, error)
	Comments(ctx context.Context, repo string, number int) ([]github.Comment, error)
	EnsureLabels(ctx context.Context, repo string, labels []github.Label) (int, error)
	FindByMarker(ctx context.Context, repo, marker string, since time.Time) (*github.Issue, error)
}

// GitHub gives the App's view of an org: its issue API and the
// CODEOWNERS of its repositories.
type GitHub interface {
	Issues(ctx context.Context, org string) (IssueAPI, error)
	// Owners are the CODEOWNERS owners of path in repository ("@user",
	// "@org/team"); nil when the repository has no CODEOWNERS or no line
	// matches.
	Owners(ctx context.Context, repository, path string) ([]string, error)
}

// Syncer syncs groups.
type Syncer struct {
	Store  Store
	GitHub GitHub // nil: dry-run only (no GitHub App configured)
	Policy remediation.Policy
	// Cloud links Defender for Cloud records in issue bodies, as triage
	// renders them (RUNTIMELINK_CLOUD).
	Cloud mapping.Cloud
	// ClusterFindingsTeam ("org/team"; "" = off) owns the groups of
	// findings about a cluster no repository builds: their issues mention
	// it instead of the fallback repository's CODEOWNERS
	// (RUNTIMELINK_CLUSTER_FINDINGS_TEAM).
	ClusterFindingsTeam string
	Limits              Limits
	// DryRun plans every write and makes none (RUNTIMELINK_DRY_RUN).
	DryRun bool
	// Governance is Defender's side of the groups (*arm.Client); nil when
	// governance assignments are off (RUNTIMELINK_GOVERNANCE).
	Governance       Governance
	GovernancePolicy remediation.GovernancePolicy
	// GovernanceReadEvery is how old a group's record of Defender's
	// assignments may get before its sync reads them again
	// (DefaultGovernanceReadEvery when zero); the nightly run reads them
	// all in one Resource Graph query.
	GovernanceReadEvery time.Duration
	// Copilot hands new Critical issues to Copilot coding agent with a
	// user's token (*github.Copilot); nil when RUNTIMELINK_COPILOT_ASSIGN
	// is off.
	Copilot Copilot
	Logger  *slog.Logger
	Now     func() time.Time
}

// Result is what one sync did.
type Result struct {
	Repository string               `json:"repository"`
	GroupID    string               `json:"groupId"`
	Priority   model.Priority       `json:"priority,omitempty"`
	Actions    []remediation.Action `json:"actions"`
	// Applied is false in dry-run and when the plan was empty.
	Applied bool `json:"applied"`
	// Calls counts the GitHub requests made (reads and writes).
	Calls int `json:"calls"`
	// Issue is the issue after the sync (nil when the group has none).
	Issue *remediation.Issue `json:"issue,omitempty"`
	// RecheckAt is when the plan changes with time alone (a claimed fix
	// whose grace ends); zero when only a change of state changes it.
	RecheckAt time.Time `json:"recheckAt,omitzero"`
}

// Deferred says the sync must run again later, and when: GitHub asked to
// wait (403/429), the installation's budget is spent, higher-priority work
// is waiting, or another instance is opening the same issue. The queue
// adapter puts the message back with this visibility delay and succeeds.
type Deferred struct {
	Delay  time.Duration
	Reason string
}

func (d *Deferred) Error() string {
	return fmt.Sprintf("sync deferred %s: %s", d.Delay.Round(time.Second), d.Reason)
}

// openingState marks a group whose issue is being opened: the claim that
// keeps two instances from opening it twice (SyncedIssue.State).
const openingState = "opening"

// claimTTL is how long an opening claim holds another instance off; an
// older claim is a crashed attempt, taken over after checking GitHub.
const claimTTL = 2 * time.Minute

func (s *Syncer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Syncer) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Org is the owner part of a repository, the org whose installation acts.
func Org(repository string) string {
	org, _, _ := strings.Cut(repository, "/")
	return org
}

// Sync reconciles one group. A *Deferred error asks to run again after its
// delay; a *github.ServerError (or any other error) fails the invocation.
func (s *Syncer) Sync(ctx context.Context, repository, groupID string, retry bool) (*Result, error) {
	res, err := s.syncIssue(ctx, repository, groupID, retry)
	if err == nil {
		s.assignCopilot(ctx, res)
	}
	if err != nil || s.Governance == nil {
		return res, err
	}
	// Defender follows the issue as it is now (governance.go).
	return res, s.syncGovernance(ctx, res)
}

func (s *Syncer) syncIssue(ctx context.Context, repository, groupID string, retry bool) (*Result, error) {
	res := &Result{Repository: repository, GroupID: groupID}
	g, err := s.Store.Group(ctx, repository, groupID)
	if errors.Is(err, model.ErrNotFound) {
		return res, nil // deleted or never written: nothing to sync
	}
	if err != nil {
		return res, err
	}
	fs, err := s.Store.FindingsOfGroup(ctx, repository, groupID)
	if err != nil {
		return res, err
	}
	var api IssueAPI
	if s.GitHub != nil {
		if api, err = s.GitHub.Issues(ctx, Org(repository)); err != nil {
			return res, err
		}
	}
	counted := &countingAPI{IssueAPI: api}
	loaded := *g
	// A security manager's assignment in Defender can ask for the issue
	// or change what it shows: read it before planning.
	readChanged, err := s.readGovernance(ctx, g, fs)
	if err != nil {
		return res, err
	}
	if err := s.render(ctx, g, fs, readChanged); err != nil {
		return res, err
	}
	res.Priority = g.Desired.Priority
	if !s.DryRun && api != nil && g.Synced.IssueNumber == 0 && g.Desired.Open {
		// An open is coming: wait for its turn and its budget before even
		// searching for the marker, so a backlog costs no GitHub call.
		if err := s.turn(ctx, Org(repository), g.Desired.Priority); err != nil {
			return res, err
		}
	}

	var reader IssueAPI // nil, not a nil-holding interface, when there is no GitHub
	if api != nil {
		reader = counted
	}
	actual, err := s.actual(ctx, g, reader, retry)
	res.Calls = counted.calls
	if err != nil {
		return res, s.classify(err) // GitHub's "wait" on a read defers too
	}
	now := s.now()
	p := s.Policy
	p.Cloud = s.Cloud // comments link what they name, as the body does
	actions := remediation.Plan(*g, fs, actual, now, p)
	res.Actions = actions
	if at := remediation.RecheckAt(*g, s.Policy); at.After(now) {
		res.RecheckAt = at
	}
	if s.DryRun || counted.IssueAPI == nil {
		after := *g
		res.Issue = remediation.Apply(&after, actual, actions, now)
		return res, nil
	}
	if len(actions) == 0 {
		// In step. Record what was read from GitHub, so the next run trusts
		// the record and asks nothing.
		after := *g
		switch {
		case actual != nil && !actual.Recorded:
			remediation.Record(&after, actual, now)
		case g.Synced.Hash != g.Desired.Hash:
			after.Synced.Hash = g.Desired.Hash
		}
		err = s.save(ctx, &loaded, &after)
		res.Issue = actual
		return res, err
	}
	is, err := s.apply(ctx, &loaded, g, actual, actions, counted)
	res.Calls, res.Applied, res.Issue = counted.calls, err == nil, is
	return res, err
}

// render resolves the group's CODEOWNERS and, when they changed, renders
// the desired issue again the way triage does (same inputs, same body,
// same hash), so triage's next refresh agrees with it.
func (s *Syncer) render(ctx context.Context, g *model.Group, fs []model.Finding, force bool) error {
	if s.GitHub == nil {
		return nil
	}
	path := remediation.AffectedPath(*g, sortedFindings(fs))
	owners, err := s.GitHub.Owners(ctx, g.Repository, path)
	if err != nil {
		return fmt.Errorf("owners of %s in %s: %w", path, g.Repository, err)
	}
	if owners == nil {
		owners = []string{}
	}
	if s.ClusterFindingsTeam != "" && len(fs) > 0 && !slices.ContainsFunc(fs, func(f model.Finding) bool { return !mapping.ClusterFinding(&f) }) {
		owners = []string{"@" + s.ClusterFindingsTeam}
	}
	if !force && (slices.Equal(owners, g.Owners) || (len(owners) == 0 && len(g.Owners) == 0)) {
		return nil
	}
	g.Owners = owners
	related, err := s.related(ctx, fs)
	if err != nil {
		return err
	}
	arts, err := triage.BuildArtifacts(ctx, s.Store, g.ID, fs)
	if err != nil {
		return err
	}
	g.Desired = remediation.RenderIssue(remediation.IssueInput{Group: *g, Findings: fs, Related: related, MinPriority: s.Policy.MinPriority, Cloud: s.Cloud, Artifacts: arts})
	return nil
}

// related loads the findings outside fs that fs name in Related.
func (s *Syncer) related(ctx context.Context, fs []model.Finding) ([]model.Finding, error) {
	var ids []string
	for _, f := range fs {
		for _, id := range f.Related {
			if !slices.ContainsFunc(fs, func(o model.Finding) bool { return o.ID == id }) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return s.Store.FindingsByID(ctx, ids)
}

// actual is the issue to plan against: the record when it can be trusted,
// else GitHub's issue, found by number or, with no number, by marker.
func (s *Syncer) actual(ctx context.Context, g *model.Group, api IssueAPI, retry bool) (*remediation.Issue, error) {
	rec := remediation.Recorded(*g)
	// A status newer than the record is a person's doing (the issues
	// webhook): read the issue once, so the record learns what they did.
	// GitHub's event times are whole seconds, so a status in the same
	// second as the record counts as newer: one read too many at worst.
	personActed := g.Synced.IssueNumber != 0 && !g.StatusAt.Before(g.Synced.At.Truncate(time.Second))
	if !remediation.Unsure(*g) && !retry && !personActed && g.Synced.State != openingState {
		return rec, nil
	}
	if api == nil {
		return rec, nil
	}
	if n := g.Synced.IssueNumber; n != 0 {
		i, err := api.Get(ctx, g.IssueRepository(), n)
		if errors.Is(err, github.ErrIssueGone) {
			s.log().Warn("the group's issue is gone; it will be found by marker or opened again",
				"repository", g.Repository, "groupId", g.ID, "issue", n)
			return s.byMarker(ctx, g, api)
		}
		if err != nil {
			return nil, err
		}
		return s.withNotes(ctx, api, toActual(i, g.Synced.Notes))
	}
	if !g.Desired.Open {
		return nil, nil // nothing to find: no issue would be opened
	}
	return s.byMarker(ctx, g, api)
}

// byMarker finds the group's issue by its marker: a lost mapping, or an
// open that crashed before its number was recorded.
func (s *Syncer) byMarker(ctx context.Context, g *model.Group, api IssueAPI) (*remediation.Issue, error) {
	var since time.Time
	if g.Synced.State == openingState {
		since = g.Synced.At
	}
	if !s.DryRun {
		// The search API has its own limit: the search takes its turn in
		// the org's budget like the writes do.
		if err := s.takeSearch(ctx, Org(g.Repository)); err != nil {
			return nil, err
		}
	}
	i, err := api.FindByMarker(ctx, g.Repository, remediation.Marker(g.ID), since)
	if err != nil || i == nil {
		return nil, err
	}
	s.log().Info("issue found again by its marker", "repository", g.Repository, "groupId", g.ID, "issue", i.Number)
	return s.withNotes(ctx, api, toActual(i, nil))
}

// withNotes adds the keys of the one-time comments found on the issue: a
// comment said once stays said even when its record was lost.
func (s *Syncer) withNotes(ctx context.Context, api IssueAPI, is *remediation.Issue) (*remediation.Issue, error) {
	cs, err := api.Comments(ctx, is.Repository, is.Number)
	if err != nil {
		return nil, err
	}
	for _, n := range notesFromComments(cs) {
		if !slices.Contains(is.Notes, n) {
			is.Notes = append(is.Notes, n)
		}
	}
	return is, nil
}

func toActual(i *github.Issue, notes []string) *remediation.Issue {
	return &remediation.Issue{
		Repository: i.Repository, Number: i.Number, URL: i.HTMLURL, State: i.State, Reason: i.StateReason,
		Title: i.Title, Body: i.Body, BodyHash: remediation.BodyHash(i.Body),
		Labels: slices.Clone(i.Labels), Assignees: slices.Clone(i.Assignees), Notes: slices.Clone(notes),
	}
}

func sortedFindings(fs []model.Finding) []model.Finding {
	out := slices.Clone(fs)
	slices.SortFunc(out, model.CompareFindings)
	return out
}

// countingAPI counts GitHub calls for the Result (and the storm report).
type countingAPI struct {
	IssueAPI
	calls int
}

func (c *countingAPI) Get(ctx context.Context, repo string, n int) (*github.Issue, error) {
	c.calls++
	return c.IssueAPI.Get(ctx, repo, n)
}

func (c *countingAPI) Create(ctx context.Context, repo string, in github.NewIssue) (*github.Issue, error) {
	c.calls++
	return c.IssueAPI.Create(ctx, repo, in)
}

func (c *countingAPI) Update(ctx context.Context, repo string, n int, p github.IssuePatch) (*github.Issue, error) {
	c.calls++
	return c.IssueAPI.Update(ctx, repo, n, p)
}

func (c *countingAPI) Comment(ctx context.Context, repo string, n int, body string) (*github.Comment, error) {
	c.calls++
	return c.IssueAPI.Comment(ctx, repo, n, body)
}

func (c *countingAPI) Comments(ctx context.Context, repo string, n int) ([]github.Comment, error) {
	c.calls++
	return c.IssueAPI.Comments(ctx, repo, n)
}

func (c *countingAPI) EnsureLabels(ctx context.Context, repo string, ls []github.Label) (int, error) {
	n, err := c.IssueAPI.EnsureLabels(ctx, repo, ls)
	c.calls += n
	return n, err
}

func (c *countingAPI) FindByMarker(ctx context.Context, repo, marker string, since time.Time) (*github.Issue, error) {
	c.calls++
	if !since.IsZero() {
		c.calls++
	}
	return c.IssueAPI.FindByMarker(ctx, repo, marker, since)
}
