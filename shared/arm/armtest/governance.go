package armtest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GovernanceAPIVersion is the only version of governance assignments.
const GovernanceAPIVersion = "2022-01-01-preview"

// Actions named in 403 answers (and taken by Deny).
const (
	ActionAssignmentRead   = "Microsoft.Security/assessments/governanceAssignments/read"
	ActionAssignmentWrite  = "Microsoft.Security/assessments/governanceAssignments/write"
	ActionAssignmentDelete = "Microsoft.Security/assessments/governanceAssignments/delete"
)

const assignmentType = "Microsoft.Security/assessments/governanceAssignments"

// Assignment is a stored governance assignment, as ARM answers it.
type Assignment struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Properties AssignmentProperties `json:"properties"`
}

// AssignmentProperties are the properties of the 2022-01-01-preview API.
type AssignmentProperties struct {
	Owner                       string             `json:"owner,omitempty"`
	RemediationDueDate          string             `json:"remediationDueDate"`
	RemediationEta              *RemediationEta    `json:"remediationEta,omitempty"`
	IsGracePeriod               *bool              `json:"isGracePeriod,omitempty"`
	GovernanceEmailNotification *EmailNotification `json:"governanceEmailNotification,omitempty"`
	AdditionalData              *AdditionalData    `json:"additionalData,omitempty"`
}

// RemediationEta is the owner's estimate.
type RemediationEta struct {
	Eta           string `json:"eta"`
	Justification string `json:"justification"`
}

// EmailNotification turns Defender's weekly e-mails off.
type EmailNotification struct {
	DisableManagerEmailNotification *bool `json:"disableManagerEmailNotification,omitempty"`
	DisableOwnerEmailNotification   *bool `json:"disableOwnerEmailNotification,omitempty"`
}

// AdditionalData links the assignment to a ticket.
type AdditionalData struct {
	TicketNumber *int64 `json:"ticketNumber,omitempty"`
	TicketLink   string `json:"ticketLink,omitempty"`
	TicketStatus string `json:"ticketStatus,omitempty"`
}

// Assessment name pattern of the API (^[-\w\._\(\)]+$).
var nameRE = regexp.MustCompile(`^[-\w._()]+$`)

// PutAssignment stores an assignment as a security manager's edit in the
// portal would (no request is recorded): assessmentID is the assessment's
// full ARM id.
func (s *Server) PutAssignment(assessmentID, key string, p AssignmentProperties) Assignment {
	id := strings.TrimRight(assessmentID, "/") + "/governanceAssignments/" + key
	a := &Assignment{ID: id, Name: key, Type: assignmentType, Properties: p}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assessments[strings.ToLower(strings.TrimRight(assessmentID, "/"))] = true
	s.storeLocked(a)
	return *a
}

// GetAssignment returns a stored assignment by assessment id and key.
func (s *Server) GetAssignment(assessmentID, key string) (Assignment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.assignments[strings.ToLower(strings.TrimRight(assessmentID, "/")+"/governanceAssignments/"+key)]
	if !ok {
		return Assignment{}, false
	}
	return *a, true
}

// Assignments returns every stored assignment, in creation order.
func (s *Server) Assignments() []Assignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Assignment, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.assignments[id])
	}
	return out
}

func (s *Server) storeLocked(a *Assignment) bool {
	k := strings.ToLower(a.ID)
	_, existed := s.assignments[k]
	if existed {
		// ARM keeps the id as first created.
		a.ID = s.assignments[k].ID
	} else {
		s.order = append(s.order, k)
	}
	s.assignments[k] = a
	return existed
}

// serveGovernance serves
// {scope}/providers/Microsoft.Security/assessments/{name}/governanceAssignments[/{key}].
func (s *Server) serveGovernance(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimRight(r.URL.Path, "/")
	lower := strings.ToLower(path)
	const marker = "/providers/microsoft.security/assessments/"
	i := strings.LastIndex(lower, marker)
	scope := path[:i]
	rest := strings.Split(path[i+len(marker):], "/")
	if len(rest) < 2 || !strings.EqualFold(rest[1], "governanceAssignments") || len(rest) > 3 || scope == "" {
		WriteError(w, http.StatusNotFound, "InvalidResourceType", fmt.Sprintf("The resource type could not be found for path '%s'.", r.URL.Path))
		return
	}
	if !checkAPIVersion(w, r, assignmentType, GovernanceAPIVersion) {
		return
	}
	name := rest[0]
	if !nameRE.MatchString(name) {
		WriteError(w, http.StatusBadRequest, "InvalidAssessmentName", fmt.Sprintf("The assessment name '%s' is invalid.", name))
		return
	}
	assessmentID := path[:i+len(marker)] + name
	if len(rest) == 2 {
		if r.Method != http.MethodGet {
			WriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested method is not allowed.")
			return
		}
		s.listAssignments(w, r, scope, name)
		return
	}
	key := rest[2]
	if key == "" {
		WriteError(w, http.StatusBadRequest, "InvalidAssignmentKey", "The assignment key is required.")
		return
	}
	id := assessmentID + "/governanceAssignments/" + key
	switch r.Method {
	case http.MethodGet:
		if s.forbidden(w, ActionAssignmentRead, id) {
			return
		}
		s.mu.Lock()
		a, ok := s.assignments[strings.ToLower(id)]
		var cp Assignment
		if ok {
			cp = *a
		}
		s.mu.Unlock()
		if !ok {
			WriteError(w, http.StatusNotFound, "ResourceNotFound", fmt.Sprintf("The governance assignment '%s' was not found.", key))
			return
		}
		writeJSON(w, http.StatusOK, cp)
	case http.MethodPut:
		if s.forbidden(w, ActionAssignmentWrite, id) {
			return
		}
		p, problem := decodeProperties(r.Body)
		if problem != "" {
			WriteError(w, http.StatusBadRequest, "InvalidRequestContent", problem)
			return
		}
		s.mu.Lock()
		if !s.anyAssess && !s.assessments[strings.ToLower(assessmentID)] {
			s.mu.Unlock()
			WriteError(w, http.StatusNotFound, "AssessmentNotFound", fmt.Sprintf("The assessment '%s' was not found on scope '%s'.", name, scope))
			return
		}
		a := &Assignment{ID: id, Name: key, Type: assignmentType, Properties: p}
		existed := s.storeLocked(a)
		cp := *a
		s.mu.Unlock()
		status := http.StatusCreated
		if existed {
			status = http.StatusOK
		}
		writeJSON(w, status, cp)
	case http.MethodDelete:
		if s.forbidden(w, ActionAssignmentDelete, id) {
			return
		}
		s.mu.Lock()
		k := strings.ToLower(id)
		_, ok := s.assignments[k]
		if ok {
			delete(s.assignments, k)
			for j, o := range s.order {
				if o == k {
					s.order = append(s.order[:j], s.order[j+1:]...)
					break
				}
			}
		}
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		WriteError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested method is not allowed.")
	}
}

// decodeProperties validates a PUT body as the API's schema does and
// returns the problem ("" when valid).
func decodeProperties(body io.Reader) (AssignmentProperties, string) {
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return AssignmentProperties{}, "The request content could not be read."
	}
	var envelope struct {
		Properties *json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		return AssignmentProperties{}, "The request content was invalid and could not be deserialized: " + err.Error()
	}
	if envelope.Properties == nil || bytes.Equal(bytes.TrimSpace(*envelope.Properties), []byte("null")) {
		return AssignmentProperties{}, "The properties field is required."
	}
	// ticketNumber is an int32 ≥ 0: read it as a number first, so 1.5 or
	// 2^31 is refused the way ARM's schema validation refuses it.
	var shape struct {
		RemediationDueDate *string `json:"remediationDueDate"`
		AdditionalData     *struct {
			TicketNumber *json.Number `json:"ticketNumber"`
		} `json:"additionalData"`
	}
	dec := json.NewDecoder(bytes.NewReader(*envelope.Properties))
	dec.UseNumber()
	if err := dec.Decode(&shape); err != nil {
		return AssignmentProperties{}, "The request content was invalid and could not be deserialized: " + err.Error()
	}
	if shape.RemediationDueDate == nil || *shape.RemediationDueDate == "" {
		return AssignmentProperties{}, "The RemediationDueDate field is required."
	}
	if _, err := time.Parse(time.RFC3339Nano, *shape.RemediationDueDate); err != nil {
		return AssignmentProperties{}, fmt.Sprintf("The value '%s' of remediationDueDate is not a valid date-time.", *shape.RemediationDueDate)
	}
	if ad := shape.AdditionalData; ad != nil && ad.TicketNumber != nil {
		n, err := strconv.ParseInt(ad.TicketNumber.String(), 10, 64)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return AssignmentProperties{}, fmt.Sprintf("The value '%s' of additionalData.ticketNumber is invalid: an integer from 0 to %d is required.", ad.TicketNumber, math.MaxInt32)
		}
	}
	var p AssignmentProperties
	if err := json.Unmarshal(*envelope.Properties, &p); err != nil {
		return AssignmentProperties{}, "The request content was invalid and could not be deserialized: " + err.Error()
	}
	if p.RemediationEta != nil {
		if _, err := time.Parse(time.RFC3339Nano, p.RemediationEta.Eta); err != nil || p.RemediationEta.Justification == "" {
			return AssignmentProperties{}, "remediationEta needs eta (a date-time) and justification."
		}
	}
	return p, ""
}

// listAssignments answers GovernanceAssignments_List: every assignment of
// assessment name under scope, paged with nextLink.
func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request, scope, name string) {
	if s.forbidden(w, ActionAssignmentRead, scope) {
		return
	}
	prefix := strings.ToLower(scope) + "/"
	s.mu.Lock()
	var all []Assignment
	for _, k := range s.order {
		a := s.assignments[k]
		if strings.HasPrefix(k, prefix) && strings.Contains(k, "/providers/microsoft.security/assessments/"+strings.ToLower(name)+"/governanceassignments/") {
			all = append(all, *a)
		}
	}
	size := s.pageSize
	s.mu.Unlock()
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		n, ok := decodeSkip(tok, len(all))
		if !ok {
			WriteError(w, http.StatusBadRequest, "InvalidSkipToken", "The skip token is invalid.")
			return
		}
		start = n
	}
	end := min(start+size, len(all))
	out := map[string]any{"value": append([]Assignment{}, all[start:end]...)}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("$skiptoken", encodeSkip(end))
		out["nextLink"] = s.URL + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

func encodeSkip(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("skip:" + strconv.Itoa(n)))
}

func decodeSkip(tok string, limit int) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), "skip:")
	n, err := strconv.Atoi(v)
	if !ok || err != nil || n < 0 || n > limit {
		return 0, false
	}
	return n, true
}
