package codeowners

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkParseDocsExample parses GitHub's documented example file.
func BenchmarkParseDocsExample(b *testing.B) {
	data, err := os.ReadFile(docsExample)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, errs := Parse(data); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkOwners1000Rules resolves a path that only the first of 1,000
// rules matches: the worst case of the last-match-wins scan.
func BenchmarkOwners1000Rules(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("* @default\n")
	for i := range 999 {
		fmt.Fprintf(&sb, "/services/svc-%d/**/*.go @org/team-%d\n", i, i)
	}
	f, errs := Parse([]byte(sb.String()))
	if len(errs) != 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		if owners, _, _ := f.Owners("docs/guide/intro.md"); len(owners) != 1 {
			b.Fatal(owners)
		}
	}
}
