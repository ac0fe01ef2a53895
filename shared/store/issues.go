package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A group's GitHub issue is recorded on the group (synced.issueNumber,
// and synced.issueUrl, which names the repository the issue lives in: the
// group's own, or the one a person transferred the issue to).
const (
	sqlGroupsOfIssue = "SELECT * FROM c WHERE c.synced.issueNumber = @n"
	// A transferred issue keeps its group in the repository of origin;
	// its URL is the only place the new repository is named.
	sqlGroupsOfMovedIssue = "SELECT * FROM c WHERE c.synced.issueNumber = @n AND c.repository != @repo " +
		"AND ENDSWITH(LOWER(c.synced.issueUrl), @suffix)"
)

// GroupsOfIssue lists the groups of repository whose GitHub issue is
// number of repository (normally one): what an issues webhook moves. A
// group whose issue was transferred to another repository is not one of
// them, even when the numbers meet. Partition: repository.
func (s *Store) GroupsOfIssue(ctx context.Context, repository string, number int) ([]model.Group, error) {
	q := cosmos.Query{SQL: sqlGroupsOfIssue, Params: map[string]any{"@n": number}, PartitionKey: repository}
	gs, err := collect(ctx, s.db.Groups, q)
	if err != nil {
		return nil, fmt.Errorf("find the group of issue %s#%d: %w", repository, number, err)
	}
	out := gs[:0]
	for k := range gs {
		if strings.EqualFold(gs[k].IssueRepository(), repository) {
			out = append(out, gs[k])
		}
	}
	return out, nil
}

// GroupsOfMovedIssue lists the groups of other repositories whose issue
// was transferred to repository as its issue number: the events of a
// transferred issue name where it went, the group stays where its
// findings are. Cross-partition (every repository's groups), so only
// events on an issue carrying runtimelink's marker ask it.
func (s *Store) GroupsOfMovedIssue(ctx context.Context, repository string, number int) ([]model.Group, error) {
	q := cosmos.Query{SQL: sqlGroupsOfMovedIssue, Params: map[string]any{
		"@n": number, "@repo": repository,
		"@suffix": "/" + strings.ToLower(repository) + "/issues/" + strconv.Itoa(number),
	}}
	gs, err := collect(ctx, s.db.Groups, q)
	if err != nil {
		return nil, fmt.Errorf("find the group of transferred issue %s#%d: %w", repository, number, err)
	}
	return gs, nil
}
