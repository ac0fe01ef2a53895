package groupsync

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/codeowners"
	"github.com/runtimelink/runtimelink/shared/github"
)

// AppGitHub is GitHub as the App's installation in each org sees it.
type AppGitHub struct {
	// Client returns the installation client of an org.
	Client     func(ctx context.Context, org string) (*gh.Client, error)
	Cache      *github.IssueCache
	Codeowners *github.CodeownersFetcher
}

// Issues implements GitHub.
func (a *AppGitHub) Issues(ctx context.Context, org string) (IssueAPI, error) {
	c, err := a.Client(ctx, org)
	if err != nil {
		return nil, err
	}
	return github.NewIssues(c, a.Cache), nil
}

// Owners implements GitHub: the owners of the last CODEOWNERS line that
// matches path, as GitHub applies the file, less the users GitHub would
// not let the issue be assigned to (no access to the repository): a plan
// that kept them would ask to assign them on every sync.
func (a *AppGitHub) Owners(ctx context.Context, repository, path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	c, err := a.Client(ctx, Org(repository))
	if err != nil {
		return nil, err
	}
	co, err := a.Codeowners.Fetch(ctx, c, repository)
	if err != nil {
		return nil, fmt.Errorf("CODEOWNERS of %s: %w", repository, err)
	}
	if co == nil || co.File == nil {
		return nil, nil
	}
	owners, _, ok := co.File.Owners(path)
	if !ok {
		return nil, nil
	}
	users := codeowners.Users(owners)
	can, err := github.NewIssues(c, a.Cache).Assignable(ctx, repository, users)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, o := range owners {
		login, isUser := strings.CutPrefix(o, "@")
		if isUser && !strings.Contains(login, "/") && !slices.ContainsFunc(can, func(c string) bool { return strings.EqualFold(c, login) }) {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}
