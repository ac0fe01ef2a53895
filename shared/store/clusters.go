package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/model"
)

// The clusters container is partitioned by /id (the lower-case cluster
// name): one small document per cluster, so the cross-partition queries
// below are bounded by the number of clusters, not of workloads.
const (
	sqlAllClusters        = "SELECT * FROM c"
	sqlClustersAttackPath = "SELECT * FROM c WHERE EXISTS(SELECT VALUE r FROM r IN c.risks WHERE STARTSWITH(r.source, @prefix)) " +
		"OR EXISTS(SELECT VALUE t FROM t IN c.targeted WHERE STARTSWITH(t.source, @prefix))"
	sqlClusterWorkloadsRunning = "SELECT * FROM c WHERE c.status != @gone AND LOWER(c.cluster) = @cluster"
	sqlFindingsOnCluster       = "SELECT * FROM c WHERE c.cluster = @cluster"
)

// ClusterKey is the id of a cluster's document: its name, lower case.
func ClusterKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Cluster reads what Defender said of one cluster; a cluster never named
// by Defender reads as (nil, nil). Partition: name.
func (s *Store) Cluster(ctx context.Context, name string) (*model.Cluster, error) {
	id := ClusterKey(name)
	c, err := s.db.Clusters.Get(ctx, id, id)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster %s: %w", id, err)
	}
	return c, nil
}

// UpdateCluster changes one cluster's document under its ETag (created
// when missing; fn returning model.ErrSkip writes nothing) and reports
// whether the stored content changed. Partition: name.
func (s *Store) UpdateCluster(ctx context.Context, name string, fn func(c *model.Cluster, exists bool) error) (*model.Cluster, bool, error) {
	id := ClusterKey(name)
	c, changed, err := s.db.Clusters.Update(ctx, id, id, func(c *model.Cluster, exists bool) error {
		if !exists {
			c.ID = id
		}
		return fn(c, exists)
	})
	if err != nil {
		return nil, false, fmt.Errorf("update cluster %s: %w", id, err)
	}
	return c, changed, nil
}

// Clusters lists every cluster document. Cross-partition: one document
// per cluster, read by the nightly run to score findings about clusters.
func (s *Store) Clusters(ctx context.Context) ([]model.Cluster, error) {
	cs, err := collect(ctx, s.db.Clusters, cosmos.Query{SQL: sqlAllClusters})
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	return cs, nil
}

// ClustersWithSource lists the clusters holding a risk (cluster-wide or
// targeted) whose source starts with prefix: those an attack-path
// snapshot must revisit when a path is gone. Cross-partition, bounded by
// the number of clusters.
func (s *Store) ClustersWithSource(ctx context.Context, prefix string) ([]model.Cluster, error) {
	cs, err := collect(ctx, s.db.Clusters, cosmos.Query{SQL: sqlClustersAttackPath, Params: map[string]any{"@prefix": prefix}})
	if err != nil {
		return nil, fmt.Errorf("list clusters with %s risks: %w", prefix, err)
	}
	return cs, nil
}

// ClusterWorkloadsRunning lists the workloads of one cluster (name in any
// case) that are not gone. Cross-partition: deployment records spell the
// cluster as they like, Defender names it in lower case, and the
// partition key is the record's spelling.
func (s *Store) ClusterWorkloadsRunning(ctx context.Context, cluster string) ([]model.Workload, error) {
	ws, err := collect(ctx, s.db.Workloads, cosmos.Query{SQL: sqlClusterWorkloadsRunning,
		Params: map[string]any{"@gone": gone, "@cluster": ClusterKey(cluster)}})
	if err != nil {
		return nil, fmt.Errorf("load workloads of cluster %s: %w", cluster, err)
	}
	return ws, nil
}

// FindingsOnCluster lists the findings about a running resource of one
// cluster (Finding.Cluster, lower case). Cross-partition: they are filed
// under the repository of their image when it is known, else unmapped or
// the configured fallback repository.
func (s *Store) FindingsOnCluster(ctx context.Context, cluster string) ([]model.Finding, error) {
	fs, err := collect(ctx, s.db.Findings, cosmos.Query{SQL: sqlFindingsOnCluster, Params: map[string]any{"@cluster": ClusterKey(cluster)}})
	if err != nil {
		return nil, fmt.Errorf("findings on cluster %s: %w", cluster, err)
	}
	return fs, nil
}
