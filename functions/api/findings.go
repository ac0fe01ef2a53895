package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

// FindingsPage is the answer of GET /api/findings. Next is the cursor of
// the next page ("" on the last one): pass it back as ?cursor=.
type FindingsPage struct {
	Findings []model.Finding `json:"findings"`
	Next     string          `json:"next"`
}

// Paging bounds of GET /api/findings.
const (
	defaultFindingsLimit = 50
	maxFindingsLimit     = 200
)

// FindingsFilter is what GET /api/findings selects on (the store's
// filter: every list matches any of its values; risks must all be present).
type FindingsFilter = store.FindingsFilter

// findingsParams are the query parameters GET /api/findings knows; "code"
// is the Functions host's function key.
var findingsParams = []string{"priority", "repository", "cluster", "risk", "deployed", "source", "state", "limit", "cursor", "code"}

// ParseFindingsQuery reads the filters and paging of GET /api/findings. An
// unknown parameter or value is an error naming it, so a typo never
// silently widens the answer.
func ParseFindingsQuery(v url.Values) (f FindingsFilter, limit int, cursor string, err error) {
	for k := range v {
		if !slices.Contains(findingsParams, k) {
			return f, 0, "", fmt.Errorf("unknown parameter %q (known: %s)", k, strings.Join(findingsParams[:len(findingsParams)-1], ", "))
		}
	}
	for _, s := range values(v, "priority") {
		p, ok := model.ParsePriority(s)
		if !ok {
			return f, 0, "", fmt.Errorf("priority %q: want Critical, High, Medium or Low", s)
		}
		f.Priorities = appendNew(f.Priorities, p)
	}
	if r := strings.TrimSpace(v.Get("repository")); r != "" {
		if !strings.Contains(r, "/") || mapping.NormalizeRepository(r, "") == "" {
			return f, 0, "", fmt.Errorf("repository %q: want owner/name", r)
		}
		f.Repository = r
	}
	if c := strings.TrimSpace(v.Get("cluster")); c != "" {
		f.Cluster = c
	}
	for _, s := range values(v, "risk") {
		rf, ok := mapping.RiskFromDefender(s)
		if !ok {
			return f, 0, "", fmt.Errorf("risk %q: want one of %s", s, joinRisks())
		}
		f.Risks = appendNew(f.Risks, rf)
	}
	if s := strings.TrimSpace(v.Get("deployed")); s != "" {
		var b bool
		switch strings.ToLower(s) {
		case "yes", "true", "1":
			b = true
		case "no", "false", "0":
		default:
			return f, 0, "", fmt.Errorf("deployed %q: want yes or no", s)
		}
		f.Deployed = &b
	}
	sources := []model.Source{model.SourceCodeScanning, model.SourceDependabot, model.SourceSecretScanning, model.SourceDefenderCVE, model.SourceDefenderAlert}
	for _, s := range values(v, "source") {
		src := model.Source(strings.ToLower(s))
		if !slices.Contains(sources, src) {
			return f, 0, "", fmt.Errorf("source %q: want one of %s", s, joinAny(sources))
		}
		f.Sources = appendNew(f.Sources, src)
	}
	states := []model.FindingState{model.StateOpen, model.StateFixed, model.StateDismissed, model.StateResolved}
	for _, s := range values(v, "state") {
		st := model.FindingState(strings.ToLower(s))
		if !slices.Contains(states, st) {
			return f, 0, "", fmt.Errorf("state %q: want one of %s", s, joinAny(states))
		}
		f.States = appendNew(f.States, st)
	}
	limit = defaultFindingsLimit
	if s := strings.TrimSpace(v.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxFindingsLimit {
			return f, 0, "", fmt.Errorf("limit %q: want a number from 1 to %d", s, maxFindingsLimit)
		}
		limit = n
	}
	cursor = strings.TrimSpace(v.Get("cursor"))
	if _, err := base64.RawURLEncoding.DecodeString(cursor); err != nil {
		return f, 0, "", errors.New("cursor: not a cursor from a previous answer")
	}
	return f, limit, cursor, nil
}

func findings(d *app.Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		log := invocation.Logger(r.Context())
		f, limit, cursor, err := ParseFindingsQuery(r.URL.Query())
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
			return
		}
		docs, next, err := d.State().FindingsMatching(r.Context(), f, limit, cursor)
		if err != nil {
			if errors.Is(err, store.ErrBadCursor) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"message": "cursor: not valid for this query"})
				return
			}
			log.Error("findings query failed", "error", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "internal error"})
			return
		}
		if docs == nil {
			docs = []model.Finding{}
		}
		for i := range docs {
			docs[i].Meta = model.Meta{} // storage bookkeeping, not part of the answer
		}
		writeJSON(w, http.StatusOK, FindingsPage{Findings: docs, Next: next})
	}
}

// values splits a repeated and comma-separated parameter.
func values(v url.Values, key string) []string {
	var out []string
	for _, s := range v[key] {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func appendNew[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func joinRisks() string { return joinAny(model.RiskFactors) }

func joinAny[T ~string](vs []T) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return strings.Join(out, ", ")
}
