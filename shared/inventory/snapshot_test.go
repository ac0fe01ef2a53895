package inventory_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/inventory"
	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/store"
)

// failingWorkloadWrites is the store whose workload writes fail while
// fail is set: a Cosmos DB that stops answering in the middle of a run.
type failingWorkloadWrites struct {
	inventory.Store
	fail bool
}

var errStoreDown = errors.New("store down")

func (s *failingWorkloadWrites) UpdateWorkload(ctx context.Context, cluster, id string, fn func(w *model.Workload, exists bool) error) (*model.Workload, bool, error) {
	if s.fail {
		return nil, false, errStoreDown
	}
	return s.Store.UpdateWorkload(ctx, cluster, id, fn)
}

// A run that fails on a workload while expiring an assessment's risks
// leaves the assessment to the next run (the timer's retry): the
// cluster's report of it is dropped only after its workloads are done.
func TestSnapshotExpiryFailedOnAWorkloadIsRetried(t *testing.T) {
	day := 24 * time.Hour
	e := newEnv(t)
	ctx := ctxT(t)
	start := e.now
	if _, err := e.inv.ApplyDeployments(ctx, "octo-org", []deployrecord.DeploymentRecord{sampleRecord(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.inv.IngestDefender(ctx, exportRecord(t, false, true)); err != nil {
		t.Fatal(err)
	}
	// The next snapshot names another assessment of the cluster, not it.
	e.now = start.Add(7 * day)
	if _, err := e.inv.IngestDefender(ctx, exportRecord(t, true, true, sampleAssessment, "0b3c5d7e-1f2a-4b3c-9d4e-5f6a7b8c9d0e")); err != nil {
		t.Fatal(err)
	}
	e.now = start.Add(8*day + time.Hour)

	down := &failingWorkloadWrites{Store: e.inv.Store, fail: true}
	e.inv.Store = down
	if _, err := e.inv.ExpireSnapshotRisks(ctx); !errors.Is(err, errStoreDown) {
		t.Fatalf("run with the store down: %v, want %v", err, errStoreDown)
	}
	down.fail = false
	n, err := e.inv.ExpireSnapshotRisks(ctx)
	if err != nil || n != 1 {
		t.Fatalf("retry expired %d, %v; want 1", n, err)
	}
	if got := riskFactorsBy(e.workloads(t), mapping.RiskSourceAssessmentPrefix)["shop-checkout-api-api"]; len(got) != 0 {
		t.Errorf("workload's assessment risks after the retry = %v, want none", got)
	}
	c, err := store.New(e.store).Cluster(ctx, "aks-prod-eus")
	if err != nil {
		t.Fatal(err)
	}
	if got := mapping.Factors(c.Risks); !slices.Equal(got, []model.RiskFactor(nil)) {
		t.Errorf("cluster's risks after the retry = %v, want none", got)
	}
}
