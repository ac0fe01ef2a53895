package mapping

import (
	"strings"
	"testing"
)

// A parsed reference is normal: its String parses back to itself.
func FuzzParseImageRef(f *testing.F) {
	for _, s := range []string{"nginx", "localhost:5000/x:1", "a.b/c__d/e--f:t@" + dgst, "[::1]:5000/app", "index.docker.io/nginx", "ghcr.io/o/r:v@" + dgst2} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseImageRef(s)
		if err != nil {
			return
		}
		again, err := ParseImageRef(ref.String())
		if err != nil || again != ref {
			t.Fatalf("ParseImageRef(%q) = %+v, but its String %q parses to %+v, %v", s, ref, ref.String(), again, err)
		}
		if ref.Digest != "" && ValidateDigest(ref.Digest) != nil {
			t.Fatalf("invalid digest kept: %q", ref.Digest)
		}
	})
}

// A normalised repository is lower-case owner/name and normalises to itself.
func FuzzNormalizeRepository(f *testing.F) {
	for _, s := range []string{"octo/app", "https://github.com/o/r.git", "git@github.com:o/r", "ghcr.io/o/r/x", "name"} {
		f.Add(s, "org")
	}
	f.Fuzz(func(t *testing.T, s, org string) {
		r := NormalizeRepository(s, org)
		if r == "" {
			return
		}
		if strings.Count(r, "/") != 1 || r != strings.ToLower(r) {
			t.Fatalf("NormalizeRepository(%q, %q) = %q", s, org, r)
		}
		if again := NormalizeRepository(r, ""); again != r {
			t.Fatalf("NormalizeRepository(%q) = %q, not stable", r, again)
		}
	})
}
