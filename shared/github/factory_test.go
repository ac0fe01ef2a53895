package github

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/logtest"
)

const testInstallation = 7

type env struct {
	srv     *githubtest.Server
	clock   *githubtest.Clock
	factory *Factory
	logs    *logtest.Buffer
}

// newEnv starts a fake GitHub and a factory on it that share a fake clock.
func newEnv(t *testing.T, lim Limits, opts ...githubtest.Option) *env {
	t.Helper()
	clock := githubtest.NewClock(time.Time{})
	srv := githubtest.New(t, append([]githubtest.Option{githubtest.WithClock(clock)}, opts...)...)
	srv.AddInstallation(testInstallation, "octo-org")
	logs := &logtest.Buffer{}
	f, err := NewFactory(FactoryOptions{
		BaseURL:    srv.URL,
		AppID:      srv.AppID,
		PrivateKey: srv.PrivateKey,
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
		Limits:     lim,
		Clock:      clock,
	})
	if err != nil {
		t.Fatalf("NewFactory: %v", err)
	}
	return &env{srv: srv, clock: clock, factory: f, logs: logs}
}

func (e *env) client(t *testing.T, id int64) *gh.Client {
	t.Helper()
	c, err := e.factory.Installation(context.Background(), id)
	if err != nil {
		t.Fatalf("Installation(%d): %v", id, err)
	}
	return c
}

func isTokenMint(r githubtest.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/access_tokens")
}

func TestInstallationTokenMintedOnceAndReused(t *testing.T) {
	e := newEnv(t, Limits{})
	e.srv.Expect(githubtest.Call{Pattern: "POST /app/installations/7/access_tokens", Times: 1, Status: http.StatusCreated},
		githubtest.Call{Pattern: "GET /repos/{owner}/{repo}", Times: 3})
	defer e.srv.Verify(t)
	c := e.client(t, testInstallation)
	for range 3 {
		if _, _, err := c.Repositories.Get(context.Background(), "octo-org", "app"); err != nil {
			t.Fatalf("get repository: %v", err)
		}
	}
	if c2 := e.client(t, testInstallation); c2 != c {
		t.Errorf("Installation returned a new client for the same installation")
	}
	if n := e.srv.Count(isTokenMint); n != 1 {
		t.Errorf("token mints = %d, want 1", n)
	}
	for _, r := range e.srv.Requests() {
		switch {
		case isTokenMint(r):
			if !r.App || r.Status != http.StatusCreated || r.Path != "/app/installations/7/access_tokens" {
				t.Errorf("token request = %+v, want a JWT-authenticated 201 for installation 7", r)
			}
		case r.Installation != testInstallation || (r.Status != http.StatusOK && r.Status != http.StatusNotModified):
			t.Errorf("API request = %+v, want installation 7 and 200 (or 304: the repeats are conditional)", r)
		}
	}
}

// ghinstallation refreshes a token a minute before it expires: a token that
// lives 50 s is never reused.
func TestTokenRefreshedAMinuteBeforeExpiry(t *testing.T) {
	e := newEnv(t, Limits{}, githubtest.WithTokenTTL(50*time.Second))
	c := e.client(t, testInstallation)
	for range 3 {
		if _, _, err := c.Repositories.Get(context.Background(), "octo-org", "app"); err != nil {
			t.Fatalf("get repository: %v", err)
		}
	}
	if n := e.srv.Count(isTokenMint); n != 3 {
		t.Errorf("token mints = %d, want 3 (one per request)", n)
	}
}

func TestTwoInstallationsConcurrently(t *testing.T) {
	e := newEnv(t, Limits{})
	e.srv.AddInstallation(11, "octo-org")
	e.srv.AddInstallation(12, "octo-corp")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for _, id := range []int64{11, 12} {
		c := e.client(t, id)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, _, err := c.Repositories.Get(context.Background(), "octo-org", "app"); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent get: %v", err)
	}
	perInstallation := map[int64]int{}
	for _, r := range e.srv.Requests() {
		if !isTokenMint(r) {
			perInstallation[r.Installation]++
		}
	}
	if perInstallation[11] != 10 || perInstallation[12] != 10 {
		t.Errorf("requests per installation = %v, want 10 each", perInstallation)
	}
	if n := e.srv.Count(isTokenMint); n < 2 {
		t.Errorf("token mints = %d, want at least one per installation", n)
	}
}

// A key GitHub rejects is read again on the next request: a Key Vault
// rotation needs no restart.
func TestRejectedKeyIsReadAgain(t *testing.T) {
	srv := githubtest.New(t)
	srv.AddInstallation(testInstallation, "octo-org")
	stale := githubtest.GenerateKey(t)
	var reads atomic.Int32
	f, err := NewFactory(FactoryOptions{
		BaseURL: srv.URL, AppID: srv.AppID, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		PrivateKey: func(ctx context.Context) ([]byte, error) {
			if reads.Add(1) == 1 {
				return stale, nil
			}
			return srv.PrivateKeyPEM, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Installation(context.Background(), testInstallation)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Repositories.Get(context.Background(), "octo-org", "app"); err == nil {
		t.Fatal("request with a key GitHub does not know succeeded")
	} else if strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Fatalf("error leaks the key: %v", err)
	}
	if _, _, err := c.Repositories.Get(context.Background(), "octo-org", "app"); err != nil {
		t.Fatalf("request after rotation: %v", err)
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("key reads = %d, want 2", n)
	}
}

func TestFactoryRejectsBadKeyAndOptions(t *testing.T) {
	if _, err := NewFactory(FactoryOptions{AppID: 0, PrivateKey: func(context.Context) ([]byte, error) { return nil, nil }}); err == nil {
		t.Error("AppID 0 accepted")
	}
	if _, err := NewFactory(FactoryOptions{AppID: 1}); err == nil {
		t.Error("missing key source accepted")
	}
	f, err := NewFactory(FactoryOptions{AppID: 1, PrivateKey: func(context.Context) ([]byte, error) {
		return []byte("-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Installation(context.Background(), 1); err == nil {
		t.Error("malformed key accepted")
	}
	boom := errors.New("key vault unreachable")
	f, _ = NewFactory(FactoryOptions{AppID: 1, PrivateKey: func(context.Context) ([]byte, error) { return nil, boom }})
	if _, err := f.App(context.Background()); !errors.Is(err, boom) {
		t.Errorf("App() error = %v, want the key source's error", err)
	}
}

func TestAPIURLs(t *testing.T) {
	tests := []struct {
		base, api, upload string
		wantErr           bool
	}{
		{"", "https://api.github.com/", "https://uploads.github.com/", false},
		{"https://api.github.com", "https://api.github.com/", "https://uploads.github.com/", false},
		{"https://ghe.example/api/v3/", "https://ghe.example/api/v3/", "https://ghe.example/api/uploads/", false},
		{"https://ghe.example/api/v3", "https://ghe.example/api/v3/", "https://ghe.example/api/uploads/", false},
		{"https://api.octocorp.ghe.com/", "https://api.octocorp.ghe.com/", "https://api.octocorp.ghe.com/", false},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/", "http://127.0.0.1:8080/", false},
		{"ftp://ghe.example/", "", "", true},
		{"ghe.example/api/v3", "", "", true},
	}
	for _, tt := range tests {
		api, up, err := apiURLs(tt.base)
		if (err != nil) != tt.wantErr {
			t.Errorf("apiURLs(%q) error = %v, wantErr %v", tt.base, err, tt.wantErr)
			continue
		}
		if err == nil && (api.String() != tt.api || up.String() != tt.upload) {
			t.Errorf("apiURLs(%q) = %s, %s; want %s, %s", tt.base, api, up, tt.api, tt.upload)
		}
	}
}

// GitHub Enterprise Server serves the API under /api/v3: tokens and calls
// must go there.
func TestEnterpriseServerBaseURL(t *testing.T) {
	e := newEnv(t, Limits{}, githubtest.WithPathPrefix("/api/v3"))
	if !strings.HasSuffix(e.srv.URL, "/api/v3/") {
		t.Fatalf("fake URL = %s", e.srv.URL)
	}
	c := e.client(t, testInstallation)
	if c.BaseURL.String() != e.srv.URL || !strings.HasSuffix(c.UploadURL.Path, "/api/uploads/") {
		t.Errorf("client URLs = %s, %s", c.BaseURL, c.UploadURL)
	}
	repo, _, err := c.Repositories.Get(context.Background(), "octo-org", "app")
	if err != nil {
		t.Fatalf("get repository on GHES: %v", err)
	}
	if repo.GetFullName() != "octo-org/app" {
		t.Errorf("repository = %q", repo.GetFullName())
	}
	if n := e.srv.Count(isTokenMint); n != 1 {
		t.Errorf("token mints under /api/v3 = %d, want 1", n)
	}
	app, err := e.factory.App(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.srv.AddInstallation(testInstallation, "octo-org")
	inst, _, err := app.Apps.ListInstallations(context.Background(), nil)
	if err != nil || len(inst) != 1 || inst[0].GetID() != testInstallation {
		t.Fatalf("list installations as the App = %v, %v", inst, err)
	}
}
