package store

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// A group's GitHub issue is recorded on the group (synced.issueNumber).
const sqlGroupsOfIssue = "SELECT * FROM c WHERE c.synced.issueNumber = @n"

// GroupsOfIssue lists the groups whose GitHub issue is number of
// repository (normally one): what an issues webhook moves.
// Partition: repository.
func (s *Store) GroupsOfIssue(ctx context.Context, repository string, number int) ([]model.Group, error) {
	q := cosmos.Query{SQL: sqlGroupsOfIssue, Params: map[string]any{"@n": number}, PartitionKey: repository}
	gs, err := collect(ctx, s.db.Groups, q)
	if err != nil {
		return nil, fmt.Errorf("find the group of issue %s#%d: %w", repository, number, err)
	}
	return gs, nil
}
