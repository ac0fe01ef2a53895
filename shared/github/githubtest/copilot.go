package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CopilotLogin is the assignee that hands an issue to Copilot coding agent.
const CopilotLogin = "copilot-swe-agent[bot]"

// AgentAssignment is what an issue was handed to Copilot with.
type AgentAssignment struct {
	TargetRepo         string `json:"target_repo"`
	BaseBranch         string `json:"base_branch"`
	CustomInstructions string `json:"custom_instructions"`
	CustomAgent        string `json:"custom_agent"`
	// By is the user whose token assigned it.
	By string `json:"-"`
}

type copilotState struct {
	enabled     map[string]bool            // lower-case repositories with Copilot coding agent on
	assignments map[string]AgentAssignment // "repo#n" (lower case)
}

// AddUserToken makes token a user's token (a fine-grained PAT of login),
// the only kind GitHub takes to assign Copilot coding agent.
func (s *Server) AddUserToken(token, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = tokenOf(login)
}

func tokenOf(login string) token {
	return token{user: login, expires: time.Now().Add(365 * 24 * time.Hour)}
}

// EnableCopilot turns Copilot coding agent on for a repository.
func (s *Server) EnableCopilot(repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.copilot.enabled == nil {
		s.copilot.enabled = map[string]bool{}
	}
	s.copilot.enabled[strings.ToLower(repo)] = true
}

// AgentAssignmentOf returns what issue n of repo was handed to Copilot with.
func (s *Server) AgentAssignmentOf(repo string, n int) (AgentAssignment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.copilot.assignments[fmt.Sprintf("%s#%d", strings.ToLower(repo), n)]
	return a, ok
}

var repoNameRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$`)

// assignCopilotLocked takes Copilot out of logins and assigns it as GitHub
// does: with a user's token only (an installation token gets 403), on a
// repository where the agent is on (else 422), with agent_assignment
// validated. It returns the other logins; false when it answered.
func (s *Server) assignCopilotLocked(w http.ResponseWriter, r *http.Request, obj map[string]json.RawMessage, repo string, i *FakeIssue, logins []string) ([]string, bool) {
	rest := slices.DeleteFunc(slices.Clone(logins), func(l string) bool { return strings.EqualFold(l, CopilotLogin) })
	if len(rest) == len(logins) {
		if _, ok := obj["agent_assignment"]; ok {
			validationFailed(w, fieldError{Resource: "Issue", Code: "invalid", Field: "agent_assignment",
				Message: "agent_assignment is only valid when assigning " + CopilotLogin})
			return nil, false
		}
		return rest, true
	}
	id := whoOf(r)
	if id.user == "" {
		writeErrorDoc(w, http.StatusForbidden, "Resource not accessible by integration",
			docsPrefix+"/issues/assignees#add-assignees-to-an-issue")
		return nil, false
	}
	if !s.copilot.enabled[strings.ToLower(repo)] {
		validationFailed(w, fieldError{Resource: "Issue", Code: "invalid", Field: "assignees", Value: CopilotLogin,
			Message: "Copilot coding agent is not enabled for this repository"})
		return nil, false
	}
	var a AgentAssignment
	if raw, ok := obj["agent_assignment"]; ok {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			invalidRequest(w, "For 'properties/agent_assignment': "+err.Error())
			return nil, false
		}
		if a.TargetRepo != "" && !repoNameRE.MatchString(a.TargetRepo) {
			validationFailed(w, fieldError{Resource: "Issue", Code: "invalid", Field: "agent_assignment.target_repo", Value: a.TargetRepo})
			return nil, false
		}
		if len(a.CustomInstructions) > 64*1024 {
			validationFailed(w, fieldError{Resource: "Issue", Code: "too_long", Field: "agent_assignment.custom_instructions"})
			return nil, false
		}
	}
	a.By = id.user
	if s.copilot.assignments == nil {
		s.copilot.assignments = map[string]AgentAssignment{}
	}
	s.copilot.assignments[fmt.Sprintf("%s#%d", strings.ToLower(repo), i.Number)] = a
	if !slices.Contains(i.Assignees, CopilotLogin) {
		i.Assignees = append(i.Assignees, CopilotLogin)
	}
	return rest, true
}
