package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/arm"
	"github.com/runtimelink/runtimelink/shared/arm/armtest"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func healthOf(t *testing.T, checks map[string]app.Pinger) (int, Health) {
	t.Helper()
	return healthOfDeps(t, &app.Deps{
		Config: &config.Config{}, Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		Checks: checks,
	})
}

// healthOfDeps is the status and answer of GET /api/health on d.
func healthOfDeps(t *testing.T, d *app.Deps) (int, Health) {
	t.Helper()
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

// Governance on in the settings but refused by ARM (the role is missing)
// is what health says, not "on".
func TestHealthReportsGovernanceRefusedByARM(t *testing.T) {
	srv := armtest.New(t)
	srv.AcceptAnyAssessment()
	srv.Deny(armtest.ActionAssignmentWrite)
	c, err := arm.New(staticARMToken(srv.Token), arm.Options{Endpoint: srv.URL,
		Logger:        slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)),
		ClientOptions: policy.ClientOptions{Transport: srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	d := &app.Deps{Config: &config.Config{Governance: true, GovernanceSet: true, ARM: config.ARM{Subscriptions: []string{"6a1e2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"}}},
		Logger: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Checks: map[string]app.Pinger{}, Governance: c}
	get := func() Health {
		_, h := healthOfDeps(t, d)
		return h
	}
	if h := get(); h.Integrations["governance"] != "on" {
		t.Fatalf("before any call: %q", h.Integrations["governance"])
	}
	_, err = c.PutAssignment(context.Background(), model.GovernanceAssignment{
		AssessmentID: "/subscriptions/s/providers/Microsoft.Security/assessments/a1", Key: "k", RemediationDueDate: time.Now()})
	if err == nil {
		t.Fatal("the denied write succeeded")
	}
	got := get().Integrations["governance"]
	if !strings.HasPrefix(got, "on, but failing since") || !strings.Contains(got, "AuthorizationFailed") ||
		!strings.Contains(got, "Microsoft.Security/assessments/governanceAssignments/write") {
		t.Errorf("governance = %q", got)
	}
}

type staticARMToken string

func (s staticARMToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
