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
// nightly pull from Resource Graph): a workload on a path (its cluster is
// one of the path's entities, by Azure resource id or by cluster name)
// carries the path's risk factors with source "attack-path:<path id>", and
// attack-path risks of paths no longer reported are removed. Only changed
// workloads are written, and returned; the caller re-scores their findings
// and enqueues their deployment sync, or uses
// Inventory.ApplyAttackPaths, which does both.
func ApplyAttackPaths(ctx context.Context, store Workloads, paths []defender.AttackPath) ([]model.Workload, error) {
	changes, err := applyAttackPaths(ctx, store, paths)
	if err != nil {
		return nil, err
	}
	out := make([]model.Workload, len(changes))
	for k, c := range changes {
		out[k] = *c.after
	}
	return out, nil
}

// ApplyAttackPaths is the package function ApplyAttackPaths, telling the
// observer and enqueuing the deployment sync of every changed workload.
func (i *Inventory) ApplyAttackPaths(ctx context.Context, paths []defender.AttackPath) ([]model.Workload, error) {
	changes, err := applyAttackPaths(ctx, i.Store, paths)
	if err != nil {
		return nil, err
	}
	out := make([]model.Workload, len(changes))
	for k, c := range changes {
		if err := i.workloadChanged(ctx, c.before, c.after); err != nil {
			return nil, err
		}
		out[k] = *c.after
	}
	return out, nil
}

type workloadChange struct{ before, after *model.Workload }

// clusterNameOf is the cluster name in an AKS or Arc cluster resource id.
func clusterNameOf(resourceID string) string {
	id := strings.ToLower(resourceID)
	for _, seg := range []string{"/providers/microsoft.containerservice/managedclusters/", "/providers/microsoft.kubernetes/connectedclusters/"} {
		if k := strings.Index(id, seg); k >= 0 {
			name, _, _ := strings.Cut(id[k+len(seg):], "/")
			return name
		}
	}
	return ""
}

func applyAttackPaths(ctx context.Context, store Workloads, paths []defender.AttackPath) ([]workloadChange, error) {
	byResource := map[string][]int{} // lower-case resource id → paths
	byCluster := map[string][]int{}  // lower-case cluster name → paths
	for k, p := range paths {
		if len(p.RiskFactors) == 0 {
			continue // nothing GitHub or scoring weighs
		}
		for _, rid := range p.ResourceIDs {
			byResource[rid] = append(byResource[rid], k)
			if name := clusterNameOf(rid); name != "" {
				byCluster[name] = append(byCluster[name], k)
			}
		}
	}
	rids := make([]string, 0, len(byResource))
	for r := range byResource {
		rids = append(rids, r)
	}
	clusters := make([]string, 0, len(byCluster))
	for c := range byCluster {
		clusters = append(clusters, c)
	}
	slices.Sort(rids)
	slices.Sort(clusters)

	// The workloads on some path now, and those carrying attack-path risk
	// from before (a path that is gone must lose its risk).
	refs := map[string]workloadRef{}
	add := func(w *model.Workload) error {
		refs[w.Cluster+"\x00"+w.ID] = workloadRef{cluster: w.Cluster, id: w.ID}
		return nil
	}
	if len(rids) > 0 {
		if err := store.WorkloadsOnClusters(ctx, clusters, rids, add); err != nil {
			return nil, fmt.Errorf("find workloads on attack paths: %w", err)
		}
	}
	if err := store.WorkloadsWithRiskFrom(ctx, mapping.RiskSourceAttackPathPrefix, add); err != nil {
		return nil, fmt.Errorf("find workloads with attack-path risk: %w", err)
	}

	keys := make([]string, 0, len(refs))
	for k := range refs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var changes []workloadChange
	for _, k := range keys {
		ref := refs[k]
		var before *model.Workload
		after, changed, err := store.UpdateWorkload(ctx, ref.cluster, ref.id, func(w *model.Workload, exists bool) error {
			if !exists {
				return model.ErrSkip
			}
			before = cloneWorkload(w)
			on := map[int]bool{}
			for _, p := range byResource[strings.ToLower(w.ResourceID)] {
				on[p] = true
			}
			for _, p := range byCluster[strings.ToLower(w.Cluster)] {
				on[p] = true
			}
			var desired []model.Risk
			for p := range on {
				for _, f := range paths[p].RiskFactors {
					desired = append(desired, model.Risk{Factor: f, Source: mapping.RiskSourceAttackPathPrefix + paths[p].ID})
				}
			}
			kept := make([]model.Risk, 0, len(w.Risks))
			for _, r := range w.Risks {
				if !strings.HasPrefix(r.Source, mapping.RiskSourceAttackPathPrefix) {
					kept = append(kept, r)
				}
			}
			w.Risks = mapping.MergeRisks(kept, desired)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("apply attack paths to workload %s: %w", ref.id, err)
		}
		if changed {
			changes = append(changes, workloadChange{before: before, after: after})
		}
	}
	return changes, nil
}
