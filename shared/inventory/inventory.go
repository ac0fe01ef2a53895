// Package inventory keeps runtimelink's picture of what runs where and which
// code built it: it turns Defender export records (image CVEs, assessment
// risk, alerts), ACR registry events and deployment records into artifacts,
// workloads and findings, re-links workloads and findings when the evidence
// for an image's source changes, and applies attack paths to workloads.
// Every write is idempotent (deterministic ids, ETag-guarded merges that
// write nothing when the content is unchanged), so redelivered input costs
// reads, not writes.
package inventory

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// FindingWriter is where findings enter the state: triage.Triage, which
// merges, scores, groups and enqueues their sync. merge gets the stored
// finding (zero value and exists=false when new) and changes it in place,
// or returns model.ErrSkip to write nothing.
type FindingWriter interface {
	Upsert(ctx context.Context, repository, id string, merge func(f *model.Finding, exists bool) error) (*model.Finding, bool, error)
}

// WorkloadObserver is told when workloads' runtime context changed
// (status, digest, environment, risks or repository), after they were
// written, so the findings on their images and repositories are re-scored
// right away: all the changes of one request in one call, which reads the
// findings they touch once. triage.Triage is one (WorkloadsChanged, which
// returns how many findings it re-scored).
type WorkloadObserver interface {
	WorkloadsChanged(ctx context.Context, changes []model.WorkloadChange) (int, error)
}

// Inventory ingests runtime facts into the state store.
type Inventory struct {
	Store Store
	// Findings is where findings are written (Defender CVEs and alerts):
	// triage.Triage in the app.
	Findings FindingWriter
	// Sync receives deployment and storage sync requests for what changed;
	// nil enqueues nothing.
	Sync SyncQueue
	// Observer is told about workload changes; nil means nobody listens.
	Observer WorkloadObserver
	Logger   *slog.Logger
	Now      func() time.Time
	// Workers bounds how many records are written concurrently (default 8).
	Workers int
	// Cloud is the Azure cloud the records come from: a registry named
	// only by its resource id (legacy CVE records, ACR events without a
	// host) gets its login server there. Zero: no host is derived, the
	// image is named without one.
	Cloud mapping.Cloud
	// Clusters keeps Defender's risk of each cluster as a whole, so it
	// reaches workloads reported later; nil: risks reach only the
	// cluster's workloads known when they arrive.
	Clusters ClusterState
	// ClusterFindingsRepository ("owner/name"; "" = off) files the findings
	// about a cluster's own resources that no repository builds (an alert
	// on kube-system), so they get issues; off, they stay unmapped and are
	// listed under their cluster.
	ClusterFindingsRepository string
}

// New builds an Inventory on the store, writing findings through
// findings. When findings also implements WorkloadObserver (triage.Triage's
// WorkloadChanged), it is told about workload changes too.
func New(store Store, findings FindingWriter, sync SyncQueue, logger *slog.Logger, now func() time.Time) *Inventory {
	if logger == nil {
		logger = slog.Default()
	}
	i := &Inventory{Store: store, Findings: findings, Sync: sync, Logger: logger, Now: now}
	if o, ok := findings.(WorkloadObserver); ok {
		i.Observer = o
	}
	return i
}

func (i *Inventory) now() time.Time {
	if i.Now != nil {
		return i.Now().UTC()
	}
	return time.Now().UTC()
}

// eventTime is the source's time of an event, or now when it gave none.
func (i *Inventory) eventTime(t time.Time) time.Time {
	if t.IsZero() {
		return i.now()
	}
	return t.UTC()
}

func (i *Inventory) workers() int {
	if i.Workers > 0 {
		return i.Workers
	}
	return 8
}

func (i *Inventory) logger() *slog.Logger {
	if i.Logger != nil {
		return i.Logger
	}
	return slog.Default()
}

// enqueueDeployment asks for w's deployment record to be pushed to GitHub.
func (i *Inventory) enqueueDeployment(ctx context.Context, w *model.Workload) error {
	if i.Sync == nil {
		return nil
	}
	if err := i.Sync.EnqueueDeploymentSync(ctx, w.Org, w.Cluster, w.ID); err != nil {
		return fmt.Errorf("enqueue deployment sync: %w", err)
	}
	return nil
}

// enqueueStorage asks for the storage record of a's digest to be pushed to
// GitHub.
func (i *Inventory) enqueueStorage(ctx context.Context, a *model.Artifact) error {
	if i.Sync == nil {
		return nil
	}
	if err := i.Sync.EnqueueStorageSync(ctx, a.Digest, a.Repository); err != nil {
		return fmt.Errorf("enqueue storage sync: %w", err)
	}
	return nil
}

// workloadChanged tells the observer and enqueues the deployment sync of a
// workload whose stored document changed. before is nil for a new workload.
func (i *Inventory) workloadChanged(ctx context.Context, before, after *model.Workload) error {
	if err := i.observe(ctx, []model.WorkloadChange{{Before: before, After: after}}); err != nil {
		return err
	}
	return i.recordChanged(ctx, before, after)
}

// observe tells the Observer, in one call, of those changes that touch a
// runtime context.
func (i *Inventory) observe(ctx context.Context, changes []model.WorkloadChange) error {
	if i.Observer == nil {
		return nil
	}
	var touched []model.WorkloadChange
	for _, c := range changes {
		if RuntimeContextChanged(c.Before, c.After) {
			touched = append(touched, c)
		}
	}
	if len(touched) == 0 {
		return nil
	}
	if _, err := i.Observer.WorkloadsChanged(ctx, touched); err != nil {
		what := cmp.Or(touched[0].After, touched[0].Before).ID
		if len(touched) > 1 {
			what = fmt.Sprintf("%s and %d more", what, len(touched)-1)
		}
		return fmt.Errorf("re-score after workload %s changed: %w", what, err)
	}
	return nil
}

// recordChanged queues the deployment sync of a workload (after) whose
// deployment record changed.
func (i *Inventory) recordChanged(ctx context.Context, before, after *model.Workload) error {
	if before == nil || DeploymentRecordChanged(before, after) {
		if after.Org == "" {
			// Only workloads reported through the deployments endpoint name
			// the org whose GitHub receives their deployment record.
			return nil
		}
		return i.enqueueDeployment(ctx, after)
	}
	return nil
}

// RuntimeContextChanged reports whether what scoring reads of a workload
// differs between before (nil: new) and after.
func RuntimeContextChanged(before, after *model.Workload) bool {
	if before == nil || after == nil {
		return before != after
	}
	return before.Status != after.Status ||
		before.Digest != after.Digest ||
		before.Image != after.Image ||
		before.Production != after.Production ||
		before.Environment != after.Environment ||
		before.Repository != after.Repository ||
		!sameRisks(before.Risks, after.Risks)
}

func sameRisks(a, b []model.Risk) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

// cloneWorkload copies w deeply enough that later edits of the copy's
// slices and maps do not show through.
func cloneWorkload(w *model.Workload) *model.Workload {
	if w == nil {
		return nil
	}
	c := *w
	c.Risks = append([]model.Risk(nil), w.Risks...)
	if w.Tags != nil {
		c.Tags = make(map[string]string, len(w.Tags))
		for k, v := range w.Tags {
			c.Tags[k] = v
		}
	}
	return &c
}
