package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Issues created and edited through the REST API.

func (s *Server) handleCreateIssue(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string `json:"title"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Title == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	s.mu.Lock()
	s.issues[strings.ToLower(repo)]++
	n := s.issues[strings.ToLower(repo)]
	s.mu.Unlock()
	api := fmt.Sprintf("%s%s/repos/%s/issues/%d", s.srv.URL, s.prefix, repo, n)
	w.Header().Set("Location", api)
	writeJSON(w, http.StatusCreated, map[string]any{"id": 100000 + n, "number": n, "title": in.Title, "state": "open",
		"url": api, "html_url": fmt.Sprintf("https://github.com/%s/issues/%d", repo, n)})
}

func (s *Server) handleUpdateIssue(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	var in map[string]any
	_ = json.NewDecoder(r.Body).Decode(&in)
	in["number"] = n
	writeJSON(w, http.StatusOK, in)
}
