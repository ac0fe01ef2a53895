package githubtest

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// The App's own endpoints, authenticated with its JWT: installations and
// their tokens.

func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	// GitHub answers a plain 404 for an installation that does not exist or
	// is not this App's (uninstalled, or another App's id).
	if err != nil || !s.installed(id) {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/apps/apps#create-an-installation-access-token-for-an-app")
		return
	}
	tok := randomToken()
	exp := time.Now().Add(s.tokenTTL).Truncate(time.Second)
	s.mu.Lock()
	s.tokens[tok] = token{installation: id, expires: exp}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           exp.UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"issues": "write", "security_events": "read", "contents": "read", "attestations": "read"},
		"repository_selection": "all",
	})
}

// AddInstallation installs the App on an organisation: the installation is
// listed under GET /app/installations and tokens can be minted for it. Adding
// an id again moves it to org.
func (s *Server) AddInstallation(id int64, org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.installations {
		if s.installations[i].id == id {
			s.installations[i].org = org
			return
		}
	}
	s.installations = append(s.installations, installation{id: id, org: org})
}

// RemoveInstallation uninstalls the App: no new token for id, and the tokens
// already minted stop working, as on GitHub.
func (s *Server) RemoveInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations = slices.DeleteFunc(s.installations, func(in installation) bool { return in.id == id })
	maps.DeleteFunc(s.tokens, func(_ string, t token) bool { return t.installation == id })
}

func (s *Server) installed(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.installations, func(in installation) bool { return in.id == id })
}

func (s *Server) handleListInstallations(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	list := make([]map[string]any, 0, len(s.installations))
	for _, in := range s.installations {
		list = append(list, map[string]any{"id": in.id, "app_id": s.AppID, "target_type": "Organization",
			"account": map[string]any{"login": in.org, "type": "Organization"}, "repository_selection": "all"})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"id": s.AppID, "slug": "runtimelink", "name": "runtimelink"})
}
