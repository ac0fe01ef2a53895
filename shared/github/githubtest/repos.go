package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// Repositories and the files on their default branch (the contents API).

// SetFile puts a file on the default branch of repository ("owner/name").
func (s *Server) SetFile(repository, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(repository)
	if s.files[key] == nil {
		s.files[key] = make(map[string][]byte)
	}
	s.files[key][strings.TrimPrefix(path, "/")] = append([]byte(nil), content...)
}

// RemoveFile deletes a file.
func (s *Server) RemoveFile(repository, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files[strings.ToLower(repository)], strings.TrimPrefix(path, "/"))
}

// handleContents serves the contents API: the raw bytes for the raw media
// type, else the JSON object with base64 content. The ETag is the blob sha.
func (s *Server) handleContents(w http.ResponseWriter, r *http.Request) {
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	path := r.PathValue("path")
	s.mu.Lock()
	data, ok := s.files[strings.ToLower(repo)][path]
	s.mu.Unlock()
	if !ok {
		writeErrorDoc(w, http.StatusNotFound, "Not Found", docsPrefix+"/repos/contents#get-repository-content")
		return
	}
	sha := gitBlobSHA(data)
	w.Header().Set("ETag", `"`+sha+`"`)
	if strings.Contains(r.Header.Get("Accept"), "raw") {
		w.Header().Set("Content-Type", "application/vnd.github.raw+json; charset=utf-8")
		_, _ = w.Write(data)
		return
	}
	api := s.srv.URL + s.prefix + "/repos/" + repo + "/contents/" + path
	writeJSON(w, http.StatusOK, map[string]any{
		"type": "file", "encoding": "base64", "size": len(data), "name": path[strings.LastIndex(path, "/")+1:],
		"path": path, "content": wrap60(base64.StdEncoding.EncodeToString(data)), "sha": sha,
		"url": api, "html_url": "https://github.com/" + repo + "/blob/main/" + path,
		"git_url":      s.srv.URL + s.prefix + "/repos/" + repo + "/git/blobs/" + sha,
		"download_url": "https://raw.githubusercontent.com/" + repo + "/main/" + path,
		"_links":       map[string]string{"self": api},
	})
}

func gitBlobSHA(data []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// wrap60 breaks base64 into lines of 60, as the contents API does.
func wrap60(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60])
		b.WriteByte('\n')
		s = s[60:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}

func (s *Server) handleRepo(w http.ResponseWriter, r *http.Request) {
	owner, name := r.PathValue("owner"), r.PathValue("repo")
	writeJSON(w, http.StatusOK, map[string]any{
		"id": repoID(owner + "/" + name), "name": name, "full_name": owner + "/" + name,
		"owner": map[string]any{"login": owner, "type": "Organization"}, "private": true, "default_branch": "main",
	})
}

// repoID derives a stable numeric id from a repository name.
func repoID(fullName string) int64 {
	h := sha1.Sum([]byte(strings.ToLower(fullName)))
	var id int64
	for _, b := range h[:4] {
		id = id<<8 | int64(b)
	}
	return 100000000 + id%900000000
}
