package githubwebhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	githubwebhook "github.com/runtimelink/runtimelink/functions/github_webhook"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/model"
	"github.com/runtimelink/runtimelink/shared/queue"
)

// Every payload in testdata/github goes through the real function over
// HTTP with a real signature; each has an expected answer, so a payload
// added without one fails here.
func TestEverySample(t *testing.T) {
	e := newEnv(t, nil)
	want := map[string]int{
		"code_scanning_alert/closed-by-user.json": http.StatusOK,
		"code_scanning_alert/created.json":        http.StatusOK,
		"code_scanning_alert/fixed.json":          http.StatusOK,
		"code_scanning_alert/reopened.json":       http.StatusOK,
		"dependabot_alert/created.json":           http.StatusOK,
		"installation/created.json":               http.StatusOK,
		"installation_repositories/added.json":    http.StatusOK,
		"issues/assigned.json":                    http.StatusAccepted, // changes no group status
		"issues/labeled.json":                     http.StatusAccepted,
		"issues/opened.json":                      http.StatusAccepted,
		"issues/reopened.json":                    http.StatusAccepted, // no group has issue #1
		"package/published.docker.json":           http.StatusOK,
		"ping/payload.json":                       http.StatusOK,
		"registry_package/published.docker.json":  http.StatusOK,
		"secret_scanning_alert/reopened.json":     http.StatusOK,
		"workflow_run/completed.json":             http.StatusOK,
	}
	files, err := filepath.Glob(filepath.Join(testdata, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	for _, f := range files {
		rel := filepath.ToSlash(strings.TrimPrefix(f, testdata+string(filepath.Separator)))
		status, ok := want[rel]
		if !ok {
			t.Errorf("%s: no expected answer; add one", rel)
			continue
		}
		d := delivery{event: strings.Split(rel, "/")[0], id: deliveryID(rel), body: sample(t, rel)}
		got := e.post(d)
		expectStatus(t, rel, got, status)
		if got.body["deliveryId"] != d.id || got.body["event"] != d.event {
			t.Errorf("%s: answer %v does not name the delivery", rel, got.body)
		}
		delete(want, rel)
	}
	for rel := range want {
		t.Errorf("expected sample %s is missing from testdata", rel)
	}

	fs := findings(t, e.store)
	for id, state := range map[string]model.FindingState{
		// closed-by-user, created, fixed, reopened in that order: the
		// reopen arrived last and carries the latest time.
		"code_scanning:codertocat:hello-world:10":    model.StateOpen,
		"dependabot:wolfy1339:pika-pack:20":          model.StateOpen,
		"secret_scanning:codertocat:hello-world:191": model.StateOpen,
	} {
		f, ok := fs[id]
		if !ok {
			t.Errorf("finding %s missing; have %v", id, keys(fs))
			continue
		}
		if f.State != state {
			t.Errorf("finding %s state %s, want %s", id, f.State, state)
		}
	}
	if len(fs) != 3 {
		t.Errorf("findings = %v, want 3", keys(fs))
	}
	for _, f := range fs {
		if f.Repository != strings.ToLower(f.Repository) {
			t.Errorf("finding %s repository %q is not normalized", f.ID, f.Repository)
		}
	}

	ctx := ctxT(t)
	inst, err := e.store.Installations.Get(ctx, "Codertocat", "codertocat")
	if err != nil {
		t.Fatalf("installation: %v", err)
	}
	if inst.InstallationID != 957387 || inst.Status != model.InstallationActive || inst.RepositorySelection != "selected" ||
		strings.Join(inst.Repositories, ",") != "codertocat/hello-world,codertocat/space" || inst.AccountType != "User" {
		t.Errorf("installation = %+v", inst)
	}
	if got := e.sync.Requests(queue.KindBackfill); len(got) != 1 || got[0].Org != "Codertocat" {
		t.Errorf("backfill requests = %+v, want one for Codertocat", got)
	}

	// Both package events name the same digest: one artifact, linked to
	// the package's repository (GitHub's link beats the image's label).
	var arts []model.Artifact
	if err := e.store.Artifacts.Query(ctx, cosmosAll, func(a *model.Artifact) error { arts = append(arts, *a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(arts) == 0 {
		t.Fatal("no artifact from the package events")
	}
	for _, a := range arts {
		if a.Repository != "codertocat/hello-world-npm" || a.Image != "ghcr.io/codertocat/hello-world" || len(a.Evidence) == 0 {
			t.Errorf("artifact = %+v", a)
		}
	}

	// Every delivery that was processed is remembered; ignored ones are not.
	n := count(t, e.store)
	if n["deliveries"] != 12 {
		t.Errorf("deliveries = %d, want 12 (16 samples, 4 ignored)", n["deliveries"])
	}

	// Every log line of a delivery names it; the secret is never logged.
	lines := e.logs.Lines()
	if len(lines) == 0 {
		t.Fatal("no log lines")
	}
	for _, l := range lines {
		if l["deliveryId"] == nil || l["event"] == nil {
			t.Errorf("log line without delivery id and event: %v", l)
		}
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("the secret appears in the logs")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A request that is not signed with the secret is refused and stores
// nothing, whatever it carries.
func TestSignatureRefused(t *testing.T) {
	e := newEnv(t, nil)
	body := sample(t, "dependabot_alert/created.json")
	cases := []struct{ name, signature string }{
		{"missing", "-"},
		{"another secret", githubwebhook.Sign([]byte("not the secret"), body)},
		{"sha1 only", "sha1=0123456789abcdef0123456789abcdef01234567"},
		{"not hex", "sha256=zz" + strings.Repeat("0", 62)},
		{"short", "sha256=abcd"},
		{"empty value", "sha256="},
		{"other body", githubwebhook.Sign([]byte(secret), append([]byte(" "), body...))},
		{"upper-case prefix", "SHA256=" + strings.TrimPrefix(githubwebhook.Sign([]byte(secret), body), "sha256=")},
	}
	for i, c := range cases {
		got := e.post(delivery{event: "dependabot_alert", id: deliveryID(fmt.Sprint("sig", i)), body: body, signature: c.signature})
		expectStatus(t, c.name, got, http.StatusUnauthorized)
		if got.body["error"] == "" {
			t.Errorf("%s: no reason given: %v", c.name, got.body)
		}
	}
	// An unsigned request to an unknown event is refused as well: the
	// signature comes before anything else.
	got := e.post(delivery{event: "nonsense", id: "x", body: []byte("{}"), signature: "-"})
	expectStatus(t, "unsigned unknown event", got, http.StatusUnauthorized)
	if n := count(t, e.store); total(n) != 0 {
		t.Errorf("stored %v after refused requests", n)
	}
	// The same body, signed, goes through.
	got = e.post(delivery{event: "dependabot_alert", id: deliveryID("signed"), body: body})
	expectStatus(t, "signed", got, http.StatusOK)
}

func TestVerifySignature(t *testing.T) {
	// GitHub's documented test vector ("Validating webhook deliveries").
	body := []byte("Hello, World!")
	const want = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got := githubwebhook.Sign([]byte(secret), body); got != want {
		t.Fatalf("Sign = %s, want GitHub's %s", got, want)
	}
	if err := githubwebhook.VerifySignature([]byte(secret), body, want); err != nil {
		t.Errorf("GitHub's signature refused: %v", err)
	}
	if err := githubwebhook.VerifySignature(nil, body, want); err == nil {
		t.Error("an empty secret verified a signature")
	}
	if err := githubwebhook.VerifySignature([]byte(secret), body[1:], want); err == nil {
		t.Error("a changed body verified")
	}
}

// rotatingSecrets serves the old secret until it is re-read, then the new
// one, as Key Vault does after a rotation.
type rotatingSecrets struct {
	old, new  string
	rotated   atomic.Bool
	refreshes atomic.Int32
	fail      bool
}

func (r *rotatingSecrets) Get(_ context.Context, name string) (string, error) {
	if name != secretName {
		return "", keyvault.ErrNotFound
	}
	if r.fail {
		return "", errors.New("vault unreachable")
	}
	if r.rotated.Load() {
		return r.new, nil
	}
	return r.old, nil
}

func (r *rotatingSecrets) Refresh(_ context.Context, _ string) (bool, error) {
	r.refreshes.Add(1)
	r.rotated.Store(true)
	return true, nil
}

// A delivery signed with a rotated secret verifies after one re-read of
// the secret; a wrong signature still fails after it.
func TestSecretRotation(t *testing.T) {
	p := &rotatingSecrets{old: "old-secret", new: secret}
	e := newEnv(t, nil, withSecrets(p))
	body := sample(t, "ping/payload.json")
	got := e.post(delivery{event: "ping", id: deliveryID("rotated"), body: body})
	expectStatus(t, "signed with the new secret", got, http.StatusOK)
	if n := p.refreshes.Load(); n != 1 {
		t.Errorf("refreshes = %d, want 1", n)
	}
	got = e.post(delivery{event: "ping", id: deliveryID("rotated-2"), body: body})
	expectStatus(t, "again", got, http.StatusOK)
	if n := p.refreshes.Load(); n != 1 {
		t.Errorf("refreshes = %d after a good signature, want still 1", n)
	}
	got = e.post(delivery{event: "ping", id: deliveryID("bad"), body: body, signature: githubwebhook.Sign([]byte("old-secret"), body)})
	expectStatus(t, "old secret after rotation", got, http.StatusUnauthorized)
}

// A secret that cannot be read fails the delivery (500, redeliver) and is
// never taken as "no check".
func TestSecretUnavailable(t *testing.T) {
	e := newEnv(t, nil, withSecrets(&rotatingSecrets{fail: true}))
	got := e.post(delivery{event: "ping", id: deliveryID("p"), body: sample(t, "ping/payload.json")})
	expectStatus(t, "vault down", got, http.StatusInternalServerError)
	e2 := newEnv(t, nil, withSecrets(keyvault.NewEnv(map[string]string{})))
	got = e2.post(delivery{event: "ping", id: deliveryID("p"), body: sample(t, "ping/payload.json"), signature: githubwebhook.Sign(nil, sample(t, "ping/payload.json"))})
	expectStatus(t, "no secret configured", got, http.StatusInternalServerError)
	if n := count(t, e2.store); total(n) != 0 {
		t.Errorf("stored %v without a secret", n)
	}
}

// Bad input gets a clear 4xx and stores nothing; events and actions
// runtimelink does not handle get a 202.
func TestVariations(t *testing.T) {
	e := newEnv(t, nil)
	dep := "dependabot_alert/created.json"
	full := sample(t, dep)
	cases := []struct {
		name, event string
		body        []byte
		status      int
		noID        bool
		errorHas    string
	}{
		{name: "truncated body", event: "dependabot_alert", body: full[:len(full)/2], status: 400, errorHas: "unexpected end of JSON"},
		{name: "empty body", event: "dependabot_alert", body: nil, status: 400, errorHas: "empty"},
		{name: "JSON array", event: "dependabot_alert", body: []byte(`[1,2]`), status: 400, errorHas: "not a JSON object"},
		{name: "form post", event: "ping", body: []byte(`payload=%7B%7D`), status: 400, errorHas: "not a JSON object"},
		{name: "truncated unknown event", event: "star", body: []byte(`{"action":"crea`), status: 400},
		{name: "alert missing", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { delete(m, "alert") }), status: 400, errorHas: "alert is missing"},
		{name: "alert null", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { m["alert"] = nil }), status: 400, errorHas: "alert is missing"},
		{name: "alert number missing", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { delete(obj(m, "alert"), "number") }), status: 400},
		{name: "repository null", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { m["repository"] = nil }), status: 400, errorHas: "repository"},
		{name: "action missing", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { delete(m, "action") }), status: 400, errorHas: "action"},
		{name: "number is a string", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { obj(m, "alert")["number"] = "20" }), status: 400},
		{name: "alert number 2^63-1", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { obj(m, "alert")["number"] = json.Number("9223372036854775807") }), status: 400, errorHas: "beyond 2^53"},
		{name: "alert number 2^53+1", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { obj(m, "alert")["number"] = json.Number("9007199254740993") }), status: 400, errorHas: "beyond 2^53"},
		{name: "installation id 2^53+1", event: "installation", body: variant(t, "installation/created.json", func(m map[string]any) { obj(m, "installation")["id"] = json.Number("9007199254740993") }), status: 400, errorHas: "2^53"},
		{name: "installation without account", event: "installation", body: variant(t, "installation/created.json", func(m map[string]any) { delete(obj(m, "installation"), "account") }), status: 400},
		{name: "issue without number", event: "issues", body: variant(t, "issues/reopened.json", func(m map[string]any) { delete(obj(m, "issue"), "number") }), status: 400},
		{name: "package without version", event: "registry_package", body: variant(t, "registry_package/published.docker.json", func(m map[string]any) { delete(obj(m, "registry_package"), "package_version") }), status: 400},
		{name: "unknown action", event: "dependabot_alert", body: variant(t, dep, func(m map[string]any) { m["action"] = "teleported" }), status: 202, errorHas: ""},
		{name: "unknown installation action", event: "installation", body: variant(t, "installation/created.json", func(m map[string]any) { m["action"] = "renamed" }), status: 202},
		{name: "unknown event", event: "star", body: []byte(`{"action":"created"}`), status: 202},
		{name: "npm package", event: "registry_package", body: variant(t, "registry_package/published.docker.json", func(m map[string]any) {
			p := obj(m, "registry_package")
			p["package_type"], p["ecosystem"] = "npm", "npm"
			delete(p, "registry")
		}), status: 202},
		{name: "workflow still running", event: "workflow_run", body: variant(t, "workflow_run/completed.json", func(m map[string]any) {
			m["action"] = "in_progress"
			obj(m, "workflow_run")["status"], obj(m, "workflow_run")["conclusion"] = "in_progress", nil
		}), status: 202},
		{name: "missing event header", event: "", body: full, status: 400, errorHas: "X-GitHub-Event"},
		{name: "missing delivery header", event: "dependabot_alert", body: full, status: 400, noID: true, errorHas: "X-GitHub-Delivery"},
	}
	for i, c := range cases {
		d := delivery{event: c.event, id: deliveryID(fmt.Sprint("var", i)), body: c.body}
		if c.noID {
			d.id = ""
		}
		got := e.post(d)
		expectStatus(t, c.name, got, c.status)
		msg := got.body["error"] + got.body["reason"]
		if c.status != 200 && msg == "" {
			t.Errorf("%s: no message: %v", c.name, got.body)
		}
		if c.errorHas != "" && !strings.Contains(msg, c.errorHas) {
			t.Errorf("%s: message %q does not say %q", c.name, msg, c.errorHas)
		}
	}
	if n := count(t, e.store); total(n) != 0 {
		t.Errorf("stored %v from bad or ignored deliveries", n)
	}
	// Nulls where GitHub may send them are fine: a rule of null, no tool.
	got := e.post(delivery{event: "code_scanning_alert", id: deliveryID("nulls"), body: variant(t, "code_scanning_alert/created.json", func(m map[string]any) {
		a := obj(m, "alert")
		a["rule"], a["tool"], a["most_recent_instance"], a["dismissed_reason"] = nil, nil, nil, nil
	})})
	expectStatus(t, "nulls", got, http.StatusOK)
}

// countingReader counts what the server made the client send. With hold
// set it stops after holdAt bytes until hold is closed.
type countingReader struct {
	n, limit int64
	sent     atomic.Int64
	holdAt   int64
	hold     chan struct{}
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		return 0, io.EOF
	}
	if r.hold != nil && r.n >= r.holdAt {
		<-r.hold
	}
	k := min(int64(len(p)), r.limit-r.n)
	if r.hold != nil && r.n < r.holdAt {
		k = min(k, r.holdAt-r.n)
	}
	for i := range p[:k] {
		p[i] = ' '
	}
	r.n += k
	r.sent.Add(k)
	return int(k), nil
}

// A body over 25 MB is refused with 413: at once when its length is
// declared, and after 25 MB at most when it is streamed.
func TestHugeBody(t *testing.T) {
	e := newEnv(t, nil)
	// Far more than the kernel's socket buffers can absorb beyond what the
	// server reads, so "not all of it was sent" means "not all was read".
	const size = githubwebhook.MaxPayloadBytes + 48<<20
	for _, declared := range []bool{true, false} {
		r := &countingReader{limit: size}
		req, err := http.NewRequest(http.MethodPost, e.url, r)
		if err != nil {
			t.Fatal(err)
		}
		if declared {
			req.ContentLength = size
		} else {
			req.ContentLength = -1 // chunked
		}
		got := e.do(req, delivery{event: "dependabot_alert", id: deliveryID(fmt.Sprint("huge", declared)), signature: "sha256=" + strings.Repeat("0", 64)})
		expectStatus(t, fmt.Sprintf("huge body (declared %v)", declared), got, http.StatusRequestEntityTooLarge)
		sent := r.sent.Load()
		t.Logf("declared=%v: client sent %d of %d bytes before the 413", declared, sent, int64(size))
		if sent >= size {
			t.Errorf("declared=%v: the server read the whole %d-byte body", declared, sent)
		}
	}
	// Just under the limit is read (and then refused for its signature,
	// not its size).
	body := bytes.Repeat([]byte(" "), githubwebhook.MaxPayloadBytes-2)
	body = append(append([]byte("{"), body...), '}')
	got := e.post(delivery{event: "ping", id: deliveryID("max"), body: body, signature: "sha256=" + strings.Repeat("0", 64)})
	expectStatus(t, "25 MB exactly", got, http.StatusUnauthorized)
	if n := count(t, e.store); total(n) != 0 {
		t.Errorf("stored %v", n)
	}
}

// The bytes of the bodies being read at once are bounded: while one 20 MB
// body is being read, a second is told to retry (429) rather than read
// beside it, and is read once the first is done. An unsigned request is
// refused before its body is read at all.
func TestBodyBudget(t *testing.T) {
	e := newEnv(t, nil)
	const size = 20 << 20 // two do not fit in MaxBodyBytesInFlight
	if 2*size <= githubwebhook.MaxBodyBytesInFlight {
		t.Fatalf("two %d-byte bodies fit in the %d-byte budget", size, githubwebhook.MaxBodyBytesInFlight)
	}
	badSig := "sha256=" + strings.Repeat("0", 64)
	post := func(name string, r *countingReader, signature string) response {
		req, err := http.NewRequest(http.MethodPost, e.url, r)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		return e.do(req, delivery{event: "ping", id: deliveryID(name), signature: signature})
	}

	hold := make(chan struct{})
	first := &countingReader{limit: size, holdAt: 1 << 20, hold: hold}
	firstDone := make(chan response, 1)
	go func() { firstDone <- post("budget-first", first, badSig) }()
	for first.sent.Load() < 1<<20 { // the server is reading it
		time.Sleep(5 * time.Millisecond)
	}
	second := &countingReader{limit: size}
	got := post("budget-second", second, badSig)
	expectStatus(t, "second body while the first is read", got, http.StatusTooManyRequests)
	if s := second.sent.Load(); s >= size {
		t.Errorf("the second body was read whole (%d bytes) beside the first", s)
	}
	close(hold)
	expectStatus(t, "first body", <-firstDone, http.StatusUnauthorized)
	expectStatus(t, "a body after the first", post("budget-third", &countingReader{limit: size}, badSig), http.StatusUnauthorized)

	unsigned := &countingReader{limit: size}
	expectStatus(t, "unsigned", post("budget-unsigned", unsigned, "-"), http.StatusUnauthorized)
	if s := unsigned.sent.Load(); s >= size {
		t.Errorf("the unsigned body was read (%d bytes) before it was refused", s)
	}
	if n := count(t, e.store); total(n) != 0 {
		t.Errorf("stored %v", n)
	}
}

// A redelivery (same X-GitHub-Delivery) is acknowledged and changes
// nothing, even when the alert moved on meanwhile.
func TestRedelivery(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxT(t)
	created := delivery{event: "code_scanning_alert", id: deliveryID("created"), body: sample(t, "code_scanning_alert/created.json")}
	got := e.post(created)
	expectStatus(t, "first", got, http.StatusOK)
	if got.body["result"] != "processed" {
		t.Errorf("first answer %v", got.body)
	}
	const id = "code_scanning:codertocat:hello-world:10"
	first, err := e.store.Findings.Get(ctx, "codertocat/hello-world", id)
	if err != nil {
		t.Fatal(err)
	}
	got = e.post(created)
	expectStatus(t, "redelivery", got, http.StatusOK)
	if got.body["result"] != "duplicate delivery" {
		t.Errorf("redelivery answer %v", got.body)
	}
	again, err := e.store.Findings.Get(ctx, "codertocat/hello-world", id)
	if err != nil {
		t.Fatal(err)
	}
	if again.ETag != first.ETag {
		t.Errorf("redelivery rewrote the finding (etag %s → %s)", first.ETag, again.ETag)
	}
	d, err := e.store.Deliveries.Get(ctx, created.id, created.id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Event != "code_scanning_alert" || d.TTL < 7*24*3600 {
		t.Errorf("delivery record = %+v, want a TTL of at least 7 days", d)
	}
}

// An older event delivered after a newer one never rolls the finding back.
func TestOutOfOrder(t *testing.T) {
	e := newEnv(t, nil)
	fixed := variant(t, "code_scanning_alert/fixed.json", func(m map[string]any) {
		obj(m, "alert")["fixed_at"] = "2021-03-01T10:00:00Z"
		obj(m, "alert")["updated_at"] = "2021-03-01T10:00:00Z"
	})
	// created.json's alert was created on 2021-02-11, before the fix.
	expectStatus(t, "fixed", e.post(delivery{event: "code_scanning_alert", id: deliveryID("fixed"), body: fixed}), 200)
	expectStatus(t, "created (older)", e.post(delivery{event: "code_scanning_alert", id: deliveryID("created"), body: sample(t, "code_scanning_alert/created.json")}), 200)
	f, err := e.store.Findings.Get(ctxT(t), "codertocat/hello-world", "code_scanning:codertocat:hello-world:10")
	if err != nil {
		t.Fatal(err)
	}
	if f.State != model.StateFixed || !f.SourceUpdatedAt.Equal(time.Date(2021, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("after fixed then an older created: state %s at %s, want fixed", f.State, f.SourceUpdatedAt)
	}
	// A later reopen does move it.
	reopened := variant(t, "code_scanning_alert/reopened.json", func(m map[string]any) {
		obj(m, "alert")["updated_at"] = "2021-04-01T00:00:00Z"
	})
	expectStatus(t, "reopened (newer)", e.post(delivery{event: "code_scanning_alert", id: deliveryID("reopened"), body: reopened}), 200)
	f, _ = e.store.Findings.Get(ctxT(t), "codertocat/hello-world", "code_scanning:codertocat:hello-world:10")
	if f.State != model.StateOpen {
		t.Errorf("after a newer reopen: %s, want open", f.State)
	}
}

// A receiver that cannot be built (here: no secrets provider) answers 500
// to every delivery, so GitHub shows failures; it never accepts unverified.
func TestNotConfigured(t *testing.T) {
	e := newEnv(t, nil, withSecrets(nil))
	got := e.post(delivery{event: "ping", id: deliveryID("p"), body: sample(t, "ping/payload.json")})
	expectStatus(t, "not configured", got, http.StatusInternalServerError)
	if !strings.Contains(e.logs.String(), "github_webhook cannot start") {
		t.Errorf("the reason is not logged: %s", e.logs.String())
	}
	if n := count(t, e.store); total(n) != 0 {
		t.Errorf("stored %v", n)
	}
}
