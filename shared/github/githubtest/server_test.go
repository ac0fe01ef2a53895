package githubtest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
	"github.com/golang/snappy"

	"github.com/runtimelink/runtimelink/shared/model"
)

func appJWT(t testing.TB, pemKey []byte, iss string, ttl time.Duration) string {
	t.Helper()
	block, _ := pem.Decode(pemKey)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-30 * time.Second)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: iss, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func call(t testing.TB, method, u, auth string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// mint installs the App as installation id and mints a token for it.
func mint(t testing.TB, s *Server, id int64) string {
	t.Helper()
	s.AddInstallation(id, "octo-org")
	a := call(t, "POST", s.URL+"app/installations/"+strconv.FormatInt(id, 10)+"/access_tokens",
		"Bearer "+appJWT(t, s.PrivateKeyPEM, strconv.FormatInt(s.AppID, 10), 2*time.Minute))
	if a.status != http.StatusCreated {
		t.Fatalf("mint = %d %s", a.status, a.body)
	}
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(a.body, &tok); err != nil || !strings.HasPrefix(tok.Token, "ghs_") || tok.ExpiresAt.IsZero() {
		t.Fatalf("token answer = %s", a.body)
	}
	return tok.Token
}

func TestAuthentication(t *testing.T) {
	s := New(t)
	other := GenerateKey(t)
	good := appJWT(t, s.PrivateKeyPEM, strconv.FormatInt(s.AppID, 10), 2*time.Minute)
	tok := mint(t, s, 5)
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"JWT by another key", "POST", "app/installations/5/access_tokens", "Bearer " + appJWT(t, other, strconv.FormatInt(s.AppID, 10), time.Minute), 401},
		{"JWT for another app", "POST", "app/installations/5/access_tokens", "Bearer " + appJWT(t, s.PrivateKeyPEM, "1", time.Minute), 401},
		{"JWT living too long", "POST", "app/installations/5/access_tokens", "Bearer " + appJWT(t, s.PrivateKeyPEM, strconv.FormatInt(s.AppID, 10), time.Hour), 401},
		{"installation token on an App endpoint", "GET", "app/installations", "token " + tok, 401},
		{"JWT on an installation endpoint", "GET", "repos/o/r", "Bearer " + good, 401},
		{"unknown token", "GET", "repos/o/r", "token ghs_nope", 401},
		{"no credentials", "GET", "repos/o/r", "", 401},
		{"token scheme", "GET", "repos/o/r", "token " + tok, 200},
		{"Bearer scheme", "GET", "repos/o/r", "Bearer " + tok, 200},
		{"App JWT", "GET", "app/installations", "Bearer " + good, 200},
	}
	for _, tt := range tests {
		a := call(t, tt.method, s.URL+tt.path, tt.auth)
		if a.status != tt.want {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, a.status, tt.want, a.body)
		}
		for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} {
			if a.header.Get(h) == "" {
				t.Errorf("%s: no %s header", tt.name, h)
			}
		}
	}
	var inst int64
	for _, r := range s.Requests() {
		if r.Path == "/repos/o/r" && r.Status == 200 {
			inst = r.Installation
		}
	}
	if inst != 5 {
		t.Errorf("recorded installation = %d, want 5", inst)
	}
}

// GitHub mints tokens only for the App's own installations: an unknown id,
// or one uninstalled since, is a 404 with GitHub's body, and an uninstalled
// installation's tokens stop working.
func TestTokensOnlyForKnownInstallations(t *testing.T) {
	s := New(t)
	jwt := "Bearer " + appJWT(t, s.PrivateKeyPEM, strconv.FormatInt(s.AppID, 10), 2*time.Minute)
	wantNotFound := func(what string, a answer) {
		t.Helper()
		var body struct {
			Message string `json:"message"`
			Doc     string `json:"documentation_url"`
			Status  string `json:"status"`
		}
		if err := json.Unmarshal(a.body, &body); err != nil || a.status != http.StatusNotFound || body.Message != "Not Found" || body.Status != "404" ||
			body.Doc != "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app" {
			t.Errorf("%s: %d %s, want GitHub's 404", what, a.status, a.body)
		}
	}
	for _, id := range []string{"5", "0", "-1", "abc"} {
		wantNotFound("unknown installation "+id, call(t, "POST", s.URL+"app/installations/"+id+"/access_tokens", jwt))
	}
	tok := mint(t, s, 5)
	if a := call(t, "GET", s.URL+"repos/o/r", "token "+tok); a.status != http.StatusOK {
		t.Fatalf("token of an installed App = %d", a.status)
	}
	s.RemoveInstallation(5)
	wantNotFound("uninstalled", call(t, "POST", s.URL+"app/installations/5/access_tokens", jwt))
	if a := call(t, "GET", s.URL+"repos/o/r", "token "+tok); a.status != http.StatusUnauthorized {
		t.Errorf("token of an uninstalled App = %d, want 401", a.status)
	}
}

func TestQuotaAndETag(t *testing.T) {
	clock := NewClock(time.Time{})
	s := New(t, WithClock(clock), WithRateLimit(3))
	auth := "token " + mint(t, s, 1)
	first := call(t, "GET", s.URL+"repos/o/r", auth)
	etag := first.header.Get("ETag")
	if first.header.Get("X-RateLimit-Remaining") != "2" || etag == "" {
		t.Fatalf("first answer: remaining %s, etag %q", first.header.Get("X-RateLimit-Remaining"), etag)
	}
	nm := call(t, "GET", s.URL+"repos/o/r", auth, "If-None-Match", etag)
	if nm.status != http.StatusNotModified || len(nm.body) != 0 || nm.header.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("conditional answer = %d, remaining %s, body %q", nm.status, nm.header.Get("X-RateLimit-Remaining"), nm.body)
	}
	call(t, "GET", s.URL+"repos/o/r2", auth)
	call(t, "GET", s.URL+"repos/o/r3", auth)
	spent := call(t, "GET", s.URL+"repos/o/r4", auth)
	if spent.status != http.StatusForbidden || spent.header.Get("X-RateLimit-Remaining") != "0" ||
		!strings.Contains(string(spent.body), "API rate limit exceeded") {
		t.Fatalf("over the quota = %d %s", spent.status, spent.body)
	}
	reset, _ := strconv.ParseInt(spent.header.Get("X-RateLimit-Reset"), 10, 64)
	clock.Advance(time.Until(time.Unix(reset, 0)) + time.Hour) // past the reset on the fake clock
	if a := call(t, "GET", s.URL+"repos/o/r4", auth); a.status != 200 {
		t.Errorf("after the reset = %d", a.status)
	}
	counted := s.Count(func(r Request) bool { return r.Counted && r.Installation == 1 })
	if counted != 4 {
		t.Errorf("counted = %d, want 4 (not the 304, not the refused one)", counted)
	}
}

func TestFaults(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 1)
	s.Inject(Fault{Method: "GET", Path: "/repos/", Skip: 1, Times: 2, Status: 403, Secondary: true, RetryAfter: 7})
	var got []int
	for range 4 {
		a := call(t, "GET", s.URL+"repos/o/r", auth)
		got = append(got, a.status)
		if a.status == 403 && (a.header.Get("Retry-After") != "7" || !strings.Contains(string(a.body), "secondary rate limit")) {
			t.Errorf("secondary answer: Retry-After %q, body %s", a.header.Get("Retry-After"), a.body)
		}
	}
	if want := []int{200, 403, 403, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	s.Inject(Fault{Method: "POST", Status: 429, RetryAfter: 3})
	a := call(t, "POST", s.URL+"repos/o/r/issues", auth)
	if a.status != 429 || a.header.Get("Retry-After") != "3" {
		t.Errorf("429 fault = %d, Retry-After %q", a.status, a.header.Get("Retry-After"))
	}
}

var linkRE = regexp.MustCompile(`<([^>]+)>; rel="(\w+)"`)

func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(h.Get("Link"), -1) {
		out[m[2]] = m[1]
	}
	return out
}

func TestAlertPagination(t *testing.T) {
	s := New(t, WithPathPrefix("/api/v3"))
	auth := "token " + mint(t, s, 1)
	for _, src := range []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning} {
		s.SetAlerts("octo-org", src, GenerateAlerts(t, src, 25, "octo-org/a", "octo-org/b"))
	}

	// Page numbers: next, last, and on later pages prev and first.
	a := call(t, "GET", s.URL+"orgs/octo-org/code-scanning/alerts?per_page=10&state=open", auth)
	l := links(a.header)
	if a.status != 200 || !strings.Contains(l["next"], "page=2") || !strings.Contains(l["last"], "page=3") ||
		!strings.Contains(l["next"], "state=open") || !strings.Contains(l["next"], "/api/v3/organizations/") {
		t.Fatalf("page 1: %d links %v", a.status, l)
	}
	a = call(t, "GET", l["next"], auth) // the Link URL itself works
	if l2 := links(a.header); a.status != 200 || l2["prev"] == "" || l2["first"] == "" {
		t.Fatalf("page 2: %d links %v", a.status, l2)
	}

	// Dependabot: cursors only.
	if a := call(t, "GET", s.URL+"orgs/octo-org/dependabot/alerts?page=2", auth); a.status != http.StatusBadRequest {
		t.Errorf("dependabot with page = %d, want 400", a.status)
	}
	var numbers []int
	next := s.URL + "orgs/octo-org/dependabot/alerts?per_page=10"
	for next != "" {
		a := call(t, "GET", next, auth)
		var page []struct {
			Number     int `json:"number"`
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			t.Fatalf("decode page: %v", err)
		}
		for _, p := range page {
			numbers = append(numbers, p.Number)
			if p.Repository.FullName == "" {
				t.Errorf("alert %d has no repository", p.Number)
			}
		}
		l := links(a.header)
		if l["next"] != "" && !strings.Contains(l["next"], "after=") {
			t.Errorf("dependabot next link %s has no cursor", l["next"])
		}
		if _, ok := l["last"]; ok {
			t.Error("a cursor listing announced a last page")
		}
		next = l["next"]
	}
	if len(numbers) != 25 || numbers[0] != 1 || numbers[24] != 25 {
		t.Errorf("dependabot numbers = %v", numbers)
	}

	// Secret scanning switches to cursors on an empty after; before goes back.
	a = call(t, "GET", s.URL+"orgs/octo-org/secret-scanning/alerts?per_page=10&after=", auth)
	l = links(a.header)
	u, _ := url.Parse(l["next"])
	if u == nil || u.Query().Get("after") == "" || u.Query().Has("page") {
		t.Fatalf("secret scanning cursor links = %v", l)
	}
	a = call(t, "GET", s.URL+"orgs/octo-org/secret-scanning/alerts?per_page=10&after="+u.Query().Get("after"), auth)
	prev := links(a.header)["prev"]
	back := call(t, "GET", prev, auth)
	var firstPage []map[string]any
	_ = json.Unmarshal(back.body, &firstPage)
	if len(firstPage) != 10 || firstPage[0]["number"] != float64(1) {
		t.Errorf("before cursor returned %d alerts starting at %v", len(firstPage), firstPage[0]["number"])
	}
	if a := call(t, "GET", s.URL+"orgs/octo-org/dependabot/alerts?after=bogus", auth); a.status != 400 {
		t.Errorf("bogus cursor = %d, want 400", a.status)
	}
	if a := call(t, "GET", s.URL+"orgs/nobody/dependabot/alerts", auth); a.status != 404 {
		t.Errorf("unknown org = %d, want 404", a.status)
	}
}

func TestGeneratedAlertsKeepTheRealShape(t *testing.T) {
	for _, src := range []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning} {
		alerts := GenerateAlerts(t, src, 3, "octo-org/a", "octo-org/b")
		var a map[string]any
		if err := json.Unmarshal(alerts[1], &a); err != nil {
			t.Fatal(err)
		}
		repo, _ := a["repository"].(map[string]any)
		if a["number"] != float64(2) || repo["full_name"] != "octo-org/b" || a["state"] == nil ||
			!strings.HasSuffix(a["html_url"].(string), "/2") || !strings.Contains(a["url"].(string), "octo-org/b") {
			t.Errorf("%s alert 2 = number %v repo %v state %v url %v", src, a["number"], repo["full_name"], a["state"], a["url"])
		}
		switch src {
		case model.SourceCodeScanning:
			if a["rule"].(map[string]any)["id"] != "java/sql-injection" || a["most_recent_instance"] == nil {
				t.Errorf("code scanning alert lost the template's rule or instance: %v", a["rule"])
			}
		case model.SourceDependabot:
			if a["security_advisory"].(map[string]any)["ghsa_id"] != "GHSA-c2qf-rxjj-qqgw" {
				t.Errorf("dependabot alert lost the advisory")
			}
		case model.SourceSecretScanning:
			if a["secret_type"] != "adafruit_io_key" {
				t.Errorf("secret scanning alert lost the secret type")
			}
		}
	}
}

func TestContentsAndAttestations(t *testing.T) {
	s := New(t)
	auth := "token " + mint(t, s, 1)
	s.SetFile("octo-org/app", "docs/CODEOWNERS", []byte("* @octo-org/docs\n"))
	raw := call(t, "GET", s.URL+"repos/octo-org/app/contents/docs/CODEOWNERS", auth, "Accept", "application/vnd.github.raw+json")
	if raw.status != 200 || string(raw.body) != "* @octo-org/docs\n" || raw.header.Get("ETag") != `"`+gitBlobSHA(raw.body)+`"` {
		t.Fatalf("raw contents = %d %q etag %s", raw.status, raw.body, raw.header.Get("ETag"))
	}
	obj := call(t, "GET", s.URL+"repos/octo-org/app/contents/docs/CODEOWNERS", auth)
	var c map[string]any
	if err := json.Unmarshal(obj.body, &c); err != nil || c["type"] != "file" || c["encoding"] != "base64" {
		t.Fatalf("json contents = %s", obj.body)
	}
	if a := call(t, "GET", s.URL+"repos/octo-org/app/contents/CODEOWNERS", auth); a.status != 404 {
		t.Errorf("missing file = %d", a.status)
	}

	digest := "sha256:" + strings.Repeat("ab", 32)
	if a := call(t, "GET", s.URL+"orgs/octo-org/attestations/"+digest, auth); a.status != 404 {
		t.Errorf("no attestation = %d, want 404", a.status)
	}
	bundle := ProvenanceBundle(t, Build{Digest: digest, Repository: "octo-org/app", Workflow: "w.yml", Ref: "refs/heads/main", Commit: "c0ffee"})
	s.AddAttestation("octo-org", digest, Attestation{Repository: "octo-org/app", OnlyByURL: true, Bundle: bundle})
	a := call(t, "GET", s.URL+"orgs/octo-org/attestations/"+digest+"?predicate_type=provenance", auth)
	var body struct {
		Attestations []struct {
			Bundle       json.RawMessage `json:"bundle"`
			RepositoryID int64           `json:"repository_id"`
			BundleURL    string          `json:"bundle_url"`
		} `json:"attestations"`
	}
	if err := json.Unmarshal(a.body, &body); err != nil || len(body.Attestations) != 1 ||
		string(body.Attestations[0].Bundle) != "null" || body.Attestations[0].BundleURL == "" {
		t.Fatalf("attestations = %s", a.body)
	}
	if a := call(t, "GET", s.URL+"orgs/octo-org/attestations/"+digest+"?predicate_type=sbom", auth); a.status != 404 {
		t.Errorf("sbom filter = %d, want 404", a.status)
	}
	blob := call(t, "GET", body.Attestations[0].BundleURL, "")
	if got, err := snappy.Decode(nil, blob.body); blob.status != 200 || err != nil || !bytes.Equal(got, bundle) {
		t.Errorf("bundle_url = %d, Snappy-decoded %v: %.60q", blob.status, err, got)
	}
}
