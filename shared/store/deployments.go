package store

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Queries of the deployments endpoint and its views.
const (
	sqlWorkloadsNamed = "SELECT * FROM c WHERE c.name = @name"
)

// maxNamed bounds WorkloadsNamed: one deployment name has one record per
// org and environment pair, a handful in practice.
const maxNamed = 100

// WorkloadsNamed lists the workloads of a cluster with a namespace and
// name (the parts of a deployment_name): one per org, logical and
// physical environment that reported it, gone ones included, at most a
// hundred. Partition: cluster.
func (s *Store) WorkloadsNamed(ctx context.Context, cluster, namespace, name string) ([]model.Workload, error) {
	ws, _, err := collectBounded(ctx, s.db.Workloads, cosmos.Query{SQL: sqlWorkloadsNamed,
		Params: map[string]any{"@name": name}, PartitionKey: cluster}, maxNamed)
	if err != nil {
		return nil, fmt.Errorf("load workloads named %s/%s in %s: %w", namespace, name, cluster, err)
	}
	out := ws[:0]
	for _, w := range ws {
		if w.Namespace == namespace {
			out = append(out, w)
		}
	}
	return out, nil
}
