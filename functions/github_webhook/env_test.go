package githubwebhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

// The repository's copy of GitHub's webhook examples.
const testdata = "../../testdata/github"

const (
	secretName = "github-webhook-secret"
	secret     = "It's a Secret to Everybody"
)

// env is the real function behind a real HTTP server, on the emulator.
type env struct {
	t     testing.TB
	store *cosmos.Store
	sync  *inventorytest.Sync
	logs  *logtest.Buffer
	url   string
	now   func() time.Time
}

type envOption func(*app.Deps)

func withSecrets(p keyvault.Provider) envOption { return func(d *app.Deps) { d.Secrets = p } }

func newEnv(t testing.TB, store *cosmos.Store, opts ...envOption) *env {
	t.Helper()
	if store == nil {
		store = localstack.Store(t)
	}
	e := &env{t: t, store: store, sync: &inventorytest.Sync{}, logs: &logtest.Buffer{}, now: time.Now}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	d := (&app.Deps{
		Config:  &config.Config{Secrets: config.SecretNames{GitHubWebhookSecret: secretName}},
		Sync:    e.sync,
		Secrets: keyvault.NewEnv(map[string]string{secretName: secret}),
		Logger:  logger,
		Now:     func() time.Time { return e.now() },
	}).WithDatabase(store)
	for _, o := range opts {
		o(d)
	}
	srv := invocation.NewServer(logger)
	if *loadLimit > 0 {
		srv.LimitHTTP(*loadLimit)
	}
	githubwebhook.Register(srv, d)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL + "/api/github/webhook"
	return e
}

// delivery is one request as GitHub would send it.
type delivery struct {
	event, id string
	body      []byte
	// signature overrides the real one; "-" sends none.
	signature string
}

type response struct {
	status int
	body   map[string]string
}

func (e *env) post(d delivery) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(d.body))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req, d)
}

func (e *env) do(req *http.Request, d delivery) response {
	e.t.Helper()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/test")
	if d.event != "" {
		req.Header.Set(githubwebhook.HeaderEvent, d.event)
	}
	if d.id != "" {
		req.Header.Set(githubwebhook.HeaderDelivery, d.id)
	}
	switch d.signature {
	case "":
		req.Header.Set(githubwebhook.HeaderSignature, githubwebhook.Sign([]byte(secret), d.body))
	case "-":
	default:
		req.Header.Set(githubwebhook.HeaderSignature, d.signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST %s: %v", d.event, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, body: map[string]string{}}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		e.t.Fatalf("answer is not JSON (%d): %q", resp.StatusCode, raw)
	}
	return out
}

// deliveryID is a stable UUID-shaped id per name.
func deliveryID(name string) string {
	s := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(s[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func sample(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// variant reads a sample and edits its decoded JSON.
func variant(t testing.TB, rel string, edit func(m map[string]any)) []byte {
	t.Helper()
	return jsontest.Edit(t, sample(t, rel), edit)
}

var obj = jsontest.Obj

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func findings(t testing.TB, s *cosmos.Store) map[string]model.Finding {
	t.Helper()
	out := map[string]model.Finding{}
	err := s.Findings.Query(ctxT(t), cosmos.Query{SQL: "SELECT * FROM c"}, func(f *model.Finding) error {
		out[f.ID] = *f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// count counts every document of every container: "nothing stored".
func count(t testing.TB, s *cosmos.Store) map[string]int {
	t.Helper()
	ctx := ctxT(t)
	q := cosmos.Query{SQL: "SELECT * FROM c"}
	n := map[string]int{}
	inc := func(name string) func() error { return func() error { n[name]++; return nil } }
	errs := []error{
		s.Findings.Query(ctx, q, func(*model.Finding) error { return inc("findings")() }),
		s.Deliveries.Query(ctx, q, func(*model.Delivery) error { return inc("deliveries")() }),
		s.Installations.Query(ctx, q, func(*model.Installation) error { return inc("installations")() }),
		s.Artifacts.Query(ctx, q, func(*model.Artifact) error { return inc("artifacts")() }),
		s.Groups.Query(ctx, q, func(*model.Group) error { return inc("groups")() }),
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func total(n map[string]int) int {
	s := 0
	for _, v := range n {
		s += v
	}
	return s
}

func expectStatus(t testing.TB, what string, got response, want int) {
	t.Helper()
	if got.status != want {
		t.Errorf("%s: status %d %v, want %d", what, got.status, got.body, want)
	}
}

// cosmosAll selects every document of a container.
var cosmosAll = cosmos.Query{SQL: "SELECT * FROM c"}
