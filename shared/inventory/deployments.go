package inventory

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// LastSeenInterval is how stale a workload's LastSeen may get while
// identical records keep arriving: a re-posted, unchanged record refreshes
// it at most this often, so periodic reporters cost reads, not writes.
const LastSeenInterval = 24 * time.Hour

// ApplyDeployments stores deployment records posted for org as workloads
// (one per org, logical environment, physical environment, cluster and
// deployment_name, as GitHub keys its records; decommissioned ones marked
// gone), records each record's github_repository as evidence on its
// digest, and returns the stored workloads in record order.
//
// Writes run in bounded parallel (Workers); each is an idempotent,
// ETag-guarded upsert, so when one fails (after the store's own retries
// of transient errors) the call fails and the caller's retry of the same
// records completes the set without duplicating any of it.
func (i *Inventory) ApplyDeployments(ctx context.Context, org string, recs []deployrecord.DeploymentRecord) ([]model.Workload, error) {
	// Images first, then workloads: recording evidence may move findings
	// to their repository, and a workload change re-scores the findings
	// of its image; those re-scores must see the findings where they end up.
	// Records of one digest, image and claim share one artifact write.
	// The artifacts of several records are read first in one query per
	// hundred digests (cross-partition: one record's is a point read), so
	// each costs a write, not a read and a write; the first write of a
	// digest starts from that read, any other from its own.
	batch := len(recs) > 1
	repos := make([]string, len(recs))
	type imageKey struct{ digest, image, claimed string }
	first := map[imageKey]int{}
	same := make([]int, len(recs))
	var digests []string
	read := map[string]*model.Artifact{}
	for k := range recs {
		if _, ok := read[recs[k].Digest]; !ok {
			read[recs[k].Digest] = nil
			digests = append(digests, recs[k].Digest)
		}
	}
	if batch {
		arts, err := i.Store.ArtifactsOf(ctx, digests)
		if err != nil {
			return nil, fmt.Errorf("read the artifacts of the records: %w", err)
		}
		for k := range arts {
			read[arts[k].Digest] = &arts[k]
		}
	}
	seeded := map[string]bool{}
	var units []unit
	for k := range recs {
		rec := &recs[k]
		key := imageKey{rec.Digest, normalizeImage(rec.Name), mapping.NormalizeRepository(rec.GitHubRepository, org)}
		if j, ok := first[key]; ok {
			same[k] = j
			continue
		}
		first[key], same[k] = k, k
		var seed **model.Artifact
		if batch && !seeded[rec.Digest] {
			seeded[rec.Digest] = true
			a := read[rec.Digest]
			seed = &a
		}
		units = append(units, unit{key: rec.Digest, run: func(ctx context.Context) error {
			repo, err := i.recordImage(ctx, org, rec, seed)
			repos[k] = repo
			return err
		}})
	}
	if err := i.run(ctx, units); err != nil {
		return nil, err
	}
	// Per partition, read once (not once per new workload): Defender's
	// cluster-level risks, which reach a cluster's new workloads (with
	// ClusterState, the cluster's document says which of them, and of the
	// attack paths aimed at one workload, a workload carries), and the
	// documents still under their id from before org and environments were
	// part of it.
	// Several records' own documents are read there too, in one query per
	// thousand, so each record costs a write, not a read and a write.
	ids := map[string][]string{}
	var clusters []string
	for k := range recs {
		cluster, id, _, _ := workloadKey(org, &recs[k])
		if _, ok := ids[cluster]; !ok {
			clusters = append(clusters, cluster)
		}
		if batch {
			ids[cluster] = append(ids[cluster], id)
		} else if ids[cluster] == nil {
			ids[cluster] = []string{}
		}
	}
	parts := map[string]*partition{}
	for _, cluster := range clusters {
		p, err := i.readPartition(ctx, cluster, ids[cluster])
		if err != nil {
			return nil, err
		}
		parts[cluster] = p
	}
	out := make([]model.Workload, len(recs))
	changes := make([]model.WorkloadChange, len(recs))
	units = units[:0]
	for k := range recs {
		rec := &recs[k]
		cluster, id, _, _ := workloadKey(org, rec)
		units = append(units, unit{key: cluster + "|" + id,
			run: func(ctx context.Context) error {
				w, change, err := i.applyRecord(ctx, org, rec, repos[same[k]], parts[cluster])
				if err != nil {
					return err
				}
				out[k], changes[k] = *w, change
				return nil
			}})
	}
	if err := i.run(ctx, units); err != nil {
		return nil, err
	}
	// Re-score once, with every workload of the request in place: the
	// findings all the changes touch are read together, not per workload.
	changes = slices.DeleteFunc(changes, func(c model.WorkloadChange) bool { return c.After == nil })
	if err := i.observe(ctx, changes); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyCluster stores the deployments of one cluster request for org, as
// ApplyDeployments does, and returns the stored workloads in request order.
//
// Like GitHub's "set cluster deployment records", it creates or updates
// the records the request names and leaves every other record of the
// cluster as it is: a deployment ends only with a decommissioned record.
// A cluster reporter's snapshot is not the whole cluster: deployment-tracker
// may watch one namespace or skip excluded ones, leaves out pods without a
// resolved digest or owner, and several reporters may share a cluster
// name; reading an omission as "gone" would lower the score of findings in
// workloads that still run.
func (i *Inventory) ApplyCluster(ctx context.Context, org, cluster string, req deployrecord.ClusterRequest) ([]model.Workload, error) {
	return i.ApplyDeployments(ctx, org, req.Records(cluster))
}

// workloadKey is the partition, id, namespace and name of the workload of
// a record posted for org.
func workloadKey(org string, rec *deployrecord.DeploymentRecord) (cluster, id, ns, name string) {
	cluster = clusterKey(rec.Cluster, rec.LogicalEnvironment, rec.PhysicalEnvironment)
	ns, name = splitDeploymentName(rec.DeploymentName)
	id = model.DeploymentWorkloadID(org, rec.LogicalEnvironment, rec.PhysicalEnvironment, rec.Cluster, rec.DeploymentName)
	return cluster, id, ns, name
}

// WorkloadIDOf is the partition and id of the workload a deployment
// record posted for org is stored as.
func WorkloadIDOf(org string, rec *deployrecord.DeploymentRecord) (cluster, id string) {
	cluster, id, _, _ = workloadKey(org, rec)
	return cluster, id
}

// recordImage records the record's image on its artifact, and its
// github_repository as deployment-record evidence (the weakest there is),
// and returns the repository the image resolves to: the artifact's, by its
// strongest evidence, else the record's own claim. read, when not nil, is
// the artifact as a batch read found it (nil: none).
func (i *Inventory) recordImage(ctx context.Context, org string, rec *deployrecord.DeploymentRecord, read **model.Artifact) (string, error) {
	_, id, _, _ := workloadKey(org, rec)
	image := normalizeImage(rec.Name)
	claimed := mapping.NormalizeRepository(rec.GitHubRepository, org)
	var art *model.Artifact
	var err error
	if claimed != "" {
		art, _, err = i.updateArtifactFrom(ctx, rec.Digest, read, addEvidence(image, model.Evidence{
			Kind:       model.EvidenceDeploymentRecord,
			Repository: claimed,
			Ref:        "deployment-record:" + strings.ToLower(org) + ":" + id,
			At:         i.now(),
		}))
	} else {
		art, _, err = i.updateArtifactFrom(ctx, rec.Digest, read, func(a *model.Artifact, exists bool) error {
			if exists && a.Image != "" {
				return model.ErrSkip
			}
			fillImage(a, image)
			return nil
		})
	}
	if err != nil {
		return "", fmt.Errorf("deployment %s: %w", id, err)
	}
	return cmp.Or(art.Repository, claimed), nil
}

// partition is what ApplyDeployments reads once per workload partition.
type partition struct {
	// stored are the request's workloads as a batch read found them, by
	// id (absent: new); nil when they were not read in a batch.
	stored    map[string]*model.Workload
	inherited []model.Risk   // cluster-level risks of its other workloads (no ClusterState)
	doc       *model.Cluster // the cluster's document (ClusterState)
	anyDoc    *model.Cluster // the AnyCluster document: paths naming an image and no cluster
	// legacy are its documents under model.WorkloadID ids, by id, when
	// complete; otherwise each new workload looks its own up.
	legacy   map[string]*model.Workload
	complete bool
}

// maxLegacy bounds the legacy documents read per partition; past it, new
// workloads look theirs up one by one.
const maxLegacy = 5000

func (i *Inventory) readPartition(ctx context.Context, cluster string, ids []string) (*partition, error) {
	p := &partition{}
	if len(ids) > 0 {
		stored, err := i.Store.WorkloadsIn(ctx, cluster, ids)
		if err != nil {
			return nil, fmt.Errorf("read the workloads of the records of %s: %w", cluster, err)
		}
		p.stored = make(map[string]*model.Workload, len(stored))
		for k := range stored {
			p.stored[stored[k].ID] = &stored[k]
		}
	}
	if i.Clusters != nil {
		c, err := i.Clusters.Cluster(ctx, cluster)
		if err != nil {
			return nil, fmt.Errorf("read risks of cluster %s: %w", cluster, err)
		}
		p.doc = c
		if p.anyDoc, err = i.Clusters.Cluster(ctx, AnyCluster); err != nil {
			return nil, fmt.Errorf("read attack paths of images in any cluster: %w", err)
		}
	} else {
		risks, err := i.clusterRisks(ctx, cluster)
		if err != nil {
			return nil, err
		}
		p.inherited = risks
	}
	old, complete, err := i.Store.WorkloadsWithLegacyIDIn(ctx, cluster, maxLegacy)
	if err != nil {
		return nil, fmt.Errorf("read earlier workloads of %s: %w", cluster, err)
	}
	p.legacy, p.complete = make(map[string]*model.Workload, len(old)), complete
	for k := range old {
		p.legacy[old[k].ID] = &old[k]
	}
	return p, nil
}

// applyRecord stores the workload of one deployment record, built from the
// image's repository; a new workload starts with the cluster's inherited
// (cluster-level) risks. With ClusterState, every record takes the
// Defender risks the cluster's document c (nil: none) holds for it, so a
// workload reported after an assessment or attack path gets them, and
// loses those that expired. It queues the deployment's sync when its
// record changed, and returns the change (zero when nothing was written)
// for the caller to re-score with the request's others.
func (i *Inventory) applyRecord(ctx context.Context, org string, rec *deployrecord.DeploymentRecord, repository string, part *partition) (*model.Workload, model.WorkloadChange, error) {
	inherited, c := part.inherited, part.doc
	now := i.now()
	cluster, id, ns, name := workloadKey(org, rec)
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

	var before, legacy *model.Workload
	after, changed, err := i.updateWorkloadFrom(ctx, cluster, id, part.stored, func(w *model.Workload, exists bool) error {
		before, legacy = nil, nil
		if exists {
			before = cloneWorkload(w)
		} else {
			w.ID, w.Cluster, w.FirstSeen = id, cluster, now
			w.Risks = slices.Clone(inherited)
			old, err := i.legacyWorkload(ctx, org, rec, part)
			if err != nil {
				return err
			}
			if old != nil {
				// The same deployment, stored under its id from before
				// org and environments were part of it: it continues here.
				legacy = old
				w.FirstSeen, w.Risks, w.DeploymentRecordHash = old.FirstSeen, slices.Clone(old.Risks), old.DeploymentRecordHash
				before = cloneWorkload(old)
				before.ID = id
			}
		}
		if w.Org == "" || !strings.EqualFold(w.Org, org) {
			w.Org = org
		}
		w.Namespace, w.Name = ns, name
		w.Image, w.Digest, w.Version = image, rec.Digest, rec.Version
		w.Environment, w.Production, w.Region = rec.LogicalEnvironment, IsProduction(rec.LogicalEnvironment), rec.PhysicalEnvironment
		w.Tags = tags
		w.Risks = mapping.MergeRisks(withoutSource(w.Risks, mapping.RiskSourceDeploymentRecord), own)
		if i.Clusters != nil {
			w.Risks = withClusterRisks(w.Risks, definedRisks(c, part.anyDoc, w))
		}
		w.Repository = repository
		w.Status = status
		if before == nil || now.Sub(w.LastSeen) >= LastSeenInterval || contentChanged(before, w) {
			w.LastSeen = now
		}
		return nil
	})
	if err != nil {
		return nil, model.WorkloadChange{}, fmt.Errorf("store deployment %s: %w", id, err)
	}
	if legacy != nil {
		if err := i.Store.DeleteWorkload(ctx, legacy.Cluster, legacy.ID); err != nil {
			return nil, model.WorkloadChange{}, fmt.Errorf("retire workload %s, now %s: %w", legacy.ID, id, err)
		}
	}
	if !changed {
		return after, model.WorkloadChange{}, nil
	}
	if err := i.recordChanged(ctx, before, after); err != nil {
		return nil, model.WorkloadChange{}, err
	}
	return after, model.WorkloadChange{Before: before, After: after}, nil
}

// updateWorkloadFrom is Store.UpdateWorkload whose read was a batch read
// (read, by id; nil: no batch read, UpdateWorkload reads it). It writes
// without reading again; when another writer got there first, it is an
// UpdateWorkload from a fresh read.
func (i *Inventory) updateWorkloadFrom(ctx context.Context, cluster, id string, read map[string]*model.Workload, fn func(w *model.Workload, exists bool) error) (*model.Workload, bool, error) {
	if read == nil {
		return i.Store.UpdateWorkload(ctx, cluster, id, fn)
	}
	return saveFrom(read[id], cloneWorkload, fn,
		func(w *model.Workload, exists bool) (bool, error) {
			if w.ID != id || w.Cluster != cluster {
				return false, fmt.Errorf("update workload %s: the id or partition changed", id)
			}
			return i.Store.SaveWorkload(ctx, w, exists)
		},
		func() (*model.Workload, bool, error) { return i.Store.UpdateWorkload(ctx, cluster, id, fn) })
}

// legacyWorkload is the document a record's workload was stored as before
// its id held org and environments (model.WorkloadID of cluster, namespace
// and name), when it exists and is this record's: same org, same logical
// and physical environment. A deployment of another environment that
// overwrote it under the old id is not this one and stays as it is.
func (i *Inventory) legacyWorkload(ctx context.Context, org string, rec *deployrecord.DeploymentRecord, part *partition) (*model.Workload, error) {
	cluster, _, ns, name := workloadKey(org, rec)
	legacyID := model.WorkloadID(cluster, ns, name)
	var old *model.Workload
	var err error
	if part.complete {
		if old = part.legacy[legacyID]; old == nil {
			return nil, nil
		}
		old = cloneWorkload(old)
	} else {
		old, err = i.Store.Workload(ctx, cluster, legacyID)
	}
	switch {
	case errors.Is(err, model.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read earlier workload of %s: %w", rec.DeploymentName, err)
	}
	if !strings.EqualFold(old.Org, org) || old.Environment != rec.LogicalEnvironment || old.Region != rec.PhysicalEnvironment {
		return nil, nil
	}
	return old, nil
}

// contentChanged reports whether w differs from before in anything but
// LastSeen and the store's metadata: their stored content (the JSON the
// store hashes to skip unchanged writes) differs.
func contentChanged(before, w *model.Workload) bool {
	a, probe := *before, *w
	a.Meta, probe.Meta = model.Meta{}, model.Meta{}
	probe.LastSeen = a.LastSeen
	ja, errA := json.Marshal(&a)
	jb, errB := json.Marshal(&probe)
	return errA != nil || errB != nil || !bytes.Equal(ja, jb)
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
	ws, _, err := i.Store.WorkloadsWithRisksIn(ctx, cluster, 20)
	if err != nil {
		return nil, err
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
