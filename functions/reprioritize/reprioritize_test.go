package reprioritize

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

type syncs struct{ reqs []queue.SyncRequest }

func (s *syncs) EnqueueSync(_ context.Context, r queue.SyncRequest) error {
	s.reqs = append(s.reqs, r)
	return nil
}

// The timer invocation as the host sends it runs the sweep and answers
// with its summary; without subscriptions Resource Graph is reported off.
func TestTimerRunsTheSweep(t *testing.T) {
	store := localstack.Store(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := model.Finding{ID: "code_scanning:octo-org:app:1", Repository: "octo-org/app", Source: model.SourceCodeScanning,
		State: model.StateOpen, Severity: "high", AlertNumber: 1, Title: "stale score", Score: 1, Priority: model.PriorityLow}
	if _, err := store.Findings.Put(ctx, &f); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := (&app.Deps{
		Config: &config.Config{ReprioritizeMaxRuntime: time.Minute, IssueMinPriority: model.PriorityHigh},
		Sync:   &syncs{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Now: time.Now,
	}).WithDatabase(store)
	srv := invocation.NewServer(d.Logger)
	Register(srv, d)

	timer := map[string]any{"Schedule": map[string]any{"AdjustForDST": true}, "IsPastDue": false,
		"ScheduleStatus": map[string]any{"Last": invocationtest.Time(invocationtest.BaseTime), "Next": invocationtest.Time(invocationtest.BaseTime.Add(24 * time.Hour))}}
	env := invocationtest.Envelope{Data: map[string]json.RawMessage{"timer": invocationtest.HostValue(timer)}, Metadata: map[string]json.RawMessage{}}
	resp := invocationtest.Invoke(t, srv.Handler(), Name, "inv-42", env)
	if resp.Status != 200 {
		t.Fatalf("status %d, logs %v", resp.Status, resp.Logs)
	}
	var stats struct {
		Scanned, Changed int
		Complete         bool
	}
	if err := json.Unmarshal(resp.ReturnValue, &stats); err != nil || stats.Scanned != 1 || stats.Changed != 1 || !stats.Complete {
		t.Fatalf("return value %s (%v)", resp.ReturnValue, err)
	}
	got, err := store.Findings.Get(ctx, f.Repository, f.ID)
	if err != nil || got.Score != 3.75 || got.Priority != model.PriorityLow { // high 7.5 × 0.5, running nowhere
		t.Errorf("finding after the run: %+v, %v", got, err)
	}
	all := strings.Join(resp.Logs, "\n")
	for _, want := range []string{"resource graph: off", `"msg":"reprioritize summary"`, `"invocationId":"inv-42"`} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q:\n%s", want, all)
		}
	}
	l, err := store.Leases.Get(ctx, "reprioritize", "reprioritize")
	if err != nil || l.Holder != "" {
		t.Errorf("lease = %+v, %v; want released", l, err)
	}
}
