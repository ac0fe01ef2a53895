package model

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLimitDocumentCutsEveryTextFieldOnce(t *testing.T) {
	long := strings.Repeat("ü", MaxTextBytes) // 2 bytes a rune: twice the cap
	w := &Workload{ID: "w", Cluster: "c", Name: long, Tags: map[string]string{"k": long, "short": "v"}}
	g := &Group{ID: "g", Repository: "o/r", Owners: []string{"@a", long}, Desired: DesiredIssue{Title: long, Body: long}}
	f := &Finding{ID: "f", Description: long, Package: &Package{Name: long}, AlertNumber: MaxSafeInteger}

	cases := []struct {
		name  string
		doc   any
		paths []string
	}{
		{"workload name and tag value", w, []string{"name", "tags.k"}},
		{"group slices and desired title, not the body", g, []string{"owners[1]", "desired.title"}},
		{"finding description and package", f, []string{"description", "package.name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cut, err := LimitDocument(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range cut {
				paths = append(paths, f.Path)
				if f.Bytes != len(long) {
					t.Errorf("%s: bytes = %d, want %d", f.Path, f.Bytes, len(long))
				}
			}
			if strings.Join(paths, ",") != strings.Join(c.paths, ",") {
				t.Fatalf("cut %v, want %v", paths, c.paths)
			}
			again, _ := LimitDocument(c.doc)
			if len(again) != 0 {
				t.Fatalf("second pass cut again: %v", again)
			}
		})
	}
	for _, s := range []string{w.Name, w.Tags["k"], g.Owners[1], g.Desired.Title, f.Description, f.Package.Name} {
		if len(s) > MaxTextBytes || !utf8.ValidString(s) || !strings.HasSuffix(s, "[cut by runtimelink: 32768 bytes received]") {
			t.Errorf("cut field: %d bytes, valid UTF-8 %v, ends %q", len(s), utf8.ValidString(s), s[len(s)-50:])
		}
	}
	if g.Desired.Body != long || w.Tags["short"] != "v" || g.Owners[0] != "@a" {
		t.Error("a field within its cap or tagged textcap:\"-\" was changed")
	}
}

func TestLimitDocumentRefusesUnsafeIntegers(t *testing.T) {
	for _, n := range []int{MaxSafeInteger + 1, -MaxSafeInteger - 1, 1<<63 - 1} {
		_, err := LimitDocument(&Finding{ID: "f", AlertNumber: n})
		if !errors.Is(err, ErrUnsafeInteger) || !strings.Contains(err.Error(), "alertNumber") {
			t.Errorf("alert number %d: %v, want ErrUnsafeInteger naming alertNumber", n, err)
		}
	}
	if _, err := LimitDocument(&Installation{ID: "o", InstallationID: MaxSafeInteger}); err != nil {
		t.Errorf("2^53-1 refused: %v", err)
	}
}
