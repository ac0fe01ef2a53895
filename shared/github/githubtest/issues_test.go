package githubtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func send(t *testing.T, method, u, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	// Transfers answer 301: see it rather than follow it.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

func decode(t *testing.T, a answer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not an object: %s", a.status, a.body)
	}
	return m
}

func TestIssueValidation(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 1)
	s.SetCollaborators("o/r", "alice")
	issues := s.URL + "repos/o/r/issues"
	created := send(t, "POST", issues, auth, `{"title":"t","body":"b"}`)
	if created.status != 201 {
		t.Fatalf("create = %d %s", created.status, created.body)
	}
	tests := []struct {
		name, method, path, body string
		want                     int
		says                     string
	}{
		{"not JSON", "POST", "", `{`, 400, "Problems parsing JSON"},
		{"null body", "POST", "", `null`, 422, "is not an object"},
		{"array body", "PATCH", "/1", `[1]`, 422, "is not an object"},
		{"empty body", "PATCH", "/1", ``, 400, "Problems parsing JSON"},
		{"no title", "POST", "", `{"body":"x"}`, 422, `\"title\" wasn't supplied`},
		{"blank title", "POST", "", `{"title":"  "}`, 422, "missing_field"},
		{"title too long", "POST", "", `{"title":"` + strings.Repeat("x", 257) + `"}`, 422, "title is too long"},
		{"body too long", "POST", "", `{"title":"t","body":"` + strings.Repeat("x", 65537) + `"}`, 422, "body is too long"},
		{"title object", "POST", "", `{"title":{}}`, 422, "not a string"},
		{"labels not array", "POST", "", `{"title":"t","labels":"x"}`, 422, "not an array"},
		{"assignee not a collaborator", "POST", "", `{"title":"t","assignees":["mallory"]}`, 422, `"field":"assignees"`},
		{"bogus state", "PATCH", "/1", `{"state":"bogus"}`, 422, `'properties/state', \"bogus\" is not one of`},
		{"bogus state_reason", "PATCH", "/1", `{"state":"closed","state_reason":"wontfix"}`, 422, "state_reason"},
		{"null title on patch", "PATCH", "/1", `{"title":null}`, 422, "nil is not a string"},
		{"no such issue", "PATCH", "/99", `{"title":"x"}`, 404, "Not Found"},
		{"comment without body", "POST", "/1/comments", `{}`, 422, `\"body\" wasn't supplied`},
		{"comment null", "POST", "/1/comments", `null`, 422, "is not an object"},
		{"label without name", "POST", "/../labels", `{"color":"ff0000"}`, 422, `\"name\" wasn't supplied`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := issues + tc.path
			if strings.HasPrefix(tc.path, "/../") {
				u = s.URL + "repos/o/r/" + strings.TrimPrefix(tc.path, "/../")
			}
			a := send(t, tc.method, u, auth, tc.body)
			if a.status != tc.want || !strings.Contains(string(a.body), tc.says) {
				t.Errorf("%s %s = %d %s, want %d saying %q", tc.method, tc.path, a.status, a.body, tc.want, tc.says)
			}
		})
	}
	// Nothing refused changed the issue.
	if i := s.Issue("o/r", 1); i.State != "open" || i.Title != "t" || len(s.IssueList("o/r")) != 1 {
		t.Errorf("issue after refused requests = %+v", i)
	}
}

func TestIssueLifecycle(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 1)
	s.SetCollaborators("o/r", "Alice", "bob")
	a := send(t, "POST", s.URL+"repos/o/r/issues", auth,
		`{"title":"CVE","body":"<!-- runtimelink:group=image:abc -->\nhello","labels":["security","priority:high"],"assignees":["alice"]}`)
	m := decode(t, a)
	if a.status != 201 || m["number"] != 1.0 || m["state"] != "open" || m["state_reason"] != nil ||
		m["user"].(map[string]any)["login"] != BotLogin || !strings.HasSuffix(a.header.Get("Location"), "/repos/o/r/issues/1") {
		t.Fatalf("create = %d %s", a.status, a.body)
	}
	if got := m["assignees"].([]any); len(got) != 1 || got[0].(map[string]any)["login"] != "Alice" {
		t.Errorf("assignees = %v, want GitHub's spelling Alice", got)
	}
	if c := s.LabelColor("o/r", "priority:high"); c != "ededed" {
		t.Errorf("label made on first use has colour %q, want GitHub's default ededed", c)
	}

	// Read back what was written.
	g := decode(t, send(t, "GET", s.URL+"repos/o/r/issues/1", auth, ""))
	if g["title"] != "CVE" || !strings.Contains(g["body"].(string), "hello") || len(g["labels"].([]any)) != 2 {
		t.Errorf("get = %v", g)
	}

	// Close as not planned, then reopen: state_reason follows GitHub.
	p := decode(t, send(t, "PATCH", s.URL+"repos/o/r/issues/1", auth, `{"state":"closed","state_reason":"not_planned","labels":[]}`))
	if p["state"] != "closed" || p["state_reason"] != "not_planned" || p["closed_at"] == nil || len(p["labels"].([]any)) != 0 {
		t.Errorf("close = %v", p)
	}
	p = decode(t, send(t, "PATCH", s.URL+"repos/o/r/issues/1", auth, `{"state":"open"}`))
	if p["state"] != "open" || p["state_reason"] != "reopened" || p["closed_at"] != nil {
		t.Errorf("reopen = %v", p)
	}
	p = decode(t, send(t, "PATCH", s.URL+"repos/o/r/issues/1", auth, `{"state":"closed"}`))
	if p["state_reason"] != "completed" {
		t.Errorf("close without a reason = %v, want completed", p["state_reason"])
	}

	// Adding assignees drops who cannot be assigned, silently.
	a = send(t, "POST", s.URL+"repos/o/r/issues/1/assignees", auth, `{"assignees":["bob","mallory"]}`)
	if got := s.Issue("o/r", 1).Assignees; a.status != 201 || !slices.Equal(got, []string{"Alice", "bob"}) {
		t.Errorf("add assignees = %d, assignees %v", a.status, got)
	}
	if a := send(t, "GET", s.URL+"repos/o/r/assignees/bob", auth, ""); a.status != 204 {
		t.Errorf("check bob = %d", a.status)
	}
	if a := send(t, "GET", s.URL+"repos/o/r/assignees/mallory", auth, ""); a.status != 404 {
		t.Errorf("check mallory = %d", a.status)
	}

	// Comments, listed with pagination.
	for range 3 {
		if a := send(t, "POST", s.URL+"repos/o/r/issues/1/comments", auth, `{"body":"c"}`); a.status != 201 {
			t.Fatalf("comment = %d %s", a.status, a.body)
		}
	}
	a = send(t, "GET", s.URL+"repos/o/r/issues/1/comments?per_page=2", auth, "")
	var cs []map[string]any
	_ = json.Unmarshal(a.body, &cs)
	if len(cs) != 2 || !strings.Contains(a.header.Get("Link"), `rel="next"`) {
		t.Errorf("comments page 1 = %d items, Link %q", len(cs), a.header.Get("Link"))
	}

	// Labels: create with a colour, refuse a second one of the same name.
	if a := send(t, "POST", s.URL+"repos/o/r/labels", auth, `{"name":"runtime:internet-exposed","color":"B60205"}`); a.status != 201 {
		t.Errorf("create label = %d %s", a.status, a.body)
	}
	if a := send(t, "POST", s.URL+"repos/o/r/labels", auth, `{"name":"Runtime:Internet-Exposed","color":"000000"}`); a.status != 422 || !strings.Contains(string(a.body), "already_exists") {
		t.Errorf("duplicate label = %d %s", a.status, a.body)
	}
	if a := send(t, "GET", s.URL+"repos/o/r/labels/"+url.PathEscape("runtime:internet-exposed"), auth, ""); a.status != 200 || decode(t, a)["color"] != "b60205" {
		t.Errorf("get label = %d %s", a.status, a.body)
	}

	// Search by the marker, with repo:, in:body and is:issue.
	search := func(q string) float64 {
		a := send(t, "GET", s.URL+"search/issues?q="+url.QueryEscape(q), auth, "")
		if a.status != 200 {
			t.Fatalf("search %q = %d %s", q, a.status, a.body)
		}
		return decode(t, a)["total_count"].(float64)
	}
	marker := `"<!-- runtimelink:group=image:abc -->"`
	for q, want := range map[string]float64{
		marker + " repo:o/r in:body is:issue":     1,
		marker + " repo:O/R in:body is:issue":     1,
		marker + " repo:o/other in:body is:issue": 0,
		marker + " repo:o/r in:title is:issue":    0,
		`"group=image:abd" repo:o/r in:body`:      0,
		marker + " repo:o/r is:pr":                0,
		marker + " repo:o/r label:nope":           0,
	} {
		if got := search(q); got != want {
			t.Errorf("search %q = %v, want %v", q, got, want)
		}
	}

	// Transfer: the old address answers 301 to the new one; delete: 410.
	n := s.TransferIssue("o/r", 1, "o/new")
	a = send(t, "GET", s.URL+"repos/o/r/issues/1", auth, "")
	if a.status != 301 || !strings.Contains(a.header.Get("Location"), "/repositories/") {
		t.Fatalf("transferred = %d %s", a.status, a.body)
	}
	if got := decode(t, send(t, "GET", a.header.Get("Location"), auth, "")); got["number"] != float64(n) || !strings.HasSuffix(got["repository_url"].(string), "/repos/o/new") {
		t.Errorf("follow transfer = %v", got)
	}
	s.DeleteIssue("o/new", n)
	if a := send(t, "GET", s.URL+"repos/o/new/issues/1", auth, ""); a.status != 410 {
		t.Errorf("deleted = %d %s", a.status, a.body)
	}
}

func TestContentLimits(t *testing.T) {
	clock := NewClock(time.Time{})
	s := New(t, WithClock(clock), WithContentLimits(ContentLimits{PerMinute: 3, PerHour: 5, Status: 429}))
	auth := "token " + mint(t, s, 1)
	other := "token " + mint(t, s, 2)
	post := func(auth string) answer {
		return send(t, "POST", s.URL+"repos/o/r/issues", auth, `{"title":"t"}`)
	}
	for i := range 3 {
		if a := post(auth); a.status != 201 {
			t.Fatalf("write %d = %d", i, a.status)
		}
		clock.Advance(time.Second)
	}
	a := post(auth)
	if a.status != 429 || a.header.Get("Retry-After") != "57" || !strings.Contains(string(a.body), "secondary rate limit") {
		t.Fatalf("4th write in a minute = %d Retry-After %q %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	// Reads are not content creation; another installation has its own window.
	if a := send(t, "GET", s.URL+"repos/o/r/issues/1", auth, ""); a.status != 200 {
		t.Errorf("read while limited = %d", a.status)
	}
	if a := post(other); a.status != 201 {
		t.Errorf("other installation = %d", a.status)
	}
	clock.Advance(57 * time.Second)
	for i := range 2 {
		if a := post(auth); a.status != 201 {
			t.Fatalf("write after the minute %d = %d", i, a.status)
		}
		clock.Advance(2 * time.Second)
	}
	// Five in the hour: the hour window holds until the first leaves it.
	a = post(auth)
	if a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("6th write in an hour = %d", a.status)
	}
	if n := s.SecondaryLimited(); n != 2 {
		t.Errorf("SecondaryLimited = %d, want 2", n)
	}
	if got := len(s.IssueList("o/r")); got != 6 {
		t.Errorf("issues created = %d, want 6: five and the other installation's one (refused ones create nothing)", got)
	}
}

// The search API's own limit: 30 a minute per installation at GitHub
// (3 here), a fixed window; over it, 403 with the search rate headers
// and GitHub's "API rate limit exceeded" message. Searches do not spend the core
// quota, and another installation has its own window.
func TestSearchLimit(t *testing.T) {
	clock := NewClock(time.Time{})
	s := New(t, WithClock(clock), WithRateLimit(100), WithContentLimits(ContentLimits{SearchPerMinute: 3}))
	auth := "token " + mint(t, s, 1)
	search := func(auth string) answer {
		return send(t, "GET", s.URL+"search/issues?q="+url.QueryEscape(`repo:o/r "marker"`), auth, "")
	}
	for i := range 3 {
		a := search(auth)
		if a.status != 200 || a.header.Get("X-RateLimit-Resource") != "search" || a.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("search %d = %d, resource %q remaining %q", i, a.status, a.header.Get("X-RateLimit-Resource"), a.header.Get("X-RateLimit-Remaining"))
		}
		clock.Advance(time.Second)
	}
	a := search(auth)
	reset, _ := strconv.ParseInt(a.header.Get("X-RateLimit-Reset"), 10, 64)
	if a.status != 403 || a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Resource") != "search" ||
		!strings.Contains(string(a.body), "API rate limit exceeded for installation ID 1.") || reset != clock.Now().Add(57*time.Second).Unix() {
		t.Fatalf("4th search in a minute = %d %v %s (now %d)", a.status, a.header, a.body, clock.Now().Unix())
	}
	if got := send(t, "GET", s.URL+"repos/o/r/issues", auth, ""); got.status != 200 || got.header.Get("X-RateLimit-Remaining") != "99" {
		t.Errorf("core quota after 3 searches: %d remaining %q", got.status, got.header.Get("X-RateLimit-Remaining"))
	}
	if got := search("token " + mint(t, s, 2)); got.status != 200 {
		t.Errorf("another installation's search = %d", got.status)
	}
	clock.Advance(57 * time.Second)
	if got := search(auth); got.status != 200 {
		t.Errorf("search in the next window = %d", got.status)
	}
	if n := s.SearchLimited(); n != 1 {
		t.Errorf("SearchLimited = %d, want 1", n)
	}
}
