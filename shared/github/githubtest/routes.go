package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

type org struct {
	id     int64
	login  string
	alerts map[model.Source][]json.RawMessage
}

type storedAttestation struct {
	repositoryID  int64
	bundle        json.RawMessage
	predicateType string
	blobID        string
	onlyByURL     bool
}

// alertPaths: the URL segment of each GHAS source.
var alertPaths = map[model.Source]string{
	model.SourceCodeScanning:   "code-scanning",
	model.SourceDependabot:     "dependabot",
	model.SourceSecretScanning: "secret-scanning",
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /app/installations/{id}/access_tokens", s.handleAccessToken)
	m.HandleFunc("GET /app/installations", s.handleListInstallations)
	m.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"id": s.AppID, "slug": "runtimelink", "name": "runtimelink"})
	})
	for source, seg := range alertPaths {
		m.HandleFunc("GET /orgs/{org}/"+seg+"/alerts", func(w http.ResponseWriter, r *http.Request) {
			s.handleAlerts(w, r, s.orgByLogin(r.PathValue("org")), source)
		})
		m.HandleFunc("GET /organizations/{id}/"+seg+"/alerts", func(w http.ResponseWriter, r *http.Request) {
			id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
			s.mu.Lock()
			o := s.orgByID[id]
			s.mu.Unlock()
			s.handleAlerts(w, r, o, source)
		})
	}
	m.HandleFunc("GET /orgs/{org}/attestations/{digest}", s.handleAttestations)
	m.HandleFunc("GET /repos/{owner}/{repo}/contents/{path...}", s.handleContents)
	m.HandleFunc("GET /repos/{owner}/{repo}", s.handleRepo)
	m.HandleFunc("POST /repos/{owner}/{repo}/issues", s.handleCreateIssue)
	m.HandleFunc("PATCH /repos/{owner}/{repo}/issues/{number}", s.handleUpdateIssue)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { writeError(w, http.StatusNotFound, "Not Found") })
	s.mux = m
}

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

// SetAlerts replaces the org-wide alerts of one source (in listing order).
func (s *Server) SetAlerts(orgLogin string, source model.Source, alerts []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgLocked(orgLogin)
	o.alerts[source] = append([]json.RawMessage(nil), alerts...)
}

func (s *Server) orgLocked(login string) *org {
	key := strings.ToLower(login)
	o, ok := s.orgs[key]
	if !ok {
		o = &org{id: int64(9000 + len(s.orgs) + 1), login: login, alerts: make(map[model.Source][]json.RawMessage)}
		s.orgs[key] = o
		s.orgByID[o.id] = o
	}
	return o
}

func (s *Server) orgByLogin(login string) *org {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.orgs[strings.ToLower(login)]
}

// handleAlerts lists alerts the way GitHub does: page numbers by default;
// cursors (after/before) when asked for, and always for Dependabot, which
// refuses `page`. The Link header names the org by id, as GitHub's do.
func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request, o *org, source model.Source) {
	if o == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	q := r.URL.Query()
	perPage := 30
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "Invalid per_page")
			return
		}
		perPage = min(n, 100)
	}
	s.mu.Lock()
	alerts := o.alerts[source]
	s.mu.Unlock()

	link := func(set map[string]string, rel string) string {
		v := url.Values{}
		for k, vals := range q {
			if k != "page" && k != "after" && k != "before" {
				v[k] = vals
			}
		}
		for k, val := range set {
			v.Set(k, val)
		}
		return fmt.Sprintf(`<%s%s/organizations/%d/%s/alerts?%s>; rel="%s"`,
			s.srv.URL, s.prefix, o.id, alertPaths[source], v.Encode(), rel)
	}
	var start, end int
	var links []string
	if source == model.SourceDependabot || q.Has("after") || q.Has("before") {
		if q.Has("page") {
			writeError(w, http.StatusBadRequest, "Pagination using the `page` parameter is not supported.")
			return
		}
		end = len(alerts)
		switch {
		case q.Get("after") != "":
			i, ok := decodeCursor(q.Get("after"), len(alerts))
			if !ok {
				writeError(w, http.StatusBadRequest, "Invalid cursor")
				return
			}
			start = i + 1
		case q.Get("before") != "":
			i, ok := decodeCursor(q.Get("before"), len(alerts))
			if !ok {
				writeError(w, http.StatusBadRequest, "Invalid cursor")
				return
			}
			start = max(0, i-perPage)
			end = i
		}
		end = min(end, start+perPage)
		if start > 0 {
			links = append(links, link(map[string]string{"before": encodeCursor(start)}, "prev"))
		}
		if end < len(alerts) {
			links = append(links, link(map[string]string{"after": encodeCursor(end - 1)}, "next"))
		}
	} else {
		page := 1
		if v := q.Get("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, "Invalid page")
				return
			}
			page = n
		}
		last := max(1, (len(alerts)+perPage-1)/perPage)
		start = min((page-1)*perPage, len(alerts))
		end = min(start+perPage, len(alerts))
		if page > 1 {
			links = append(links, link(map[string]string{"page": strconv.Itoa(page - 1)}, "prev"))
		}
		if page < last {
			links = append(links, link(map[string]string{"page": strconv.Itoa(page + 1)}, "next"),
				link(map[string]string{"page": strconv.Itoa(last)}, "last"))
		}
		if page > 1 {
			links = append(links, link(map[string]string{"page": "1"}, "first"))
		}
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	size := 2 + end - start
	for _, a := range alerts[start:end] {
		size += len(a)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '[')
	for i, a := range alerts[start:end] {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, a...)
	}
	buf = append(buf, ']')
	_, _ = w.Write(buf)
}

// Cursors are opaque to clients, like GitHub's; here they name a position.
func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("cursor:v2:" + strconv.Itoa(i)))
}

func decodeCursor(c string, n int) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "cursor:v2:")
	i, err := strconv.Atoi(v)
	if !ok || err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

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

// repoID derives a stable numeric id from a repository name.
func repoID(fullName string) int64 {
	h := sha1.Sum([]byte(strings.ToLower(fullName)))
	var id int64
	for _, b := range h[:4] {
		id = id<<8 | int64(b)
	}
	return 100000000 + id%900000000
}
