package github

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/github/githubtest"
	"github.com/runtimelink/runtimelink/shared/redelivery"
)

// The log is read through go-github with the App's JWT, a full page at a
// time, following the Link header's cursor; a redelivery's 202 is no error.
func TestHookDeliveriesReadsTheLogAndRedelivers(t *testing.T) {
	e := newEnv(t, Limits{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	t.Cleanup(hook.Close)
	e.srv.SetWebhook(hook.URL, "s")
	for range 150 {
		e.srv.Deliver("issues", []byte(`{"action":"opened","installation":{"id":7}}`))
	}
	h := HookDeliveries{Clients: e.factory}
	ctx := context.Background()
	var all []redelivery.Delivery
	cursor, pages := "", 0
	for {
		page, next, err := h.Deliveries(ctx, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 2 || len(all) != 150 || all[0].ID <= all[149].ID {
		t.Fatalf("read %d deliveries in %d pages (first id %d, last %d)", len(all), pages, all[0].ID, all[149].ID)
	}
	d := all[0]
	if d.GUID == "" || d.StatusCode != 502 || d.Event != "issues" || d.Action != "opened" || d.InstallationID != 7 || d.DeliveredAt.IsZero() || d.OK() {
		t.Errorf("delivery read as %+v", d)
	}
	if err := h.Redeliver(ctx, d.ID); err != nil {
		t.Fatalf("Redeliver: %v", err)
	}
	if log := e.srv.HookDeliveries(); log[0].GUID != d.GUID || !log[0].Redelivery {
		t.Errorf("newest log entry after the redelivery: %+v", log[0])
	}
	if e.srv.Count(func(r githubtest.Request) bool { return !r.App }) != 0 {
		t.Error("a delivery-log call went out without the App's JWT")
	}
}

// Redeliveries are the App's content-creating calls: paced like every
// other write (a wait beyond MaxWait is a throttled error, GitHub is not
// asked), while minting installation tokens is not paced at all.
func TestRedeliveriesArePacedTokenMintsAreNot(t *testing.T) {
	e := newEnv(t, Limits{WritesPerMinute: 1000, WritesPerHour: 1, MaxWait: time.Minute})
	e.srv.SetWebhook("", "s")
	d := e.srv.Deliver("ping", []byte(`{}`))
	h := HookDeliveries{Clients: e.factory}
	ctx := context.Background()
	if err := h.Redeliver(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	err := h.Redeliver(ctx, d.ID)
	var rl *RateLimitError
	if !errors.Is(err, redelivery.ErrThrottled) || !errors.As(err, &rl) || !rl.Paced {
		t.Fatalf("second redelivery within the hour: %v, want a paced, throttled error", err)
	}
	if n := e.srv.Count(func(r githubtest.Request) bool { return r.Method == http.MethodPost && !isTokenMint(r) }); n != 1 {
		t.Errorf("redeliveries sent = %d, want 1", n)
	}
	for _, id := range []int64{21, 22, 23} {
		e.srv.AddInstallation(id, "org")
		if _, err := e.factory.Installation(ctx, id); err != nil {
			t.Fatalf("token for installation %d after the App's writes were spent: %v", id, err)
		}
		if _, _, err := e.client(t, id).Repositories.Get(ctx, "octo-org", "app"); err != nil && IsRateLimit(err) {
			t.Fatalf("installation %d: %v", id, err)
		}
	}
}

// GitHub's secondary limit on a redelivery is a throttled error: the run
// stops instead of waiting, and the write is not sent again here.
func TestRedeliveryRefusedBySecondaryLimitIsThrottled(t *testing.T) {
	e := newEnv(t, Limits{MaxWait: time.Second})
	e.srv.SetWebhook("", "s")
	d := e.srv.Deliver("ping", []byte(`{}`))
	e.srv.Inject(githubtest.Fault{Method: http.MethodPost, Path: "/app/hook/deliveries/", Status: http.StatusTooManyRequests, RetryAfter: 120})
	err := HookDeliveries{Clients: e.factory}.Redeliver(context.Background(), d.ID)
	if !errors.Is(err, redelivery.ErrThrottled) {
		t.Fatalf("error = %v, want throttled", err)
	}
	if n := e.srv.Count(func(r githubtest.Request) bool { return r.Method == http.MethodPost && !isTokenMint(r) }); n != 1 {
		t.Errorf("redelivery sent %d times, want 1", n)
	}
}
