package keyvault

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/runtimelink/runtimelink/shared/clocktest"
	"github.com/runtimelink/runtimelink/shared/logtest"
)

const (
	hookName = "github-webhook-secret"
	hookV1   = "whsec-VALUE-one-8d2e"
	hookV2   = "whsec-VALUE-two-41c7"
)

type harness struct {
	fv    *fakeVault
	cred  *fakeCredential
	clock *clocktest.Clock
	logs  *logtest.Buffer
	v     *Vault
}

// newHarness wires a Vault to a fake vault over TLS. The fake listens on
// 127.0.0.1, which is not a subdomain of the challenge's resource
// (vault.azure.net), so resource verification is off here; it stays on in
// production and TestChallengeResourceVerification exercises it on.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{fv: newFakeVault(t, "https://vault.azure.net"), clock: clocktest.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)), logs: &logtest.Buffer{}}
	h.cred = &fakeCredential{token: h.fv.token}
	v, err := NewVault(h.fv.srv.URL, h.cred, &VaultOptions{
		Client: azsecrets.ClientOptions{
			ClientOptions: azcore.ClientOptions{
				Transport: h.fv.srv.Client(),
				Retry:     policy.RetryOptions{MaxRetries: -1}, // count every request the code makes
			},
			DisableChallengeResourceVerification: true,
		},
		Now:    h.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(h.logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.v = v
	return h
}

func mustGet(t *testing.T, p Provider, name, want string) {
	t.Helper()
	got, err := p.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	if got != want {
		t.Fatalf("Get(%s) = %q, want %q", name, got, want)
	}
}

func TestVaultAnswersTheBearerChallenge(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)

	mustGet(t, h.v, hookName, hookV1)

	if n := h.fv.challenges(); n != 1 {
		t.Errorf("unauthenticated requests = %d, want 1 (the challenge)", n)
	}
	calls, tro := h.cred.snapshot()
	if calls != 1 {
		t.Errorf("token requests = %d, want 1", calls)
	}
	if !slices.Equal(tro.Scopes, []string{"https://vault.azure.net/.default"}) || tro.TenantID != h.fv.tenant {
		t.Errorf("token asked for scopes %v tenant %q, want the challenge's resource and tenant", tro.Scopes, tro.TenantID)
	}
	if got := h.fv.requestLog(); len(got) != 1 || !strings.HasSuffix(got[0], " /secrets/"+hookName+"/?api-version=2026-04-01") {
		t.Errorf("reads = %v, want one GET of the latest version", got)
	}
}

func TestVaultCachesWithinTTL(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	h.fv.set("deployments-token", "deploy-VALUE-1")

	for range 25 {
		mustGet(t, h.v, hookName, hookV1)
		h.clock.Advance(10 * time.Second) // 25 × 10s = 4m10s, inside the 5m TTL
	}
	mustGet(t, h.v, "deployments-token", "deploy-VALUE-1")

	if n := h.fv.readsOf(hookName); n != 1 {
		t.Errorf("reads of %s = %d, want 1", hookName, n)
	}
	if n := h.fv.readsOf("deployments-token"); n != 1 {
		t.Errorf("reads of deployments-token = %d, want 1", n)
	}
	// The challenge's parameters and the token are kept across secrets.
	if n, _ := h.cred.snapshot(); n != 1 || h.fv.challenges() != 1 {
		t.Errorf("token requests = %d, challenges = %d, want 1 and 1", n, h.fv.challenges())
	}
}

// TestVaultConcurrentCallersShareOneRead lines up callers on a held read,
// for a first read and again for an expired entry.
func TestVaultConcurrentCallersShareOneRead(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	h.v.Get(context.Background(), "warm-up-missing") // settles the challenge so every later request is a read
	const callers = 32

	for round, want := range []string{hookV1, hookV2} {
		if round == 1 {
			h.fv.set(hookName, hookV2)
			h.clock.Advance(5*time.Minute + time.Second)
		}
		hold := make(chan struct{})
		release := sync.OnceFunc(func() { close(hold) })
		t.Cleanup(release) // runs before the server closes, should the test stop early
		h.fv.holdReads(hold)

		var wg sync.WaitGroup
		results := make(chan string, callers)
		for range callers {
			wg.Go(func() {
				v, err := h.v.Get(context.Background(), hookName)
				if err != nil {
					t.Error(err)
				}
				results <- v
			})
		}
		waitJoined(t, h.v, hookName, callers)
		release()
		wg.Wait()
		close(results)
		for v := range results {
			if v != want {
				t.Errorf("round %d: caller got %q, want %q", round, v, want)
			}
		}
		if n := h.fv.readsOf(hookName); n != round+1 {
			t.Errorf("round %d: reads = %d, want %d", round, n, round+1)
		}
	}
}

// waitJoined waits until n callers wait on name's read in flight.
func waitJoined(t *testing.T, v *Vault, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v.mu.Lock()
		joined := 0
		if e := v.entries[name]; e != nil && e.flight != nil {
			joined = e.flight.joined
		}
		v.mu.Unlock()
		if joined == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d callers joined the read", joined, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestVaultRereadsAfterTTLAndSeesRotation(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	mustGet(t, h.v, hookName, hookV1)

	h.fv.set(hookName, hookV2) // rotated in Key Vault
	h.clock.Advance(5*time.Minute - time.Second)
	mustGet(t, h.v, hookName, hookV1) // still fresh
	if n := h.fv.readsOf(hookName); n != 1 {
		t.Fatalf("reads within TTL = %d, want 1", n)
	}

	h.clock.Advance(time.Second)
	mustGet(t, h.v, hookName, hookV2)
	if n := h.fv.readsOf(hookName); n != 2 {
		t.Errorf("reads after TTL = %d, want 2", n)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "key vault secret rotated") || !strings.Contains(logs, versionID(2)) {
		t.Errorf("rotation not logged with its version:\n%s", logs)
	}
	assertNoValues(t, "logs", logs)
}

func TestVaultRefresh(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	mustGet(t, h.v, hookName, hookV1)
	h.fv.set(hookName, hookV2)
	ctx := context.Background()

	refreshed, err := h.v.Refresh(ctx, hookName)
	if err != nil || !refreshed {
		t.Fatalf("Refresh = %v, %v; want true, nil", refreshed, err)
	}
	mustGet(t, h.v, hookName, hookV2)
	if n := h.fv.readsOf(hookName); n != 2 {
		t.Fatalf("reads = %d, want 2 (first Get, Refresh)", n)
	}

	// Rate limit: at most one forced read per name per 30s.
	for _, step := range []time.Duration{0, 29 * time.Second} {
		h.clock.Advance(step)
		if refreshed, err := h.v.Refresh(ctx, hookName); refreshed || err != nil {
			t.Errorf("Refresh %v after the last one = %v, %v; want false, nil", step, refreshed, err)
		}
	}
	if n := h.fv.readsOf(hookName); n != 2 {
		t.Errorf("rate-limited refreshes read: reads = %d, want 2", n)
	}
	h.clock.Advance(time.Second)
	if refreshed, err := Refresh(ctx, h.v, hookName); !refreshed || err != nil {
		t.Errorf("Refresh 30s later = %v, %v; want true, nil", refreshed, err)
	}
	if n := h.fv.readsOf(hookName); n != 3 {
		t.Errorf("reads = %d, want 3", n)
	}

	// The limit is per name.
	h.fv.set("deployments-token", "deploy-VALUE-1")
	if refreshed, err := h.v.Refresh(ctx, "deployments-token"); !refreshed || err != nil {
		t.Errorf("Refresh of another name = %v, %v; want true, nil", refreshed, err)
	}

	// A refresh that finds the secret deleted reports it.
	h.fv.remove(hookName)
	h.clock.Advance(30 * time.Second)
	if refreshed, err := h.v.Refresh(ctx, hookName); !refreshed || !errors.Is(err, ErrNotFound) {
		t.Errorf("Refresh of a deleted secret = %v, %v; want true, ErrNotFound", refreshed, err)
	}
}

func TestVaultNotFound(t *testing.T) {
	h := newHarness(t)
	_, err := h.v.Get(context.Background(), "github-app-private-key")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	want := `get secret "github-app-private-key" from Key Vault: 404 SecretNotFound`
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusNotFound {
		t.Errorf("the Key Vault response error is not reachable with errors.As: %#v", err)
	}
	// A missing secret is not cached: once created it is read.
	h.fv.set("github-app-private-key", "pem-VALUE")
	mustGet(t, h.v, "github-app-private-key", "pem-VALUE")
}

func TestVaultServesCachedValueWhileVaultIsDown(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	mustGet(t, h.v, hookName, hookV1)

	h.fv.failWith(hookName, http.StatusServiceUnavailable)
	h.clock.Advance(5 * time.Minute)
	mustGet(t, h.v, hookName, hookV1)
	if n := h.fv.readsOf(hookName); n != 2 {
		t.Fatalf("reads = %d, want 2", n)
	}
	if !strings.Contains(h.logs.String(), "serving the cached secret") || !strings.Contains(h.logs.String(), hookName) {
		t.Errorf("stale value served silently:\n%s", h.logs)
	}
	h.clock.Advance(29 * time.Second)
	mustGet(t, h.v, hookName, hookV1)
	if n := h.fv.readsOf(hookName); n != 2 {
		t.Errorf("retried inside the backoff: reads = %d, want 2", n)
	}
	h.fv.set(hookName, hookV2)
	h.fv.failWith(hookName, 0)
	h.clock.Advance(time.Second)
	mustGet(t, h.v, hookName, hookV2)
	assertNoValues(t, "logs", h.logs.String())
}

func TestVaultStopsServingWhenVaultRefuses(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHarness(t)
			h.fv.set(hookName, hookV1)
			mustGet(t, h.v, hookName, hookV1)
			h.fv.failWith(hookName, status)
			h.clock.Advance(5 * time.Minute)
			if v, err := h.v.Get(context.Background(), hookName); err == nil || v != "" {
				t.Fatalf("Get = %q, %v; want an error and no value", v, err)
			}
			if _, err := h.v.Get(context.Background(), hookName); err == nil {
				t.Fatal("second Get served the dropped value")
			}
			if n := h.fv.readsOf(hookName); n != 3 {
				t.Errorf("reads = %d, want 3 (a refused read is not cached)", n)
			}
		})
	}
}

func TestVaultCallerCancelDoesNotFailOthers(t *testing.T) {
	h := newHarness(t)
	h.fv.set(hookName, hookV1)
	hold := make(chan struct{})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	h.fv.holdReads(hold)

	ctx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := h.v.Get(ctx, hookName)
		impatient <- err
	}()
	patient := make(chan string, 1)
	go func() {
		v, _ := h.v.Get(context.Background(), hookName)
		patient <- v
	}()
	waitJoined(t, h.v, hookName, 2)
	cancel()
	if err := <-impatient; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), hookName) {
		t.Errorf("cancelled caller got %v, want context.Canceled naming the secret", err)
	}
	release()
	if v := <-patient; v != hookV1 {
		t.Errorf("other caller got %q, want %q", v, hookV1)
	}
	if n := h.fv.readsOf(hookName); n != 1 {
		t.Errorf("reads = %d, want 1", n)
	}
}

// TestVaultErrorsNeverHoldValues drives every failure path with a secret
// whose value is known and checks neither errors nor logs carry it.
func TestVaultErrorsNeverHoldValues(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *harness)
		ctx   func() context.Context
	}{
		{name: "not found", setup: func(h *harness) { h.fv.remove(hookName) }},
		{name: "forbidden", setup: func(h *harness) { h.fv.failWith(hookName, http.StatusForbidden) }},
		{name: "server error, nothing cached", setup: func(h *harness) { h.fv.failWith(hookName, http.StatusInternalServerError) }},
		{name: "malformed body holding the value", setup: func(h *harness) {
			h.fv.answer(hookName, `{"value":"`+hookV1+`", "id": }`)
		}},
		{name: "body without a value", setup: func(h *harness) {
			h.fv.answer(hookName, `{"id":"https://x/secrets/`+hookName+`/1","attributes":{}}`)
		}},
		{name: "token refused", setup: func(h *harness) { h.cred.token = "expired-token" }},
		{name: "cancelled", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.fv.set(hookName, hookV1)
			if tc.setup != nil {
				tc.setup(h)
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			v, err := h.v.Get(ctx, hookName)
			if err == nil {
				t.Fatalf("Get = %q, want an error", v)
			}
			if !strings.Contains(err.Error(), hookName) {
				t.Errorf("error does not name the secret: %v", err)
			}
			// The whole chain, including the SDK's response error.
			for e := error(err); e != nil; e = errors.Unwrap(e) {
				assertNoValues(t, "error chain", e.Error())
			}
			assertNoValues(t, "logs", h.logs.String())
		})
	}
}

func assertNoValues(t *testing.T, where, s string) {
	t.Helper()
	for _, v := range []string{hookV1, hookV2, "VALUE"} {
		if strings.Contains(s, v) {
			t.Errorf("%s holds a secret value (%q):\n%s", where, v, s)
		}
	}
}

// TestChallengeResourceVerification keeps azsecrets' resource check on, as
// in production: the client is pointed at a real-looking vault URL that the
// transport routes to the fake.
func TestChallengeResourceVerification(t *testing.T) {
	for _, tc := range []struct {
		resource string
		ok       bool
	}{
		{"https://vault.azure.net", true},
		{"https://vault.attacker.example", false},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			fv := newFakeVault(t, tc.resource)
			fv.set(hookName, hookV1)
			cred := &fakeCredential{token: fv.token}
			v, err := NewVault("https://rtl-test.vault.azure.net/", cred, &VaultOptions{
				Client: azsecrets.ClientOptions{ClientOptions: azcore.ClientOptions{
					Transport: redirectClient(fv.srv),
					Retry:     policy.RetryOptions{MaxRetries: -1},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Get(context.Background(), hookName)
			calls, _ := cred.snapshot()
			if tc.ok {
				if err != nil || got != hookV1 {
					t.Fatalf("Get = %q, %v; want %q", got, err, hookV1)
				}
				if reqs := fv.requestLog(); len(reqs) != 1 || reqs[0] != "rtl-test.vault.azure.net /secrets/"+hookName+"/?api-version=2026-04-01" {
					t.Errorf("requests = %q", reqs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "doesn't match the requested domain") {
				t.Fatalf("Get = %q, %v; want the challenge refused", got, err)
			}
			if calls != 0 || fv.readsOf(hookName) != 0 {
				t.Errorf("token requests = %d, reads = %d after a refused challenge; want 0 and 0", calls, fv.readsOf(hookName))
			}
		})
	}
}

// BenchmarkVaultGetCached is the per-webhook cost of reading a cached secret.
func BenchmarkVaultGetCached(b *testing.B) {
	fv := newFakeVault(b, "https://vault.azure.net")
	fv.set(hookName, hookV1)
	v, err := NewVault(fv.srv.URL, &fakeCredential{token: fv.token}, &VaultOptions{
		Client: azsecrets.ClientOptions{
			ClientOptions:                        azcore.ClientOptions{Transport: fv.srv.Client()},
			DisableChallengeResourceVerification: true,
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Get(ctx, hookName); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Get(ctx, hookName); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if n := fv.readsOf(hookName); n != 1 {
		b.Errorf("reads = %d, want 1", n)
	}
}
