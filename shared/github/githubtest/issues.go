package githubtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Issues as GitHub keeps them: numbered per repository, labels created on
// first use, assignees limited to collaborators, comments, transfer and
// deletion, search. What GitHub refuses is refused with GitHub's status and
// body; what GitHub drops silently is dropped silently.

// BotLogin is the login the fake's installation tokens act as.
const BotLogin = "runtimelink[bot]"

// GitHub's limits on issue text.
const (
	maxTitle     = 256
	maxBody      = 65536
	maxAssignees = 10
)

// FakeIssue is the fake's record of one issue.
type FakeIssue struct {
	Number      int
	Title, Body string
	State       string // open, closed
	StateReason string // "", completed, not_planned, reopened
	Labels      []string
	Assignees   []string
	Comments    []FakeComment
	Author      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time
	ClosedBy    string
	// Deleted issues answer 410; transferred ones 301 to MovedTo.
	Deleted bool
	MovedTo string // "owner/name#n"
}

// FakeComment is one comment.
type FakeComment struct {
	ID     int64
	Body   string
	Author string
	At     time.Time
}

type fakeLabel struct {
	id                       int64
	name, color, description string
}

type repoIssues struct {
	name          string // as first spelled
	issues        []*FakeIssue
	labels        map[string]*fakeLabel // by lower-case name
	collaborators map[string]string     // lower → login
}

func (s *Server) repoLocked(repo string) *repoIssues {
	key := strings.ToLower(repo)
	r, ok := s.repos[key]
	if !ok {
		r = &repoIssues{name: repo, labels: map[string]*fakeLabel{}, collaborators: map[string]string{}}
		s.repos[key] = r
	}
	return r
}

// SetCollaborators makes logins assignable in repo ("owner/name"). GitHub
// assigns only collaborators (and people who took part in the issue); any
// other login is refused or dropped.
func (s *Server) SetCollaborators(repo string, logins ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	for _, l := range logins {
		r.collaborators[strings.ToLower(l)] = l
	}
}

// Issue returns a copy of an issue (nil when there is none).
func (s *Server) Issue(repo string, number int) *FakeIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	if number < 1 || number > len(r.issues) {
		return nil
	}
	return cloneIssue(r.issues[number-1])
}

// IssueList returns copies of every issue of repo, by number.
func (s *Server) IssueList(repo string) []*FakeIssue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*FakeIssue
	for _, i := range s.repoLocked(repo).issues {
		out = append(out, cloneIssue(i))
	}
	return out
}

// LabelColor is the colour of a repository label ("" when it does not exist).
func (s *Server) LabelColor(repo, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.repoLocked(repo).labels[strings.ToLower(name)]; l != nil {
		return l.color
	}
	return ""
}

// CloseIssueAs closes an issue as a person would in the UI (reason
// completed or not_planned); ReopenIssueAs reopens it.
func (s *Server) CloseIssueAs(repo string, number int, reason, login string) {
	s.editAs(repo, number, func(i *FakeIssue, now time.Time) {
		i.State, i.StateReason, i.ClosedAt, i.ClosedBy = "closed", reason, now, login
	})
}

// ReopenIssueAs reopens an issue as a person would.
func (s *Server) ReopenIssueAs(repo string, number int, login string) {
	s.editAs(repo, number, func(i *FakeIssue, now time.Time) {
		i.State, i.StateReason, i.ClosedAt, i.ClosedBy = "open", "reopened", time.Time{}, ""
	})
}

// DeleteIssue deletes an issue (GitHub then answers 410 Gone).
func (s *Server) DeleteIssue(repo string, number int) {
	s.editAs(repo, number, func(i *FakeIssue, _ time.Time) { i.Deleted = true })
}

// TransferIssue moves an issue to another repository, where it gets the
// next number; the old address answers 301 to the new one. It returns the
// new number.
func (s *Server) TransferIssue(repo string, number int, to string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	if number < 1 || number > len(r.issues) {
		return 0
	}
	old := r.issues[number-1]
	dst := s.repoLocked(to)
	moved := cloneIssue(old)
	moved.Number = len(dst.issues) + 1
	moved.UpdatedAt = s.now()
	dst.issues = append(dst.issues, moved)
	for _, l := range moved.Labels {
		s.labelLocked(dst, l)
	}
	old.MovedTo = fmt.Sprintf("%s#%d", to, moved.Number)
	return moved.Number
}

func (s *Server) editAs(repo string, number int, fn func(*FakeIssue, time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repoLocked(repo)
	if number < 1 || number > len(r.issues) {
		return
	}
	now := s.now()
	fn(r.issues[number-1], now)
	r.issues[number-1].UpdatedAt = now
}

func cloneIssue(i *FakeIssue) *FakeIssue {
	c := *i
	c.Labels = slices.Clone(i.Labels)
	c.Assignees = slices.Clone(i.Assignees)
	c.Comments = slices.Clone(i.Comments)
	return &c
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("repo") }

// actor is who a request acts as: the App's bot for installation tokens.
func actor(r *http.Request) string {
	if whoOf(r).installation != 0 {
		return BotLogin
	}
	return "octocat"
}

// decodeObject reads a JSON object body the way GitHub's schema validation
// does: not JSON → 400, JSON but not an object (null, an array, ...) → 422.
func decodeObject(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, bool) {
	var raw json.RawMessage
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&raw); err != nil {
		writeErrorDoc(w, http.StatusBadRequest, "Problems parsing JSON", docsPrefix+"/issues/issues")
		return nil, false
	}
	var obj map[string]json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || json.Unmarshal(raw, &obj) != nil {
		invalidRequest(w, fmt.Sprintf("%s is not an object.", jsonKind(raw)))
		return nil, false
	}
	return obj, true
}

func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) == 0 || string(t) == "null":
		return "nil"
	case t[0] == '[':
		return "Array"
	case t[0] == '"':
		return "String"
	}
	return string(t)
}

// invalidRequest is GitHub's schema-validation answer.
func invalidRequest(w http.ResponseWriter, detail string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Invalid request.\n\n" + detail, "documentation_url": docsPrefix + "/issues/issues", "status": "422"})
}

type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field"`
	Value    any    `json:"value,omitempty"`
	Message  string `json:"message,omitempty"`
}

// validationFailed is GitHub's model-validation answer.
func validationFailed(w http.ResponseWriter, errs ...fieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"message": "Validation Failed", "errors": errs, "documentation_url": docsPrefix + "/issues/issues", "status": "422"})
}

// fields reads the fields of a request object in order, the way GitHub's
// schema validation does: the first that is not valid is answered with 422
// and nothing after it is read; ok says whether all read so far were valid.
type fields struct {
	w   http.ResponseWriter
	obj map[string]json.RawMessage
	ok  bool
}

// readObject decodes the request body (decodeObject) to read its fields.
func readObject(w http.ResponseWriter, r *http.Request) *fields {
	obj, ok := decodeObject(w, r)
	return &fields{w: w, obj: obj, ok: ok}
}

// fail answers a field that is not valid and stops the reading.
func (f *fields) fail(detail string) {
	invalidRequest(f.w, detail)
	f.ok = false
}

// required answers 422 when field is absent.
func (f *fields) required(field string) {
	if _, has := f.obj[field]; f.ok && !has {
		f.fail(fmt.Sprintf("%q wasn't supplied.", field))
	}
}

// str reads an optional string field: absent → nil; null → "" when
// nullable; anything but a string → 422.
func (f *fields) str(field string, nullable bool) *string {
	raw, has := f.obj[field]
	if !f.ok || !has {
		return nil
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		if nullable {
			empty := ""
			return &empty
		}
		f.fail(fmt.Sprintf("For 'properties/%s', nil is not a string.", field))
		return nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		f.fail(fmt.Sprintf("For 'properties/%s', %s is not a string.", field, raw))
		return nil
	}
	return &v
}

// names reads labels or assignees: an array of strings (labels may also
// be objects with a name).
func (f *fields) names(field string) *[]string {
	raw, has := f.obj[field]
	if !f.ok || !has || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.fail(fmt.Sprintf("For 'properties/%s', %s is not an array.", field, raw))
		return nil
	}
	out := []string{}
	for _, it := range items {
		var name string
		if json.Unmarshal(it, &name) != nil {
			var o struct {
				Name string `json:"name"`
			}
			if field != "labels" || json.Unmarshal(it, &o) != nil || o.Name == "" {
				f.fail(fmt.Sprintf("For 'items', %s is not a string.", it))
				return nil
			}
			name = o.Name
		}
		out = append(out, name)
	}
	return &out
}

func checkText(title, body *string) []fieldError {
	var errs []fieldError
	if title != nil && len([]rune(*title)) > maxTitle {
		errs = append(errs, fieldError{Resource: "Issue", Code: "custom", Field: "title",
			Message: fmt.Sprintf("title is too long (maximum is %d characters)", maxTitle)})
	}
	if title != nil && strings.TrimSpace(*title) == "" {
		errs = append(errs, fieldError{Resource: "Issue", Code: "missing_field", Field: "title"})
	}
	if body != nil && len([]rune(*body)) > maxBody {
		errs = append(errs, fieldError{Resource: "Issue", Code: "custom", Field: "body",
			Message: fmt.Sprintf("body is too long (maximum is %d characters)", maxBody)})
	}
	return errs
}

// assigneeErrorsLocked: create and PATCH refuse a login that cannot be
// assigned with 422 (the add-assignees endpoint drops it instead).
func assigneeErrorsLocked(r *repoIssues, logins []string) []fieldError {
	var errs []fieldError
	for _, l := range logins {
		if _, ok := r.collaborators[strings.ToLower(l)]; !ok {
			errs = append(errs, fieldError{Resource: "Issue", Code: "invalid", Field: "assignees", Value: l})
		}
	}
	if len(logins) > maxAssignees {
		errs = append(errs, fieldError{Resource: "Issue", Code: "custom", Field: "assignees",
			Message: fmt.Sprintf("assignees cannot exceed %d", maxAssignees)})
	}
	return errs
}

// editIssueLocked checks the title, body and assignees a create or an
// update gives (422 naming each that is not valid) and then sets them and
// the labels; nil leaves a field as it is.
func (s *Server) editIssueLocked(w http.ResponseWriter, rs *repoIssues, i *FakeIssue, title, body *string, labels, assignees *[]string) bool {
	errs := checkText(title, body)
	if assignees != nil {
		errs = append(errs, assigneeErrorsLocked(rs, *assignees)...)
	}
	if len(errs) > 0 {
		validationFailed(w, errs...)
		return false
	}
	if title != nil {
		i.Title = *title
	}
	if body != nil {
		i.Body = *body
	}
	if labels != nil {
		s.setLabelsLocked(rs, i, *labels)
	}
	if assignees != nil {
		i.Assignees = canonicalLogins(rs, *assignees)
	}
	return true
}

func (s *Server) labelLocked(r *repoIssues, name string) *fakeLabel {
	key := strings.ToLower(name)
	if l := r.labels[key]; l != nil {
		return l
	}
	s.nextID++
	// GitHub gives a label made on first use its default grey.
	l := &fakeLabel{id: s.nextID, name: name, color: "ededed"}
	r.labels[key] = l
	return l
}

// setLabelsLocked replaces an issue's labels, creating missing ones and
// keeping each once (GitHub's spelling is the label's).
func (s *Server) setLabelsLocked(r *repoIssues, i *FakeIssue, names []string) {
	i.Labels = []string{}
	for _, n := range names {
		if strings.TrimSpace(n) == "" {
			continue
		}
		l := s.labelLocked(r, n)
		if !slices.Contains(i.Labels, l.name) {
			i.Labels = append(i.Labels, l.name)
		}
	}
}

func canonicalLogins(r *repoIssues, logins []string) []string {
	out := []string{}
	for _, l := range logins {
		if c, ok := r.collaborators[strings.ToLower(l)]; ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) handleCreateIssue(w http.ResponseWriter, r *http.Request) {
	f := readObject(w, r)
	if f.required("title"); !f.ok {
		return
	}
	var title string
	if err := json.Unmarshal(f.obj["title"], &title); err != nil {
		// GitHub also takes a number as the title; nothing else.
		var n json.Number
		if json.Unmarshal(f.obj["title"], &n) != nil {
			invalidRequest(w, fmt.Sprintf("For 'properties/title', %s is not a string or integer.", jsonKind(f.obj["title"])))
			return
		}
		title = n.String()
	}
	body, labels, assignees := f.str("body", true), f.names("labels"), f.names("assignees")
	if !f.ok {
		return
	}
	var single string
	if raw, has := f.obj["assignee"]; has && json.Unmarshal(raw, &single) == nil && single != "" {
		if assignees == nil {
			assignees = &[]string{}
		}
		*assignees = append(*assignees, single)
	}
	repo := repoOf(r)
	rs := s.lockRepo(r)
	defer s.mu.Unlock()
	now := s.now()
	i := &FakeIssue{Number: len(rs.issues) + 1, State: "open", Author: actor(r),
		CreatedAt: now, UpdatedAt: now, Labels: []string{}, Assignees: []string{}}
	if !s.editIssueLocked(w, rs, i, &title, body, labels, assignees) {
		return
	}
	rs.issues = append(rs.issues, i)
	w.Header().Set("Location", s.issueAPI(repo, i.Number))
	writeJSON(w, http.StatusCreated, s.issueJSONLocked(repo, i))
}

// findIssueLocked resolves an issue address: 404 when it never existed,
// 410 when deleted, 301 when transferred.
func (s *Server) findIssueLocked(w http.ResponseWriter, r *http.Request, repo string) (*repoIssues, *FakeIssue, bool) {
	n, err := strconv.Atoi(r.PathValue("number"))
	rs := s.repoLocked(repo)
	if err != nil || n < 1 || n > len(rs.issues) {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/issues/issues#get-an-issue")
		return nil, nil, false
	}
	i := rs.issues[n-1]
	switch {
	case i.Deleted:
		writeErrorDoc(w, http.StatusGone, "This issue was deleted", docsPrefix+"/issues/issues#get-an-issue")
		return nil, nil, false
	case i.MovedTo != "":
		to, num, _ := strings.Cut(i.MovedTo, "#")
		loc := fmt.Sprintf("%s%s/repositories/%d/issues/%s", s.srv.URL, s.prefix, repoID(to), num)
		w.Header().Set("Location", loc)
		writeJSON(w, http.StatusMovedPermanently, map[string]any{"message": "Moved Permanently", "url": loc,
			"documentation_url": docsPrefix + "/issues/issues#get-an-issue"})
		return nil, nil, false
	}
	return rs, i, true
}

// lockRepo takes s.mu for the repository of the request; the caller
// releases it.
func (s *Server) lockRepo(r *http.Request) *repoIssues {
	s.mu.Lock()
	return s.repoLocked(repoOf(r))
}

// withIssue runs fn under s.mu with the issue of the request
// (findIssueLocked answers when there is none).
func (s *Server) withIssue(w http.ResponseWriter, r *http.Request, fn func(rs *repoIssues, i *FakeIssue)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rs, i, ok := s.findIssueLocked(w, r, repoOf(r)); ok {
		fn(rs, i)
	}
}

func (s *Server) handleGetIssue(w http.ResponseWriter, r *http.Request) {
	s.withIssue(w, r, func(rs *repoIssues, i *FakeIssue) {
		writeJSON(w, http.StatusOK, s.issueJSONLocked(rs.name, i))
	})
}

func (s *Server) handleGetIssueByRepoID(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rs := range s.repos {
		if repoID(rs.name) == id {
			if _, i, ok := s.findIssueLocked(w, r, rs.name); ok {
				writeJSON(w, http.StatusOK, s.issueJSONLocked(rs.name, i))
			}
			return
		}
	}
	writeError(w, http.StatusNotFound, "Not Found")
}

func (s *Server) handleUpdateIssue(w http.ResponseWriter, r *http.Request) {
	f := readObject(w, r)
	title, body, state := f.str("title", false), f.str("body", true), f.str("state", false)
	if state != nil && *state != "open" && *state != "closed" {
		f.fail(fmt.Sprintf(`For 'properties/state', %q is not one of ["open", "closed"].`, *state))
	}
	reason := f.str("state_reason", true)
	if reason != nil && *reason != "" && !slices.Contains([]string{"completed", "not_planned", "reopened"}, *reason) {
		f.fail(fmt.Sprintf(`For 'properties/state_reason', %q is not one of ["completed", "not_planned", "reopened", null].`, *reason))
	}
	labels, assignees := f.names("labels"), f.names("assignees")
	if !f.ok {
		return
	}
	s.withIssue(w, r, func(rs *repoIssues, i *FakeIssue) {
		if !s.editIssueLocked(w, rs, i, title, body, labels, assignees) {
			return
		}
		now := s.now()
		switch {
		case state != nil && *state == "closed" && i.State != "closed":
			i.State, i.ClosedAt, i.ClosedBy = "closed", now, actor(r)
			i.StateReason = "completed"
			if reason != nil && *reason != "" && *reason != "reopened" {
				i.StateReason = *reason
			}
		case state != nil && *state == "open" && i.State != "open":
			i.State, i.StateReason, i.ClosedAt, i.ClosedBy = "open", "reopened", time.Time{}, ""
		case reason != nil && *reason != "" && i.State == "closed" && *reason != "reopened":
			i.StateReason = *reason // a closed issue's reason can be changed
		}
		i.UpdatedAt = now
		writeJSON(w, http.StatusOK, s.issueJSONLocked(rs.name, i))
	})
}

func (s *Server) handleListIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		validationFailed(w, fieldError{Resource: "Issue", Code: "invalid", Field: "state", Value: state})
		return
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			validationFailed(w, fieldError{Resource: "Issue", Code: "invalid", Field: "since", Value: v})
			return
		}
		since = t
	}
	rs := s.lockRepo(r)
	defer s.mu.Unlock()
	var list []*FakeIssue
	for _, i := range rs.issues {
		if i.Deleted || i.MovedTo != "" || (state != "all" && i.State != state) || (!since.IsZero() && i.UpdatedAt.Before(since)) {
			continue
		}
		if c := q.Get("creator"); c != "" && !strings.EqualFold(c, i.Author) {
			continue
		}
		list = append(list, i)
	}
	sortKey := func(i *FakeIssue) time.Time {
		if q.Get("sort") == "updated" {
			return i.UpdatedAt
		}
		return i.CreatedAt
	}
	slices.SortStableFunc(list, func(a, b *FakeIssue) int {
		c := sortKey(a).Compare(sortKey(b))
		if c == 0 {
			c = a.Number - b.Number
		}
		if q.Get("direction") != "asc" {
			c = -c
		}
		return c
	})
	start, end := s.paginate(w, r, len(list))
	out := make([]map[string]any, 0, end-start)
	for _, i := range list[start:end] {
		out = append(out, s.issueJSONLocked(rs.name, i))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request) {
	f := readObject(w, r)
	f.required("body")
	body := f.str("body", false)
	if !f.ok {
		return
	}
	if strings.TrimSpace(*body) == "" {
		validationFailed(w, fieldError{Resource: "IssueComment", Code: "missing_field", Field: "body"})
		return
	}
	if len([]rune(*body)) > maxBody {
		validationFailed(w, fieldError{Resource: "IssueComment", Code: "custom", Field: "body",
			Message: fmt.Sprintf("body is too long (maximum is %d characters)", maxBody)})
		return
	}
	s.withIssue(w, r, func(rs *repoIssues, i *FakeIssue) {
		s.nextID++
		c := FakeComment{ID: s.nextID, Body: *body, Author: actor(r), At: s.now()}
		i.Comments = append(i.Comments, c)
		i.UpdatedAt = c.At
		writeJSON(w, http.StatusCreated, s.commentJSON(rs.name, i, c))
	})
}

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request) {
	s.withIssue(w, r, func(rs *repoIssues, i *FakeIssue) {
		start, end := s.paginate(w, r, len(i.Comments))
		out := make([]map[string]any, 0, end-start)
		for _, c := range i.Comments[start:end] {
			out = append(out, s.commentJSON(rs.name, i, c))
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// handleAddAssignees adds assignees; logins that cannot be assigned are
// dropped without a word, as GitHub does on this endpoint.
func (s *Server) handleAddAssignees(w http.ResponseWriter, r *http.Request) {
	f := readObject(w, r)
	logins := f.names("assignees")
	if !f.ok {
		return
	}
	s.withIssue(w, r, func(rs *repoIssues, i *FakeIssue) {
		if logins != nil {
			// Copilot coding agent is assigned on its own terms (copilot.go).
			rest, ok := s.assignCopilotLocked(w, r, f.obj, rs.name, i, *logins)
			if !ok {
				return
			}
			for _, l := range canonicalLogins(rs, rest) {
				if !slices.Contains(i.Assignees, l) && len(i.Assignees) < maxAssignees {
					i.Assignees = append(i.Assignees, l)
				}
			}
			i.UpdatedAt = s.now()
		}
		writeJSON(w, http.StatusCreated, s.issueJSONLocked(rs.name, i))
	})
}

func (s *Server) handleCheckAssignee(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, ok := s.repoLocked(repoOf(r)).collaborators[strings.ToLower(r.PathValue("login"))]
	s.mu.Unlock()
	if !ok {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/issues/assignees#check-if-a-user-can-be-assigned")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetLabel(w http.ResponseWriter, r *http.Request) {
	repo := repoOf(r)
	rs := s.lockRepo(r)
	defer s.mu.Unlock()
	l := rs.labels[strings.ToLower(r.PathValue("name"))]
	if l == nil {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/issues/labels#get-a-label")
		return
	}
	writeJSON(w, http.StatusOK, s.labelJSON(repo, l))
}

func (s *Server) handleListLabels(w http.ResponseWriter, r *http.Request) {
	repo := repoOf(r)
	rs := s.lockRepo(r)
	defer s.mu.Unlock()
	var ls []*fakeLabel
	for _, l := range rs.labels {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b *fakeLabel) int { return strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)) })
	start, end := s.paginate(w, r, len(ls))
	out := make([]map[string]any, 0, end-start)
	for _, l := range ls[start:end] {
		out = append(out, s.labelJSON(repo, l))
	}
	writeJSON(w, http.StatusOK, out)
}

var hexColor = regexp.MustCompile(`^[0-9a-fA-F]{6}$`)

func (s *Server) handleCreateLabel(w http.ResponseWriter, r *http.Request) {
	f := readObject(w, r)
	f.required("name")
	name, color, desc := f.str("name", false), f.str("color", true), f.str("description", true)
	if !f.ok {
		return
	}
	var errs []fieldError
	if strings.TrimSpace(*name) == "" {
		errs = append(errs, fieldError{Resource: "Label", Code: "missing_field", Field: "name"})
	}
	c := "ededed"
	if color != nil && *color != "" {
		if !hexColor.MatchString(strings.TrimPrefix(*color, "#")) {
			errs = append(errs, fieldError{Resource: "Label", Code: "invalid", Field: "color", Value: *color})
		}
		c = strings.ToLower(strings.TrimPrefix(*color, "#"))
	}
	if desc != nil && len([]rune(*desc)) > 100 {
		errs = append(errs, fieldError{Resource: "Label", Code: "custom", Field: "description",
			Message: "description is too long (maximum is 100 characters)"})
	}
	repo := repoOf(r)
	rs := s.lockRepo(r)
	defer s.mu.Unlock()
	if len(errs) == 0 && rs.labels[strings.ToLower(*name)] != nil {
		errs = append(errs, fieldError{Resource: "Label", Code: "already_exists", Field: "name"})
	}
	if len(errs) > 0 {
		validationFailed(w, errs...)
		return
	}
	l := s.labelLocked(rs, *name)
	l.color = c
	if desc != nil {
		l.description = *desc
	}
	writeJSON(w, http.StatusCreated, s.labelJSON(repo, l))
}

// searchTerm is one term of an issue search: a word or a quoted phrase.
var searchTerm = regexp.MustCompile(`"([^"]*)"|(\S+)`)

// handleSearchIssues searches issues the way runtimelink asks:
// free text (words and quoted phrases, all of which must match,
// case-insensitively), repo:, in:title/body/comments, is:issue/pr,
// is:open/closed, state:. An unknown qualifier matches nothing, as on
// GitHub, rather than everything.
func (s *Server) handleSearchIssues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		validationFailed(w, fieldError{Resource: "Search", Code: "missing", Field: "q"})
		return
	}
	var (
		text    []string
		repos   []string
		in      []string
		state   string
		unknown bool
	)
	for _, m := range searchTerm.FindAllStringSubmatch(q, -1) {
		if m[1] != "" || strings.HasPrefix(m[0], `"`) {
			text = append(text, strings.ToLower(m[1]))
			continue
		}
		k, v, qualified := strings.Cut(m[2], ":")
		switch {
		case !qualified:
			text = append(text, strings.ToLower(m[2]))
		case k == "repo":
			repos = append(repos, strings.ToLower(v))
		case k == "in":
			in = append(in, strings.Split(strings.ToLower(v), ",")...)
		case k == "is" && (v == "issue" || v == "pr"):
			if v == "pr" {
				unknown = true // the fake holds no pull requests
			}
		case (k == "is" || k == "state") && (v == "open" || v == "closed"):
			state = v
		default:
			unknown = true
		}
	}
	if len(in) == 0 {
		in = []string{"title", "body"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var hits []map[string]any
	if !unknown {
		for key, rs := range s.repos {
			if len(repos) > 0 && !slices.Contains(repos, key) {
				continue
			}
			for _, i := range rs.issues {
				if i.Deleted || i.MovedTo != "" || (state != "" && i.State != state) || !matches(i, in, text) {
					continue
				}
				hits = append(hits, s.issueJSONLocked(rs.name, i))
			}
		}
	}
	slices.SortFunc(hits, func(a, b map[string]any) int { return a["number"].(int) - b["number"].(int) })
	start, end := s.paginate(w, r, len(hits))
	items := hits[start:end]
	if items == nil {
		items = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(hits), "incomplete_results": false, "items": items})
}

func matches(i *FakeIssue, in, text []string) bool {
	var hay strings.Builder
	for _, f := range in {
		switch f {
		case "title":
			hay.WriteString(i.Title + "\n")
		case "body":
			hay.WriteString(i.Body + "\n")
		case "comments":
			for _, c := range i.Comments {
				hay.WriteString(c.Body + "\n")
			}
		}
	}
	h := strings.ToLower(hay.String())
	for _, t := range text {
		if !strings.Contains(h, t) {
			return false
		}
	}
	return true
}

// paginate applies per_page/page and writes the Link header.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, n int) (int, int) {
	q := r.URL.Query()
	perPage, page := 30, 1
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	last := max(1, (n+perPage-1)/perPage)
	start := min((page-1)*perPage, n)
	end := min(start+perPage, n)
	link := func(p int, rel string) string {
		v := url.Values{}
		for k, vals := range q {
			v[k] = vals
		}
		v.Set("page", strconv.Itoa(p))
		return fmt.Sprintf(`<%s%s%s?%s>; rel="%s"`, s.srv.URL, s.prefix, r.URL.Path, v.Encode(), rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(page-1, "prev"), link(1, "first"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	return start, end
}

func (s *Server) issueAPI(repo string, n int) string {
	return fmt.Sprintf("%s%s/repos/%s/issues/%d", s.srv.URL, s.prefix, repo, n)
}

func userJSON(login string) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{"login": login, "id": repoID("user:" + login), "type": typ,
		"html_url": "https://github.com/" + login}
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) issueJSONLocked(repo string, i *FakeIssue) map[string]any {
	rs := s.repoLocked(repo)
	labels := []map[string]any{}
	for _, n := range i.Labels {
		if l := rs.labels[strings.ToLower(n)]; l != nil {
			labels = append(labels, s.labelJSON(repo, l))
		}
	}
	assignees := []map[string]any{}
	for _, a := range i.Assignees {
		assignees = append(assignees, userJSON(a))
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	var reason, closedBy any
	if i.StateReason != "" {
		reason = i.StateReason
	}
	if i.ClosedBy != "" {
		closedBy = userJSON(i.ClosedBy)
	}
	api := s.issueAPI(repo, i.Number)
	return map[string]any{
		"id": repoID(repo)*1000 + int64(i.Number), "node_id": fmt.Sprintf("I_kw%d", i.Number),
		"url": api, "repository_url": fmt.Sprintf("%s%s/repos/%s", s.srv.URL, s.prefix, repo),
		"labels_url": api + "/labels{/name}", "comments_url": api + "/comments", "events_url": api + "/events",
		"html_url": fmt.Sprintf("https://github.com/%s/issues/%d", repo, i.Number),
		"number":   i.Number, "state": i.State, "state_reason": reason, "title": i.Title, "body": i.Body,
		"user": userJSON(i.Author), "labels": labels, "assignee": assignee, "assignees": assignees,
		"milestone": nil, "locked": false, "active_lock_reason": nil, "comments": len(i.Comments),
		"created_at": timeOrNil(i.CreatedAt), "updated_at": timeOrNil(i.UpdatedAt), "closed_at": timeOrNil(i.ClosedAt),
		"closed_by": closedBy, "author_association": "NONE",
	}
}

func (s *Server) commentJSON(repo string, i *FakeIssue, c FakeComment) map[string]any {
	return map[string]any{
		"id": c.ID, "node_id": fmt.Sprintf("IC_kw%d", c.ID),
		"url":       fmt.Sprintf("%s%s/repos/%s/issues/comments/%d", s.srv.URL, s.prefix, repo, c.ID),
		"html_url":  fmt.Sprintf("https://github.com/%s/issues/%d#issuecomment-%d", repo, i.Number, c.ID),
		"issue_url": s.issueAPI(repo, i.Number), "body": c.Body, "user": userJSON(c.Author),
		"created_at": timeOrNil(c.At), "updated_at": timeOrNil(c.At), "author_association": "NONE",
	}
}

func (s *Server) labelJSON(repo string, l *fakeLabel) map[string]any {
	var desc any
	if l.description != "" {
		desc = l.description
	}
	return map[string]any{"id": l.id, "node_id": fmt.Sprintf("LA_kw%d", l.id),
		"url":  fmt.Sprintf("%s%s/repos/%s/labels/%s", s.srv.URL, s.prefix, repo, url.PathEscape(l.name)),
		"name": l.name, "color": l.color, "default": false, "description": desc}
}
