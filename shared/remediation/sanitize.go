package remediation

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"
)

// GitHub's limits on an issue.
const (
	MaxTitle = 256    // characters
	MaxBody  = 65_536 // characters; bodies are bounded in bytes, which is stricter
)

// safeURL returns u when it is a plain https link to GitHub (where GHAS
// alerts live) that cannot break out of a Markdown link, or "" — text from
// a payload never picks where a link goes.
func safeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.User != nil || p.Opaque != "" {
		return ""
	}
	host := strings.ToLower(p.Hostname())
	if host != "github.com" && !strings.HasSuffix(host, ".ghe.com") {
		return ""
	}
	if strings.ContainsAny(u, " \t\r\n()<>[]`\"'\\") {
		return ""
	}
	return u
}

// truncate cuts s to at most n bytes at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// boundBody keeps a body within GitHub's limit. Its marker is the first
// line, so a cut never loses it.
func boundBody(body string) string {
	const tail = "\n\n…cut to GitHub's size limit of an issue body.\n"
	if len(body) <= MaxBody {
		return body
	}
	cut := MaxBody - len(tail)
	if i := strings.LastIndexByte(body[:cut], '\n'); i > 0 {
		cut = i
	}
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return body[:cut] + tail
}

// Text from alerts, records and CODEOWNERS is untrusted: whoever wrote an
// alert's title or an image's name must not be able to add a link, an
// image, HTML, a table column, a mention or a cross-reference to the
// issue. mdCell and mdCode make it inert.

// inertText backslash-escapes every ASCII punctuation mark that starts
// Markdown syntax (links, images, emphasis, code, tables), turns HTML into
// entities, and breaks with a zero-width space what GitHub links in plain
// text after Markdown — mentions, #N and GH-N references, bare URLs —
// which no backslash stops.
var inertText = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"(", `\(`, ")", `\)`, "!", `\!`, "|", `\|`, "~", `\~`, "{", `\{`, "}", `\}`,
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"@", "@\u200b", "#", "#\u200b",
	"GH-", "GH\u200b-", "gh-", "gh\u200b-", "Gh-", "Gh\u200b-", "gH-", "gH\u200b-",
	"://", ":\u200b//", "www.", "www\u200b.", "WWW.", "WWW\u200b.",
)

// maxField bounds one piece of untrusted text in an issue: longer is no
// use to a reader, and a body is bounded anyway.
const maxField = 1000

// mdCell makes text inert on one line, safe in a Markdown table cell.
func mdCell(s string) string { return inertText.Replace(oneLine(truncate(s, 4*maxField))) }

// inertCode makes text safe inside a single-backtick code span, where
// Markdown is not parsed but a backtick ends the span, a line break ends
// a table row, and an unescaped pipe ends a table cell. A backslash is
// shown as a look-alike: in a code span it cannot be escaped, and before
// a pipe it would undo the pipe's escape.
var inertCode = strings.NewReplacer("`", "'", `\`, "\u29f5", "|", `\|`, "\n", " ", "\r", " ", "-->", "--\u200b>")

// mdCode makes text safe inside a code span.
func mdCode(s string) string { return inertCode.Replace(truncate(s, maxField)) }

var (
	cveRE  = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	ghsaRE = regexp.MustCompile(`^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$`)
)
