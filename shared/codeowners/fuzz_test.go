package codeowners

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to Parse and checks the invariants every
// caller relies on: no panic, every line is either a rule, an error, blank or
// a comment (never two of them), reported line numbers exist, and Owners only
// ever answers with a rule that Parse kept.
func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile(docsExample); err == nil {
		f.Add(data)
	}
	for _, s := range []string{
		"* @a\n", "/apps/github\n", `My\ Docs/ @a`, "**/logs @b\r\n", "!x @a\n", "*.[ch] @a\n",
		`\#x @a`, "foo/**/bar/* @o/t # c\n", "\xef\xbb\xbf/a/ a@b.co\n", "a\\", "/\n", "**\n",
	} {
		f.Add([]byte(s))
	}
	paths := []string{"a", "apps/github/x", "docs/a.md", "build/logs/x", "My Docs/y", "a/b/c/d.go", "x.js"}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, errs := Parse(data)
		lines := bytes.Count(data, []byte("\n")) + 1
		seen := map[int]bool{}
		for _, e := range errs {
			if e.Line < 0 || e.Line > lines || (e.Line == 0 && len(data) < MaxSize) {
				t.Fatalf("error on line %d of a %d-line file: %v", e.Line, lines, e)
			}
			if e.Message == "" {
				t.Fatalf("error without a message on line %d", e.Line)
			}
			seen[e.Line] = true
		}
		rules := map[int]Rule{}
		for _, r := range file.Rules() {
			if seen[r.Line] {
				t.Fatalf("line %d is both a rule and an error", r.Line)
			}
			if r.Line < 1 || r.Line > lines {
				t.Fatalf("rule on line %d of a %d-line file", r.Line, lines)
			}
			if strings.Trim(r.Pattern, blanks) == "" {
				t.Fatalf("rule on line %d has an empty pattern", r.Line)
			}
			rules[r.Line] = r
		}
		for _, p := range paths {
			owners, line, ok := file.Owners(p)
			if !ok {
				if line != 0 || owners != nil {
					t.Fatalf("no match but line %d owners %q", line, owners)
				}
				continue
			}
			r, found := rules[line]
			if !found {
				t.Fatalf("Owners(%q) answered with line %d, which is not a rule", p, line)
			}
			if strings.Join(owners, " ") != strings.Join(r.Owners, " ") {
				t.Fatalf("Owners(%q) = %q, rule says %q", p, owners, r.Owners)
			}
		}
	})
}
