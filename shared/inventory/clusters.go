package inventory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// ClusterState keeps what Defender says of each cluster as a whole
// (shared/store's *store.Store): the cluster-wide risks and the attack-path
// risks aimed at workloads or images, so they reach workloads reported
// after them, in whatever order records arrive.
type ClusterState interface {
	// Cluster is nil (no error) for a cluster Defender never named.
	Cluster(ctx context.Context, name string) (*model.Cluster, error)
	UpdateCluster(ctx context.Context, name string, fn func(c *model.Cluster, exists bool) error) (*model.Cluster, bool, error)
	ClustersWithSource(ctx context.Context, prefix string) ([]model.Cluster, error)
	Clusters(ctx context.Context) ([]model.Cluster, error)
}

// ClusterObserver is told when a cluster's own risks changed, so the
// findings about the cluster itself (a Defender alert on kube-system, say)
// are re-scored. triage.Triage is one.
type ClusterObserver interface {
	ClusterChanged(ctx context.Context, cluster string) (int, error)
}

// setClusterRisks makes the cluster-wide risks of one assessment on a
// cluster's document desired (none: dropped) and tells the observer when
// that changed them. It also notes when the assessment last said so (see
// ExpireSnapshotRisks): a snapshot record by its round, a streaming one by
// its time. Without ClusterState it does nothing: the risks still reach
// the cluster's current workloads.
func (i *Inventory) setClusterRisks(ctx context.Context, cluster, resourceID, source string, desired []model.Risk, snapshot bool) error {
	if i.Clusters == nil || cluster == "" {
		return nil
	}
	riskChanged := false
	_, _, err := i.Clusters.UpdateCluster(ctx, cluster, func(c *model.Cluster, exists bool) error {
		if !exists && len(desired) == 0 && !snapshot {
			return model.ErrSkip // nothing to forget
		}
		if c.ResourceID == "" && resourceID != "" {
			c.ResourceID = strings.ToLower(resourceID)
			riskChanged = true // findings about the cluster learn its id
		}
		risks := mapping.MergeRisks(withoutSource(c.Risks, source), desired)
		riskChanged = riskChanged || !slices.Equal(risks, c.Risks)
		c.Risks = risks
		noteReport(c, source, len(desired) > 0, snapshot, i.now())
		return nil
	})
	if err != nil {
		return fmt.Errorf("set %s risks of cluster %s: %w", source, cluster, err)
	}
	if riskChanged {
		return i.clusterChanged(ctx, cluster)
	}
	return nil
}

func (i *Inventory) clusterChanged(ctx context.Context, cluster string) error {
	o, ok := i.Observer.(ClusterObserver)
	if !ok {
		return nil
	}
	if _, err := o.ClusterChanged(ctx, cluster); err != nil {
		return fmt.Errorf("re-score findings on cluster %s: %w", cluster, err)
	}
	return nil
}

// definedRisks are the Defender risks a workload gets from its cluster's
// document c: the cluster-wide ones and the attack-path risks aimed at it,
// also those aimed at its image by paths that name no cluster (the
// AnyCluster document anyDoc). Either may be nil. A workload reported after
// the assessment or attack path that concerns it gets them at once, not
// at the next export.
func definedRisks(c, anyDoc *model.Cluster, w *model.Workload) []model.Risk {
	var out []model.Risk
	if c != nil {
		out = mapping.MergeRisks(c.Risks, mapping.TargetedRisks(c.Targeted, w))
	}
	if anyDoc != nil {
		out = mapping.MergeRisks(out, mapping.TargetedRisks(anyDoc.Targeted, w))
	}
	return out
}

// defenderRisk reports whether a risk came from Defender about the
// cluster (assessment or attack path) rather than the workload's own
// deployment record.
func defenderRisk(r model.Risk) bool {
	return strings.HasPrefix(r.Source, mapping.RiskSourceAssessmentPrefix) || strings.HasPrefix(r.Source, mapping.RiskSourceAttackPathPrefix)
}

// withClusterRisks replaces the Defender risks of w by those its cluster's
// document holds for it now, keeping its own (deployment record).
func withClusterRisks(own, defined []model.Risk) []model.Risk {
	kept := slices.DeleteFunc(slices.Clone(own), defenderRisk)
	return mapping.MergeRisks(kept, defined)
}

// ApplyClusterTags keeps each cluster's ARM tags on its document, from
// the complete list of clusters Resource Graph reports (the nightly pull):
// the production rule may name a cluster by tag, and Defender's records
// never carry them. A cluster no longer listed loses its tags. The
// findings about a cluster whose tags changed are re-scored. It returns
// how many clusters' tags changed.
func (i *Inventory) ApplyClusterTags(ctx context.Context, clusters []defender.ClusterResource) (int, error) {
	if i.Clusters == nil {
		return 0, nil
	}
	want := map[string]defender.ClusterResource{}
	for _, c := range clusters {
		want[c.Name] = c
	}
	known, err := i.Clusters.Clusters(ctx)
	if err != nil {
		return 0, err
	}
	names := slices.Sorted(maps.Keys(want))
	for _, c := range known {
		if _, ok := want[c.ID]; !ok && len(c.Tags) > 0 {
			names = append(names, c.ID)
		}
	}
	n := 0
	for _, name := range names {
		r := want[name]
		_, changed, err := i.Clusters.UpdateCluster(ctx, name, func(c *model.Cluster, exists bool) error {
			if !exists && len(r.Tags) == 0 {
				return model.ErrSkip
			}
			if c.ResourceID == "" {
				c.ResourceID = r.ResourceID
			}
			if maps.Equal(c.Tags, r.Tags) {
				return model.ErrSkip
			}
			c.Tags = maps.Clone(r.Tags)
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("keep tags of cluster %s: %w", name, err)
		}
		if changed {
			n++
			if err := i.clusterChanged(ctx, name); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
