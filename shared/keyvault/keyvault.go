// Package keyvault reads runtimelink's secrets (the GitHub App private key,
// the webhook secret, the deployments token): from Azure Key Vault with the
// managed identity in Azure, cached and re-read on rotation, or from plain
// settings on a local run. Secret values never appear in its errors or logs.
package keyvault

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/runtimelink/runtimelink/shared/config"
)

// Provider returns secrets by name (the Key Vault secret names in
// config.Config.Secrets, whichever implementation serves them).
type Provider interface {
	Get(ctx context.Context, name string) (string, error)
}

// Refresher is a Provider whose values can change while the app runs.
type Refresher interface {
	// Refresh re-reads name now unless it was force-refreshed recently; it
	// reports whether a read happened.
	Refresh(ctx context.Context, name string) (bool, error)
}

// ErrNotFound says the secret does not exist: Key Vault answered 404, or no
// local setting holds it. Test with errors.Is.
var ErrNotFound = errors.New("secret not found")

// Refresh asks p to re-read name, for a caller that suspects its cached
// value is stale (a webhook signature that fails with the cached secret may
// mean the secret was rotated). It reports whether a new read happened, so
// the caller retries only then; providers that do not cache never read.
func Refresh(ctx context.Context, p Provider, name string) (bool, error) {
	r, ok := p.(Refresher)
	if !ok {
		return false, nil
	}
	return r.Refresh(ctx, name)
}

// Check reads every named secret once and fails on the first one that is
// missing or empty, so start-up stops on an unusable secret in Key Vault as
// it does on an empty local setting (see config.Config.RequiredSecrets).
func Check(ctx context.Context, p Provider, names ...string) error {
	for _, name := range names {
		v, err := p.Get(ctx, name)
		if err != nil {
			return fmt.Errorf("check required secrets: %w", err)
		}
		if v == "" {
			return fmt.Errorf("check required secrets: secret %q is empty", name)
		}
	}
	return nil
}

// New returns the provider cfg asks for: Key Vault read with cred (the
// app's managed identity in Azure) when KEYVAULT_URL is set, else the local
// plain settings under the configured secret names.
func New(cfg *config.Config, cred azcore.TokenCredential) (Provider, error) {
	if cfg.KeyVaultURL == "" {
		return NewEnv(map[string]string{
			cfg.Secrets.GitHubAppPrivateKey: cfg.GitHub.AppPrivateKey.Value(),
			cfg.Secrets.GitHubWebhookSecret: cfg.GitHub.WebhookSecret.Value(),
			cfg.Secrets.DeploymentsToken:    cfg.DeploymentsToken.Value(),
			cfg.Secrets.CopilotToken:        cfg.CopilotToken.Value(),
		}), nil
	}
	if cred == nil {
		return nil, errors.New("Key Vault is configured but no Azure credential was given")
	}
	return NewVault(cfg.KeyVaultURL, cred, nil)
}

// Env serves secrets from plain settings, for local runs.
type Env struct {
	values map[string]string
}

// NewEnv serves values by secret name; an empty value counts as missing.
func NewEnv(values map[string]string) *Env {
	m := make(map[string]string, len(values))
	for k, v := range values {
		if v != "" {
			m[k] = v
		}
	}
	return &Env{values: m}
}

// Get returns the value set for name.
func (e *Env) Get(_ context.Context, name string) (string, error) {
	v, ok := e.values[name]
	if !ok {
		return "", fmt.Errorf("get secret %q from local settings: %w", name, ErrNotFound)
	}
	return v, nil
}

// Refresh never reads: local settings do not change while the app runs.
func (e *Env) Refresh(context.Context, string) (bool, error) { return false, nil }
