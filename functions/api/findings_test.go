package api

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestParseFindingsQuery(t *testing.T) {
	tests := []struct {
		query   string
		wantErr string
		check   func(t *testing.T, f FindingsFilter, limit int)
	}{
		{query: "", check: func(t *testing.T, f FindingsFilter, limit int) {
			if limit != defaultFindingsLimit || f.Deployed != nil || len(f.Priorities) > 0 {
				t.Errorf("defaults: %+v limit %d", f, limit)
			}
		}},
		{query: "priority=critical,High&priority=high&limit=7&code=functionkey", check: func(t *testing.T, f FindingsFilter, limit int) {
			if !slices.Equal(f.Priorities, []model.Priority{model.PriorityCritical, model.PriorityHigh}) || limit != 7 {
				t.Errorf("%v %d", f.Priorities, limit)
			}
		}},
		{query: "risk=Internet+exposure,sensitive-data&deployed=yes&source=dependabot&state=open", check: func(t *testing.T, f FindingsFilter, _ int) {
			if !slices.Equal(f.Risks, []model.RiskFactor{model.RiskInternetExposed, model.RiskSensitiveData}) || f.Deployed == nil || !*f.Deployed ||
				!slices.Equal(f.Sources, []model.Source{model.SourceDependabot}) || !slices.Equal(f.States, []model.FindingState{model.StateOpen}) {
				t.Errorf("%+v", f)
			}
		}},
		{query: "deployed=no", check: func(t *testing.T, f FindingsFilter, _ int) {
			if f.Deployed == nil || *f.Deployed {
				t.Errorf("deployed = %v", f.Deployed)
			}
		}},
		{query: "priority=urgent", wantErr: `priority "urgent"`},
		{query: "risk=exposed", wantErr: `risk "exposed"`},
		{query: "deployed=maybe", wantErr: `deployed "maybe"`},
		{query: "source=snyk", wantErr: `source "snyk"`},
		{query: "state=closed", wantErr: `state "closed"`},
		{query: "repository=checkout-api", wantErr: `repository "checkout-api"`},
		{query: "limit=0", wantErr: `limit "0"`},
		{query: "limit=201", wantErr: `limit "201"`},
		{query: "cursor=%25%25", wantErr: "cursor"},
		{query: "severity=high", wantErr: `unknown parameter "severity"`},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			f, limit, _, err := ParseFindingsQuery(v)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, f, limit)
		})
	}
}

func fetchFindings(t *testing.T, base, query string) (status int, page FindingsPage, message string) {
	t.Helper()
	resp, body := get(t, base+"/api/findings?"+query)
	if resp.StatusCode != 200 {
		var e struct{ Message string }
		_ = json.Unmarshal(body, &e)
		return resp.StatusCode, page, e.Message
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return resp.StatusCode, page, ""
}

func TestFindingsAPI(t *testing.T) {
	s := seed(t)
	ids := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, s.IDs[n])
		}
		slices.Sort(out)
		return out
	}
	all := func(t *testing.T, query string) []model.Finding {
		t.Helper()
		var out []model.Finding
		cursor := ""
		for pages := 0; ; pages++ {
			q := query
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			status, page, msg := fetchFindings(t, s.URL, q)
			if status != 200 {
				t.Fatalf("%s: %d %s", q, status, msg)
			}
			out = append(out, page.Findings...)
			if page.Next == "" {
				return out
			}
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			cursor = page.Next
		}
	}
	idsOf := func(fs []model.Finding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, f.ID)
		}
		slices.Sort(out)
		return out
	}

	// Paging two at a time returns every finding exactly once.
	every := all(t, "limit=2")
	if got := idsOf(every); !slices.Equal(got, ids("billing", "fixed", "http2", "openssl", "semver", "sqli", "worker")) {
		t.Fatalf("all findings = %v", got)
	}
	for _, f := range every {
		if f.ETag != "" || f.ContentHash != "" {
			t.Errorf("%s carries storage metadata", f.ID)
		}
	}

	tests := []struct {
		query string
		want  []string
	}{
		{"priority=critical", ids("fixed", "http2", "sqli")},
		{"priority=critical&state=open", ids("http2", "sqli")},
		{"priority=Medium,low", ids("billing", "semver", "worker")},
		{"risk=internet-exposed&state=open", ids("http2", "openssl", "sqli")},
		{"risk=lateral-movement", nil},
		{"deployed=no", ids("billing", "semver")},
		{"deployed=yes&priority=medium", ids("worker")},
		{"source=dependabot", ids("semver")},
		{"source=defender_cve&deployed=no", ids("billing")},
		{"state=fixed", ids("fixed")},
		{"repository=octo-org/checkout-api&state=open", ids("http2", "openssl", "sqli")},
		{"repository=wolfy1339/pika-pack", ids("semver")},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := idsOf(all(t, tt.query+"&limit=2")); !slices.Equal(got, tt.want) {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}

	// Within one repository the answer is ordered, highest first.
	_, page, _ := fetchFindings(t, s.URL, "repository=octo-org/checkout-api&state=open")
	for i := 1; i < len(page.Findings); i++ {
		if page.Findings[i-1].Score < page.Findings[i].Score {
			t.Errorf("not highest first: %v then %v", page.Findings[i-1].Score, page.Findings[i].Score)
		}
	}

	// Malformed cursors answer 400 with a message, refused before any call
	// to Cosmos DB (cosmos.ErrMalformedCursor), never 500.
	_, first, _ := fetchFindings(t, s.URL, "limit=2")
	if first.Next == "" {
		t.Fatal("no second page to take a cursor from")
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for name, c := range map[string]string{
		"garbage":              "not a cursor!",
		"bad base64":           "%%%",
		"base64 of garbage":    b64([]byte("\x00\xff garbage")),
		"base64 of JSON":       b64([]byte(`{"q":"00","c":"{\"token\":\"x\"}"}`)),
		"base64 of a token":    b64([]byte(`{"token":"+RID:~AAAA#RT:1#TRC:2","range":{"min":"","max":"FF"}}`)),
		"truncated":            first.Next[:len(first.Next)-6],
		"other query's cursor": first.Next + "&priority=critical",
		"huge":                 strings.Repeat("A", 64<<10),
	} {
		q := "limit=2&cursor=" + url.QueryEscape(c)
		if name == "other query's cursor" {
			q = "limit=2&priority=critical&cursor=" + url.QueryEscape(first.Next)
		}
		if status, _, msg := fetchFindings(t, s.URL, q); status != 400 || !strings.Contains(msg, "cursor") {
			t.Errorf("%s: status %d %q, want 400 about the cursor", name, status, msg)
		}
	}

	for _, q := range []string{"priority=urgent", "cursor=%25%25", "limit=1000", "sort=score", "repository=" + url.QueryEscape(`octo-org/x" OR 1=1 --`)} {
		if status, _, msg := fetchFindings(t, s.URL, q); status != 400 || msg == "" {
			t.Errorf("%s: status %d %q, want 400 with a message", q, status, msg)
		}
	}
}
