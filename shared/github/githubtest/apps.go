package githubtest

import (
	"net/http"
	"strconv"
	"time"
)

// The App's own endpoints, authenticated with its JWT: installations and
// their tokens.

func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "Not Found")
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
