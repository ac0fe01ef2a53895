package redeliver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/app"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/github"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/invocation"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
	"github.com/runtimelink/runtimelink/shared/jsontest"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/redelivery"
	"github.com/runtimelink/runtimelink/shared/sampletest"
	"github.com/runtimelink/runtimelink/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

const (
	secretName = "github-webhook-secret"
	secret     = "It's a Secret to Everybody"
	keyName    = "github-app-private-key"
	testdata   = "../../testdata/github"
)

type syncs struct{}

func (s *syncs) EnqueueSync(context.Context, queue.SyncRequest) error { return nil }

// front stands where the Functions host does: it passes deliveries to the
// real webhook handler, or, while the test says so, answers 503 (the host
// shedding load) or drops the connection (the app is down).
type front struct {
	next http.Handler
	mu   sync.Mutex
	mode string // "", "503", "down"
	seen map[string]int
}

func (f *front) set(mode string) {
	f.mu.Lock()
	f.mode = mode
	f.mu.Unlock()
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode := f.mode
	f.seen[r.Header.Get(githubwebhook.HeaderDelivery)]++
	f.mu.Unlock()
	switch mode {
	case "503":
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	case "down":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

type env struct {
	t     *testing.T
	gh    *githubtest.Server
	db    *cosmos.Store
	srv   *invocation.Server
	front *front
	logs  *logtest.Buffer
}

// newEnv is the webhook and the redeliver function in one handler, on the
// emulator, with the fake GitHub delivering to the webhook through front.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, gh: githubtest.New(t), db: localstack.Store(t), logs: &logtest.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(e.logs, nil))
	// The App's writes are paced below GitHub's secondary limits; this
	// test is about what is redelivered, not how fast.
	f, err := github.NewFactory(github.FactoryOptions{BaseURL: e.gh.URL, AppID: e.gh.AppID, PrivateKey: e.gh.PrivateKey,
		Logger: logger, Limits: github.Limits{WritesPerMinute: 100_000, WritesPerHour: 1_000_000}})
	if err != nil {
		t.Fatal(err)
	}
	d := &app.Deps{
		Config: &config.Config{
			Secrets:           config.SecretNames{GitHubWebhookSecret: secretName, GitHubAppPrivateKey: keyName},
			GitHub:            config.GitHub{APIURL: e.gh.URL, AppID: e.gh.AppID},
			RedeliverLookback: time.Hour,
		},
		Sync:    &syncs{},
		Secrets: keyvault.NewEnv(map[string]string{secretName: secret, keyName: string(e.gh.PrivateKeyPEM)}),
		Logger:  logger,
		Now:     time.Now,
		GitHub: &app.GitHubApp{Clients: f, Installations: &github.Installations{Store: store.New(e.db), Clients: f},
			Identity: github.NewIdentity("runtimelink", nil, logger)},
	}
	d.WithDatabase(e.db)
	e.srv = invocation.NewServer(logger)
	githubwebhook.Register(e.srv, d)
	Register(e.srv, d)
	e.front = &front{next: e.srv.Handler(), seen: map[string]int{}}
	hs := httptest.NewServer(e.front)
	t.Cleanup(hs.Close)
	e.gh.SetWebhook(hs.URL+"/api/github/webhook", secret)
	return e
}

// run invokes the timer as the host does and returns the run's summary.
func (e *env) run(id string) redelivery.Stats {
	e.t.Helper()
	now := time.Now()
	resp := invocationtest.Invoke(e.t, e.srv.Handler(), Name, id, invocationtest.Timer(Name, "timer", now.Add(-10*time.Minute), now, false))
	if resp.Status != http.StatusOK {
		e.t.Fatalf("%s: status %d, logs %v", id, resp.Status, resp.Logs)
	}
	var st redelivery.Stats
	if err := json.Unmarshal(resp.ReturnValue, &st); err != nil {
		e.t.Fatalf("%s: return value %s: %v", id, resp.ReturnValue, err)
	}
	return st
}

func (e *env) delivered(guid string) bool {
	e.t.Helper()
	ok, err := store.New(e.db).Delivered(context.Background(), guid)
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

func sample(t *testing.T, rel string) []byte {
	t.Helper()
	return sampletest.Testdata(t, "github", rel)
}

// The target: 50 of 500 deliveries are lost (the front answered
// 503, or the app was down); one redelivery run has GitHub send exactly
// those 50 again, with their own guids, through the real handler, so all
// 500 are stored and none twice; the 450 others are not redelivered, and
// a second run redelivers nothing.
func TestRedeliveryBringsBackTheLostDeliveries(t *testing.T) {
	e := newEnv(t)
	alert := sample(t, "code_scanning_alert/created.json")
	ping := sample(t, "ping/payload.json")
	lost := map[string]bool{}
	alerts := map[string]string{} // guid → finding id
	var all []githubtest.HookDelivery
	for i := range 500 {
		event, payload := "ping", ping
		if i%3 == 0 { // a third are alerts, whose effect is a finding
			event = "code_scanning_alert"
			payload = jsontest.Edit(t, alert, func(m map[string]any) { m["alert"].(map[string]any)["number"] = 1000 + i })
		}
		switch {
		case i%10 == 0 && (i/10)%2 == 0:
			e.front.set("503")
		case i%10 == 0:
			e.front.set("down")
		default:
			e.front.set("")
		}
		d := e.gh.Deliver(event, payload)
		all = append(all, d)
		if i%10 == 0 {
			lost[d.GUID] = true
		}
		if event == "code_scanning_alert" {
			alerts[d.GUID] = fmt.Sprintf("code_scanning:codertocat:hello-world:%d", 1000+i)
		}
	}
	e.front.set("")
	for _, d := range all {
		if lost[d.GUID] == d.OK() {
			t.Fatalf("delivery %s logged as %d %q", d.GUID, d.StatusCode, d.Status)
		}
		if lost[d.GUID] == e.delivered(d.GUID) {
			t.Fatalf("before the run, %s recorded = %v", d.GUID, !lost[d.GUID])
		}
	}
	e.gh.ResetRequests()

	st := e.run("inv-1")
	t.Logf("first run: %+v", st)
	if st.Listed != 500 || st.Failed != 50 || st.Unrecorded != 0 || st.Redelivered != 50 || st.Errors != 0 || !st.Complete {
		t.Errorf("first run: %+v", st)
	}
	redelivered := map[string]int{}
	for _, d := range e.gh.HookDeliveries() {
		if d.Redelivery {
			redelivered[d.GUID]++
			if !d.OK() {
				t.Errorf("redelivery of %s answered %d", d.GUID, d.StatusCode)
			}
		}
	}
	if len(redelivered) != 50 {
		t.Errorf("%d guids redelivered, want the 50 lost", len(redelivered))
	}
	for guid, n := range redelivered {
		if !lost[guid] || n != 1 {
			t.Errorf("guid %s redelivered %d times (lost: %v)", guid, n, lost[guid])
		}
	}
	for _, d := range all {
		want := 1
		if lost[d.GUID] {
			want = 2 // the lost attempt and the redelivery
		}
		if got := e.front.seen[d.GUID]; got != want {
			t.Errorf("%s reached the app %d times, want %d", d.GUID, got, want)
		}
		if !e.delivered(d.GUID) {
			t.Errorf("%s (lost %v) not recorded after the run", d.GUID, lost[d.GUID])
		}
	}
	for guid, id := range alerts {
		if _, err := store.New(e.db).Finding(context.Background(), "codertocat/hello-world", id); err != nil {
			t.Errorf("finding %s of delivery %s (lost %v): %v", id, guid, lost[guid], err)
		}
	}
	if n := e.gh.Count(func(r githubtest.Request) bool { return !r.App }); n != 0 {
		t.Errorf("%d delivery-log calls without the App's JWT", n)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"webhook redelivered"`); n != 50 {
		t.Errorf("%d 'webhook redelivered' lines, want 50", n)
	}
	for guid := range lost {
		if !strings.Contains(logs, `"guid":"`+guid+`"`) {
			t.Errorf("no log line names redelivered guid %s", guid)
		}
	}

	e.gh.ResetRequests()
	st = e.run("inv-2")
	t.Logf("second run: %+v", st)
	if st.Redelivered != 0 || st.Failed != 0 || st.Errors != 0 || !st.Complete {
		t.Errorf("second run: %+v", st)
	}
	if n := e.gh.Count(func(r githubtest.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/attempts")
	}); n != 0 {
		t.Errorf("second run asked for %d redeliveries", n)
	}
	if n := strings.Count(e.logs.String(), `"msg":"redeliver summary"`); n != 2 {
		t.Errorf("%d summary lines, want one per run", n)
	}
	mark, err := store.New(e.db).Watermark(context.Background(), redelivery.WatermarkID)
	if err != nil || mark.IsZero() || mark.Before(all[0].DeliveredAt) {
		t.Errorf("watermark = %v, %v", mark, err)
	}
}

// Two runs at once (the host keeps timers singletons; a second instance
// or a manual run may still overlap) ask once per lost delivery between
// them: each attempt is claimed in Cosmos DB under its ETag first.
func TestConcurrentRunsAskOnce(t *testing.T) {
	e := newEnv(t)
	ping := sample(t, "ping/payload.json")
	lost := map[string]bool{}
	for i := range 100 {
		e.front.set("")
		if i%5 == 0 {
			e.front.set("503")
		}
		if d := e.gh.Deliver("ping", ping); !d.OK() {
			lost[d.GUID] = true
		}
	}
	e.front.set("")
	var wg sync.WaitGroup
	stats := make([]redelivery.Stats, 2)
	for i := range stats {
		wg.Go(func() { stats[i] = e.run(fmt.Sprintf("inv-%d", i)) })
	}
	wg.Wait()
	if n := stats[0].Redelivered + stats[1].Redelivered; n != len(lost) || len(lost) != 20 {
		t.Errorf("redelivered %d between the runs (%+v, %+v), want the %d lost", n, stats[0], stats[1], len(lost))
	}
	n := 0
	for _, d := range e.gh.HookDeliveries() {
		if d.Redelivery {
			n++
			if !lost[d.GUID] {
				t.Errorf("%s redelivered, but it was not lost", d.GUID)
			}
		}
	}
	if n != len(lost) {
		t.Errorf("GitHub redelivered %d times, want %d", n, len(lost))
	}
	for guid := range lost {
		if !e.delivered(guid) {
			t.Errorf("%s not recorded", guid)
		}
	}
}

// Without a GitHub App there is no delivery log to read: the run says so
// and succeeds.
func TestOffWithoutTheApp(t *testing.T) {
	logs := &logtest.Buffer{}
	d := &app.Deps{Config: &config.Config{}, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Now: time.Now}
	srv := invocation.NewServer(d.Logger)
	Register(srv, d)
	now := time.Now()
	resp := invocationtest.Invoke(t, srv.Handler(), Name, "inv-off", invocationtest.Timer(Name, "timer", now, now, true))
	if all := strings.Join(resp.Logs, "\n"); resp.Status != http.StatusOK || !strings.Contains(all, "redeliver: off") ||
		!strings.Contains(all, "past due") {
		t.Errorf("status %d, logs %s", resp.Status, all)
	}
}
