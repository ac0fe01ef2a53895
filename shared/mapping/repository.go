package mapping

import "strings"

// NormalizeRepository returns the canonical form of a GitHub repository
// reference: "owner/name", lower case; or "" when s names no repository.
// It accepts
//
//   - "owner/name" and "Owner/Name";
//   - "name" alone, as deployment records' github_repository often is:
//     the repository of defaultOrg ("" when defaultOrg is empty);
//   - URLs: "https://github.com/owner/name(.git)", GitHub Enterprise hosts,
//     "git@github.com:owner/name.git", "git+https://...", the
//     org.opencontainers.image.source label (which may point deeper, as in
//     ".../owner/name/tree/main");
//   - host-prefixed names such as "ghcr.io/owner/name" or
//     "github.com/owner/name" (a GitHub owner never contains ".", so a first
//     component with one is a host).
//
// The result is lower case because GitHub treats repository names
// case-insensitively while runtimelink uses them as partition keys and map
// keys: "Octo/Shop" and "octo/shop" must land in the same place. GitHub's
// API accepts the lower-case form everywhere; where the display casing
// matters, show the full_name from the GitHub payload instead.
func NormalizeRepository(s, defaultOrg string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "git+")
	bare := false // only a bare name may take defaultOrg, never a URL's path
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
		// Drop user info and host.
		slash := strings.IndexByte(s, '/')
		if slash < 0 {
			return ""
		}
		s = s[slash+1:]
	} else if at := strings.IndexByte(s, '@'); at >= 0 {
		// scp-like git address: git@github.com:owner/name.git
		rest := s[at+1:]
		colon := strings.IndexByte(rest, ':')
		if colon < 0 {
			return ""
		}
		s = rest[colon+1:]
	} else if slash := strings.IndexByte(s, '/'); slash >= 0 && strings.ContainsAny(s[:slash], ".:") {
		s = s[slash+1:]
	} else {
		bare = true
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	s = strings.Trim(s, "/")
	owner, name, found := strings.Cut(s, "/")
	if !found {
		if !bare {
			return ""
		}
		owner, name = strings.TrimSpace(defaultOrg), s
	} else if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i] // deeper paths: tree/main, a GHCR sub-image
	}
	if len(name) > 4 && strings.EqualFold(name[len(name)-4:], ".git") {
		name = name[:len(name)-4]
	}
	if !validOwner(owner) || !validRepoName(name) {
		return ""
	}
	return strings.ToLower(owner + "/" + name)
}

// validOwner: a GitHub login (letters, digits, "-"; "_" for Enterprise
// Managed Users), at most 39 characters.
func validOwner(s string) bool {
	if s == "" || len(s) > 39 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(alnumLower(c) || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validRepoName: letters, digits, ".", "-", "_", at most 100 characters,
// not "." or "..".
func validRepoName(s string) bool {
	if s == "" || len(s) > 100 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(alnumLower(c) || 'A' <= c && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
