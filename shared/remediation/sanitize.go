package remediation

import (
	"net/url"
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
