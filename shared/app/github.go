package app

import (
	"context"
	"fmt"

	"github.com/runtimelink/runtimelink/shared/github"
)

// GitHubApp is the App's side of GitHub, built once for the process so
// every function shares it: the client factory (with it the one
// rate-limit view per installation), the one installation resolver, and
// the App's identity (its bot login, for the issues loop guard).
type GitHubApp struct {
	// Clients and Installations are nil when the App is not configured
	// (GITHUB_APP_ID unset).
	Clients       *github.Factory
	Installations *github.Installations
	// Identity is never nil: GITHUB_APP_SLUG, else GET /app asked in the
	// background (BotLogin is "" until GitHub answered).
	Identity *github.Identity
}

// Enabled reports whether the App is configured.
func (g *GitHubApp) Enabled() bool { return g.Clients != nil }

// GitHubApp returns the App's side of GitHub. Build makes it at start
// (asking GitHub for the App's identity in the background); dependencies
// assembled by hand (tests, tools) get it made on the first call, which
// must come before they serve concurrently. It makes no network call.
func (d *Deps) GitHubApp() (*GitHubApp, error) {
	if d.GitHub != nil {
		return d.GitHub, nil
	}
	g := &GitHubApp{}
	slug := ""
	if d.Config != nil {
		slug = d.Config.GitHub.AppSlug
	}
	if d.Config != nil && d.Config.GitHub.Enabled() {
		keyName := d.Config.Secrets.GitHubAppPrivateKey
		f, err := github.NewFactory(github.FactoryOptions{
			BaseURL: d.Config.GitHub.APIURL,
			AppID:   d.Config.GitHub.AppID,
			PrivateKey: func(ctx context.Context) ([]byte, error) {
				v, err := d.Secrets.Get(ctx, keyName)
				return []byte(v), err
			},
			Logger: d.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("github client factory: %w", err)
		}
		g.Clients = f
		g.Installations = &github.Installations{Store: d.State(), Clients: f}
		g.Identity = github.NewIdentity(slug, func(ctx context.Context) (string, error) { return github.AppSlug(ctx, f) }, d.Logger)
	} else {
		g.Identity = github.NewIdentity(slug, nil, d.Logger)
	}
	d.GitHub = g
	return g, nil
}
