package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	gh "github.com/google/go-github/v62/github"
)

// CopilotLogin is the assignee that hands an issue to Copilot coding agent.
const CopilotLogin = "copilot-swe-agent[bot]"

// AgentAssignment tells Copilot coding agent what to work on.
type AgentAssignment struct {
	TargetRepo         string `json:"target_repo,omitempty"`
	BaseBranch         string `json:"base_branch,omitempty"`
	CustomInstructions string `json:"custom_instructions,omitempty"`
	CustomAgent        string `json:"custom_agent,omitempty"`
}

// Copilot assigns issues to Copilot coding agent. GitHub takes only a
// user's token for it (a fine-grained PAT with issues, pull requests,
// contents and actions write), never an installation token: Token reads it
// (a Key Vault secret) at every call, so a rotated token is used at once.
type Copilot struct {
	base  *url.URL
	token func(ctx context.Context) (string, error)
	hc    *http.Client
}

// NewCopilot builds the client for the API at baseURL (GITHUB_API_URL).
func NewCopilot(baseURL string, token func(ctx context.Context) (string, error), hc *http.Client) (*Copilot, error) {
	api, _, err := apiURLs(baseURL)
	if err != nil {
		return nil, err
	}
	if token == nil {
		return nil, errors.New("copilot: no user token")
	}
	if hc == nil {
		hc = &http.Client{Transport: PooledTransport()}
	}
	return &Copilot{base: api, token: token, hc: hc}, nil
}

// Assign adds Copilot coding agent to the assignees of issue number of repo
// with a (the repository's default branch when a names no base branch).
// The issue's other assignees are kept. GitHub answering without Copilot
// among the assignees is an error too: it drops what it will not take.
func (c *Copilot) Assign(ctx context.Context, repo string, number int, a AgentAssignment) error {
	op := fmt.Sprintf("assign %s#%d to Copilot", repo, number)
	owner, name, err := splitRepo(repo)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	tok, err := c.token(ctx)
	if err != nil {
		return fmt.Errorf("%s: user token: %w", op, err)
	}
	if strings.TrimSpace(tok) == "" {
		return fmt.Errorf("%s: the user token is empty", op)
	}
	client := gh.NewClient(c.hc).WithAuthToken(tok)
	client.BaseURL = c.base
	if a.TargetRepo == "" {
		a.TargetRepo = repo
	}
	if a.BaseBranch == "" {
		r, _, err := client.Repositories.Get(ctx, owner, name)
		if err != nil {
			return classify(op+": default branch", err, false)
		}
		a.BaseBranch = r.GetDefaultBranch()
	}
	body := struct {
		Assignees       []string        `json:"assignees"`
		AgentAssignment AgentAssignment `json:"agent_assignment"`
	}{[]string{CopilotLogin}, a}
	req, err := client.NewRequest(http.MethodPost, fmt.Sprintf("repos/%s/%s/issues/%d/assignees", owner, name, number), body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var is gh.Issue
	if _, err := client.Do(ctx, req, &is); err != nil {
		return classify(op, err, false)
	}
	if !slices.ContainsFunc(is.Assignees, func(u *gh.User) bool { return strings.EqualFold(u.GetLogin(), CopilotLogin) }) {
		return fmt.Errorf("%s: GitHub did not assign %s (is the agent enabled for the repository?)", op, CopilotLogin)
	}
	return nil
}
