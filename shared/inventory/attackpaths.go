package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/runtimelink/runtimelink/shared/defender"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// ApplyAttackPaths makes the attack-path risks of workloads match paths,
// the complete set of attack paths Defender CSPM currently reports (the
// nightly pull from Resource Graph). A path gives its risk factors (source
// "attack-path:<path id>") where its entities point: to the workloads a
// pod or workload entity names, to the workloads running an image an image
// entity names (in the path's clusters; wherever they run when the path
// names no cluster), and to every workload of a cluster only when the
// entity is the cluster itself. Attack-path risks of paths no longer reported are
// removed. Only changed workloads are written, and returned; the caller
// re-scores their findings and enqueues their deployment sync, or uses Inventory.ApplyAttackPaths, which does
// both and also keeps each cluster's paths for workloads reported later.
func ApplyAttackPaths(ctx context.Context, store Workloads, paths []defender.AttackPath) ([]model.Workload, error) {
	changes, err := applyAttackPaths(ctx, store, planAttackPaths(paths))
	if err != nil {
		return nil, err
	}
	out := make([]model.Workload, len(changes))
	for k, c := range changes {
		out[k] = *c.After
	}
	return out, nil
}

// ApplyAttackPaths is the package function ApplyAttackPaths, telling the
// observer and enqueuing the deployment sync of every changed workload,
// and keeping the paths on each cluster's document (ClusterState), so a
// workload reported after its path gets the path's risk right away.
func (i *Inventory) ApplyAttackPaths(ctx context.Context, paths []defender.AttackPath) ([]model.Workload, error) {
	plan := planAttackPaths(paths)
	if err := i.keepAttackPaths(ctx, plan); err != nil {
		return nil, err
	}
	changes, err := applyAttackPaths(ctx, i.Store, plan)
	if err != nil {
		return nil, err
	}
	// One re-score for every changed workload (a path reaches many).
	if err := i.observe(ctx, changes); err != nil {
		return nil, err
	}
	out := make([]model.Workload, len(changes))
	for k, c := range changes {
		if err := i.recordChanged(ctx, c.Before, c.After); err != nil {
			return nil, err
		}
		out[k] = *c.After
	}
	return out, nil
}

// pathPlan is where a snapshot of attack paths puts its risks, per
// lower-case cluster name.
type pathPlan struct {
	wide      map[string][]model.Risk
	targeted  map[string][]model.TargetedRisk
	resources map[string]string // cluster → its resource id
}

func (p *pathPlan) clusters() []string {
	var out []string
	for c := range p.wide {
		out = append(out, c)
	}
	for c := range p.targeted {
		if _, ok := p.wide[c]; !ok {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// AnyCluster keys the attack-path targets that name an image and no
// cluster: they apply to the workloads running the image wherever they
// run, and are kept on a cluster document of this id for workloads
// reported later.
const AnyCluster = "*"

// desired is the attack-path risk w carries under the plan.
func (p *pathPlan) desired(w *model.Workload) []model.Risk {
	c := strings.ToLower(w.Cluster)
	return mapping.MergeRisks(p.wide[c], mapping.TargetedRisks(p.targeted[c], w), mapping.TargetedRisks(p.targeted[AnyCluster], w))
}

// anyClusterImages are the images of the targets that name no cluster.
func (p *pathPlan) anyClusterImages() []string {
	var out []string
	for _, t := range p.targeted[AnyCluster] {
		if t.Image != "" && !slices.Contains(out, t.Image) {
			out = append(out, t.Image)
		}
	}
	slices.Sort(out)
	return out
}

func planAttackPaths(paths []defender.AttackPath) *pathPlan {
	plan := &pathPlan{wide: map[string][]model.Risk{}, targeted: map[string][]model.TargetedRisk{}, resources: map[string]string{}}
	for _, p := range paths {
		if len(p.RiskFactors) == 0 {
			continue // nothing GitHub or scoring weighs
		}
		source := mapping.RiskSourceAttackPathPrefix + p.ID
		targets := p.Targets()
		// An image entity is reached through the path's clusters.
		var pathClusters []string
		for _, t := range targets {
			if t.Cluster != "" && !slices.Contains(pathClusters, t.Cluster) {
				pathClusters = append(pathClusters, t.Cluster)
			}
			if t.ClusterResourceID != "" {
				plan.resources[t.Cluster] = t.ClusterResourceID
			}
		}
		for _, t := range targets {
			for _, f := range p.RiskFactors {
				r := model.Risk{Factor: f, Source: source, SourceName: p.DisplayName}
				switch t.Kind {
				case defender.TargetCluster:
					plan.wide[t.Cluster] = mapping.MergeRisks(plan.wide[t.Cluster], []model.Risk{r})
				case defender.TargetWorkload:
					plan.targeted[t.Cluster] = addTarget(plan.targeted[t.Cluster],
						model.TargetedRisk{Risk: r, Namespace: t.Namespace, Name: t.Name, Entity: t.Entity})
				case defender.TargetImage:
					clusters := pathClusters
					if t.Cluster != "" {
						clusters = []string{t.Cluster}
					}
					if len(clusters) == 0 {
						// The path names no cluster: the image's workloads
						// wherever they run.
						clusters = []string{AnyCluster}
					}
					for _, c := range clusters {
						plan.targeted[c] = addTarget(plan.targeted[c], model.TargetedRisk{Risk: r, Image: t.Image, Entity: t.Entity})
					}
				}
			}
		}
	}
	return plan
}

func addTarget(ts []model.TargetedRisk, t model.TargetedRisk) []model.TargetedRisk {
	if slices.Contains(ts, t) {
		return ts
	}
	ts = append(ts, t)
	slices.SortFunc(ts, compareTarget)
	return ts
}

func compareTarget(a, b model.TargetedRisk) int {
	for _, p := range [][2]string{{a.Source, b.Source}, {string(a.Factor), string(b.Factor)}, {a.Namespace, b.Namespace}, {a.Name, b.Name}, {a.Image, b.Image}, {a.Entity, b.Entity}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

func isAttackPath(r model.Risk) bool {
	return strings.HasPrefix(r.Source, mapping.RiskSourceAttackPathPrefix)
}

// keepAttackPaths writes the plan on each cluster's document: the clusters
// it names, and those holding paths from before (a path that is gone is
// forgotten). Findings about a cluster whose own risks changed are
// re-scored.
func (i *Inventory) keepAttackPaths(ctx context.Context, plan *pathPlan) error {
	if i.Clusters == nil {
		return nil
	}
	names := plan.clusters()
	before, err := i.Clusters.ClustersWithSource(ctx, mapping.RiskSourceAttackPathPrefix)
	if err != nil {
		return err
	}
	for _, c := range before {
		if !slices.Contains(names, c.ID) {
			names = append(names, c.ID)
		}
	}
	for _, name := range names {
		_, changed, err := i.Clusters.UpdateCluster(ctx, name, func(c *model.Cluster, exists bool) error {
			if !exists && len(plan.wide[name]) == 0 && len(plan.targeted[name]) == 0 {
				return model.ErrSkip
			}
			if c.ResourceID == "" {
				c.ResourceID = plan.resources[name]
			}
			c.Risks = mapping.MergeRisks(slices.DeleteFunc(slices.Clone(c.Risks), isAttackPath), plan.wide[name])
			targeted := slices.DeleteFunc(slices.Clone(c.Targeted), func(t model.TargetedRisk) bool { return isAttackPath(t.Risk) })
			for _, t := range plan.targeted[name] {
				targeted = addTarget(targeted, t)
			}
			if len(targeted) == 0 {
				targeted = nil
			}
			c.Targeted = targeted
			return nil
		})
		if err != nil {
			return fmt.Errorf("keep attack paths of cluster %s: %w", name, err)
		}
		if changed {
			// Findings about the cluster's own resources carry its
			// cluster-wide risks and the paths aimed at them.
			if err := i.clusterChanged(ctx, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyAttackPaths(ctx context.Context, store Workloads, plan *pathPlan) ([]model.WorkloadChange, error) {
	clusters := plan.clusters()
	// The workloads of clusters some path names now, and those carrying
	// attack-path risk from before (a path that is gone must lose its risk).
	refs := map[string]workloadRef{}
	add := func(w *model.Workload) error {
		refs[w.Cluster+"\x00"+w.ID] = workloadRef{cluster: w.Cluster, id: w.ID}
		return nil
	}
	if len(clusters) > 0 {
		var rids []string
		for _, c := range clusters {
			if rid := plan.resources[c]; rid != "" {
				rids = append(rids, rid)
			}
		}
		if err := store.WorkloadsOnClusters(ctx, clusters, rids, add); err != nil {
			return nil, fmt.Errorf("find workloads on attack paths: %w", err)
		}
	}
	if err := store.WorkloadsWithRiskFrom(ctx, mapping.RiskSourceAttackPathPrefix, add); err != nil {
		return nil, fmt.Errorf("find workloads with attack-path risk: %w", err)
	}
	for _, image := range plan.anyClusterImages() {
		ws, err := store.WorkloadsRunningImage(ctx, image, nil)
		if err != nil {
			return nil, fmt.Errorf("find workloads running %s of an attack path: %w", image, err)
		}
		for k := range ws {
			_ = add(&ws[k])
		}
	}

	keys := make([]string, 0, len(refs))
	for k := range refs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var changes []model.WorkloadChange
	for _, k := range keys {
		ref := refs[k]
		var before *model.Workload
		after, changed, err := store.UpdateWorkload(ctx, ref.cluster, ref.id, func(w *model.Workload, exists bool) error {
			if !exists {
				return model.ErrSkip
			}
			before = cloneWorkload(w)
			kept := slices.DeleteFunc(slices.Clone(w.Risks), isAttackPath)
			w.Risks = mapping.MergeRisks(kept, plan.desired(w))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("apply attack paths to workload %s: %w", ref.id, err)
		}
		if changed {
			changes = append(changes, model.WorkloadChange{Before: before, After: after})
		}
	}
	return changes, nil
}
