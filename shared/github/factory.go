// Package github is runtimelink's adapter to the GitHub REST API: go-github
// v62 clients authenticated as the GitHub App or one of its installations
// (ghinstallation), over a transport that keeps within GitHub's rate limits,
// and the few calls go-github lacks or that runtimelink makes its own way:
// attestation (SLSA provenance) lookup, CODEOWNERS fetching and the org-wide
// alert listing of a backfill.
package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v62/github"
)

// PublicAPIURL is GitHub.com's REST API.
const PublicAPIURL = "https://api.github.com/"

// FactoryOptions configures NewFactory.
type FactoryOptions struct {
	// BaseURL is GITHUB_API_URL: "" for GitHub.com, "https://ghe.example/api/v3/"
	// for GitHub Enterprise Server, a test server's URL in tests.
	BaseURL string
	AppID   int64
	// PrivateKey returns the App's PEM private key (from Key Vault or the
	// local setting). It is called on first use and again after GitHub
	// rejects the App's JWT, so a rotated key is picked up.
	PrivateKey func(ctx context.Context) ([]byte, error)
	// Transport is the network below everything (nil: PooledTransport()).
	Transport http.RoundTripper
	Logger    *slog.Logger
	Limits    Limits
	Clock     Clock // nil: the real clock
}

// Factory hands out go-github clients authenticated as the App or as one of
// its installations. Every client shares one rate-limit-aware Transport; an
// installation's token is minted on first use and refreshed by ghinstallation
// a minute before it expires.
type Factory struct {
	appID     int64
	key       func(ctx context.Context) ([]byte, error)
	apiURL    *url.URL
	uploadURL *url.URL
	tr        *Transport
	log       *slog.Logger

	mu      sync.Mutex
	atr     *ghinstallation.AppsTransport // nil until the key is read; reset when GitHub rejects it
	tokens  map[int64]*ghinstallation.Transport
	clients map[int64]*gh.Client
	app     *gh.Client
}

// NewFactory checks the options; it does not read the key yet.
func NewFactory(o FactoryOptions) (*Factory, error) {
	if o.AppID <= 0 {
		return nil, errors.New("github factory: AppID must be a positive GitHub App id")
	}
	if o.PrivateKey == nil {
		return nil, errors.New("github factory: PrivateKey source is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	apiURL, uploadURL, err := apiURLs(o.BaseURL)
	if err != nil {
		return nil, err
	}
	apiPath := strings.TrimSuffix(apiURL.Path, "/")
	return &Factory{
		appID:     o.AppID,
		key:       o.PrivateKey,
		apiURL:    apiURL,
		uploadURL: uploadURL,
		tr:        NewTransport(o.Transport, TransportOptions{Limits: o.Limits, Clock: o.Clock, Logger: o.Logger, APIPath: apiPath}),
		log:       o.Logger,
		tokens:    make(map[int64]*ghinstallation.Transport),
		clients:   make(map[int64]*gh.Client),
	}, nil
}

// apiURLs derives the REST and upload base URLs, both ending in "/".
func apiURLs(base string) (api, upload *url.URL, err error) {
	if base == "" {
		base = PublicAPIURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, nil, fmt.Errorf("github factory: BaseURL %q is not an absolute http(s) URL", base)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	up := *u
	switch {
	case u.Host == "api.github.com":
		up.Host, up.Path = "uploads.github.com", "/"
	case strings.HasSuffix(u.Path, "/api/v3/"):
		// GitHub Enterprise Server, as go-github's WithEnterpriseURLs does it.
		up.Path = strings.TrimSuffix(u.Path, "v3/") + "uploads/"
	}
	return u, &up, nil
}

// BaseURL is the REST API base every client uses.
func (f *Factory) BaseURL() string { return f.apiURL.String() }

// Installation returns the client for one installation (cached). It reads
// the App key if that has not happened yet, so a missing or malformed key
// fails here rather than on the first call.
func (f *Factory) Installation(ctx context.Context, installationID int64) (*gh.Client, error) {
	if installationID <= 0 {
		return nil, fmt.Errorf("github installation client: invalid installation id %d", installationID)
	}
	if _, err := f.tokenSource(ctx, installationID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.clients[installationID]; c != nil {
		return c, nil
	}
	c := f.newClient(installationRoundTripper{f: f, id: installationID})
	f.clients[installationID] = c
	return c, nil
}

// App returns the client authenticated as the App itself (JWT), for the
// app-level endpoints such as listing installations.
func (f *Factory) App(ctx context.Context) (*gh.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.appsTransportLocked(ctx); err != nil {
		return nil, err
	}
	if f.app == nil {
		f.app = f.newClient(appRoundTripper{f: f})
	}
	return f.app, nil
}

// RateLimitHeadroom is the last known primary limit per installation and
// resource, for the health answer and metrics.
func (f *Factory) RateLimitHeadroom() []Headroom { return f.tr.Headroom() }

func (f *Factory) newClient(rt http.RoundTripper) *gh.Client {
	c := gh.NewClient(&http.Client{Transport: rt, CheckRedirect: readsOnly})
	if strings.HasSuffix(f.apiURL.Path, "/api/v3/") {
		if ec, err := c.WithEnterpriseURLs(f.apiURL.String(), f.uploadURL.String()); err == nil {
			return ec
		}
	}
	api, up := *f.apiURL, *f.uploadURL
	c.BaseURL, c.UploadURL = &api, &up
	return c
}

// readsOnly follows GitHub's redirects (a transferred issue answers 301)
// for reads only. net/http would replay a redirected PATCH or POST as a
// GET, which answers 200 with the unchanged resource: a write that never
// happened would look done. The caller gets the 301 instead.
func readsOnly(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if m := via[0].Method; m != http.MethodGet && m != http.MethodHead {
		return http.ErrUseLastResponse
	}
	return nil
}

// appsTransportLocked reads the key and builds the shared JWT transport.
func (f *Factory) appsTransportLocked(ctx context.Context) (*ghinstallation.AppsTransport, error) {
	if f.atr != nil {
		return f.atr, nil
	}
	pem, err := f.key(ctx)
	if err != nil {
		return nil, fmt.Errorf("read GitHub App private key: %w", err)
	}
	atr, err := ghinstallation.NewAppsTransport(f.tr, f.appID, pem)
	if err != nil {
		// ghinstallation's message names the parse failure, never the key.
		return nil, fmt.Errorf("load GitHub App private key for app %d: %w", f.appID, err)
	}
	atr.BaseURL = strings.TrimSuffix(f.apiURL.String(), "/")
	f.atr = atr
	return atr, nil
}

// tokenSource returns the installation's token transport. Each one gets its
// own copy of the AppsTransport (same signer, same transport below):
// ghinstallation writes BaseURL and Client into the AppsTransport on every
// token refresh, which would race between installations refreshing at once.
func (f *Factory) tokenSource(ctx context.Context, id int64) (*ghinstallation.Transport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.tokens[id]; t != nil {
		return t, nil
	}
	atr, err := f.appsTransportLocked(ctx)
	if err != nil {
		return nil, err
	}
	own := *atr
	t := ghinstallation.NewFromAppsTransport(&own, id)
	f.tokens[id] = t
	return t, nil
}

// forgetKey drops the key and every token transport built on it, so the
// next request reads the key again (Key Vault rotation).
func (f *Factory) forgetKey() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.atr == nil {
		return
	}
	f.atr = nil
	f.tokens = make(map[int64]*ghinstallation.Transport)
	f.log.Warn("GitHub rejected the App's JWT; the private key will be read again", "appId", f.appID)
}

// installationRoundTripper resolves the installation's token transport on
// every request (so clients already handed out survive a key rotation) and
// tags the request with the installation for the rate-limit transport.
type installationRoundTripper struct {
	f  *Factory
	id int64
}

func (rt installationRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t, err := rt.f.tokenSource(req.Context(), rt.id)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.RoundTrip(req.WithContext(withInstallation(req.Context(), rt.id)))
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil && he.Response.StatusCode == http.StatusUnauthorized {
		rt.f.forgetKey()
	}
	return resp, err
}

type appRoundTripper struct{ f *Factory }

func (rt appRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.f.mu.Lock()
	atr, err := rt.f.appsTransportLocked(req.Context())
	rt.f.mu.Unlock()
	if err != nil {
		closeBody(req)
		return nil, err
	}
	// AppsTransport sets headers on the request it is given; give it a copy.
	resp, err := atr.RoundTrip(req.Clone(req.Context()))
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		rt.f.forgetKey()
	}
	return resp, err
}
