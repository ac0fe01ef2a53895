package inventory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// LastSeenInterval is how stale a workload's LastSeen may get while
// identical records keep arriving: a re-posted, unchanged record refreshes
// it at most this often, so periodic reporters cost reads, not writes.
const LastSeenInterval = 24 * time.Hour

// ApplyDeployments stores deployment records posted for org as workloads
// (one per cluster and deployment_name; decommissioned ones marked gone),
// records each record's github_repository as evidence on its digest, and
// returns the stored workloads in record order.
func (i *Inventory) ApplyDeployments(ctx context.Context, org string, recs []deployrecord.DeploymentRecord) ([]model.Workload, error) {
	// Images first, then workloads: recording evidence may move findings
	// to their repository, and a workload change re-scores the findings
	// of its image; those re-scores must see the findings where they end up.
	repos := make([]string, len(recs))
	units := make([]unit, len(recs))
	for k := range recs {
		rec := &recs[k]
		units[k] = unit{key: rec.Digest, run: func(ctx context.Context) error {
			repo, err := i.recordImage(ctx, org, rec)
			repos[k] = repo
			return err
		}}
	}
	if err := i.run(ctx, units); err != nil {
		return nil, err
	}
	out := make([]model.Workload, len(recs))
	for k := range recs {
		rec := &recs[k]
		units[k] = unit{key: clusterKey(rec.Cluster, rec.LogicalEnvironment, rec.PhysicalEnvironment) + "|" + rec.DeploymentName,
			run: func(ctx context.Context) error {
				w, err := i.applyRecord(ctx, org, rec, repos[k])
				if err != nil {
					return err
				}
				out[k] = *w
				return nil
			}}
	}
	if err := i.run(ctx, units); err != nil {
		return nil, err
	}
	return out, nil
}

// ReplaceCluster stores the full set of deployments of one cluster for org:
// every posted deployment as ApplyDeployments does, and every running
// workload of that cluster and org that the set leaves out is marked gone.
// It returns the stored workloads of the posted set and how many went.
func (i *Inventory) ReplaceCluster(ctx context.Context, org, cluster string, req deployrecord.ClusterRequest) ([]model.Workload, int, error) {
	ws, err := i.ApplyDeployments(ctx, org, req.Records(cluster))
	if err != nil {
		return nil, 0, err
	}
	posted := make(map[string]bool, len(ws))
	for _, w := range ws {
		posted[w.ID] = true
	}
	running, err := collect(ctx, i.Store.Workloads, cosmos.Query{
		SQL:          "SELECT * FROM c WHERE c.status = @running",
		Params:       map[string]any{"@running": string(model.WorkloadRunning)},
		PartitionKey: cluster,
	}, maxRelink)
	if err != nil {
		return nil, 0, fmt.Errorf("list running workloads of cluster %s: %w", cluster, err)
	}
	gone := 0
	for _, w := range running {
		if posted[w.ID] || !strings.EqualFold(w.Org, org) {
			continue
		}
		changed, err := i.markGone(ctx, w.Cluster, w.ID)
		if err != nil {
			return nil, gone, err
		}
		if changed {
			gone++
		}
	}
	return ws, gone, nil
}

// markGone sets a workload gone.
func (i *Inventory) markGone(ctx context.Context, cluster, id string) (bool, error) {
	var before *model.Workload
	now := i.now()
	after, changed, err := i.Store.Workloads.Update(ctx, cluster, id, func(w *model.Workload, exists bool) error {
		if !exists || w.Status == model.WorkloadGone {
			return cosmos.ErrSkip
		}
		before = cloneWorkload(w)
		w.Status, w.LastSeen = model.WorkloadGone, now
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mark workload %s gone: %w", id, err)
	}
	if changed {
		return true, i.workloadChanged(ctx, before, after)
	}
	return false, nil
}

// workloadKey is the partition, id, namespace and name of a record's workload.
func workloadKey(rec *deployrecord.DeploymentRecord) (cluster, id, ns, name string) {
	cluster = clusterKey(rec.Cluster, rec.LogicalEnvironment, rec.PhysicalEnvironment)
	ns, name = splitDeploymentName(rec.DeploymentName)
	return cluster, model.WorkloadID(cluster, ns, name), ns, name
}

// recordImage records the record's image on its artifact, and its
// github_repository as deployment-record evidence (the weakest there is),
// and returns the repository the image resolves to: the artifact's, by its
// strongest evidence, else the record's own claim.
func (i *Inventory) recordImage(ctx context.Context, org string, rec *deployrecord.DeploymentRecord) (string, error) {
	_, id, _, _ := workloadKey(rec)
	image := normalizeImage(rec.Name)
	claimed := mapping.NormalizeRepository(rec.GitHubRepository, org)
	var art *model.Artifact
	var err error
	if claimed != "" {
		art, _, err = i.AddEvidence(ctx, rec.Digest, image, model.Evidence{
			Kind:       model.EvidenceDeploymentRecord,
			Repository: claimed,
			Ref:        "deployment-record:" + strings.ToLower(org) + ":" + id,
			At:         i.now(),
		})
	} else {
		art, _, err = i.UpdateArtifact(ctx, rec.Digest, func(a *model.Artifact, exists bool) error {
			if exists && a.Image != "" {
				return cosmos.ErrSkip
			}
			fillImage(a, image)
			return nil
		})
	}
	if err != nil {
		return "", fmt.Errorf("deployment %s: %w", id, err)
	}
	return firstNonEmpty(art.Repository, claimed), nil
}

// applyRecord stores the workload of one deployment record, built from the
// image's repository.
func (i *Inventory) applyRecord(ctx context.Context, org string, rec *deployrecord.DeploymentRecord, repository string) (*model.Workload, error) {
	now := i.now()
	cluster, id, ns, name := workloadKey(rec)
	image := normalizeImage(rec.Name)

	own := make([]model.Risk, 0, len(rec.RuntimeRisks))
	for _, f := range deployrecord.RiskFactors(rec.RuntimeRisks) {
		own = append(own, model.Risk{Factor: f, Source: mapping.RiskSourceDeploymentRecord})
	}
	status := model.WorkloadRunning
	if rec.Status == deployrecord.StatusDecommissioned {
		status = model.WorkloadGone
	}
	var tags map[string]string
	if len(rec.Tags) > 0 {
		tags = rec.Tags
	}

	var before *model.Workload
	after, changed, err := i.Store.Workloads.Update(ctx, cluster, id, func(w *model.Workload, exists bool) error {
		before = nil
		if exists {
			before = cloneWorkload(w)
		} else {
			w.ID, w.Cluster, w.FirstSeen = id, cluster, now
			// Defender's cluster-level risks (assessments, attack paths)
			// reached the cluster's other workloads before this one existed.
			inherited, err := i.clusterRisks(ctx, cluster)
			if err != nil {
				return err
			}
			w.Risks = inherited
		}
		if w.Org == "" || !strings.EqualFold(w.Org, org) {
			w.Org = org
		}
		w.Namespace, w.Name = ns, name
		w.Image, w.Digest, w.Version = image, rec.Digest, rec.Version
		w.Environment, w.Production, w.Region = rec.LogicalEnvironment, IsProduction(rec.LogicalEnvironment), rec.PhysicalEnvironment
		w.Tags = tags
		w.Risks = mapping.MergeRisks(withoutSource(w.Risks, mapping.RiskSourceDeploymentRecord), own)
		w.Repository = repository
		w.Status = status
		if before == nil || now.Sub(w.LastSeen) >= LastSeenInterval || contentChanged(before, w) {
			w.LastSeen = now
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store deployment %s: %w", id, err)
	}
	if changed {
		if err := i.workloadChanged(ctx, before, after); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// contentChanged reports whether w differs from before in anything but
// LastSeen.
func contentChanged(before, w *model.Workload) bool {
	probe := *w
	probe.LastSeen = before.LastSeen
	a, errA := cosmos.ContentHash(before)
	b, errB := cosmos.ContentHash(&probe)
	return errA != nil || errB != nil || a != b
}

// clusterRiskPrefixes are the sources whose risks hold for a whole cluster.
var clusterRiskPrefixes = []string{mapping.RiskSourceAssessmentPrefix, mapping.RiskSourceAttackPathPrefix}

func clusterLevel(r model.Risk) bool {
	for _, p := range clusterRiskPrefixes {
		if strings.HasPrefix(r.Source, p) {
			return true
		}
	}
	return false
}

// clusterRisks returns the cluster-level risks (Defender assessments,
// attack paths) another workload of the cluster carries.
func (i *Inventory) clusterRisks(ctx context.Context, cluster string) ([]model.Risk, error) {
	ws, err := collect(ctx, i.Store.Workloads, cosmos.Query{
		SQL:          "SELECT * FROM c WHERE ARRAY_LENGTH(c.risks) > 0",
		PartitionKey: cluster,
	}, 20)
	if err != nil {
		return nil, fmt.Errorf("read risks of cluster %s: %w", cluster, err)
	}
	var out []model.Risk
	for _, w := range ws {
		for _, r := range w.Risks {
			if clusterLevel(r) {
				out = append(out, r)
			}
		}
	}
	return mapping.MergeRisks(out), nil
}

// StoredDeployment is the answer GitHub's API gives for a stored record,
// built from the workload: the id is a stable number derived from the
// workload id; runtime_risks are the merged risks runtimelink holds (the
// posted ones plus Defender's); runtimelink does not know GitHub's
// attestation ids, so attestation_id is null.
func StoredDeployment(w *model.Workload) deployrecord.StoredDeployment {
	rec := DeploymentRecord(w)
	return deployrecord.StoredDeployment{
		ID:                  NumericID(w.ID),
		Digest:              w.Digest,
		LogicalEnvironment:  w.Environment,
		PhysicalEnvironment: w.Region,
		Cluster:             recordCluster(w.Cluster),
		DeploymentName:      DeploymentName(w),
		Tags:                w.Tags,
		RuntimeRisks:        slices.Clip(rec.RuntimeRisks),
		CreatedAt:           w.FirstSeen.UTC().Format(time.RFC3339),
		UpdatedAt:           w.LastSeen.UTC().Format(time.RFC3339),
	}
}

// NumericID maps a document id to a positive integer below 2^48 (exact in
// JavaScript numbers), the same for the same id.
func NumericID(id string) int64 {
	h := RecordHash(id)
	var n int64
	for k := 0; k < 12; k++ { // 12 hex digits = 48 bits
		c := h[k]
		v := int64(c - '0')
		if c >= 'a' {
			v = int64(c-'a') + 10
		}
		n = n<<4 | v
	}
	if n == 0 {
		n = 1
	}
	return n
}
