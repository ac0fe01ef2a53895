package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// Issue is a GitHub issue as runtimelink reads and writes it.
type Issue struct {
	// Repository is where the issue lives now ("owner/name"): a transferred
	// issue answers from its new repository.
	Repository  string
	Number      int
	State       string // open, closed
	StateReason string // completed, not_planned, reopened; "" when never closed
	Title       string
	Body        string
	Labels      []string
	Assignees   []string
	HTMLURL     string
	UpdatedAt   time.Time
}

// NewIssue is what an issue is created with.
type NewIssue struct {
	Title     string
	Body      string
	Labels    []string
	Assignees []string
}

// IssuePatch changes an issue; nil fields are left as they are.
type IssuePatch struct {
	Title, Body        *string
	State, StateReason *string
	Labels, Assignees  *[]string
}

// Label is a repository label runtimelink uses.
type Label struct {
	Name        string
	Color       string // six hex digits, no '#'
	Description string
}

// Comment is one issue comment.
type Comment struct {
	ID   int64
	Body string
	User string
}

// ErrIssueGone says the issue no longer exists where it was asked for:
// deleted (410), or its repository gone or out of the App's reach (404).
var ErrIssueGone = errors.New("github issue is gone")

// ServerError is GitHub failing (5xx) or not answering: retry the whole
// invocation later. Callers tell it with errors.As.
type ServerError struct {
	StatusCode int // 0 when the connection failed
	Op         string
	Err        error
}

func (e *ServerError) Error() string {
	if e.StatusCode == 0 {
		return fmt.Sprintf("%s: github unreachable: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("%s: github answered %d: %v", e.Op, e.StatusCode, e.Err)
}

func (e *ServerError) Unwrap() error { return e.Err }

// RetryDelay says how long GitHub asked to wait when err is a rate limit
// of any kind (ours, go-github's primary or abuse error); ok is false for
// any other error. A limit that names no time waits at least a minute, as
// GitHub asks.
func RetryDelay(err error, now time.Time) (time.Duration, bool) {
	const atLeast = time.Minute
	var ours *RateLimitError
	var primary *gh.RateLimitError
	var abuse *gh.AbuseRateLimitError
	switch {
	case errors.As(err, &ours):
		return max(ours.RetryAfter(now), time.Second), true
	case errors.As(err, &abuse):
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			return *abuse.RetryAfter, true
		}
		return atLeast, true
	case errors.As(err, &primary):
		if d := primary.Rate.Reset.Time.Sub(now); d > 0 {
			return d + time.Second, true
		}
		return atLeast, true
	}
	return 0, false
}

// IssueCache remembers, per repository, which labels exist and which
// logins can be assigned, so a sync of many groups in one repository asks
// GitHub once. It is shared by every installation client of the process.
type IssueCache struct {
	clock      Clock
	labels     *lru[string, bool] // "repo\x00label" → exists
	assignable *lru[string, bool] // "repo\x00login" → can be assigned
	ttl        time.Duration
}

// NewIssueCache returns a cache whose answers live ttl (default 10 min):
// a collaborator added later becomes assignable within that time.
func NewIssueCache(ttl time.Duration, clock Clock) *IssueCache {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if clock == nil {
		clock = realClock{}
	}
	return &IssueCache{clock: clock, ttl: ttl,
		labels: newLRU[string, bool](20000, 0, nil), assignable: newLRU[string, bool](20000, 0, nil)}
}

// Issues is the issue API of one installation client.
type Issues struct {
	c     *gh.Client
	cache *IssueCache
}

// NewIssues binds the issue calls to a client (nil cache: a fresh one).
func NewIssues(c *gh.Client, cache *IssueCache) *Issues {
	if cache == nil {
		cache = NewIssueCache(0, nil)
	}
	return &Issues{c: c, cache: cache}
}

func splitRepo(repo string) (string, string, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(name, "/?#") {
		return "", "", fmt.Errorf("%q is not an owner/name repository", repo)
	}
	return owner, name, nil
}

// classify gives an error its kind: a rate limit stays as it is (callers
// read RetryDelay), a 5xx or a failed connection becomes *ServerError, a
// 404/410 on an issue becomes ErrIssueGone when gone is set.
func classify(op string, err error, gone bool) error {
	if err == nil {
		return nil
	}
	if _, ok := RetryDelay(err, time.Now()); ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		code := er.Response.StatusCode
		switch {
		case code >= 500:
			return &ServerError{StatusCode: code, Op: op, Err: err}
		case gone && (code == http.StatusNotFound || code == http.StatusGone):
			return fmt.Errorf("%s: %w (%d)", op, ErrIssueGone, code)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &ServerError{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

func toIssue(repo string, i *gh.Issue) *Issue {
	out := &Issue{
		Repository:  repo,
		Number:      i.GetNumber(),
		State:       i.GetState(),
		StateReason: i.GetStateReason(),
		Title:       i.GetTitle(),
		Body:        i.GetBody(),
		HTMLURL:     i.GetHTMLURL(),
		UpdatedAt:   i.GetUpdatedAt().Time,
		Labels:      []string{},
		Assignees:   []string{},
	}
	if r := repoOfURL(i.GetRepositoryURL()); r != "" {
		out.Repository = r
	}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	for _, a := range i.Assignees {
		out.Assignees = append(out.Assignees, a.GetLogin())
	}
	return out
}

// repoOfURL reads "owner/name" from an API repository URL
// (".../repos/owner/name").
func repoOfURL(u string) string {
	_, rest, ok := strings.Cut(u, "/repos/")
	if !ok {
		return ""
	}
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

// Get reads an issue. A transferred issue is followed to its new
// repository (GitHub answers 301; Issue.Repository says where it went); a
// deleted one is ErrIssueGone.
func (x *Issues) Get(ctx context.Context, repo string, number int) (*Issue, error) {
	op := fmt.Sprintf("get issue %s#%d", repo, number)
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	i, _, err := x.c.Issues.Get(ctx, owner, name, number)
	if err != nil {
		return nil, classify(op, err, true)
	}
	if i.IsPullRequest() {
		return nil, fmt.Errorf("%s: %w (it is a pull request)", op, ErrIssueGone)
	}
	return toIssue(repo, i), nil
}

// Create opens an issue. Assignees GitHub would refuse (not collaborators)
// are left out first, so a CODEOWNERS entry for someone without access
// does not fail the whole issue; labels are expected to exist
// (EnsureLabels), else GitHub creates them without colour.
func (x *Issues) Create(ctx context.Context, repo string, in NewIssue) (*Issue, error) {
	op := "create issue in " + repo
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	assignees, err := x.Assignable(ctx, repo, in.Assignees)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req := &gh.IssueRequest{Title: &in.Title, Body: &in.Body, Labels: ptrSlice(in.Labels), Assignees: &assignees}
	i, _, err := x.c.Issues.Create(ctx, owner, name, req)
	if err != nil {
		return nil, classify(op, err, false)
	}
	return toIssue(repo, i), nil
}

// Update patches an issue; assignees are filtered as in Create.
func (x *Issues) Update(ctx context.Context, repo string, number int, p IssuePatch) (*Issue, error) {
	op := fmt.Sprintf("update issue %s#%d", repo, number)
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	req := &gh.IssueRequest{Title: p.Title, Body: p.Body, State: p.State, StateReason: p.StateReason, Labels: p.Labels}
	if p.Assignees != nil {
		a, err := x.Assignable(ctx, repo, *p.Assignees)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		req.Assignees = &a
	}
	i, _, err := x.c.Issues.Edit(ctx, owner, name, number, req)
	if err != nil {
		return nil, classify(op, err, true)
	}
	return toIssue(repo, i), nil
}

// Comment adds a comment to an issue.
func (x *Issues) Comment(ctx context.Context, repo string, number int, body string) (*Comment, error) {
	op := fmt.Sprintf("comment on issue %s#%d", repo, number)
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c, _, err := x.c.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: &body})
	if err != nil {
		return nil, classify(op, err, true)
	}
	return &Comment{ID: c.GetID(), Body: c.GetBody(), User: c.GetUser().GetLogin()}, nil
}

// maxCommentPages bounds a comment listing: an issue runtimelink keeps
// gets a handful of comments, a thread of thousands is read only so far.
const maxCommentPages = 10

// Comments lists an issue's comments, oldest first.
func (x *Issues) Comments(ctx context.Context, repo string, number int) ([]Comment, error) {
	op := fmt.Sprintf("list comments of issue %s#%d", repo, number)
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var out []Comment
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for page := 0; page < maxCommentPages; page++ {
		cs, resp, err := x.c.Issues.ListComments(ctx, owner, name, number, opts)
		if err != nil {
			return nil, classify(op, err, true)
		}
		for _, c := range cs {
			out = append(out, Comment{ID: c.GetID(), Body: c.GetBody(), User: c.GetUser().GetLogin()})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// EnsureLabels creates the labels the repository lacks, with their colour
// and description. An existing label is left as the repository's people
// made it. created counts the labels created (content-creating calls).
func (x *Issues) EnsureLabels(ctx context.Context, repo string, labels []Label) (created int, err error) {
	missing, err := x.MissingLabels(ctx, repo, labels)
	if err != nil {
		return 0, err
	}
	return x.CreateLabels(ctx, repo, missing)
}

// MissingLabels reads which of labels the repository lacks (reads only, so
// a caller can count the content-creating calls before making them).
func (x *Issues) MissingLabels(ctx context.Context, repo string, labels []Label) ([]Label, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("check labels: %w", err)
	}
	now := x.cache.clock.Now()
	var missing []Label
	for _, l := range labels {
		key := labelKey(repo, l.Name)
		if ok, hit := x.cache.labels.get(key, now); hit && ok {
			continue
		}
		_, _, err := x.c.Issues.GetLabel(ctx, owner, name, l.Name)
		switch {
		case err == nil:
			x.cache.labels.put(key, true, now.Add(x.cache.ttl))
		case statusOf(err) == http.StatusNotFound:
			missing = append(missing, l)
		default:
			return nil, classify(fmt.Sprintf("get label %q in %s", l.Name, repo), err, false)
		}
	}
	return missing, nil
}

// CreateLabels creates labels; one that exists already (another instance
// made it meanwhile) is fine.
func (x *Issues) CreateLabels(ctx context.Context, repo string, labels []Label) (created int, err error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, fmt.Errorf("create labels: %w", err)
	}
	now := x.cache.clock.Now()
	for _, l := range labels {
		lab := &gh.Label{Name: gh.String(l.Name), Color: gh.String(l.Color)}
		if l.Description != "" {
			lab.Description = gh.String(l.Description)
		}
		_, _, err := x.c.Issues.CreateLabel(ctx, owner, name, lab)
		switch {
		case err == nil:
			created++
		case isAlreadyExists(err):
		default:
			return created, classify(fmt.Sprintf("create label %q in %s", l.Name, repo), err, false)
		}
		x.cache.labels.put(labelKey(repo, l.Name), true, now.Add(x.cache.ttl))
	}
	return created, nil
}

func labelKey(repo, label string) string {
	return strings.ToLower(repo) + "\x00" + strings.ToLower(label)
}

func isAlreadyExists(err error) bool {
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	return slices.ContainsFunc(er.Errors, func(e gh.Error) bool { return e.Code == "already_exists" })
}

// Assignable keeps the logins GitHub lets the issue be assigned to
// (collaborators), at most 10 (GitHub's limit), in the order given.
// GET /repos/{o}/{r}/assignees/{login} answers 204 or 404; answers are
// cached.
func (x *Issues) Assignable(ctx context.Context, repo string, logins []string) ([]string, error) {
	out := []string{}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("check assignees: %w", err)
	}
	now := x.cache.clock.Now()
	for _, login := range logins {
		if len(out) == MaxAssignees {
			break
		}
		if login == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, login) }) {
			continue
		}
		key := strings.ToLower(repo) + "\x00" + strings.ToLower(login)
		ok, hit := x.cache.assignable.get(key, now)
		if !hit {
			ok, _, err = x.c.Issues.IsAssignee(ctx, owner, name, login)
			if err != nil {
				return nil, classify(fmt.Sprintf("check assignee %s in %s", login, repo), err, false)
			}
			x.cache.assignable.put(key, ok, now.Add(x.cache.ttl))
		}
		if ok {
			out = append(out, login)
		}
	}
	return out, nil
}

// MaxAssignees is GitHub's limit of assignees per issue.
const MaxAssignees = 10

// MarkerQuery is the issue search that finds the issue whose body carries
// marker, in one repository.
func MarkerQuery(repo, marker string) string {
	return strconv.Quote(marker) + " repo:" + repo + " in:body is:issue"
}

// FindByMarker finds the issue of repo whose body carries marker (the
// group's hidden marker), open or closed; nil when there is none. The
// search index lags behind writes by up to a minute, so issues updated
// since `since` (non-zero: the time an open was attempted) are also listed
// straight from the repository, which has no lag: a crash between
// creating an issue and recording its number never leads to a second one.
func (x *Issues) FindByMarker(ctx context.Context, repo, marker string, since time.Time) (*Issue, error) {
	op := "find issue by marker in " + repo
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if !since.IsZero() {
		opts := &gh.IssueListByRepoOptions{State: "all", Since: since.Add(-time.Minute), Sort: "created",
			Direction: "desc", ListOptions: gh.ListOptions{PerPage: 100}}
		for page := 0; page < 5; page++ {
			is, resp, err := x.c.Issues.ListByRepo(ctx, owner, name, opts)
			if err != nil {
				return nil, classify(op, err, false)
			}
			if i := withMarker(is, marker); i != nil {
				return toIssue(repo, i), nil
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	}
	res, _, err := x.c.Search.Issues(ctx, MarkerQuery(repo, marker), &gh.SearchOptions{ListOptions: gh.ListOptions{PerPage: 20}})
	if err != nil {
		return nil, classify(op, err, false)
	}
	if i := withMarker(res.Issues, marker); i != nil {
		return toIssue(repo, i), nil
	}
	return nil, nil
}

// withMarker picks the oldest issue whose body really carries the marker
// (search matches words, not the exact text).
func withMarker(is []*gh.Issue, marker string) *gh.Issue {
	var found *gh.Issue
	for _, i := range is {
		if i.IsPullRequest() || !strings.Contains(i.GetBody(), marker) {
			continue
		}
		if found == nil || i.GetNumber() < found.GetNumber() {
			found = i
		}
	}
	return found
}

func ptrSlice(s []string) *[]string {
	if s == nil {
		s = []string{}
	}
	return &s
}
