package github

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

func TestAppSlugAsksGETAppWithTheJWT(t *testing.T) {
	e := newEnv(t, Limits{})
	slug, err := AppSlug(context.Background(), e.factory)
	if err != nil || slug != "runtimelink" {
		t.Fatalf("AppSlug = %q, %v; want the fake's slug", slug, err)
	}
	var asked bool
	for _, r := range e.srv.Requests() {
		if r.Method == http.MethodGet && r.Path == "/app" {
			asked = true
			if !r.App || r.Status != http.StatusOK {
				t.Errorf("GET /app = %+v, want answered 200 to the App's JWT", r)
			}
		}
	}
	if !asked {
		t.Error("GET /app was never asked")
	}
}

// lookup is a slug lookup that fails while fail is set, counting calls.
type lookup struct {
	mu    sync.Mutex
	fail  bool
	calls int
}

func (l *lookup) get(context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.fail {
		return "", errors.New("dial tcp: connection refused")
	}
	return "octo-app", nil
}

func (l *lookup) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

func TestIdentity(t *testing.T) {
	t.Run("configured slug asks nothing", func(t *testing.T) {
		l := &lookup{}
		id := NewIdentity("runtimelink-octo", l.get, nil)
		id.Start()
		id.Wait()
		if got := id.BotLogin(); got != "runtimelink-octo[bot]" || id.Slug() != "runtimelink-octo" {
			t.Errorf("BotLogin = %q", got)
		}
		if l.count() != 0 {
			t.Errorf("GitHub asked %d times with the slug configured", l.count())
		}
	})
	t.Run("looked up at start", func(t *testing.T) {
		l := &lookup{}
		id := NewIdentity("", l.get, nil)
		id.Start()
		id.Wait()
		if got := id.BotLogin(); got != "octo-app[bot]" {
			t.Errorf("BotLogin = %q", got)
		}
		id.BotLogin()
		id.Wait()
		if l.count() != 1 {
			t.Errorf("%d lookups, want 1 (the answer is kept)", l.count())
		}
	})
	t.Run("unreachable at start, asked again later", func(t *testing.T) {
		l := &lookup{fail: true}
		now := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
		id := NewIdentity("", l.get, nil)
		id.Now = func() time.Time { return now }
		id.Start()
		id.Wait()
		if got := id.BotLogin(); got != "" {
			t.Fatalf("BotLogin = %q while GitHub never answered", got)
		}
		id.Wait()
		if l.count() != 1 {
			t.Errorf("%d lookups within the retry interval, want 1", l.count())
		}
		l.mu.Lock()
		l.fail = false
		l.mu.Unlock()
		now = now.Add(time.Minute)
		if got := id.BotLogin(); got != "" {
			t.Errorf("BotLogin = %q: the retry must not block the caller", got)
		}
		id.Wait()
		if got := id.BotLogin(); got != "octo-app[bot]" || l.count() != 2 {
			t.Errorf("after the retry: BotLogin = %q, %d lookups", got, l.count())
		}
	})
	t.Run("App not configured", func(t *testing.T) {
		id := NewIdentity("", nil, nil)
		id.Start()
		if id.BotLogin() != "" {
			t.Error("a bot login without a slug or a way to ask")
		}
		var none *Identity
		none.Start()
	})
}

type installationsOf map[string]*model.Installation

func (m installationsOf) InstallationOf(_ context.Context, org string) (*model.Installation, error) {
	if in, ok := m[model.InstallationDocID(org)]; ok {
		return in, nil
	}
	return nil, model.ErrNotFound
}

func TestInstallationsResolveOrgs(t *testing.T) {
	e := newEnv(t, Limits{})
	r := &Installations{Clients: e.factory, Store: installationsOf{
		"octo-org":  {ID: "octo-org", Org: "octo-org", InstallationID: testInstallation, Status: model.InstallationActive},
		"suspended": {ID: "suspended", Org: "Suspended", InstallationID: 8, Status: model.InstallationSuspended},
	}}
	ctx := context.Background()
	c, err := r.Client(ctx, "Octo-Org")
	if err != nil {
		t.Fatal(err)
	}
	if c != e.client(t, testInstallation) {
		t.Error("the org's client is not its installation's (one client, one rate-limit view per installation)")
	}
	for org, status := range map[string]string{"suspended": "suspended", "elsewhere": "none"} {
		_, err := r.Client(ctx, org)
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "installation: "+status) {
			t.Errorf("Client(%s) error = %v, want ErrNotInstalled naming %q", org, err, status)
		}
	}
	broken := &Installations{Clients: e.factory, Store: failingStore{}}
	if _, err := broken.Active(ctx, "octo-org"); err == nil || errors.Is(err, ErrNotInstalled) {
		t.Errorf("a store failure = %v, want an error that is not ErrNotInstalled (retry, not skip)", err)
	}
}

type failingStore struct{}

func (failingStore) InstallationOf(context.Context, string) (*model.Installation, error) {
	return nil, errors.New("cosmos: 503")
}
