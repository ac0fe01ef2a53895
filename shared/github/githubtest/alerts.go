package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/runtimelink/runtimelink/shared/model"
)

// The organisation-wide GHAS alert listings and the orgs that hold them.

type org struct {
	id     int64
	login  string
	alerts map[model.Source][]json.RawMessage
}

// alertPaths: the URL segment of each GHAS source.
var alertPaths = map[model.Source]string{
	model.SourceCodeScanning:   "code-scanning",
	model.SourceDependabot:     "dependabot",
	model.SourceSecretScanning: "secret-scanning",
}

func (s *Server) handleOrgAlerts(source model.Source) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.handleAlerts(w, r, s.orgByLogin(r.PathValue("org")), source)
	}
}

// handleOrgIDAlerts serves the /organizations/{id} form the Link headers use.
func (s *Server) handleOrgIDAlerts(source model.Source) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		s.mu.Lock()
		o := s.orgByID[id]
		s.mu.Unlock()
		s.handleAlerts(w, r, o, source)
	}
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
	perPage, ok := perPageOf(w, q)
	if !ok {
		return
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
		page, ok := pageOf(w, q)
		if !ok {
			return
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
