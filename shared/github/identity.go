package github

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// BotLogin is the login GitHub gives an App's bot, the sender of every
// event its installation tokens cause: "<slug>[bot]".
func BotLogin(slug string) string { return slug + "[bot]" }

// AppSlug asks GitHub for the App's slug: GET /app with the App's JWT.
func AppSlug(ctx context.Context, f *Factory) (string, error) {
	c, err := f.App(ctx)
	if err != nil {
		return "", err
	}
	app, _, err := c.Apps.Get(ctx, "")
	if err != nil {
		return "", err
	}
	if app.GetSlug() == "" {
		return "", errors.New("GET /app answered no slug")
	}
	return app.GetSlug(), nil
}

// Identity is who the App is: its slug and its bot's login. A configured
// slug (GITHUB_APP_SLUG) is the answer; otherwise Lookup asks GitHub,
// never on the caller's time: Start asks in the background, and until an
// answer came, BotLogin is "" and asks again in the background, at most
// once per RetryInterval. So start-up stays fast and a GitHub that is
// unreachable at start costs a log line, not the process.
type Identity struct {
	// Lookup asks GitHub for the slug (AppSlug over the app's factory);
	// nil when the App is not configured.
	Lookup func(ctx context.Context) (string, error)
	// Timeout bounds one lookup (default 10 s); RetryInterval spaces
	// them (default one minute).
	Timeout       time.Duration
	RetryInterval time.Duration
	Logger        *slog.Logger
	Now           func() time.Time

	mu       sync.Mutex
	slug     string
	asking   bool
	lastTry  time.Time
	inflight sync.WaitGroup
}

// NewIdentity is the identity of the App: slug when configured, else what
// lookup finds.
func NewIdentity(slug string, lookup func(ctx context.Context) (string, error), logger *slog.Logger) *Identity {
	return &Identity{slug: slug, Lookup: lookup, Logger: logger}
}

// Start asks GitHub for the slug in the background unless it is known.
func (i *Identity) Start() { i.ask(true) }

// Slug is the App's slug, or "" while it is not known.
func (i *Identity) Slug() string {
	i.mu.Lock()
	slug := i.slug
	i.mu.Unlock()
	if slug == "" {
		i.ask(false)
	}
	return slug
}

// BotLogin is the App's bot login ("<slug>[bot]"), or "" while the slug is
// not known.
func (i *Identity) BotLogin() string {
	if s := i.Slug(); s != "" {
		return BotLogin(s)
	}
	return ""
}

// Wait waits for a lookup in flight (tests, and a caller that may block).
func (i *Identity) Wait() { i.inflight.Wait() }

func (i *Identity) ask(force bool) {
	if i == nil || i.Lookup == nil {
		return
	}
	i.mu.Lock()
	now := i.now()
	if i.slug != "" || i.asking || (!force && !i.lastTry.IsZero() && now.Sub(i.lastTry) < i.retryInterval()) {
		i.mu.Unlock()
		return
	}
	i.asking, i.lastTry = true, now
	i.inflight.Add(1)
	i.mu.Unlock()
	go func() {
		defer i.inflight.Done()
		timeout := i.Timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		slug, err := i.Lookup(ctx)
		i.mu.Lock()
		defer i.mu.Unlock()
		i.asking = false
		if err != nil {
			i.logger().Warn("the GitHub App's slug is not known yet (GET /app failed); its own bot's issue events "+
				"cannot be told from other bots' until it is, so every bot's are ignored; asking again later",
				"error", err, "retryIn", i.retryInterval().String())
			return
		}
		i.slug = slug
		i.logger().Info("GitHub App identity", "slug", slug, "botLogin", BotLogin(slug))
	}()
}

func (i *Identity) retryInterval() time.Duration {
	if i.RetryInterval > 0 {
		return i.RetryInterval
	}
	return time.Minute
}

func (i *Identity) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

func (i *Identity) logger() *slog.Logger {
	if i.Logger != nil {
		return i.Logger
	}
	return slog.Default()
}
