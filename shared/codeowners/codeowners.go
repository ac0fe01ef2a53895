// Package codeowners parses a GitHub CODEOWNERS file and resolves the owners
// of a path the way GitHub does: gitignore-like patterns, the last matching
// line wins, and a line GitHub would reject is reported and skipped while the
// rest of the file still applies. It is pure: fetching the file is the
// caller's job (see Locations for where GitHub looks).
package codeowners

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Locations are the paths GitHub reads a CODEOWNERS file from, in order; the
// first one that exists is the one that applies.
var Locations = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// MaxSize is GitHub's limit: a CODEOWNERS file of this size or more is not
// loaded at all.
const MaxSize = 3 << 20

// File is a parsed CODEOWNERS file.
type File struct {
	rules []rule
}

// Rule is one valid line of a CODEOWNERS file.
type Rule struct {
	Line    int      // 1-based line number in the file
	Pattern string   // the pattern as written (escapes kept)
	Owners  []string // as written: "@user", "@org/team" or an email; empty un-owns
}

type rule struct {
	Rule
	re *regexp.Regexp
}

// ParseError is one line GitHub would not honour; the line is skipped.
type ParseError struct {
	Line    int // 1-based; 0 for an error about the whole file
	Message string
}

func (e ParseError) Error() string {
	if e.Line == 0 {
		return "CODEOWNERS: " + e.Message
	}
	return fmt.Sprintf("CODEOWNERS line %d: %s", e.Line, e.Message)
}

// Parse reads a CODEOWNERS file. It never fails as a whole: every line GitHub
// would reject (negation, character ranges, an escaped leading '#', a
// malformed owner, ...) is reported as a ParseError and skipped, and the
// valid lines are kept, as GitHub does. A file of MaxSize or more is not
// loaded (an empty File and one error), again as GitHub does.
//
// Line syntax: optional leading blanks; '#' at the start is a comment; the
// pattern runs to the first unescaped blank ("\ " is a space in a name,
// "\#" a literal '#', '\' escapes any character); then owners separated by
// blanks; a word starting with '#' starts an inline comment. A '#' inside a
// pattern is literal, as in gitignore. A pattern without owners un-owns.
func Parse(data []byte) (*File, []ParseError) {
	f := &File{}
	if len(data) >= MaxSize {
		return f, []ParseError{{Line: 0, Message: fmt.Sprintf("file is %d bytes, GitHub does not load a CODEOWNERS file of 3 MB or more", len(data))}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark

	var errs []ParseError
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		r, msg, ok := parseLine(string(line))
		switch {
		case msg != "":
			errs = append(errs, ParseError{Line: lineNo, Message: msg})
		case ok:
			r.Line = lineNo
			f.rules = append(f.rules, r)
		}
	}
	return f, errs
}

// Rules lists the valid lines in file order.
func (f *File) Rules() []Rule {
	out := make([]Rule, len(f.rules))
	for i, r := range f.rules {
		out[i] = r.Rule
		out[i].Owners = append([]string(nil), r.Owners...)
	}
	return out
}

// Owners resolves a repository path (as GitHub shows it: "src/app.js"; a
// leading "/" is ignored) to its owners. ok is false when no line matches;
// when the last matching line has no owners the path is explicitly un-owned:
// ok is true and owners is empty. line is the line that decided.
// Paths are case sensitive, as on GitHub.
func (f *File) Owners(path string) (owners []string, line int, ok bool) {
	if f == nil {
		return nil, 0, false
	}
	path = strings.TrimLeft(path, "/")
	if path == "" {
		return nil, 0, false
	}
	for i := len(f.rules) - 1; i >= 0; i-- { // the last matching line wins
		r := &f.rules[i]
		if r.re.MatchString(path) {
			return append([]string(nil), r.Owners...), r.Line, true
		}
	}
	return nil, 0, false
}

// Users returns the user logins among owners ("@octocat" → "octocat"), in
// order and without duplicates: the form GitHub's assignees API takes.
// Emails are not users here: resolving them needs an API call (see Emails).
func Users(owners []string) []string {
	return pick(owners, func(o string) (string, bool) {
		if kindOf(o) == kindUser {
			return o[1:], true
		}
		return "", false
	})
}

// Teams returns the teams among owners ("@org/team" → "org/team"), in order
// and without duplicates. Teams cannot be assigned to an issue; they are
// mentioned ("@" + team) instead.
func Teams(owners []string) []string {
	return pick(owners, func(o string) (string, bool) {
		if kindOf(o) == kindTeam {
			return o[1:], true
		}
		return "", false
	})
}

// Emails returns the email owners, in order and without duplicates.
func Emails(owners []string) []string {
	return pick(owners, func(o string) (string, bool) { return o, kindOf(o) == kindEmail })
}

func pick(owners []string, keep func(string) (string, bool)) []string {
	var out []string
	seen := make(map[string]bool, len(owners))
	for _, o := range owners {
		v, ok := keep(o)
		if !ok || seen[strings.ToLower(v)] { // logins and team slugs are case-insensitive on GitHub
			continue
		}
		seen[strings.ToLower(v)] = true
		out = append(out, v)
	}
	return out
}

type ownerKind int

const (
	kindInvalid ownerKind = iota
	kindUser
	kindTeam
	kindEmail
)

var (
	userRe  = regexp.MustCompile(`^@[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$`)
	teamRe  = regexp.MustCompile(`^@[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?/[A-Za-z0-9_][A-Za-z0-9._-]*$`)
	emailRe = regexp.MustCompile(`^[^@\s/]+@[^@\s/]+\.[^@\s/.]+$`)
)

func kindOf(o string) ownerKind {
	switch {
	case userRe.MatchString(o):
		return kindUser
	case teamRe.MatchString(o):
		return kindTeam
	case emailRe.MatchString(o):
		return kindEmail
	}
	return kindInvalid
}

// blanks separate a pattern from its owners and owners from each other:
// ASCII white space, as in gitignore (other Unicode spaces are legal in
// file names).
const blanks = " \t\f\v\r"

func isBlank(r rune) bool { return strings.ContainsRune(blanks, r) }

// parseLine parses one line. ok is false for blank and comment lines; msg is
// set when GitHub would reject the line.
func parseLine(line string) (r rule, msg string, ok bool) {
	if !utf8.ValidString(line) {
		return r, "line is not valid UTF-8", false
	}
	s := strings.TrimLeft(line, blanks)
	switch {
	case s == "" || s[0] == '#':
		return r, "", false
	case strings.HasPrefix(s, `\#`):
		// gitignore would read a pattern starting with '#'; GitHub documents
		// that this escape does not work in CODEOWNERS.
		return r, `escaping a leading '#' with '\' is not supported in CODEOWNERS`, false
	case s[0] == '!':
		return r, "negation ('!') is not supported in CODEOWNERS", false
	}

	pat, rest, err := scanPattern(s)
	if err != "" {
		return r, err, false
	}
	re, err := compile(pat)
	if err != "" {
		return r, err, false
	}

	var owners []string
	for _, tok := range strings.FieldsFunc(rest, isBlank) {
		if tok[0] == '#' { // an inline comment runs to the end of the line
			break
		}
		if kindOf(tok) == kindInvalid {
			return r, fmt.Sprintf("owner %q is not @user, @org/team or an email address", tok), false
		}
		owners = append(owners, tok)
	}
	raw := s[:len(s)-len(rest)]
	return rule{Rule: Rule{Pattern: raw, Owners: owners}, re: re}, "", true
}

// ptok is one pattern character; escaped characters are always literal.
type ptok struct {
	c   rune
	esc bool
}

// scanPattern reads the pattern up to the first unescaped blank.
func scanPattern(s string) (pat []ptok, rest string, msg string) {
	esc := false
	for i, c := range s {
		if esc {
			pat = append(pat, ptok{c, true})
			esc = false
			continue
		}
		switch c {
		case '\\':
			esc = true
		case ' ', '\t', '\f', '\v', '\r':
			return pat, s[i:], ""
		case '[', ']':
			return nil, "", "character ranges ('[ ]') are not supported in CODEOWNERS"
		default:
			pat = append(pat, ptok{c, false})
		}
	}
	if esc {
		return nil, "", `pattern ends with a lone '\'`
	}
	return pat, "", ""
}

// compile turns a pattern into a regular expression over slash-separated
// repository paths. Semantics (gitignore's, with GitHub's CODEOWNERS rules):
//   - a pattern with a '/' at the start or in the middle is relative to the
//     root; otherwise it matches at any depth;
//   - a pattern matches a path or any directory above it (so "apps/" and
//     "/build/logs/" own everything below), except that a last segment of a
//     lone '*' matches direct children only ("docs/*" owns docs/a.md but not
//     docs/b/c.md, as GitHub documents);
//   - a trailing '/' matches directories only (so the path must go on below);
//   - '*' and '?' never cross '/'; "**" as a whole segment spans any number
//     of directories: leading "**/", middle "/**/", trailing "/**" (everything
//     below, not the directory itself).
func compile(pat []ptok) (*regexp.Regexp, string) {
	var segs [][]ptok
	var cur []ptok
	leading, trailing := false, false
	for i, t := range pat {
		if t.c == '/' && !t.esc {
			if i == 0 {
				leading = true
			}
			if i == len(pat)-1 {
				trailing = true
			}
			if len(cur) > 0 {
				segs = append(segs, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		segs = append(segs, cur)
	}
	if len(segs) == 0 {
		return nil, "empty pattern"
	}
	anchored := leading || len(segs) > 1

	var b strings.Builder
	b.WriteString("^")
	if !anchored {
		b.WriteString("(?:.*/)?")
	}
	sep := false // whether the next segment needs a leading '/'
	for i, seg := range segs {
		last := i == len(segs)-1
		if isDoubleStar(seg) {
			switch {
			case i == 0 && last: // "**" or "/**": everything
				b.WriteString(".*")
			case i == 0: // leading "**/": any depth, including the root
				b.WriteString("(?:.*/)?")
				sep = false
			case last: // trailing "/**": everything below, not the directory
				b.WriteString("/.+")
			default: // middle "/**/": zero or more directories
				b.WriteString("(?:/.*)?")
				sep = true
			}
			if last {
				b.WriteString("$")
				return regexp.MustCompile(b.String()), ""
			}
			continue
		}
		if sep {
			b.WriteString("/")
		}
		for _, t := range seg {
			switch {
			case t.esc:
				b.WriteString(regexp.QuoteMeta(string(t.c)))
			case t.c == '*':
				b.WriteString("[^/]*")
			case t.c == '?':
				b.WriteString("[^/]")
			default:
				b.WriteString(regexp.QuoteMeta(string(t.c)))
			}
		}
		sep = true
	}
	last := segs[len(segs)-1]
	switch {
	case trailing:
		b.WriteString("/.+")
	case len(last) == 1 && last[0] == ptok{'*', false} && anchored:
		// "docs/*", "/*": direct children only.
	default:
		b.WriteString("(?:/.*)?")
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Sprintf("pattern cannot be compiled: %v", err)
	}
	return re, ""
}

func isDoubleStar(seg []ptok) bool {
	return len(seg) == 2 && seg[0] == ptok{'*', false} && seg[1] == ptok{'*', false}
}
