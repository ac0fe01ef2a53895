package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/scoring"
)

type recordSync struct{ reqs []queue.SyncRequest }

func (r *recordSync) EnqueueSync(_ context.Context, req queue.SyncRequest) error {
	r.reqs = append(r.reqs, req)
	return nil
}

func TestTriageIsWiredFromTheDeps(t *testing.T) {
	rec := &recordSync{}
	d := &app.Deps{Sync: rec, Config: &config.Config{IssueMinPriority: model.PriorityMedium}}
	tr, err := d.Triage()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Store == nil || tr.Store != d.State() {
		t.Errorf("triage store = %v, want the store layer of the deps (one per cosmos store)", tr.Store)
	}
	if tr.MinPriority != model.PriorityMedium || tr.Policy != scoring.DefaultPolicy() || tr.RuntimeTTL == 0 {
		t.Errorf("min priority %q, default policy %v, runtime TTL %v", tr.MinPriority, tr.Policy == scoring.DefaultPolicy(), tr.RuntimeTTL)
	}
	if err := tr.Sync.EnqueueGroupSync(context.Background(), "octo/app", "alert:1"); err != nil {
		t.Fatal(err)
	}
	if len(rec.reqs) != 1 || rec.reqs[0] != (queue.SyncRequest{Kind: queue.KindGroup, Repository: "octo/app", GroupID: "alert:1"}) {
		t.Errorf("enqueued %+v, want one group sync", rec.reqs)
	}

	// Without a queue (tools) triage enqueues nothing rather than panicking.
	if tr, err := (&app.Deps{}).Triage(); err != nil || tr.Sync != nil {
		t.Errorf("no queue: sync %v, %v", tr.Sync, err)
	}
	_, err = (&app.Deps{Config: &config.Config{Policy: []byte(`{"nonsense": 1}`)}}).Triage()
	if err == nil || !strings.Contains(err.Error(), "RUNTIMELINK_POLICY") {
		t.Errorf("bad policy error = %v, want one naming RUNTIMELINK_POLICY", err)
	}
}
