package keyvault

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/config"
)

func loadConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	base := map[string]string{
		"COSMOS_ENDPOINT":     "https://localhost:8081",
		"AzureWebJobsStorage": "UseDevelopmentStorage=true",
	}
	for k, v := range env {
		base[k] = v
	}
	c, err := config.Load(func(k string) string { return base[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewLocalServesSettingsUnderSecretNames(t *testing.T) {
	cfg := loadConfig(t, map[string]string{
		"GITHUB_WEBHOOK_SECRET":             hookV1,
		"DEPLOYMENTS_TOKEN":                 "deploy-VALUE-1",
		"GITHUB_WEBHOOK_SECRET_SECRET_NAME": "hook",
	})
	p, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*Env); !ok {
		t.Fatalf("New without KEYVAULT_URL = %T, want *Env", p)
	}
	mustGet(t, p, "hook", hookV1)
	mustGet(t, p, "deployments-token", "deploy-VALUE-1")

	// No GitHub App configured: its key is missing, named, not empty.
	_, err = p.Get(context.Background(), "github-app-private-key")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"github-app-private-key"`) {
		t.Errorf("missing local secret: %v, want ErrNotFound naming it", err)
	}
	if refreshed, err := Refresh(context.Background(), p, "hook"); refreshed || err != nil {
		t.Errorf("Refresh of local settings = %v, %v; want false, nil", refreshed, err)
	}
	if err := Check(context.Background(), p, cfg.RequiredSecrets()...); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestNewWithKeyVaultURLUsesVault(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"KEYVAULT_URL": "https://rtl-kv.vault.azure.net"})
	p, err := New(cfg, &fakeCredential{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(*Vault); !ok {
		t.Fatalf("New with KEYVAULT_URL = %T, want *Vault", p)
	}
	if _, err := New(cfg, nil); err == nil {
		t.Fatal("New with KEYVAULT_URL and no credential accepted")
	}
}

func TestNewVaultRefusesNonHTTPS(t *testing.T) {
	for _, u := range []string{"http://kv.vault.azure.net/", "kv.vault.azure.net", ""} {
		if _, err := NewVault(u, &fakeCredential{}, nil); err == nil {
			t.Errorf("NewVault(%q) accepted", u)
		}
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name    string
		values  map[string]string
		wantErr string
	}{
		{"all present", map[string]string{"a": "1", "b": "2"}, ""},
		{"one missing", map[string]string{"a": "1"}, `check required secrets: get secret "b" from local settings: secret not found`},
		{"one empty", map[string]string{"a": "1", "b": ""}, `check required secrets: get secret "b" from local settings: secret not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(context.Background(), NewEnv(tc.values), "a", "b")
			if got := errString(err); got != tc.wantErr {
				t.Errorf("Check = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestCheckVault reads required secrets from Key Vault at start-up: an
// empty secret there stops start-up as an empty local setting does.
func TestCheckVault(t *testing.T) {
	h := newHarness(t)
	h.fv.set("a", "1")
	h.fv.set("b", "")
	err := Check(context.Background(), h.v, "a", "b")
	if want := `check required secrets: secret "b" is empty`; errString(err) != want {
		t.Errorf("Check = %q, want %q", errString(err), want)
	}
	h.fv.remove("b")
	h.clock.Advance(5 * h.v.opts.TTL)
	if err := Check(context.Background(), h.v, "a", "b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Check with a deleted secret = %v, want ErrNotFound", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
