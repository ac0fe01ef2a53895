package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func healthOf(t *testing.T, checks map[string]app.Pinger) (int, Health) {
	t.Helper()
	d := &app.Deps{
		Config: &config.Config{}, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		Checks: checks,
	}
	srv := invocation.NewServer(d.Logger)
	Register(srv, d)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/health", nil))
	var h Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("health answer is not JSON: %v: %s", err, rec.Body.String())
	}
	return rec.Code, h
}

// The health answer checks the real dependencies: the Cosmos emulator and
// Azurite answer → 200; a queue nobody serves → 503 naming it.
func TestHealthChecksCosmosAndQueue(t *testing.T) {
	st := localstack.ForTest(t)
	store := localstack.Store(t)
	q, err := queue.New(queue.Options{ConnectionString: st.QueueConnectionString, Queue: "health-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CreateIfMissing(context.Background()); err != nil {
		t.Fatal(err)
	}

	code, h := healthOf(t, map[string]app.Pinger{"cosmos": store, "queue": q})
	if code != http.StatusOK || h.Status != "ok" || h.Checks["cosmos"] != "ok" || h.Checks["queue"] != "ok" {
		t.Fatalf("healthy stack: %d %+v", code, h)
	}
	if h.Version != config.Version || h.Integrations == nil {
		t.Fatalf("health lacks version or integrations: %+v", h)
	}

	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dead, err := queue.New(queue.Options{ConnectionString: localstack.QueueConnectionString(port), Queue: "sync"})
	if err != nil {
		t.Fatal(err)
	}
	code, h = healthOf(t, map[string]app.Pinger{"cosmos": store, "queue": dead})
	if code != http.StatusServiceUnavailable || h.Status != "unavailable" {
		t.Fatalf("dead queue: %d %+v, want 503", code, h)
	}
	if fmt.Sprint(h.Unavailable) != "[queue]" || h.Checks["cosmos"] != "ok" {
		t.Fatalf("503 does not name exactly the queue: %+v", h)
	}
}
