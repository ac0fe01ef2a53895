package store

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Queries of the deployments endpoint and its views.
const (
	sqlWorkloadsNamed    = "SELECT * FROM c WHERE c.name = @name"
	sqlWorkloadsLegacyID = "SELECT * FROM c WHERE CONTAINS(c.id, @mark)"
	sqlWorkloadsIn       = "SELECT * FROM c WHERE c.cluster = @partition AND ARRAY_CONTAINS(@ids, c.id)"
)

// WorkloadsIn reads the workloads of one partition with one of ids (those
// that exist), a query per thousand ids: the read half of a deployment
// request's writes, which SaveWorkload completes, instead of a read per
// record. Partition: cluster.
func (s *Store) WorkloadsIn(ctx context.Context, cluster string, ids []string) ([]model.Workload, error) {
	return in(ctx, s.db.Workloads, sqlWorkloadsIn, cluster, ids)
}

// SaveWorkload writes a workload read by WorkloadsIn (exists) or new,
// unless its content is what was read; an existing one is replaced under
// the ETag it was read with. The error wraps model.ErrPreconditionFailed
// when another writer got there first. Partition: w.Cluster.
func (s *Store) SaveWorkload(ctx context.Context, w *model.Workload, exists bool) (written bool, err error) {
	return s.db.Workloads.Save(ctx, w, exists)
}

// maxNamed bounds WorkloadsNamed: one deployment name has one record per
// org and environment pair, a handful in practice.
const maxNamed = 100

// WorkloadsNamed lists the workloads of a cluster with a namespace and
// name (the parts of a deployment_name): one per org, logical and
// physical environment that reported it, gone ones included, at most a
// hundred. Partition: cluster.
func (s *Store) WorkloadsNamed(ctx context.Context, cluster, namespace, name string) ([]model.Workload, error) {
	q := cosmos.Query{SQL: sqlWorkloadsNamed, Params: map[string]any{"@name": name}, PartitionKey: cluster}
	ws, _, err := collectBounded(ctx, s.db.Workloads, q, maxNamed, fmt.Sprintf("load workloads named %s/%s in %s", namespace, name, cluster))
	if err != nil {
		return nil, err
	}
	out := ws[:0]
	for _, w := range ws {
		if w.Namespace == namespace {
			out = append(out, w)
		}
	}
	return out, nil
}

// WorkloadsWithLegacyIDIn lists a cluster's workloads whose id is a
// model.WorkloadID (it holds model.LegacyIDMark): documents stored before deployment records
// were keyed by org and environments, which the inventory moves to their
// new id on the deployment's next record. At most limit (limit <= 0: all);
// complete is false when there were more. Partition: cluster.
func (s *Store) WorkloadsWithLegacyIDIn(ctx context.Context, cluster string, limit int) (ws []model.Workload, complete bool, err error) {
	q := cosmos.Query{SQL: sqlWorkloadsLegacyID, Params: map[string]any{"@mark": model.LegacyIDMark}, PartitionKey: cluster}
	return collectBounded(ctx, s.db.Workloads, q, limit, "load earlier workloads of "+cluster)
}
