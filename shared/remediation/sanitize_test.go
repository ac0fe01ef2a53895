package remediation

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	goldmarkhtml "github.com/yuin/goldmark/renderer/html"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// gfm renders GitHub Flavored Markdown (tables, autolinks, strikethrough)
// the way GitHub's parser does; raw HTML is omitted, as GitHub sanitizes it.
var gfm = goldmark.New(goldmark.WithExtensions(extension.GFM))

// gfmRaw keeps raw HTML, to see which tags a whole body brings.
var gfmRaw = goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(goldmarkhtml.WithUnsafe()))

func renderGFM(t testing.TB, src string) string {
	t.Helper()
	var b bytes.Buffer
	if err := gfm.Convert([]byte(src), &b); err != nil {
		t.Fatalf("render %q: %v", src, err)
	}
	return b.String()
}

var (
	tagRE  = regexp.MustCompile(`<[^>]*>`)
	codeRE = regexp.MustCompile(`(?s)<code>.*?</code>`)
	// The tags a body may bring: Markdown's own and runtimelink's marker
	// and footer; every link is checked on its own.
	allowedTagRE = regexp.MustCompile(`^</?(p|h3|table|thead|tbody|tr|th|td|ul|li|strong|em|code|sub)( align="[a-z]+")?>$|^<a href="[^"]*">$|^</a>$|^<!-- runtimelink:group=g -->$`)
	// What GitHub links in text after Markdown: mentions, issue
	// references (#1, org/repo#1, GH-1), bare URLs.
	mentionRE = regexp.MustCompile(`@[A-Za-z0-9]`)
	refRE     = regexp.MustCompile(`(?i)#\d|\bgh-\d`)
	bareURLRE = regexp.MustCompile(`(?i)://|www\.`)
	tdRE      = regexp.MustCompile(`<td>`)
)

// checkInert asserts that out, rendered in a table cell and in a list
// item, creates no link, image or HTML, keeps the table's columns, and
// leaves no text GitHub would turn into a mention or reference.
func checkInert(t testing.TB, in, out string) {
	t.Helper()
	if strings.Contains(out, "-->") {
		t.Errorf("%q → %q closes a comment", in, out)
	}
	if strings.ContainsAny(out, "\r\n") {
		t.Errorf("%q → %q breaks the line", in, out)
	}
	cell := renderGFM(t, "| a | b |\n| --- | --- |\n| "+out+" | end |\n")
	if n := len(tdRE.FindAllString(cell, -1)); n != 2 || !strings.Contains(cell, "<td>end</td>") {
		t.Errorf("%q → %q breaks the table row (%d cells):\n%s", in, out, n, cell)
	}
	for _, doc := range []string{cell, renderGFM(t, "- "+out+"\n"), renderGFM(t, "text "+out+" text\n")} {
		for _, bad := range []string{"<a ", "<img", "raw HTML omitted", "<h", "<script"} {
			if strings.Contains(doc, bad) {
				t.Errorf("%q → %q renders %s:\n%s", in, out, bad, doc)
			}
		}
		text := textOf(doc)
		for _, re := range []*regexp.Regexp{mentionRE, refRE, bareURLRE} {
			if m := re.FindString(text); m != "" {
				t.Errorf("%q → %q leaves %q for GitHub to link:\n%s", in, out, m, text)
			}
		}
	}
}

// textOf is the text GitHub scans for mentions and references: code
// spans are left alone.
func textOf(doc string) string {
	return html.UnescapeString(tagRE.ReplaceAllString(codeRE.ReplaceAllString(doc, ""), ""))
}

var hostile = []string{
	"[text](https://evil.example)",
	"![](https://evil.example/i.png)",
	"![alt][ref]\n\n[ref]: https://evil.example",
	`a \| b`,
	`a \\| b`,
	"a | b | c",
	"@octocat please look",
	"ping @octo-org/admins",
	"see octo-org/checkout-api#1 and #2",
	"GH-12 gh-13",
	"end --> <!-- again",
	"<img src=x onerror=alert(1)>",
	"<https://evil.example>",
	"https://evil.example/path www.evil.example",
	"mail me: root@evil.example",
	"`code` and ``more``",
	"&lt;img src=x&gt; &#64;octocat",
	"**bold** _em_ ~~strike~~",
	"# heading\n## second",
	"line one\nline two\r\nthree",
	"[x]: https://evil.example",
	"trailing backslash \\",
}

func TestMdCellIsInert(t *testing.T) {
	for _, in := range hostile {
		checkInert(t, in, mdCell(in))
	}
	// Text stays readable: the escapes render as the original characters.
	if got := renderGFM(t, mdCell("fix [CVE] (now) a|b")); !strings.Contains(got, "fix [CVE] (now) a|b") {
		t.Errorf("escaped text renders as %q", got)
	}
}

func TestMdCodeIsInert(t *testing.T) {
	for _, in := range hostile {
		out := mdCode(in)
		cell := renderGFM(t, "| a | b |\n| --- | --- |\n| `"+out+"` | end |\n")
		if n := len(tdRE.FindAllString(cell, -1)); n != 2 || !strings.Contains(cell, "<td>end</td>") {
			t.Errorf("%q → `%s` breaks the table row:\n%s", in, out, cell)
		}
		for _, bad := range []string{"<a ", "<img", "raw HTML omitted"} {
			if strings.Contains(cell, bad) {
				t.Errorf("%q → `%s` renders %s:\n%s", in, out, bad, cell)
			}
		}
		if strings.Count(cell, "<code>") != 1 {
			t.Errorf("%q → `%s` leaves its code span:\n%s", in, out, cell)
		}
	}
}

func FuzzMdCell(f *testing.F) {
	for _, s := range hostile {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return // GitHub rejects invalid UTF-8 before it renders anything
		}
		checkInert(t, in, mdCell(in))
	})
}

func TestSafeURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://github.com/octo-org/checkout-api/security/code-scanning/3": true,
		"https://octo.ghe.com/octo-org/app/security/dependabot/1":           true,
		"http://github.com/x":                   false,
		"https://evil.example/x":                false,
		"https://github.com.evil.example/x":     false,
		"javascript:alert(1)":                   false,
		"https://github.com/x)[y](https://evil": false,
		"https://user@github.com/x":             false,
	} {
		if got := safeURL(u) != ""; got != want {
			t.Errorf("safeURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// hostileFinding carries attacker text in every field the body shows.
func hostileFinding(s string) model.Finding {
	f := cve("CVE-2024-1", model.PriorityCritical, true)
	f.Title, f.Description, f.Tool, f.Severity = s, s, s, s
	f.CVE, f.GHSA, f.RuleID = s, s, s
	f.AlertURL, f.AlertNumber = s, 3
	f.DefenderIDs = append(f.DefenderIDs, "/subscriptions/x/providers/Microsoft.Security/assessments/"+s, s)
	f.Image = "octoacr.azurecr.io/" + s
	f.Package = &model.Package{Name: s, Version: s, FixedVersion: s}
	f.Location = model.Location{Path: s, Manifest: s, Dockerfile: s}
	f.Explanation.Factors = append(f.Explanation.Factors, model.Factor{Name: s, Op: "+", Source: s},
		model.Factor{Name: string(model.RiskInternetExposed), Op: "+", Value: 1, Source: s})
	return f
}

func TestRenderIssueKeepsHostileTextInert(t *testing.T) {
	for _, kind := range []string{model.GroupKindImage, model.GroupKindAlert} {
		for _, s := range hostile {
			f := hostileFinding(s)
			if kind == model.GroupKindAlert {
				f.Source, f.Image = model.SourceCodeScanning, ""
			}
			g := model.Group{ID: "g", Repository: repo, Kind: kind, Image: f.Image, Owners: []string{"@" + s, "@octo-org/" + s}}
			d := RenderIssue(IssueInput{Group: g, Findings: []model.Finding{f}, Cloud: mapping.CloudPublic})
			if strings.ContainsAny(d.Title, "\r\n") || utf8.RuneCountInString(d.Title) > MaxTitle {
				t.Errorf("title %q", d.Title)
			}
			var raw bytes.Buffer
			if err := gfmRaw.Convert([]byte(d.Body), &raw); err != nil {
				t.Fatal(err)
			}
			rendered := raw.String()
			for _, tag := range tagRE.FindAllString(rendered, -1) {
				if !allowedTagRE.MatchString(tag) {
					t.Errorf("%s group, %q: body renders %s", kind, s, tag)
				}
			}
			// The only links are the ones runtimelink makes.
			for _, a := range regexp.MustCompile(`<a href="[^"]*"`).FindAllString(rendered, -1) {
				if !strings.HasPrefix(a, `<a href="https://nvd.nist.gov/vuln/detail/CVE-`) && !strings.HasPrefix(a, `<a href="https://github.com/advisories/GHSA-`) &&
					!strings.HasPrefix(a, `<a href="https://portal.azure.com/#resource/subscriptions/`) {
					t.Errorf("%s group, %q: body links %s", kind, s, a)
				}
			}
			if strings.Count(d.Body, "-->") != 1 || !strings.HasPrefix(d.Body, Marker("g")+"\n") {
				t.Errorf("%s group, %q: the marker is not the only comment", kind, s)
			}
			text := textOf(rendered)
			if m := mentionRE.FindAllString(text, -1); len(m) > 0 {
				t.Errorf("%s group, %q: mentions %v in\n%s", kind, s, m, text)
			}
			if m := refRE.FindAllString(text, -1); len(m) > 0 {
				t.Errorf("%s group, %q: references %v in\n%s", kind, s, m, text)
			}
		}
	}
}

func TestRenderIssueBounds(t *testing.T) {
	huge := strings.Repeat("é|[x](https://e) ", 4_000)
	var fs []model.Finding
	for i := range 300 {
		f := hostileFinding(huge)
		f.ID = "defender_cve:" + strings.Repeat("z", i)
		f.CVE, f.Image = "", "octoacr.azurecr.io/checkout-api"
		fs = append(fs, f)
	}
	for _, kind := range []string{model.GroupKindImage, model.GroupKindAlert} {
		g := model.Group{ID: "g", Repository: repo, Kind: kind, Image: "octoacr.azurecr.io/checkout-api"}
		d := RenderIssue(IssueInput{Group: g, Findings: fs, Related: fs})
		if n := utf8.RuneCountInString(d.Title); n > MaxTitle || !utf8.ValidString(d.Title) {
			t.Errorf("%s: title of %d characters", kind, n)
		}
		if len(d.Body) > MaxBody || !utf8.ValidString(d.Body) || !strings.HasPrefix(d.Body, Marker("g")) {
			t.Errorf("%s: body of %d bytes, valid %v", kind, len(d.Body), utf8.ValidString(d.Body))
		}
		// An image issue lists a hundred rows of long cells and is cut;
		// an alert issue shows one alert, each field bounded.
		if cut := strings.Contains(d.Body, "cut to GitHub's size limit"); cut != (kind == model.GroupKindImage) {
			t.Errorf("%s: body of %d bytes cut %v", kind, len(d.Body), cut)
		}
	}
}

// checkBodyInert asserts a whole Markdown body (an issue's or a
// comment's) renders only runtimelink's own tags and links, and leaves no
// mention or reference for GitHub to make.
func checkBodyInert(t *testing.T, what, body string) {
	t.Helper()
	var raw bytes.Buffer
	if err := gfmRaw.Convert([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	rendered := raw.String()
	for _, tag := range tagRE.FindAllString(rendered, -1) {
		if !allowedTagRE.MatchString(tag) && !strings.HasPrefix(tag, "<!-- runtimelink:note=") {
			t.Errorf("%s renders %s", what, tag)
		}
	}
	for _, a := range regexp.MustCompile(`<a href="[^"]*"`).FindAllString(rendered, -1) {
		if !strings.HasPrefix(a, `<a href="https://nvd.nist.gov/vuln/detail/CVE-`) && !strings.HasPrefix(a, `<a href="https://github.com/`) {
			t.Errorf("%s links %s", what, a)
		}
	}
	text := textOf(rendered)
	for _, re := range []*regexp.Regexp{mentionRE, refRE} {
		if m := re.FindAllString(text, -1); len(m) > 0 {
			t.Errorf("%s leaves %v for GitHub to link in\n%s", what, m, text)
		}
	}
}

// The comments the planner writes quote findings too.
func TestPlanCommentsKeepHostileTextInert(t *testing.T) {
	for _, s := range hostile {
		f := hostileFinding(s)
		f.CVE = "CVE-2024-1"
		w := newWorld(f)
		var bodies []string
		collect := func(acts []Action) {
			for _, a := range acts {
				if a.Comment != nil {
					bodies = append(bodies, a.Comment.Body)
				}
			}
		}
		step := func(at time.Time) {
			acts := Plan(w.g, w.fs, w.is, at, policy)
			collect(acts)
			w.is = Apply(&w.g, w.is, acts, at)
			if w.is != nil && w.is.Number == 0 {
				w.is.Number, w.g.Synced.IssueNumber = 7, 7
			}
		}
		step(t0)
		lower := f
		lower.Priority, lower.Score = model.PriorityHigh, 7.5
		w.set(lower) // priority change: a comment with the explanation
		step(t0.Add(time.Hour))
		w.closeBy(ReasonCompleted, t0.Add(2*time.Hour))
		step(t0.Add(30 * time.Hour)) // still running: reopened, naming the evidence
		w.set(resolved(lower, s))
		step(t0.Add(31 * time.Hour)) // verified, quoting the reason
		if len(bodies) < 3 {
			t.Fatalf("%q: %d comments", s, len(bodies))
		}
		for i, b := range bodies {
			checkBodyInert(t, fmt.Sprintf("%q, comment %d", s, i), b)
		}
	}
}
