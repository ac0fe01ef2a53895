package armtest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
)

// GovernanceAssignmentsQuery is the Resource Graph query that lists every
// governance assignment; the fake answers it from its stored assignments.
const GovernanceAssignmentsQuery = `securityresources | where type == "microsoft.security/assessments/governanceassignments"`

// graphAPIVersions are the Resource Graph versions the fake accepts.
var graphAPIVersions = []string{"2021-03-01", "2022-10-01", "2024-04-01"}

const tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// SetQueryRows makes Resource Graph answer query (compared with runs of
// white space collapsed) with rows (objectArray format).
func (s *Server) SetQueryRows(query string, rows []json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graphRows[normalizeQuery(query)] = append([]json.RawMessage(nil), rows...)
}

// SetQueryAnswers makes Resource Graph answer query with bodies verbatim,
// one per request for it in order and the last one again after that, for
// tests of how a client copes with answers Resource Graph should not give
// (a $skipToken handed back again, the table format, a row without id).
// It takes precedence over SetQueryRows.
func (s *Server) SetQueryAnswers(query string, bodies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.graphAnswers[normalizeQuery(query)] = &cannedAnswers{bodies: append([]string(nil), bodies...)}
}

type cannedAnswers struct {
	bodies []string
	served int
}

func (c *cannedAnswers) next() string {
	b := c.bodies[min(c.served, len(c.bodies)-1)]
	c.served++
	return b
}

// GraphQuery is the body of one Resource Graph request.
type GraphQuery struct {
	Subscriptions []string
	Query         string
	SkipToken     string
	Top           int // 0: not sent
	ResultFormat  string
}

// GraphQueries returns the bodies of the Resource Graph requests received,
// in order: every request that got as far as its body being read (not
// those refused for their token, api-version or an injected fault).
func (s *Server) GraphQueries() []GraphQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GraphQuery(nil), s.graphQueries...)
}

func normalizeQuery(q string) string { return strings.Join(strings.Fields(q), " ") }

type graphRequest struct {
	Subscriptions []string `json:"subscriptions"`
	Query         string   `json:"query"`
	Options       struct {
		SkipToken    string `json:"$skipToken"`
		Top          *int   `json:"$top"`
		ResultFormat string `json:"resultFormat"`
	} `json:"options"`
}

func (s *Server) serveGraph(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		WriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested method is not allowed.")
		return
	}
	if !checkAPIVersion(w, r, "Microsoft.ResourceGraph/resources", graphAPIVersions...) {
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		WriteError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", "The content media type is not supported; application/json is.")
		return
	}
	var req graphRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &req); err != nil || strings.TrimSpace(req.Query) == "" {
		WriteError(w, http.StatusBadRequest, "BadRequest", "The request content was invalid: a query is required.")
		return
	}
	gq := GraphQuery{Subscriptions: req.Subscriptions, Query: req.Query, SkipToken: req.Options.SkipToken, ResultFormat: req.Options.ResultFormat}
	if req.Options.Top != nil {
		gq.Top = *req.Options.Top
	}
	s.mu.Lock()
	s.graphQueries = append(s.graphQueries, gq)
	s.mu.Unlock()
	if f := req.Options.ResultFormat; f != "" && !strings.EqualFold(f, "objectArray") {
		WriteError(w, http.StatusBadRequest, "BadRequest", "this fake serves resultFormat objectArray only")
		return
	}
	top := 100
	if req.Options.Top != nil {
		if *req.Options.Top < 1 || *req.Options.Top > 1000 {
			WriteError(w, http.StatusBadRequest, "BadRequest", "$top must be between 1 and 1000.")
			return
		}
		top = *req.Options.Top
	}
	if s.forbidden(w, "Microsoft.ResourceGraph/resources/read", "/") {
		return
	}
	q := normalizeQuery(req.Query)
	s.mu.Lock()
	canned := s.graphAnswers[q]
	var answer string
	if canned != nil {
		answer = canned.next()
	}
	s.mu.Unlock()
	if canned != nil {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, answer)
		return
	}
	var rows []json.RawMessage
	if q == normalizeQuery(GovernanceAssignmentsQuery) {
		rows = s.assignmentRows()
	} else {
		s.mu.Lock()
		stored, ok := s.graphRows[q]
		s.mu.Unlock()
		if !ok {
			WriteError(w, http.StatusBadRequest, "BadRequest", "Please provide below info when asking for support: query is invalid or not served by this fake: "+q)
			return
		}
		rows = stored
	}
	if len(req.Subscriptions) > 0 {
		rows = slices.DeleteFunc(slices.Clone(rows), func(row json.RawMessage) bool {
			var v struct {
				SubscriptionID string `json:"subscriptionId"`
			}
			_ = json.Unmarshal(row, &v)
			return v.SubscriptionID != "" && !slices.ContainsFunc(req.Subscriptions, func(s string) bool { return strings.EqualFold(s, v.SubscriptionID) })
		})
	}
	start := 0
	if req.Options.SkipToken != "" {
		n, ok := decodeSkip(req.Options.SkipToken, len(rows))
		if !ok {
			WriteError(w, http.StatusBadRequest, "BadRequest", "The skip token is invalid.")
			return
		}
		start = n
	}
	end := min(start+top, len(rows))
	out := map[string]any{
		"totalRecords": len(rows), "count": end - start, "data": rows[start:end],
		"facets": []any{}, "resultTruncated": "false",
	}
	if end < len(rows) {
		out["$skipToken"] = encodeSkip(end)
	}
	writeJSON(w, http.StatusOK, out)
}

// assignmentRows are the stored assignments as Resource Graph rows; none
// when the identity may not read them (Resource Graph answers only what
// the caller may read, it does not refuse).
func (s *Server) assignmentRows() []json.RawMessage {
	s.mu.Lock()
	denied := s.denied[strings.ToLower(ActionAssignmentRead)]
	s.mu.Unlock()
	if denied {
		return nil
	}
	var rows []json.RawMessage
	for _, a := range s.Assignments() {
		sub, rg := armParts(a.ID)
		row, _ := json.Marshal(map[string]any{
			"id": a.ID, "name": a.Name, "type": strings.ToLower(assignmentType),
			"tenantId": tenantID, "kind": "", "location": "", "resourceGroup": rg,
			"subscriptionId": sub, "managedBy": "", "sku": nil, "plan": nil,
			"properties": a.Properties, "tags": nil, "identity": nil, "zones": nil, "extendedLocation": nil,
		})
		rows = append(rows, row)
	}
	return rows
}

// armParts returns the subscription id and lower-case resource group of an id.
func armParts(id string) (sub, rg string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			if sub == "" {
				sub = parts[i+1]
			}
		case "resourcegroups":
			if rg == "" {
				rg = strings.ToLower(parts[i+1])
			}
		}
	}
	return sub, rg
}
