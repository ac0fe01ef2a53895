package codeowners

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// docsExample is GitHub's documented example CODEOWNERS file (testdata/SOURCE.md).
const docsExample = "testdata/github-docs-example.CODEOWNERS"

// section is one block of the documented example: its comment and its rules.
type section struct {
	comment    string // comment lines without "# ", joined by single spaces
	start, end int    // 1-based line range, inclusive
}

func docSections(t *testing.T, lines []string) []section {
	t.Helper()
	var out []section
	var cur *section
	for i, l := range lines {
		n := i + 1
		switch {
		case strings.TrimSpace(l) == "":
			cur = nil
		case strings.HasPrefix(l, "#"):
			if cur == nil || cur.end != n-1 || !strings.HasPrefix(lines[cur.end-1], "#") {
				out = append(out, section{start: n})
				cur = &out[len(out)-1]
			}
			text := strings.TrimSpace(strings.TrimPrefix(l, "#"))
			cur.comment = strings.TrimSpace(cur.comment + " " + text)
			cur.end = n
		default:
			if cur == nil {
				t.Fatalf("line %d: rule without a documenting comment", n)
			}
			cur.end = n
		}
	}
	return out
}

// TestDocsExample resolves paths against GitHub's documented example. Each
// case quotes the example's comment that documents the behaviour; "whole"
// cases parse the whole file (so later lines take precedence, as documented),
// "alone" cases parse only the quoted section, with every other line blanked
// so that line numbers still refer to the documented file.
func TestDocsExample(t *testing.T) {
	data, err := os.ReadFile(docsExample)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	sections := docSections(t, lines)

	const (
		whole = "whole"
		alone = "alone"
	)
	none := []string{} // matched by a line that has no owners
	cases := []struct {
		quote string // verbatim part of the documenting comment
		scope string
		path  string
		want  []string // nil: no line matches
		rule  string   // the line that must decide (trimmed), when one matches
	}{
		// These owners will be the default owners ...
		{"These owners will be the default owners for everything in the repo.", whole, "README.md", []string{"@global-owner1", "@global-owner2"}, "*       @global-owner1 @global-owner2"},
		{"These owners will be the default owners for everything in the repo.", whole, "src/main.c", []string{"@global-owner1", "@global-owner2"}, "*       @global-owner1 @global-owner2"},
		{"These owners will be the default owners for everything in the repo.", whole, "Dockerfile", []string{"@global-owner1", "@global-owner2"}, "*       @global-owner1 @global-owner2"},
		{"These owners will be the default owners for everything in the repo.", alone, "deeply/nested/dir/file.bin", []string{"@global-owner1", "@global-owner2"}, "*       @global-owner1 @global-owner2"},
		// Order is important ... only @js-owner and not the global owner(s)
		{"Order is important; the last matching pattern takes the most precedence.", whole, "index.js", []string{"@js-owner"}, "*.js    @js-owner #This is an inline comment."},
		{"Order is important; the last matching pattern takes the most precedence.", whole, "src/components/button.js", []string{"@js-owner"}, "*.js    @js-owner #This is an inline comment."},
		{"When someone opens a pull request that only modifies JS files, only @js-owner", alone, "lib/app.js", []string{"@js-owner"}, "*.js    @js-owner #This is an inline comment."},
		{"When someone opens a pull request that only modifies JS files, only @js-owner", alone, "lib/app.jsx", nil, ""},
		{"When someone opens a pull request that only modifies JS files, only @js-owner", alone, "README.md", nil, ""},
		// You can also use email addresses ...
		{"You can also use email addresses if you prefer.", whole, "main.go", []string{"docs@example.com"}, "*.go docs@example.com"},
		{"You can also use email addresses if you prefer.", whole, "cmd/server/main.go", []string{"docs@example.com"}, "*.go docs@example.com"},
		// Teams can be specified as code owners as well ...
		{"the octocats team in the octo-org organization owns all .txt files.", whole, "notes.txt", []string{"@octo-org/octocats"}, "*.txt @octo-org/octocats"},
		{"the octocats team in the octo-org organization owns all .txt files.", whole, "a/b/c/requirements.txt", []string{"@octo-org/octocats"}, "*.txt @octo-org/octocats"},
		// @doctocat owns any files in the build/logs directory ...
		{"@doctocat owns any files in the build/logs directory at the root of the repository and any of its subdirectories.", alone, "build/logs/output.log", []string{"@doctocat"}, "/build/logs/ @doctocat"},
		{"@doctocat owns any files in the build/logs directory at the root of the repository and any of its subdirectories.", alone, "build/logs/2024/01/run.log", []string{"@doctocat"}, "/build/logs/ @doctocat"},
		{"@doctocat owns any files in the build/logs directory at the root of the repository and any of its subdirectories.", alone, "src/build/logs/output.log", nil, ""},
		{"@doctocat owns any files in the build/logs directory at the root of the repository and any of its subdirectories.", alone, "build/logs", nil, ""},
		// ... but later in the file **/logs takes precedence over it.
		{"@octocat owns any file in a `/logs` directory such as `/build/logs`", whole, "build/logs/output.log", []string{"@octocat"}, "**/logs @octocat"},
		// The `docs/*` pattern ...
		{"The `docs/*` pattern will match files like `docs/getting-started.md`", alone, "docs/getting-started.md", []string{"docs@example.com"}, "docs/*  docs@example.com"},
		{"but not further nested files like `docs/build-app/troubleshooting.md`.", alone, "docs/build-app/troubleshooting.md", nil, ""},
		{"The `docs/*` pattern will match files like `docs/getting-started.md`", alone, "src/docs/getting-started.md", nil, ""},
		// @octocat owns any file in an apps directory anywhere ...
		{"@octocat owns any file in an apps directory anywhere in your repository.", alone, "apps/web/index.html", []string{"@octocat"}, "apps/ @octocat"},
		{"@octocat owns any file in an apps directory anywhere in your repository.", alone, "services/frontend/apps/ui/page.tsx", []string{"@octocat"}, "apps/ @octocat"},
		{"@octocat owns any file in an apps directory anywhere in your repository.", whole, "services/frontend/apps/ui/page.tsx", []string{"@octocat"}, "apps/ @octocat"},
		{"@octocat owns any file in an apps directory anywhere in your repository.", alone, "apps", nil, ""},
		// @doctocat owns any file in the `/docs` directory ...
		{"@doctocat owns any file in the `/docs` directory in the root of your repository and any of its subdirectories.", whole, "docs/getting-started.md", []string{"@doctocat"}, "/docs/ @doctocat"},
		{"@doctocat owns any file in the `/docs` directory in the root of your repository and any of its subdirectories.", whole, "docs/build-app/troubleshooting.md", []string{"@doctocat"}, "/docs/ @doctocat"},
		{"@doctocat owns any file in the `/docs` directory in the root of your repository and any of its subdirectories.", whole, "docs/examples/demo.js", []string{"@doctocat"}, "/docs/ @doctocat"},
		{"@doctocat owns any file in the `/docs` directory in the root of your repository and any of its subdirectories.", alone, "guides/docs/intro.md", nil, ""},
		{"@doctocat owns any file in the `/docs` directory in the root of your repository and any of its subdirectories.", whole, "guides/docs/intro.md", []string{"@global-owner1", "@global-owner2"}, "*       @global-owner1 @global-owner2"},
		// any change inside the `/scripts` directory ...
		{"any change inside the `/scripts` directory will require approval from @doctocat or @octocat.", whole, "scripts/deploy.sh", []string{"@doctocat", "@octocat"}, "/scripts/ @doctocat @octocat"},
		{"any change inside the `/scripts` directory will require approval from @doctocat or @octocat.", whole, "scripts/ci/build.js", []string{"@doctocat", "@octocat"}, "/scripts/ @doctocat @octocat"},
		// @octocat owns any file in a `/logs` directory ...
		{"@octocat owns any file in a `/logs` directory such as `/build/logs`, `/scripts/logs`, and `/deeply/nested/logs`.", whole, "scripts/logs/run.log", []string{"@octocat"}, "**/logs @octocat"},
		{"@octocat owns any file in a `/logs` directory such as `/build/logs`, `/scripts/logs`, and `/deeply/nested/logs`.", whole, "deeply/nested/logs/trace.txt", []string{"@octocat"}, "**/logs @octocat"},
		{"Any changes in a `/logs` directory will require approval from @octocat.", alone, "logs/app.log", []string{"@octocat"}, "**/logs @octocat"},
		{"Any changes in a `/logs` directory will require approval from @octocat.", alone, "build/logsarchive/app.log", nil, ""},
		// ... except for the `/apps/github` subdirectory, as its owners are left empty.
		{"subdirectory, as its owners are left empty.", alone, "apps/web/index.html", []string{"@octocat"}, "/apps/ @octocat"},
		{"subdirectory, as its owners are left empty.", alone, "apps/github/main.rb", none, "/apps/github"},
		{"subdirectory, as its owners are left empty.", alone, "apps/github/deep/er/file.go", none, "/apps/github"},
		{"subdirectory, as its owners are left empty.", alone, "lib/apps/github/x.rb", nil, ""},
		// ... as this subdirectory has its own owner @doctocat
		{"subdirectory, as this subdirectory has its own owner @doctocat", whole, "apps/github/main.rb", []string{"@doctocat"}, "/apps/github @doctocat"},
		{"subdirectory, as this subdirectory has its own owner @doctocat", whole, "apps/web/index.html", []string{"@octocat"}, "/apps/ @octocat"},
		{"subdirectory, as this subdirectory has its own owner @doctocat", whole, "apps/web/main.js", []string{"@octocat"}, "/apps/ @octocat"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d documented cases", len(cases))
	}

	for _, tc := range cases {
		t.Run(tc.quote+" | "+tc.scope+" | "+tc.path, func(t *testing.T) {
			var sec *section
			for i := range sections {
				if strings.Contains(sections[i].comment, tc.quote) {
					if sec != nil {
						t.Fatalf("quote is in more than one documented section")
					}
					sec = &sections[i]
				}
			}
			if sec == nil {
				t.Fatalf("quote is not in the documented example")
			}
			src := lines
			if tc.scope == alone {
				src = make([]string, len(lines))
				copy(src[sec.start-1:sec.end], lines[sec.start-1:sec.end])
			}
			f, errs := Parse([]byte(strings.Join(src, "\n")))
			if len(errs) != 0 {
				t.Fatalf("documented example reports errors: %v", errs)
			}
			got, line, ok := f.Owners(tc.path)
			if tc.want == nil {
				if ok {
					t.Fatalf("Owners(%q) = %q (line %d), want no match", tc.path, got, line)
				}
				return
			}
			if !ok {
				t.Fatalf("Owners(%q): no match, want %q", tc.path, tc.want)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("Owners(%q) = %q, want %q", tc.path, got, tc.want)
			}
			if decided := strings.TrimSpace(lines[line-1]); decided != tc.rule {
				t.Errorf("decided by line %d %q, want %q", line, decided, tc.rule)
			}
		})
	}
}

// TestPatterns covers the pattern syntax beyond the documented example.
func TestPatterns(t *testing.T) {
	cases := []struct {
		name    string
		pattern string
		match   []string
		noMatch []string
	}{
		{"bare name at any depth, file or directory", "foo", []string{"foo", "foo/bar", "bar/foo", "bar/foo/baz"}, []string{"foo.txt", "bar/foo.txt", "bar/baz", "food"}},
		{"leading slash anchors to the root", "/foo", []string{"foo", "foo/bar", "foo/bar/baz"}, []string{"bar/foo", "fool.txt", "bar/foo/baz"}},
		{"trailing slash: directories only, any depth", "foo/", []string{"foo/bar", "foo/bar/baz", "bar/foo/baz"}, []string{"foo", "bar/foo"}},
		{"middle slash anchors to the root", "foo/bar", []string{"foo/bar", "foo/bar/baz"}, []string{"foo/bart", "baz/foo/bar", "baz/foo/bar/qux"}},
		{"anchored directory", "/foo/bar/", []string{"foo/bar/baz", "foo/bar/baz/qux"}, []string{"foo/bar", "baz/foo/bar/qux"}},
		{"lone star owns everything", "*", []string{"foo", "foo/bar", "a/b/c/d"}, nil},
		{"star does not cross slash in an anchored pattern", "/*", []string{"foo", "README.md"}, []string{"foo/bar", "foo/bar/baz"}},
		{"prefix star", "f*", []string{"foo", "foo/bar", "bar/foo/baz"}, []string{"bar/baz", "xfoo"}},
		{"star in a middle segment", "foo/*/baz", []string{"foo/bar/baz", "foo/bar/baz/qux"}, []string{"foo/baz", "foo/a/b/baz"}},
		{"star with suffix in an anchored pattern", "foo/*.txt", []string{"foo/bar.txt"}, []string{"foo/bar/baz.txt", "qux/foo/bar.txt"}},
		{"question mark is one character", "f?o", []string{"foo", "a/fxo"}, []string{"fo", "fooo", "f/o"}},
		{"leading double star", "**/foo/bar", []string{"foo/bar", "qux/foo/bar", "qux/foo/bar/baz"}, []string{"foo/baz/bar"}},
		{"leading double star with star", "**/*bar*", []string{"bar", "foo/rebar", "foo/qux/barrio"}, []string{"foo/baz"}},
		{"trailing double star: everything below, not the directory", "foo/bar/**", []string{"foo/bar/baz", "foo/bar/baz/qux"}, []string{"foo/bar", "qux/foo/bar/baz"}},
		{"middle double star: zero or more directories", "foo/**/bar", []string{"foo/bar", "foo/qux/bar", "foo/a/b/bar/baz"}, []string{"qux/foo/bar", "foo/xbar", "food/bar"}},
		{"double star alone", "**", []string{"a", "a/b/c"}, nil},
		{"double star inside a segment is a plain star", "a**b", []string{"ab", "axxb", "z/axb"}, []string{"a/b"}},
		{"escaped space", `My\ Documents/`, []string{"My Documents/a.txt", "x/My Documents/y"}, []string{"My/a.txt", "MyDocuments/a.txt"}},
		{"escaped hash inside a pattern", `issue\#12.md`, []string{"issue#12.md", "docs/issue#12.md"}, []string{"issue12.md"}},
		{"unescaped hash inside a pattern is literal", "a#b", []string{"a#b", "x/a#b"}, []string{"a", "a#"}},
		{"escaped star is literal", `f\*o`, []string{"f*o"}, []string{"foo"}},
		{"escaped question mark is literal", `f\?o`, []string{"f?o"}, []string{"foo"}},
		{"dots are literal", "*.js", []string{"a.js", "x/y.js"}, []string{"ajs", "a.jsx"}},
		{"paths are case sensitive", "/Apps/", []string{"Apps/x"}, []string{"apps/x", "APPS/x"}},
		{"regexp metacharacters are literal", "/a+b(c)/", []string{"a+b(c)/x"}, []string{"aab(c)/x", "a+bc/x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := Parse([]byte(tc.pattern + " @owner\n"))
			if len(errs) != 0 {
				t.Fatalf("Parse(%q): %v", tc.pattern, errs)
			}
			for _, p := range tc.match {
				if _, _, ok := f.Owners(p); !ok {
					t.Errorf("%q does not match %q", tc.pattern, p)
				}
			}
			for _, p := range tc.noMatch {
				if got, _, ok := f.Owners(p); ok {
					t.Errorf("%q matches %q (owners %q)", tc.pattern, p, got)
				}
			}
		})
	}
}

// TestParseErrors checks that lines GitHub rejects are reported with their
// line number and skipped, and that every other line still applies.
func TestParseErrors(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		message string // part of the reported message
	}{
		{"negation", "!docs/ @octocat", "negation"},
		{"character range", "*.[ch] @octocat", "character ranges"},
		{"closing bracket", "foo] @octocat", "character ranges"},
		{"escaped leading hash", `\#notes @octocat`, `escaping a leading '#'`},
		{"owner without @", "*.md octocat", `owner "octocat"`},
		{"bad team", "*.md @org/", `owner "@org/"`},
		{"owner with a bad character", "*.md @octo!cat", `owner "@octo!cat"`},
		{"trailing backslash", `foo\`, "lone"},
		{"only a slash", "/ @octocat", "empty pattern"},
		{"invalid UTF-8", "caf\xe9 @octocat", "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := "* @default\n" + tc.line + "\n/kept/ @kept\n"
			f, errs := Parse([]byte(data))
			if len(errs) != 1 || errs[0].Line != 2 || !strings.Contains(errs[0].Message, tc.message) {
				t.Fatalf("errors = %v, want one on line 2 mentioning %q", errs, tc.message)
			}
			if !strings.Contains(errs[0].Error(), "line 2") {
				t.Errorf("Error() = %q, want the line number", errs[0].Error())
			}
			rules := f.Rules()
			if len(rules) != 2 || rules[0].Line != 1 || rules[1].Line != 3 {
				t.Fatalf("rules = %+v, want lines 1 and 3 kept", rules)
			}
			if got, line, _ := f.Owners("kept/a.go"); !reflect.DeepEqual(got, []string{"@kept"}) || line != 3 {
				t.Errorf("kept/a.go = %q line %d, want @kept line 3", got, line)
			}
			if got, line, _ := f.Owners("docs/a.md"); !reflect.DeepEqual(got, []string{"@default"}) || line != 1 {
				t.Errorf("docs/a.md = %q line %d, want @default line 1", got, line)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	cases := []struct {
		name string
		data string
		path string
		want []string
		line int
	}{
		{"CRLF line endings", "* @a\r\n*.go @b\r\n", "x.go", []string{"@b"}, 2},
		{"byte order mark", "\xef\xbb\xbf*.go @b\n", "x.go", []string{"@b"}, 1},
		{"tabs separate pattern and owners", "*.go\t@b\t@c\n", "x.go", []string{"@b", "@c"}, 1},
		{"other ASCII blanks separate too", "*.go\v@b\f@c\n", "x.go", []string{"@b", "@c"}, 1},
		{"a line of blanks is blank", "* @a\n\v\f \t\n", "x.go", []string{"@a"}, 1},
		{"non-ASCII space belongs to the name", "/a\u00a0b/ @a\n", "a\u00a0b/x", []string{"@a"}, 1},
		{"indented rule", "   *.go @b\n", "x.go", []string{"@b"}, 1},
		{"indented comment", "  # *.go @b\n", "x.go", nil, 0},
		{"inline comment after owners", "*.go @b # owned by b\n", "x.go", []string{"@b"}, 1},
		{"inline comment instead of owners un-owns", "* @a\n/gen/ # generated, nobody\n", "gen/x.go", []string{}, 2},
		{"no trailing newline", "* @a\n*.go @b", "x.go", []string{"@b"}, 2},
		{"leading slash in the path is ignored", "/src/ @a\n", "/src/x.go", []string{"@a"}, 1},
		{"empty path matches nothing", "* @a\n", "", nil, 0},
		{"email and team and user", "* dev@example.com @org/sec-team @user_emu\n", "x", []string{"dev@example.com", "@org/sec-team", "@user_emu"}, 1},
		{"later identical pattern wins", "/src/ @a\n/src/ @b\n", "src/x", []string{"@b"}, 2},
		{"earlier broader pattern loses", "*.go @a\n/cmd/ @b\n", "cmd/main.go", []string{"@b"}, 2},
		{"later broader pattern wins", "/cmd/ @b\n*.go @a\n", "cmd/main.go", []string{"@a"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, errs := Parse([]byte(tc.data))
			if len(errs) != 0 {
				t.Fatalf("errors: %v", errs)
			}
			got, line, ok := f.Owners(tc.path)
			if tc.want == nil {
				if ok {
					t.Fatalf("Owners(%q) = %q line %d, want no match", tc.path, got, line)
				}
				return
			}
			if !ok || line != tc.line || len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("Owners(%q) = %q line %d ok %v, want %q line %d", tc.path, got, line, ok, tc.want, tc.line)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	data := []byte(strings.Repeat("* @a\n", MaxSize/5+1))
	f, errs := Parse(data)
	if len(errs) != 1 || errs[0].Line != 0 {
		t.Fatalf("errors = %v, want one whole-file error", errs)
	}
	if _, _, ok := f.Owners("x"); ok {
		t.Fatal("a file over the limit must not apply")
	}
}

func TestOwnersIsACopy(t *testing.T) {
	f, _ := Parse([]byte("* @a @b\n"))
	got, _, _ := f.Owners("x")
	got[0] = "@mallory"
	if again, _, _ := f.Owners("x"); again[0] != "@a" {
		t.Fatalf("caller changed the parsed file: %q", again)
	}
	rules := f.Rules()
	rules[0].Owners[1] = "@mallory"
	if again, _, _ := f.Owners("x"); again[1] != "@b" {
		t.Fatalf("Rules() exposed the parsed file: %q", again)
	}
}

func TestNilFile(t *testing.T) {
	var f *File
	if _, _, ok := f.Owners("x"); ok {
		t.Fatal("nil file matched")
	}
}

func TestSplit(t *testing.T) {
	owners := []string{"@octocat", "@octo-org/octocats", "docs@example.com", "@OctoCat", "@doctocat", "@octo-org/OctoCats", "not an owner"}
	if got, want := Users(owners), []string{"octocat", "doctocat"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Users = %q, want %q", got, want)
	}
	if got, want := Teams(owners), []string{"octo-org/octocats"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Teams = %q, want %q", got, want)
	}
	if got, want := Emails(owners), []string{"docs@example.com"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Emails = %q, want %q", got, want)
	}
	if Users(nil) != nil || Teams([]string{}) != nil {
		t.Error("empty input must give nil")
	}
}

func TestLocations(t *testing.T) {
	want := []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}
	if !reflect.DeepEqual(Locations, want) {
		t.Fatalf("Locations = %q, want GitHub's order %q", Locations, want)
	}
}
