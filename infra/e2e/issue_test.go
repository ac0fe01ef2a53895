// Package e2e runs the built app under the local dev host against the
// emulators and the wire-level GitHub fake, the way production runs it:
// HTTP in, Event Hub in, the sync queue between, GitHub out.
package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/infra/localstack"
	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/logtest"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/sampletest"
)

func TestMain(m *testing.M) { os.Exit(localstack.RunTests(m)) }

const (
	installation = 77
	token        = "e2e-deployments-token"
)

func build(t *testing.T, rootDir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = rootDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// app lays the app out as make build does: handler, host.json and one
// folder per function with its function.json.
func app(t *testing.T, rootDir string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	build(t, rootDir, filepath.Join(dir, "handler"), "./functions")
	copyFile(t, filepath.Join(rootDir, "host.json"), filepath.Join(dir, "host.json"))
	fjs, _ := filepath.Glob(filepath.Join(rootDir, "functions", "*", "function.json"))
	for _, f := range fjs {
		name := filepath.Base(filepath.Dir(f))
		copyFile(t, f, filepath.Join(dir, name, "function.json"))
	}
	return dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type env struct {
	seq  int
	t    *testing.T
	base string
	gh   *githubtest.Server
	logs *logtest.Buffer
}

func (e *env) post(path string, body []byte, hdr ...string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("POST %s = %d %s", path, resp.StatusCode, b)
	}
}

// wrongBaseURLs posts a record under a base URL without /api and under a
// GitHub Enterprise Server style one: through the host's routing each
// reaches the handler and answers GitHub's JSON 404 naming the base URL
// (the host's own 404 is bare, and deployment-tracker drops a record on it).
func (e *env) wrongBaseURLs(record []byte) {
	e.t.Helper()
	for _, path := range []string{"/orgs/" + sampletest.Org + "/artifacts/metadata/deployment-record", "/api/v3/orgs/" + sampletest.Org + "/artifacts/metadata/deployment-record"} {
		req, _ := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(record))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		var body struct{ Message, Status string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || err != nil || body.Status != "404" || !strings.Contains(body.Message, "BASE_URL="+e.base+"/api") {
			e.t.Errorf("POST %s = %d %+v (%v)", path, resp.StatusCode, body, err)
		}
	}
}

// waitFor polls until cond holds, failing with the app's log otherwise.
func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; app log tail:\n%s", what, tail(e.logs.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// start builds the app and runs it under the dev host; the test is
// skipped under -short.
func start(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the app under the dev host (not under -short)")
	}
	st := localstack.ForTest(t)
	rootDir := sampletest.Root(t)
	appDir := app(t, rootDir)
	devhost := filepath.Join(t.TempDir(), "devhost")
	build(t, rootDir, devhost, "./infra/devhost")

	gh := githubtest.New(t)
	gh.AddInstallation(installation, sampletest.Org)
	gh.SetCollaborators(sampletest.Repo, "octocat")
	gh.SetFile(sampletest.Repo, ".github/CODEOWNERS", []byte("Dockerfile @octocat @octo-org/payments\n"))

	// The installation as the installation webhook leaves it.
	dbName := localstack.DatabaseName(t)
	db := localstack.OpenStore(t, st.CosmosEndpoint, dbName)
	ctx := context.Background()
	if _, err := db.Installations.Create(ctx, &model.Installation{ID: model.InstallationDocID(sampletest.Org), Org: sampletest.Org,
		InstallationID: installation, Status: model.InstallationActive}); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	logs := &logtest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, devhost, "-app", appDir, "-addr", addr)
	cmd.Env = append(os.Environ(),
		"COSMOS_ENDPOINT="+st.CosmosEndpoint, "COSMOS_KEY="+st.CosmosKey, "COSMOS_EMULATOR=true", "COSMOS_DATABASE="+dbName,
		"AzureWebJobsStorage="+st.QueueConnectionString,
		"GITHUB_API_URL="+gh.URL, fmt.Sprintf("GITHUB_APP_ID=%d", gh.AppID), "GITHUB_APP_PRIVATE_KEY="+string(gh.PrivateKeyPEM),
		"GITHUB_WEBHOOK_SECRET=e2e-webhook-secret", "DEPLOYMENTS_TOKEN="+token,
		"EVENTHUB_NAME=defender-export", "EVENTHUB_CONSUMER_GROUP=runtimelink", "RUNTIMELINK_REDELIVER_SCHEDULE=0 */10 * * * *",
		"RUNTIMELINK_DRY_RUN=false", "RUNTIMELINK_REOPEN_GRACE=3s")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	e := &env{t: t, base: "http://" + addr, gh: gh, logs: logs}
	e.waitFor("the app to answer", 60*time.Second, func() bool {
		resp, err := http.Get(e.base + "/api/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// From a Defender export record to its GitHub issue, through the dev host:
// the deployment record says what runs where (production, internet
// exposed), the export's CVE on that image raises it to Critical, and the
// sync function opens one issue, assigned to the CODEOWNERS of the
// Dockerfile, labelled, with nothing written twice on redelivery. It
// reports the time from the export record to the issue with an idle budget.
func TestDefenderRecordToIssueThroughTheDevHost(t *testing.T) {
	e := start(t)
	records := sampletest.DeploymentRecords(t)
	e.post("/api/orgs/"+sampletest.Org+"/artifacts/metadata/deployment-record", records["single"], "Authorization", "Bearer "+token)
	e.wrongBaseURLs(records["single"])
	risk := sampletest.Testdata(t, "defender", "assessment-risk.json")
	e.post("/admin/eventhub/defender_export", []byte("["+string(risk)+"]"))
	time.Sleep(500 * time.Millisecond) // let the runtime context settle; not part of the measurement

	cve := sampletest.Testdata(t, "defender", "subassessment-mdvm.json")
	sent := time.Now()
	e.post("/admin/eventhub/defender_export", []byte("["+string(cve)+"]"))
	var opened time.Time
	e.waitFor("the issue", 90*time.Second, func() bool {
		is := e.gh.IssueList(sampletest.Repo)
		if len(is) > 0 {
			opened = is[0].CreatedAt
			return true
		}
		return false
	})
	latency := opened.Sub(sent)
	is := e.gh.IssueList(sampletest.Repo)[0]
	t.Logf("Defender export record → GitHub issue: %s (idle budget; dev host queue polling from 100 ms)", latency.Round(time.Millisecond))
	if !strings.HasPrefix(is.Title, "[Critical]") || !strings.Contains(is.Title, "container image") || len(is.Assignees) != 1 || is.Assignees[0] != "octocat" {
		t.Errorf("issue %q assignees %v", is.Title, is.Assignees)
	}
	if !contains(is.Labels, "security") || !contains(is.Labels, "runtime:internet-exposed") {
		t.Errorf("labels %v", is.Labels)
	}
	// The app logs the line once GitHub answered the create, which can
	// be after the fake has the issue: wait for it rather than race it.
	e.waitFor("the 'issue opened' line in the app log", 10*time.Second, func() bool {
		return strings.Contains(e.logs.String(), `"msg":"issue opened"`)
	})

	// The same export again (Defender re-sends, the host redelivers): no
	// second issue, no write.
	e.gh.ResetRequests()
	e.post("/admin/eventhub/defender_export", []byte("["+string(cve)+"]"))
	time.Sleep(3 * time.Second)
	if n := len(e.gh.IssueList(sampletest.Repo)); n != 1 {
		t.Fatalf("issues = %d after the redelivery", n)
	}
	writes := e.gh.Count(func(r githubtest.Request) bool { return r.Method != http.MethodGet && !r.App })
	if writes != 0 {
		t.Errorf("the redelivery wrote %d times to GitHub", writes)
	}
}

// personAction sends the issues webhook GitHub sends when a person closes
// or reopens the issue (signed as GitHub signs it), after making the
// change in the fake.
func (e *env) personAction(n int, action, reason string) {
	e.t.Helper()
	// No pause: GitHub's whole-second times must not make a person's
	// quick action look older than runtimelink's own status change.
	switch action {
	case "closed":
		e.gh.CloseIssueAs(sampletest.Repo, n, reason, "octocat")
	case "reopened":
		e.gh.ReopenIssueAs(sampletest.Repo, n, "octocat")
	}
	var p map[string]any
	if err := json.Unmarshal(sampletest.Testdata(e.t, "github", "issues", "reopened.json"), &p); err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	p["action"] = action
	is := p["issue"].(map[string]any)
	is["number"], is["updated_at"] = n, now
	if action == "closed" {
		is["state"], is["state_reason"], is["closed_at"] = "closed", reason, now
	}
	p["repository"].(map[string]any)["full_name"] = sampletest.Repo
	p["sender"].(map[string]any)["login"], p["sender"].(map[string]any)["type"] = "octocat", "User"
	body, _ := json.Marshal(p)
	mac := hmac.New(sha256.New, []byte("e2e-webhook-secret"))
	mac.Write(body)
	e.seq++
	e.post("/api/github/webhook", body, "X-GitHub-Event", "issues", "X-GitHub-Delivery", fmt.Sprintf("e2e-%d-%d", time.Now().UnixNano(), e.seq),
		"X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
}

// export sends one Defender export record, changed by edit.
func (e *env) export(file string, edit func(props map[string]any)) {
	e.t.Helper()
	var rec map[string]any
	if err := json.Unmarshal(sampletest.Testdata(e.t, "defender", file), &rec); err != nil {
		e.t.Fatal(err)
	}
	if edit != nil {
		edit(rec["properties"].(map[string]any))
	}
	b, _ := json.Marshal([]any{rec})
	e.post("/admin/eventhub/defender_export", b)
}

// The story of issue 10 through the dev host: opened once → a person
// closes it → still Unhealthy after the grace → reopened with a comment
// naming the workload → Healthy → closed with a verification comment →
// active again, closed as not planned → stays closed when the priority
// rises, saying so once.
func TestRemediationStoryThroughTheDevHost(t *testing.T) {
	e := start(t)
	records := sampletest.DeploymentRecords(t)
	// Production, but no runtime risk yet: the CVE is High (7.5 + 1 for
	// published exploit steps).
	var single map[string]any
	_ = json.Unmarshal(records["single"], &single)
	delete(single, "runtime_risks")
	rec, _ := json.Marshal(single)
	e.post("/api/orgs/"+sampletest.Org+"/artifacts/metadata/deployment-record", rec, "Authorization", "Bearer "+token)
	e.export("subassessment-mdvm.json", nil)
	var n int
	e.waitFor("the issue", 90*time.Second, func() bool {
		if is := e.gh.IssueList(sampletest.Repo); len(is) == 1 {
			n = is[0].Number
			return true
		}
		return false
	})
	if is := e.gh.Issue(sampletest.Repo, n); !strings.HasPrefix(is.Title, "[High]") {
		t.Fatalf("opened %q, want the High CVE", is.Title)
	}

	// A person closes it; the CVE is still on the running image after the
	// 3 s grace: reopened, with a comment naming the workload.
	e.personAction(n, "closed", "completed")
	e.waitFor("the reopen", 60*time.Second, func() bool { return e.gh.Issue(sampletest.Repo, n).State == "open" })
	is := e.gh.Issue(sampletest.Repo, n)
	if len(is.Comments) == 0 || !strings.Contains(is.Comments[len(is.Comments)-1].Body, "aks-prod-eus") {
		t.Fatalf("reopen comment does not name the workload: %+v", is.Comments)
	}

	// Defender reports it Healthy: closed as completed with a verification.
	e.export("subassessment-mdvm.json", func(p map[string]any) {
		p["status"].(map[string]any)["code"] = "Healthy"
		p["timeGenerated"] = time.Now().UTC().Format(time.RFC3339Nano)
	})
	e.waitFor("the verified close", 60*time.Second, func() bool { return e.gh.Issue(sampletest.Repo, n).State == "closed" })
	is = e.gh.Issue(sampletest.Repo, n)
	if is.StateReason != "completed" || !strings.Contains(is.Comments[len(is.Comments)-1].Body, "Verified by runtimelink") {
		t.Fatalf("closed %s with %q", is.StateReason, is.Comments[len(is.Comments)-1].Body)
	}

	// It comes back, a person accepts the risk (not planned), and the
	// priority rises (the workload turns out internet-exposed): the issue
	// stays closed and says so once.
	e.export("subassessment-mdvm.json", func(p map[string]any) {
		p["timeGenerated"] = time.Now().UTC().Format(time.RFC3339Nano)
	})
	e.waitFor("the reopen of an active-again CVE", 60*time.Second, func() bool { return e.gh.Issue(sampletest.Repo, n).State == "open" })
	e.personAction(n, "closed", "not_planned")
	time.Sleep(2 * time.Second)
	before := len(e.gh.Issue(sampletest.Repo, n).Comments)
	e.post("/api/orgs/"+sampletest.Org+"/artifacts/metadata/deployment-record", records["single"], "Authorization", "Bearer "+token)
	e.export("subassessment-mdvm.json", func(p map[string]any) {
		p["timeGenerated"] = time.Now().UTC().Format(time.RFC3339Nano)
	})
	e.waitFor("the risk-accepted note", 60*time.Second, func() bool { return len(e.gh.Issue(sampletest.Repo, n).Comments) > before })
	time.Sleep(5 * time.Second) // anything more would have come by now
	is = e.gh.Issue(sampletest.Repo, n)
	if is.State != "closed" || is.StateReason != "not_planned" {
		t.Fatalf("a risk accepted was reopened: %s/%s", is.State, is.StateReason)
	}
	if got := len(is.Comments) - before; got != 1 || !strings.Contains(is.Comments[len(is.Comments)-1].Body, "does not reopen") {
		t.Errorf("%d comments on the rise (want one saying it stays closed): %+v", got, is.Comments[before:])
	}
	if n := len(e.gh.IssueList(sampletest.Repo)); n != 1 {
		t.Errorf("issues = %d, want the one", n)
	}
	for _, line := range []string{`"msg":"issue opened"`, `"msg":"issue reopened"`, `"msg":"issue closed"`} {
		if !strings.Contains(e.logs.String(), line) {
			t.Errorf("no %s line in the app log", line)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
