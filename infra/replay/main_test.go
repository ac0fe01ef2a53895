package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/queue"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

func TestSignatureIsGitHubs(t *testing.T) {
	// GitHub's documented example ("Validating webhook deliveries").
	got := Signature([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	if got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("Signature = %s", got)
	}
}

func TestDeliveryID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	a, b := DeliveryID("ping/payload.json"), DeliveryID("issues/opened.json")
	if !uuid.MatchString(a) || a != DeliveryID("ping/payload.json") || a == b {
		t.Errorf("ids %s %s", a, b)
	}
}

type nopSync struct{}

func (nopSync) EnqueueSync(context.Context, queue.SyncRequest) error { return nil }

// The replay, run twice against the real function on the emulator: every
// sample is accepted, the second run is recognised as redeliveries, and
// the findings table lists what the app holds.
func TestReplayAgainstTheFunction(t *testing.T) {
	st := localstack.ForTest(t)
	db := localstack.DatabaseName(t)
	store := localstack.OpenStore(t, st.CosmosEndpoint, db)
	const secret = "demo-secret"
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	d := (&app.Deps{
		Config:  &config.Config{Secrets: config.SecretNames{GitHubWebhookSecret: "github-webhook-secret"}},
		Sync:    nopSync{},
		Secrets: keyvault.NewEnv(map[string]string{"github-webhook-secret": secret}),
		Logger:  logger,
		Now:     time.Now,
	}).WithDatabase(store)
	srv := invocation.NewServer(logger)
	githubwebhook.Register(srv, d)
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	t.Setenv("GITHUB_WEBHOOK_SECRET", secret)
	t.Setenv("COSMOS_ENDPOINT", st.CosmosEndpoint)
	t.Setenv("COSMOS_KEY", localstack.CosmosKey)
	t.Setenv("COSMOS_DATABASE", db)
	t.Setenv("COSMOS_EMULATOR", "true")
	ctx := context.Background()
	url := hs.URL + "/api/github/webhook"

	var first, second bytes.Buffer
	if err := realMain(ctx, &first, url, "../../testdata/github", false); err != nil {
		t.Fatalf("first replay: %v\n%s", err, first.String())
	}
	if strings.Contains(first.String(), "duplicate delivery") || !strings.Contains(first.String(), "processed") {
		t.Errorf("first replay:\n%s", first.String())
	}
	if err := realMain(ctx, &second, url, "../../testdata/github", true); err != nil {
		t.Fatalf("second replay: %v\n%s", err, second.String())
	}
	out := second.String()
	if strings.Contains(out, "processed") || strings.Count(out, "duplicate delivery") != 12 {
		t.Errorf("second replay should be all redeliveries:\n%s", out)
	}
	for _, id := range []string{"code_scanning:codertocat:hello-world:10", "dependabot:wolfy1339:pika-pack:20", "secret_scanning:codertocat:hello-world:191"} {
		if !strings.Contains(out, id) {
			t.Errorf("findings table lacks %s:\n%s", id, out)
		}
	}
	if !strings.Contains(out, "findings held (3)") {
		t.Errorf("findings table:\n%s", out)
	}

	// Signed with another secret, every delivery is refused and the
	// replay says so.
	t.Setenv("GITHUB_WEBHOOK_SECRET", "wrong")
	var third bytes.Buffer
	if err := realMain(ctx, &third, url, "../../testdata/github", false); err == nil || !strings.Contains(third.String(), "401") {
		t.Errorf("wrong secret: %v\n%s", err, third.String())
	}
}
