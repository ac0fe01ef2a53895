// Package mapping links the code in GitHub to the containers that run it:
// it normalises image references and repository names, picks the source
// repository of an image digest from the strongest evidence, indexes
// workloads by repository, image and digest both ways, and translates
// runtime risk factors. It is pure: callers load the records and store the
// results.
package mapping

import (
	"errors"
	"fmt"
	"strings"
)

// DockerHub is the registry of references that name none.
const DockerHub = "docker.io"

// ImageRef is a parsed, normalised container image reference.
type ImageRef struct {
	Registry   string // lower-case host[:port]; "docker.io" by default
	Repository string // path inside the registry; "library/<name>" for Docker Hub official images
	Tag        string // "" when the reference has none
	Digest     string // "sha256:<64 hex>" or ""
}

// Name is the image name without tag or digest: registry/repository. It is
// the normalised image name stored on artifacts, workloads and findings.
func (r ImageRef) Name() string { return r.Registry + "/" + r.Repository }

// String is the full normalised reference: name[:tag][@digest].
func (r ImageRef) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ParseImageRef parses an image reference the way docker does:
//
//   - the first path component is a registry when it contains "." or ":"
//     or is "localhost"; otherwise the registry is docker.io;
//   - "index.docker.io" and "registry-1.docker.io" are docker.io;
//   - a one-component Docker Hub repository is "library/<name>";
//   - the registry host is lower-cased (hosts are case-insensitive); the
//     repository must already be lower case, as docker requires;
//   - "name:tag@sha256:..." keeps both tag and digest; a digest must be
//     sha256 with 64 lower-case hex digits.
func ParseImageRef(s string) (ImageRef, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return ImageRef{}, errors.New("parse image reference: empty")
	}
	if strings.Contains(s, "://") {
		return ImageRef{}, fmt.Errorf("parse image reference %q: a reference has no scheme", in)
	}
	var ref ImageRef
	if i := strings.IndexByte(s, '@'); i >= 0 {
		if err := ValidateDigest(s[i+1:]); err != nil {
			return ImageRef{}, fmt.Errorf("parse image reference %q: %w", in, err)
		}
		ref.Digest = s[i+1:]
		s = s[:i]
	}
	// A tag follows the last ':' that comes after the last '/'; an earlier
	// ':' is a registry port.
	if i := strings.LastIndexByte(s, ':'); i >= 0 && i > strings.LastIndexByte(s, '/') {
		ref.Tag = s[i+1:]
		s = s[:i]
		if !validTag(ref.Tag) {
			return ImageRef{}, fmt.Errorf("parse image reference %q: invalid tag %q", in, ref.Tag)
		}
	}
	ref.Registry = DockerHub
	if i := strings.IndexByte(s, '/'); i >= 0 {
		first := s[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" || strings.HasPrefix(first, "[") {
			if !validHost(first) {
				return ImageRef{}, fmt.Errorf("parse image reference %q: invalid registry host %q", in, first)
			}
			ref.Registry = strings.ToLower(first)
			s = s[i+1:]
		}
	}
	switch ref.Registry {
	case "index.docker.io", "registry-1.docker.io":
		ref.Registry = DockerHub
	}
	if s == "" {
		return ImageRef{}, fmt.Errorf("parse image reference %q: no repository", in)
	}
	for _, c := range strings.Split(s, "/") {
		if !validPathComponent(c) {
			if strings.ToLower(c) != c && validPathComponent(strings.ToLower(c)) {
				return ImageRef{}, fmt.Errorf("parse image reference %q: repository name must be lower case", in)
			}
			return ImageRef{}, fmt.Errorf("parse image reference %q: invalid repository component %q", in, c)
		}
	}
	if ref.Registry == DockerHub && !strings.Contains(s, "/") {
		s = "library/" + s
	}
	ref.Repository = s
	if len(ref.Name()) > 255 {
		return ImageRef{}, fmt.Errorf("parse image reference %q: name longer than 255 characters", in)
	}
	return ref, nil
}

// NormalizeImage returns the normalised name (registry/repository) of an
// image reference, or the error of ParseImageRef.
func NormalizeImage(s string) (string, error) {
	ref, err := ParseImageRef(s)
	if err != nil {
		return "", err
	}
	return ref.Name(), nil
}

// ValidateDigest checks that d is a canonical sha256 digest:
// "sha256:" followed by 64 lower-case hex digits.
func ValidateDigest(d string) error {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok {
		return fmt.Errorf("invalid digest %q: want sha256:<64 hex digits>", d)
	}
	if algo != "sha256" {
		return fmt.Errorf("invalid digest %q: unsupported algorithm %q", d, algo)
	}
	if len(hex) != 64 {
		return fmt.Errorf("invalid digest %q: want 64 hex digits, got %d characters", d, len(hex))
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("invalid digest %q: want lower-case hex digits", d)
		}
	}
	return nil
}

// validPathComponent: [a-z0-9]+ joined by one separator of ".", "_", "__"
// or a run of "-" (the distribution reference grammar).
func validPathComponent(c string) bool {
	if c == "" || !alnumLower(c[0]) || !alnumLower(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); i++ {
		if alnumLower(c[i]) {
			continue
		}
		switch {
		case c[i] == '.':
			if !alnumLower(c[i+1]) {
				return false
			}
		case c[i] == '_':
			if c[i+1] == '_' {
				i++
			}
			if !alnumLower(c[i+1]) {
				return false
			}
		case c[i] == '-':
			for c[i+1] == '-' {
				i++
			}
			if !alnumLower(c[i+1]) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func alnumLower(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// validTag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(alnumLower(c) || 'A' <= c && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validHost: DNS labels joined by ".", or a bracketed IPv6 address, with
// an optional numeric port.
func validHost(h string) bool {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		host, port = h[1:end], h[end+1:]
		for i := 0; i < len(host); i++ {
			if c := host[i]; !(c == ':' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		if host == "" {
			return false
		}
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if port == "" {
			return false
		}
		for _, label := range strings.Split(host, ".") {
			if !validLabel(label) {
				return false
			}
		}
	} else {
		for _, label := range strings.Split(host, ".") {
			if !validLabel(label) {
				return false
			}
		}
	}
	if len(port) > 5 {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !(alnumLower(c) || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
