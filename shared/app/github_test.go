package app_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/logtest"
)

func deps(apiURL string, appID int64, key []byte, slug string, logs *logtest.Buffer) *app.Deps {
	cfg := &config.Config{
		GitHub:  config.GitHub{APIURL: apiURL, AppID: appID, AppSlug: slug},
		Secrets: config.SecretNames{GitHubAppPrivateKey: "github-app-private-key"},
	}
	return &app.Deps{Config: cfg, Secrets: keyvault.NewEnv(map[string]string{"github-app-private-key": string(key)}),
		Logger: slog.New(slog.NewJSONHandler(logs, nil))}
}

func TestGitHubAppIdentityFromGitHub(t *testing.T) {
	gh := githubtest.New(t)
	logs := &logtest.Buffer{}
	d := deps(gh.URL, gh.AppID, gh.PrivateKeyPEM, "", logs)
	g, err := d.GitHubApp()
	if err != nil || !g.Enabled() {
		t.Fatalf("GitHubApp = %+v, %v", g, err)
	}
	if len(gh.Requests()) != 0 {
		t.Errorf("building the App's side of GitHub made %d requests; it must make none", len(gh.Requests()))
	}
	if again, _ := d.GitHubApp(); again != g {
		t.Error("a second GitHubApp built another factory: one per process, one rate-limit view")
	}
	g.Identity.Start()
	g.Identity.Wait()
	if got := g.Identity.BotLogin(); got != "runtimelink[bot]" {
		t.Errorf("BotLogin = %q, want the fake App's slug + [bot]; log: %s", got, logs.String())
	}
}

func TestGitHubAppSlugSettingWins(t *testing.T) {
	gh := githubtest.New(t)
	d := deps(gh.URL, gh.AppID, gh.PrivateKeyPEM, "octo-runtime", &logtest.Buffer{})
	g, err := d.GitHubApp()
	if err != nil {
		t.Fatal(err)
	}
	g.Identity.Start()
	g.Identity.Wait()
	if got := g.Identity.BotLogin(); got != "octo-runtime[bot]" {
		t.Errorf("BotLogin = %q", got)
	}
	for _, r := range gh.Requests() {
		if r.Path == "/app" {
			t.Error("GET /app asked although GITHUB_APP_SLUG is set")
		}
	}
}

func TestGitHubAppUnreachableAtStart(t *testing.T) {
	gh := githubtest.New(t)
	down := httptest.NewServer(nil)
	down.Close() // nothing listens here any more
	logs := &logtest.Buffer{}
	d := deps(down.URL+"/", gh.AppID, gh.PrivateKeyPEM, "", logs)
	g, err := d.GitHubApp()
	if err != nil {
		t.Fatalf("an unreachable GitHub failed start-up: %v", err)
	}
	g.Identity.Start()
	g.Identity.Wait()
	if got := g.Identity.BotLogin(); got != "" {
		t.Errorf("BotLogin = %q without an answer from GitHub", got)
	}
	g.Identity.Wait()
	if !strings.Contains(logs.String(), "GET /app failed") {
		t.Errorf("the failed lookup was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the App key is in the log")
	}
}

// Start-up never waits for GitHub: with GET /app held unanswered, Start
// returns while the lookup is still in flight, and the identity is
// filled in once GitHub answers.
func TestGitHubAppStartDoesNotWaitForGitHub(t *testing.T) {
	gh := githubtest.New(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app" {
			close(arrived)
			<-release
		}
		gh.ServeHTTP(w, r)
	}))
	defer held.Close()
	d := deps(held.URL+"/", gh.AppID, gh.PrivateKeyPEM, "", &logtest.Buffer{})
	g, err := d.GitHubApp()
	if err != nil {
		t.Fatal(err)
	}
	g.Identity.Start() // returns although GitHub has not answered
	<-arrived
	if got := g.Identity.BotLogin(); got != "" {
		t.Errorf("BotLogin = %q before GitHub answered", got)
	}
	close(release)
	g.Identity.Wait()
	if got := g.Identity.BotLogin(); got == "" {
		t.Error("no bot login once GitHub answered")
	}
}

func TestGitHubAppOff(t *testing.T) {
	d := deps("https://api.github.com/", 0, nil, "", &logtest.Buffer{})
	g, err := d.GitHubApp()
	if err != nil || g.Enabled() || g.Installations != nil {
		t.Fatalf("GitHubApp with GITHUB_APP_ID unset = %+v, %v", g, err)
	}
	g.Identity.Start()
	if g.Identity.BotLogin() != "" {
		t.Error("a bot login with neither the App nor its slug configured")
	}
}
