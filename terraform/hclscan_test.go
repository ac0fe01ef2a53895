package terraform_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// A small, HCL-aware token scanner: enough to read the keys of an object
// literal and the arguments of a block out of the module's .tf files without
// a dependency on hashicorp/hcl. It understands comments (#, //, /* */),
// quoted strings with ${...} interpolations (which may nest quotes) and
// heredocs, so text inside them is never taken for syntax.

type tokenKind int

const (
	tokIdent tokenKind = iota
	tokString
	tokHeredoc
	tokPunct
	tokNumber
)

type token struct {
	kind tokenKind
	text string // identifier, punctuation, number, or a string's raw contents
	line int
}

func (t token) is(kind tokenKind, text string) bool { return t.kind == kind && t.text == text }

type scanner struct {
	src  string
	pos  int
	line int
	file string
}

func scanHCL(file, src string) ([]token, error) {
	s := &scanner{src: src, line: 1, file: file}
	var toks []token
	for {
		tok, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return toks, nil
		}
		toks = append(toks, tok)
	}
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", s.file, s.line, fmt.Sprintf(format, args...))
}

func (s *scanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

func (s *scanner) advance() byte {
	c := s.src[s.pos]
	s.pos++
	if c == '\n' {
		s.line++
	}
	return c
}

func (s *scanner) next() (token, bool, error) {
	for s.pos < len(s.src) {
		c := s.peek(0)
		switch {
		case c == '#' || (c == '/' && s.peek(1) == '/'):
			for s.pos < len(s.src) && s.peek(0) != '\n' {
				s.advance()
			}
		case c == '/' && s.peek(1) == '*':
			end := strings.Index(s.src[s.pos+2:], "*/")
			if end < 0 {
				return token{}, false, s.errorf("unterminated /* comment")
			}
			for range end + 4 {
				s.advance()
			}
		case unicode.IsSpace(rune(c)):
			s.advance()
		case c == '"':
			line := s.line
			text, err := s.quoted()
			return token{kind: tokString, text: text, line: line}, true, err
		case c == '<' && s.peek(1) == '<' && (s.peek(2) == '-' || isIdentStart(s.peek(2))):
			line := s.line
			text, err := s.heredoc()
			return token{kind: tokHeredoc, text: text, line: line}, true, err
		case isIdentStart(c):
			start, line := s.pos, s.line
			for s.pos < len(s.src) && isIdentPart(s.peek(0)) {
				s.advance()
			}
			return token{kind: tokIdent, text: s.src[start:s.pos], line: line}, true, nil
		case c >= '0' && c <= '9':
			start, line := s.pos, s.line
			for s.pos < len(s.src) && (isIdentPart(s.peek(0)) || s.peek(0) == '.') {
				s.advance()
			}
			return token{kind: tokNumber, text: s.src[start:s.pos], line: line}, true, nil
		default:
			line := s.line
			for _, op := range []string{"==", "!=", "<=", ">=", "&&", "||", "=>", "..."} {
				if strings.HasPrefix(s.src[s.pos:], op) {
					for range len(op) {
						s.advance()
					}
					return token{kind: tokPunct, text: op, line: line}, true, nil
				}
			}
			return token{kind: tokPunct, text: string(s.advance()), line: line}, true, nil
		}
	}
	return token{}, false, nil
}

// quoted reads a "..." string (s.pos at the opening quote) and returns its
// raw contents, interpolations included.
func (s *scanner) quoted() (string, error) {
	s.advance()
	start := s.pos
	for s.pos < len(s.src) {
		switch c := s.peek(0); {
		case c == '\\':
			s.advance()
			if s.pos < len(s.src) {
				s.advance()
			}
		case c == '"':
			text := s.src[start:s.pos]
			s.advance()
			return text, nil
		case c == '\n':
			return "", s.errorf("newline in quoted string")
		case (c == '$' || c == '%') && s.peek(1) == '{':
			s.advance()
			s.advance()
			if err := s.template(); err != nil {
				return "", err
			}
		default:
			s.advance()
		}
	}
	return "", s.errorf("unterminated string")
}

// template skips an interpolation's expression up to its closing brace
// (s.pos just after "${"); strings inside it may hold braces and quotes.
func (s *scanner) template() error {
	depth := 1
	for s.pos < len(s.src) {
		switch s.peek(0) {
		case '"':
			if _, err := s.quoted(); err != nil {
				return err
			}
			continue
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				s.advance()
				return nil
			}
		}
		s.advance()
	}
	return s.errorf("unterminated interpolation")
}

// heredoc reads <<MARKER / <<-MARKER ... MARKER and returns the body.
func (s *scanner) heredoc() (string, error) {
	s.advance()
	s.advance()
	if s.peek(0) == '-' {
		s.advance()
	}
	start := s.pos
	for s.pos < len(s.src) && isIdentPart(s.peek(0)) {
		s.advance()
	}
	marker := s.src[start:s.pos]
	for s.pos < len(s.src) && s.peek(0) != '\n' {
		s.advance()
	}
	bodyStart := s.pos
	for s.pos < len(s.src) {
		s.advance() // the newline ending the previous line
		lineStart := s.pos
		for s.pos < len(s.src) && s.peek(0) != '\n' {
			s.advance()
		}
		if strings.TrimSpace(s.src[lineStart:s.pos]) == marker {
			return s.src[bodyStart:lineStart], nil
		}
	}
	return "", s.errorf("unterminated heredoc %s", marker)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c == '-' || (c >= '0' && c <= '9') }

// tfFile is one scanned .tf file.
type tfFile struct {
	name string
	toks []token
}

// loadModule scans every .tf file directly in dir (not in subdirectories).
func loadModule(dir string) ([]tfFile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	var files []tfFile
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		toks, err := scanHCL(filepath.Base(p), string(src))
		if err != nil {
			return nil, err
		}
		files = append(files, tfFile{name: filepath.Base(p), toks: toks})
	}
	return files, nil
}

// matching returns the index of the bracket closing the one at toks[open].
func matching(toks []token, open int) (int, error) {
	pairs := map[string]string{"{": "}", "[": "]", "(": ")"}
	closer, ok := pairs[toks[open].text]
	if !ok || toks[open].kind != tokPunct {
		return 0, fmt.Errorf("line %d: %q is not an opening bracket", toks[open].line, toks[open].text)
	}
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tokPunct {
			continue
		}
		switch toks[i].text {
		case "{", "[", "(":
			depth++
		case "}", "]", ")":
			depth--
			if depth == 0 {
				if toks[i].text != closer {
					return 0, fmt.Errorf("line %d: %q closes %q of line %d", toks[i].line, toks[i].text, toks[open].text, toks[open].line)
				}
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("line %d: %q is never closed", toks[open].line, toks[open].text)
}

// localExpr returns the tokens of the expression assigned to local NAME in
// a locals block of f (nil when f does not define it).
func localExpr(f tfFile, name string) ([]token, error) {
	toks := f.toks
	for i := 0; i+1 < len(toks); i++ {
		if !toks[i].is(tokIdent, "locals") || !toks[i+1].is(tokPunct, "{") {
			continue
		}
		end, err := matching(toks, i+1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		// Walk the block's attributes at depth one.
		for j := i + 2; j < end; j++ {
			if toks[j].kind == tokPunct && strings.Contains("{[(", toks[j].text) {
				if j, err = matching(toks, j); err != nil {
					return nil, fmt.Errorf("%s: %w", f.name, err)
				}
				continue
			}
			if toks[j].is(tokIdent, name) && j+1 < end && toks[j+1].is(tokPunct, "=") {
				// The expression runs to the next attribute of the block.
				k := j + 2
				for k < end {
					if toks[k].kind == tokPunct && strings.Contains("{[(", toks[k].text) {
						if k, err = matching(toks, k); err != nil {
							return nil, fmt.Errorf("%s: %w", f.name, err)
						}
						k++
						continue
					}
					if k+1 < end && toks[k].kind == tokIdent && toks[k+1].is(tokPunct, "=") && toks[k].line > toks[j].line && k > j+2 {
						break
					}
					k++
				}
				return toks[j+2 : k], nil
			}
		}
	}
	return nil, nil
}

// findLocal looks for local NAME across the module's files.
func findLocal(files []tfFile, name string) (expr []token, file string, err error) {
	for _, f := range files {
		expr, err := localExpr(f, name)
		if err != nil {
			return nil, "", err
		}
		if expr != nil {
			return expr, f.name, nil
		}
	}
	return nil, "", fmt.Errorf("no file defines local.%s", name)
}

// objectKeys returns the keys (KEY = ... or "KEY" = ...) of the object
// literals at the top level of expr, in order, with the token after "=".
// merge(var.x, { ... }) yields the literal's keys; references such as
// var.x contribute none.
func objectKeys(expr []token) (map[string][]token, []string, error) {
	values := map[string][]token{}
	var order []string
	for i := 0; i < len(expr); i++ {
		// Anything but "{" is stepped over one token at a time, so the scan
		// also looks inside calls such as merge( ... ).
		if !expr[i].is(tokPunct, "{") {
			continue
		}
		end, err := matching(expr, i)
		if err != nil {
			return nil, nil, err
		}
		for j := i + 1; j < end; j++ {
			if expr[j].kind == tokPunct && strings.Contains("{[(", expr[j].text) {
				if j, err = matching(expr, j); err != nil {
					return nil, nil, err
				}
				continue
			}
			if (expr[j].kind == tokIdent || expr[j].kind == tokString) && j+1 < end &&
				(expr[j+1].is(tokPunct, "=") || expr[j+1].is(tokPunct, ":")) {
				k := j + 2
				stop := k
				for stop < end && expr[stop].line == expr[k].line {
					stop++
				}
				if _, dup := values[expr[j].text]; dup {
					return nil, nil, fmt.Errorf("line %d: key %s set twice", expr[j].line, expr[j].text)
				}
				values[expr[j].text] = expr[k:stop]
				order = append(order, expr[j].text)
			}
		}
		i = end
	}
	return values, order, nil
}

// listStrings returns the string literals of a [ ... ] list expression.
func listStrings(expr []token) ([]string, error) {
	if len(expr) == 0 || !expr[0].is(tokPunct, "[") {
		return nil, fmt.Errorf("not a list literal")
	}
	end, err := matching(expr, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range expr[1:end] {
		switch {
		case t.kind == tokString:
			out = append(out, t.text)
		case t.is(tokPunct, ","):
		default:
			return nil, fmt.Errorf("line %d: %q in a list of string literals", t.line, t.text)
		}
	}
	return out, nil
}

// arguments returns every NAME = value argument in f with the tokens of the
// value's first line (blocks are descended into; object literals too).
func arguments(f tfFile) map[string][][]token {
	out := map[string][][]token{}
	toks := f.toks
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind == tokIdent && toks[i+1].is(tokPunct, "=") {
			k := i + 2
			stop := k
			for stop < len(toks) && toks[stop].line == toks[k].line {
				stop++
			}
			out[toks[i].text] = append(out[toks[i].text], toks[k:stop])
		}
	}
	return out
}
