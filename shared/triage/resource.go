package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Clusters is what triage reads of clusters to score the findings about
// a running resource (a Defender alert on a cluster, node, pod or
// workload): the cluster's document (Defender's cluster-wide risk), its
// running workloads (whether it runs production) and the findings about
// it. shared/store's *store.Store is one.
type Clusters interface {
	Cluster(ctx context.Context, name string) (*model.Cluster, error)
	Clusters(ctx context.Context) ([]model.Cluster, error)
	ClusterWorkloadsRunning(ctx context.Context, cluster string) ([]model.Workload, error)
	FindingsOnCluster(ctx context.Context, cluster string) ([]model.Finding, error)
}

// resourceOf is the running resource a finding is about, when it is a
// Defender alert naming one.
func resourceOf(f *model.Finding) *model.Resource {
	if f.Source != model.SourceDefenderAlert || f.Resource == nil || f.Resource.Cluster == "" {
		return nil
	}
	return f.Resource
}

func resourceKey(r *model.Resource) string {
	if r == nil {
		return ""
	}
	return "|res|" + strings.ToLower(r.Cluster) + "|" + r.Kind + "|" + strings.ToLower(r.Namespace) + "|" + strings.ToLower(r.Name)
}

// anyRunning reports whether one of ws is not gone.
func anyRunning(ws []model.Workload) bool {
	return slices.ContainsFunc(ws, func(w model.Workload) bool { return w.Status != model.WorkloadGone })
}

// resourceWorkloads loads the context of a finding about a running
// resource: the cluster's document and running workloads, selected by
// mapping.ResourceWorkloads exactly as the nightly run's index does.
func (t *Triage) resourceWorkloads(ctx context.Context, r *model.Resource) ([]model.Workload, error) {
	if t.Clusters == nil || r == nil {
		return nil, nil
	}
	c, err := t.Clusters.Cluster(ctx, r.Cluster)
	if err != nil {
		return nil, err
	}
	ws, err := t.Clusters.ClusterWorkloadsRunning(ctx, r.Cluster)
	if err != nil {
		return nil, err
	}
	return mapping.ResourceWorkloads(*r, c, ws, t.ProductionClusters), nil
}

// withResource completes a scope's workloads with those of the resource it
// is about when none of the scope's own runs: an alert naming an image no
// known workload runs is still about a running pod.
func (t *Triage) withResource(ctx context.Context, s scope, ws []model.Workload) ([]model.Workload, error) {
	if s.resource == nil || anyRunning(ws) {
		return ws, nil
	}
	return t.resourceWorkloads(ctx, s.resource)
}

// ClusterChanged re-scores the findings about a cluster's own resources
// after what Defender says of the cluster as a whole changed (its
// cluster-wide risk, the attack paths aimed at it). It returns how many
// findings changed.
func (t *Triage) ClusterChanged(ctx context.Context, cluster string) (int, error) {
	if t.Clusters == nil {
		return 0, nil
	}
	cacheFrom(ctx).clear()
	RuntimeChanged(t.Store)
	return t.rescoreCluster(ctx, cluster)
}

// rescoreCluster re-scores the findings about a running resource of
// cluster (and refreshes their groups).
func (t *Triage) rescoreCluster(ctx context.Context, cluster string) (int, error) {
	if t.Clusters == nil || cluster == "" {
		return 0, nil
	}
	fs, err := t.Clusters.FindingsOnCluster(ctx, cluster)
	if err != nil {
		return 0, fmt.Errorf("find findings on cluster %s: %w", cluster, err)
	}
	fs = slices.DeleteFunc(fs, func(f model.Finding) bool { return resourceOf(&f) == nil })
	changed, err := t.rescoreAll(ctx, fs)
	if err != nil {
		return changed, err
	}
	if changed > 0 {
		t.logger().Info("cluster change re-scored findings", "cluster", cluster, "changed", changed)
	}
	return changed, nil
}
