package config

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// Secret values used in tests; no printed form of a Config may contain them.
const (
	webhookSecret    = "whsec-VALUE-6c1f"
	deploymentsToken = "deploy-VALUE-93ab"
	cosmosKey        = "cosmoskey-VALUE-77de=="
	connString       = "DefaultEndpointsProtocol=https;AccountName=rtlstore;AccountKey=acctkey-VALUE-0f3e==;EndpointSuffix=core.windows.net"
)

var testKey = sync.OnceValues(func() (pkcs1, pkcs8 string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	pkcs1 = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	pkcs8 = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der8}))
	return pkcs1, pkcs8
})

// minimal is the smallest valid local environment.
func minimal() map[string]string {
	return map[string]string{
		"COSMOS_ENDPOINT":       "https://localhost:8081",
		"AzureWebJobsStorage":   "UseDevelopmentStorage=true",
		"GITHUB_WEBHOOK_SECRET": webhookSecret,
		"DEPLOYMENTS_TOKEN":     deploymentsToken,
	}
}

// azure is a valid environment as terraform and the platform set it.
func azure() map[string]string {
	return map[string]string{
		"WEBSITE_INSTANCE_ID":              "4e6a1b2c3d",
		"COSMOS_ENDPOINT":                  "https://rtl.documents.azure.com:443/",
		"AzureWebJobsStorage__accountName": "rtlstore",
		"KEYVAULT_URL":                     "https://rtl-kv.vault.azure.net",
		"GITHUB_APP_ID":                    "123456",
	}
}

func load(env map[string]string) (*Config, error) {
	return Load(func(k string) string { return env[k] })
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(minimal())
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"InAzure", c.InAzure, false},
		{"Cosmos.Endpoint", c.Cosmos.Endpoint, "https://localhost:8081/"},
		{"Cosmos.Database", c.Cosmos.Database, "runtimelink"},
		{"Cosmos.Emulator", c.Cosmos.Emulator, false},
		{"Storage.UsesIdentity", c.Storage.UsesIdentity(), false},
		{"GitHub.APIURL", c.GitHub.APIURL, "https://api.github.com/"},
		{"GitHub.AppID", c.GitHub.AppID, int64(0)},
		{"GitHub.Enabled", c.GitHub.Enabled(), false},
		{"KeyVaultURL", c.KeyVaultURL, ""},
		{"Secrets", c.Secrets, SecretNames{"github-app-private-key", "github-webhook-secret", "deployments-token", "github-copilot-token"}},
		{"ARM.Endpoint", c.ARM.Endpoint, "https://management.azure.com/"},
		{"ARM.Subscriptions", len(c.ARM.Subscriptions), 0},
		{"Governance", c.Governance, false},
		{"DryRun", c.DryRun, false},
		{"Policy", c.Policy == nil, true},
		{"IssueMinPriority", c.IssueMinPriority, model.PriorityHigh},
		{"ReopenGrace", c.ReopenGrace, 24 * time.Hour},
		{"ReprioritizeMaxRuntime", c.ReprioritizeMaxRuntime, 8 * time.Minute},
		{"RedeliverSchedule", c.RedeliverSchedule, "0 */10 * * * *"},
		{"RedeliverLookback", c.RedeliverLookback, 24 * time.Hour},
		{"EventHub", c.EventHub, EventHub{"defender-export", "runtimelink"}},
		{"Port", c.Port, 8080},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadAzureDefaults(t *testing.T) {
	c, err := load(azure())
	if err != nil {
		t.Fatal(err)
	}
	if !c.InAzure || !c.Governance {
		t.Errorf("InAzure=%v Governance=%v, want both true in Azure", c.InAzure, c.Governance)
	}
	if !c.Storage.UsesIdentity() || c.Storage.QueueServiceURL != "https://rtlstore.queue.core.windows.net/" {
		t.Errorf("storage = %+v, want identity with the account's queue URL", c.Storage)
	}
	if c.KeyVaultURL != "https://rtl-kv.vault.azure.net/" {
		t.Errorf("KeyVaultURL = %q", c.KeyVaultURL)
	}
	if got := c.RequiredSecrets(); !slices.Equal(got, []string{"github-webhook-secret", "deployments-token", "github-app-private-key"}) {
		t.Errorf("RequiredSecrets = %v", got)
	}
}

func TestLoadSettings(t *testing.T) {
	pkcs1, pkcs8 := testKey()
	escaped := strings.ReplaceAll(pkcs1, "\n", `\n`)
	// Each case starts from base (minimal() unless inAzure), applies set
	// (a "" value unsets) and expects either wantErr exactly or check to pass.
	cases := []struct {
		name    string
		inAzure bool
		set     map[string]string
		wantErr string
		check   func(t *testing.T, c *Config)
	}{
		// WEBSITE_INSTANCE_ID
		{name: "instance id means Azure", set: map[string]string{"WEBSITE_INSTANCE_ID": "abc"},
			check: func(t *testing.T, c *Config) { want(t, c.InAzure && c.InstanceID == "abc", "InAzure with id abc") }},

		// COSMOS_ENDPOINT
		{name: "cosmos endpoint missing", set: map[string]string{"COSMOS_ENDPOINT": ""},
			wantErr: "config: COSMOS_ENDPOINT is required"},
		{name: "cosmos endpoint blank", set: map[string]string{"COSMOS_ENDPOINT": "   "},
			wantErr: "config: COSMOS_ENDPOINT is required"},
		{name: "cosmos endpoint relative", set: map[string]string{"COSMOS_ENDPOINT": "localhost:8081"},
			wantErr: `config: COSMOS_ENDPOINT="localhost:8081" is not an absolute https or http URL`},
		{name: "cosmos endpoint with query", set: map[string]string{"COSMOS_ENDPOINT": "https://x.documents.azure.com/?a=b"},
			wantErr: `config: COSMOS_ENDPOINT="https://x.documents.azure.com/?a=b" is not an absolute https or http URL without query or fragment`},
		{name: "cosmos endpoint with credentials is not echoed", set: map[string]string{"COSMOS_ENDPOINT": "https://u:pw-VALUE@x.documents.azure.com/"},
			wantErr: "config: COSMOS_ENDPOINT must not carry credentials"},
		{name: "cosmos endpoint trimmed and normalised", set: map[string]string{"COSMOS_ENDPOINT": " https://x.documents.azure.com:443 "},
			check: func(t *testing.T, c *Config) { eq(t, c.Cosmos.Endpoint, "https://x.documents.azure.com:443/") }},

		// COSMOS_DATABASE
		{name: "cosmos database set", set: map[string]string{"COSMOS_DATABASE": "rtl-test"},
			check: func(t *testing.T, c *Config) { eq(t, c.Cosmos.Database, "rtl-test") }},
		{name: "cosmos database malformed", set: map[string]string{"COSMOS_DATABASE": "a/b"},
			wantErr: `config: COSMOS_DATABASE="a/b" is not a Cosmos DB database name (at most 255 characters, none of / \ ? #)`},

		// COSMOS_KEY, COSMOS_EMULATOR
		{name: "emulator with key", set: map[string]string{"COSMOS_EMULATOR": "true", "COSMOS_KEY": cosmosKey},
			check: func(t *testing.T, c *Config) {
				want(t, c.Cosmos.Emulator && c.Cosmos.Key.Value() == cosmosKey, "emulator on with its key")
			}},
		{name: "emulator TRUE case-insensitive", set: map[string]string{"COSMOS_EMULATOR": "TRUE", "COSMOS_KEY": cosmosKey},
			check: func(t *testing.T, c *Config) { want(t, c.Cosmos.Emulator, "emulator on") }},
		{name: "emulator malformed", set: map[string]string{"COSMOS_EMULATOR": "yes"},
			wantErr: `config: COSMOS_EMULATOR="yes" is not a boolean (true or false)`},
		{name: "emulator without key", set: map[string]string{"COSMOS_EMULATOR": "1"},
			wantErr: "config: COSMOS_KEY is required when COSMOS_EMULATOR=true (the emulator takes its well-known key, not an identity)"},
		{name: "emulator refused in Azure", inAzure: true, set: map[string]string{"COSMOS_EMULATOR": "true", "COSMOS_KEY": cosmosKey},
			wantErr: `config: COSMOS_EMULATOR="true" is refused in Azure (WEBSITE_INSTANCE_ID is set): it makes the Cosmos DB client accept the local emulator's self-signed certificate, which must never happen against a real account; remove the setting`},
		{name: "key without emulator (identity not used)", set: map[string]string{"COSMOS_KEY": cosmosKey},
			check: func(t *testing.T, c *Config) {
				want(t, !c.Cosmos.Emulator && c.Cosmos.Key.IsSet(), "key kept, emulator off")
			}},

		// AzureWebJobsStorage and its identity-based forms
		{name: "storage missing", set: map[string]string{"AzureWebJobsStorage": ""},
			wantErr: "config: AzureWebJobsStorage is required for the sync queue (or AzureWebJobsStorage__queueServiceUri / AzureWebJobsStorage__accountName with the managed identity)"},
		{name: "storage connection string", set: map[string]string{"AzureWebJobsStorage": connString},
			check: func(t *testing.T, c *Config) {
				want(t, c.Storage.ConnectionString.Value() == connString && !c.Storage.UsesIdentity(), "connection string used")
			}},
		{name: "storage connection string malformed is not echoed", set: map[string]string{"AzureWebJobsStorage": "acctkey-VALUE-0f3e=="},
			wantErr: "config: AzureWebJobsStorage is not a storage connection string (key=value pairs such as UseDevelopmentStorage=true or DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...)"},
		{name: "storage queue URI", set: map[string]string{"AzureWebJobsStorage": "", "AzureWebJobsStorage__queueServiceUri": "https://rtl.queue.core.usgovcloudapi.net"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Storage.QueueServiceURL, "https://rtl.queue.core.usgovcloudapi.net/")
				want(t, c.Storage.UsesIdentity(), "identity used")
			}},
		{name: "storage queue URI malformed", set: map[string]string{"AzureWebJobsStorage": "", "AzureWebJobsStorage__queueServiceUri": "rtl.queue"},
			wantErr: `config: AzureWebJobsStorage__queueServiceUri="rtl.queue" is not an absolute https or http URL`},
		{name: "storage account name", set: map[string]string{"AzureWebJobsStorage": "", "AzureWebJobsStorage__accountName": "rtlstore01"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Storage.QueueServiceURL, "https://rtlstore01.queue.core.windows.net/")
				eq(t, c.Storage.AccountName, "rtlstore01")
			}},
		{name: "storage queue URI wins over account name", set: map[string]string{"AzureWebJobsStorage": "",
			"AzureWebJobsStorage__queueServiceUri": "https://q.example.net/", "AzureWebJobsStorage__accountName": "rtlstore01"},
			check: func(t *testing.T, c *Config) { eq(t, c.Storage.QueueServiceURL, "https://q.example.net/") }},
		{name: "storage account name malformed", set: map[string]string{"AzureWebJobsStorage__accountName": "RTL_Store"},
			wantErr: `config: AzureWebJobsStorage__accountName="RTL_Store" is not a storage account name (3-24 lower-case letters and digits)`},

		// GITHUB_API_URL
		{name: "github api url GHES normalised", set: map[string]string{"GITHUB_API_URL": "https://ghe.example.com/api/v3"},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.APIURL, "https://ghe.example.com/api/v3/") }},
		{name: "github api url test server", set: map[string]string{"GITHUB_API_URL": "http://127.0.0.1:4567"},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.APIURL, "http://127.0.0.1:4567/") }},
		{name: "github api url relative", set: map[string]string{"GITHUB_API_URL": "/api/v3"},
			wantErr: `config: GITHUB_API_URL="/api/v3" is not an absolute https or http URL`},
		{name: "github api url other scheme", set: map[string]string{"GITHUB_API_URL": "ftp://ghe.example.com/"},
			wantErr: `config: GITHUB_API_URL="ftp://ghe.example.com/" is not an absolute https or http URL`},

		// GITHUB_APP_SLUG
		{name: "app slug", set: map[string]string{"GITHUB_APP_SLUG": "runtimelink-octo"},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.AppSlug, "runtimelink-octo") }},
		{name: "app slug unset", set: map[string]string{},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.AppSlug, "") }},
		{name: "app slug is the bot login", set: map[string]string{"GITHUB_APP_SLUG": "runtimelink[bot]"},
			wantErr: `config: GITHUB_APP_SLUG="runtimelink[bot]" is not a GitHub App slug (lower-case letters, digits and hyphens, as in https://github.com/apps/<slug>; without [bot])`},
		{name: "app slug with capitals", set: map[string]string{"GITHUB_APP_SLUG": "RuntimeLink"},
			wantErr: `config: GITHUB_APP_SLUG="RuntimeLink" is not a GitHub App slug (lower-case letters, digits and hyphens, as in https://github.com/apps/<slug>; without [bot])`},

		// GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY
		{name: "app id with PKCS1 key", set: map[string]string{"GITHUB_APP_ID": "123456", "GITHUB_APP_PRIVATE_KEY": pkcs1},
			check: func(t *testing.T, c *Config) {
				want(t, c.GitHub.AppID == 123456 && c.GitHub.Enabled(), "app 123456 on")
				eq(t, c.GitHub.AppPrivateKey.Value(), pkcs1)
			}},
		{name: "app id with PKCS8 key", set: map[string]string{"GITHUB_APP_ID": "9", "GITHUB_APP_PRIVATE_KEY": pkcs8},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.AppPrivateKey.Value(), pkcs8) }},
		{name: "private key with escaped newlines", set: map[string]string{"GITHUB_APP_ID": "9", "GITHUB_APP_PRIVATE_KEY": escaped},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.AppPrivateKey.Value(), pkcs1) }},
		{name: "governance settings", set: map[string]string{
			"RUNTIMELINK_GOVERNANCE_DUE_DAYS":      "critical=3, Medium=60",
			"RUNTIMELINK_GOVERNANCE_OWNERS":        `{"@Octo-Org/Payments":"payments@octo.example","octocat":"octocat@octo.example"}`,
			"RUNTIMELINK_GOVERNANCE_DEFAULT_OWNER": "secops@octo.example",
			"RUNTIMELINK_GOVERNANCE_GRACE_PERIOD":  "false"},
			check: func(t *testing.T, c *Config) {
				if !maps.Equal(c.GovernanceDueDays, map[model.Priority]int{model.PriorityCritical: 3, model.PriorityHigh: 30, model.PriorityMedium: 60, model.PriorityLow: 180}) {
					t.Errorf("due days %v", c.GovernanceDueDays)
				}
				if !maps.Equal(c.GovernanceOwners, map[string]string{"octo-org/payments": "payments@octo.example", "octocat": "octocat@octo.example"}) {
					t.Errorf("owners %v", c.GovernanceOwners)
				}
				eq(t, c.GovernanceDefaultOwner, "secops@octo.example")
				eq(t, c.GovernanceGracePeriod, false)
			}},
		{name: "due days malformed", set: map[string]string{"RUNTIMELINK_GOVERNANCE_DUE_DAYS": "Critical=0"},
			wantErr: `config: RUNTIMELINK_GOVERNANCE_DUE_DAYS holds "Critical=0", which is not Priority=days (days 1-3650), e.g. Critical=7`},
		{name: "owners not JSON", set: map[string]string{"RUNTIMELINK_GOVERNANCE_OWNERS": "octocat=a@b.c"},
			wantErr: `config: RUNTIMELINK_GOVERNANCE_OWNERS is not a JSON object of strings: invalid character 'o' looking for beginning of value`},
		{name: "owner not an e-mail", set: map[string]string{"RUNTIMELINK_GOVERNANCE_OWNERS": `{"octocat":"octocat"}`},
			wantErr: `config: RUNTIMELINK_GOVERNANCE_OWNERS maps "octocat" to "octocat": want a login or org/team and an e-mail address`},
		{name: "default owner not an e-mail", set: map[string]string{"RUNTIMELINK_GOVERNANCE_DEFAULT_OWNER": "secops"},
			wantErr: `config: RUNTIMELINK_GOVERNANCE_DEFAULT_OWNER="secops" is not an e-mail address`},
		{name: "copilot with its token", set: map[string]string{"GITHUB_APP_ID": "9", "GITHUB_APP_PRIVATE_KEY": pkcs1,
			"RUNTIMELINK_COPILOT_ASSIGN": "true", "GITHUB_COPILOT_TOKEN": "github_pat_VALUE-x1", "GITHUB_COPILOT_TOKEN_SECRET_NAME": "copilot-pat"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.CopilotAssign, true)
				eq(t, c.CopilotToken.Value(), "github_pat_VALUE-x1")
				eq(t, c.Secrets.CopilotToken, "copilot-pat")
				eq(t, c.RequiredSecrets()[3], "copilot-pat")
			}},
		{name: "copilot without its token", set: map[string]string{"GITHUB_APP_ID": "9", "GITHUB_APP_PRIVATE_KEY": pkcs1, "RUNTIMELINK_COPILOT_ASSIGN": "true"},
			wantErr: "config: GITHUB_COPILOT_TOKEN is required when KEYVAULT_URL is not set (RUNTIMELINK_COPILOT_ASSIGN=true needs a user token)"},
		{name: "campaigns", set: map[string]string{"RUNTIMELINK_CAMPAIGNS": "true", "RUNTIMELINK_CAMPAIGN_LENGTH": "336h", "RUNTIMELINK_CAMPAIGN_MANAGER": "octo-secops"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Campaigns, true)
				eq(t, c.CampaignLength, 14*24*time.Hour)
				eq(t, c.CampaignManager, "octo-secops")
			}},
		{name: "campaign too short", set: map[string]string{"RUNTIMELINK_CAMPAIGN_LENGTH": "1h"},
			wantErr: `config: RUNTIMELINK_CAMPAIGN_LENGTH="1h" must be at least 24h`},
		{name: "campaign manager malformed", set: map[string]string{"RUNTIMELINK_CAMPAIGN_MANAGER": "octo org"},
			wantErr: `config: RUNTIMELINK_CAMPAIGN_MANAGER="octo org" is not a GitHub login`},
		{name: "app id malformed", set: map[string]string{"GITHUB_APP_ID": "12ab"},
			wantErr: `config: GITHUB_APP_ID="12ab" is not a GitHub App id (a positive integer)`},
		{name: "app id negative", set: map[string]string{"GITHUB_APP_ID": "-4"},
			wantErr: `config: GITHUB_APP_ID="-4" is not a GitHub App id (a positive integer)`},
		{name: "app id without key", set: map[string]string{"GITHUB_APP_ID": "123456"},
			wantErr: "config: GITHUB_APP_PRIVATE_KEY is required when KEYVAULT_URL is not set (GITHUB_APP_ID is set)"},
		{name: "key without app id", set: map[string]string{"GITHUB_APP_PRIVATE_KEY": pkcs1},
			wantErr: "config: GITHUB_APP_ID is required when GITHUB_APP_PRIVATE_KEY is set"},
		{name: "private key not PEM is not echoed", set: map[string]string{"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": "key-VALUE-a9"},
			wantErr: "config: GITHUB_APP_PRIVATE_KEY is not a PEM private key"},
		{name: "private key PEM of something else", set: map[string]string{"GITHUB_APP_ID": "1",
			"GITHUB_APP_PRIVATE_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("key-VALUE-a9")}))},
			wantErr: "config: GITHUB_APP_PRIVATE_KEY holds a PEM block that is not an RSA private key (PKCS #1 or #8)"},

		// GITHUB_WEBHOOK_SECRET and DEPLOYMENTS_TOKEN
		{name: "webhook secret missing", set: map[string]string{"GITHUB_WEBHOOK_SECRET": ""},
			wantErr: "config: GITHUB_WEBHOOK_SECRET is required when KEYVAULT_URL is not set (webhooks are never accepted unsigned)"},
		{name: "webhook secret blank", set: map[string]string{"GITHUB_WEBHOOK_SECRET": "  \t"},
			wantErr: "config: GITHUB_WEBHOOK_SECRET is required when KEYVAULT_URL is not set (webhooks are never accepted unsigned)"},
		{name: "webhook secret kept byte for byte", set: map[string]string{"GITHUB_WEBHOOK_SECRET": " s3cr3t "},
			check: func(t *testing.T, c *Config) { eq(t, c.GitHub.WebhookSecret.Value(), " s3cr3t ") }},
		{name: "deployments token missing", set: map[string]string{"DEPLOYMENTS_TOKEN": ""},
			wantErr: "config: DEPLOYMENTS_TOKEN is required when KEYVAULT_URL is not set (the deployments endpoint is never open)"},

		// KEYVAULT_URL and the secret names
		{name: "key vault replaces local secrets", set: map[string]string{"KEYVAULT_URL": "https://kv.vault.azure.net",
			"GITHUB_WEBHOOK_SECRET": "", "DEPLOYMENTS_TOKEN": "", "GITHUB_APP_ID": "5"},
			check: func(t *testing.T, c *Config) { eq(t, c.KeyVaultURL, "https://kv.vault.azure.net/") }},
		{name: "key vault with plain secret set", set: map[string]string{"KEYVAULT_URL": "https://kv.vault.azure.net", "DEPLOYMENTS_TOKEN": ""},
			wantErr: "config: GITHUB_WEBHOOK_SECRET is set together with KEYVAULT_URL; secrets come from Key Vault, remove the plain setting"},
		{name: "key vault over http", set: map[string]string{"KEYVAULT_URL": "http://kv.vault.azure.net"},
			wantErr: `config: KEYVAULT_URL="http://kv.vault.azure.net" is not an absolute https URL`},
		{name: "secret names set", set: map[string]string{"GITHUB_APP_PRIVATE_KEY_SECRET_NAME": "app-key",
			"GITHUB_WEBHOOK_SECRET_SECRET_NAME": "hook", "DEPLOYMENTS_TOKEN_SECRET_NAME": "Deploy-2"},
			check: func(t *testing.T, c *Config) {
				eq(t, c.Secrets, SecretNames{"app-key", "hook", "Deploy-2", "github-copilot-token"})
			}},
		{name: "app key secret name malformed", set: map[string]string{"GITHUB_APP_PRIVATE_KEY_SECRET_NAME": "app_key"},
			wantErr: `config: GITHUB_APP_PRIVATE_KEY_SECRET_NAME="app_key" is not a Key Vault secret name (1-127 letters, digits and dashes)`},
		{name: "webhook secret name malformed", set: map[string]string{"GITHUB_WEBHOOK_SECRET_SECRET_NAME": "hook/1"},
			wantErr: `config: GITHUB_WEBHOOK_SECRET_SECRET_NAME="hook/1" is not a Key Vault secret name (1-127 letters, digits and dashes)`},
		{name: "deployments secret name too long", set: map[string]string{"DEPLOYMENTS_TOKEN_SECRET_NAME": strings.Repeat("a", 128)},
			wantErr: fmt.Sprintf(`config: DEPLOYMENTS_TOKEN_SECRET_NAME=%q is not a Key Vault secret name (1-127 letters, digits and dashes)`, strings.Repeat("a", 128))},

		// ARM_ENDPOINT and RUNTIMELINK_SUBSCRIPTIONS
		{name: "arm endpoint sovereign", set: map[string]string{"ARM_ENDPOINT": "https://management.usgovcloudapi.net"},
			check: func(t *testing.T, c *Config) { eq(t, c.ARM.Endpoint, "https://management.usgovcloudapi.net/") }},
		{name: "cloud from the arm endpoint", set: map[string]string{"ARM_ENDPOINT": "https://management.usgovcloudapi.net"},
			check: func(t *testing.T, c *Config) { eq(t, c.Cloud.ACRSuffix, "azurecr.us") }},
		{name: "cloud defaults to the default arm endpoint's", check: func(t *testing.T, c *Config) { eq(t, c.Cloud.Name, "AzureCloud") }},
		{name: "cloud named for an arm endpoint of no known cloud",
			set:   map[string]string{"ARM_ENDPOINT": "http://127.0.0.1:9443", "RUNTIMELINK_CLOUD": "AzureChinaCloud"},
			check: func(t *testing.T, c *Config) { eq(t, c.Cloud.ACRSuffix, "azurecr.cn") }},
		{name: "cloud wins over the arm endpoint", set: map[string]string{"RUNTIMELINK_CLOUD": "azureusgovernment"},
			check: func(t *testing.T, c *Config) { eq(t, c.Cloud.PortalHost, "portal.azure.us") }},
		{name: "cloud required when the arm endpoint is no known cloud's", set: map[string]string{"ARM_ENDPOINT": "http://127.0.0.1:9443"},
			wantErr: `config: RUNTIMELINK_CLOUD is required: ARM_ENDPOINT is no known cloud's Resource Manager, so the cloud (AzureCloud, AzureUSGovernment or AzureChinaCloud) cannot be derived`},
		{name: "cloud unknown", set: map[string]string{"RUNTIMELINK_CLOUD": "AzureGermanCloud"},
			wantErr: `config: RUNTIMELINK_CLOUD="AzureGermanCloud" is not a known cloud (AzureCloud, AzureUSGovernment or AzureChinaCloud)`},
		{name: "production clusters by name", set: map[string]string{"RUNTIMELINK_PRODUCTION_CLUSTERS": "(^|-)prod(-|$)"},
			check: func(t *testing.T, c *Config) {
				want(t, c.ProductionClusters.Matches("AKS-PROD-EUS") && !c.ProductionClusters.Matches("aks-product-stg"), "rule "+c.ProductionClusters.String())
			}},
		{name: "production cluster tags", set: map[string]string{"RUNTIMELINK_PRODUCTION_CLUSTERS": "prod$", "RUNTIMELINK_PRODUCTION_CLUSTER_TAGS": "Env=Prod, environment=production"},
			check: func(t *testing.T, c *Config) {
				want(t, c.ProductionClusters.MatchesTags(map[string]string{"ENV": "prod"}) != "" && c.ProductionClusters.Matches("aks-prod") &&
					c.ProductionClusters.MatchesTags(map[string]string{"env": "production"}) == "", "rule "+c.ProductionClusters.TagsString())
			}},
		{name: "production cluster tags malformed", set: map[string]string{"RUNTIMELINK_PRODUCTION_CLUSTER_TAGS": "env"},
			wantErr: `config: RUNTIMELINK_PRODUCTION_CLUSTER_TAGS="env" has "env", which is not a tag key=value`},
		{name: "production clusters off by default", check: func(t *testing.T, c *Config) { want(t, !c.ProductionClusters.Matches("prod"), "rule matches") }},
		{name: "production clusters malformed", set: map[string]string{"RUNTIMELINK_PRODUCTION_CLUSTERS": "prod("},
			wantErr: "config: RUNTIMELINK_PRODUCTION_CLUSTERS=\"prod(\" is not a regular expression: error parsing regexp: missing closing ): `(?i)prod(`"},
		{name: "cluster findings repository", set: map[string]string{"RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY": "Octo-Org/Platform"},
			check: func(t *testing.T, c *Config) { eq(t, c.ClusterFindingsRepository, "octo-org/platform") }},
		{name: "cluster findings repository off by default", check: func(t *testing.T, c *Config) { eq(t, c.ClusterFindingsRepository, "") }},
		{name: "cluster findings repository malformed", set: map[string]string{"RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY": "platform"},
			wantErr: `config: RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY="platform" is not a repository (owner/name)`},
		{name: "cluster findings team", set: map[string]string{"RUNTIMELINK_CLUSTER_FINDINGS_TEAM": "@octo-org/platform-sre"},
			check: func(t *testing.T, c *Config) { eq(t, c.ClusterFindingsTeam, "octo-org/platform-sre") }},
		{name: "cluster findings team off by default", check: func(t *testing.T, c *Config) { eq(t, c.ClusterFindingsTeam, "") }},
		{name: "cluster findings team malformed", set: map[string]string{"RUNTIMELINK_CLUSTER_FINDINGS_TEAM": "platform-sre"},
			wantErr: `config: RUNTIMELINK_CLUSTER_FINDINGS_TEAM="platform-sre" is not a team (org/team-slug)`},
		{name: "cluster findings team with a space", set: map[string]string{"RUNTIMELINK_CLUSTER_FINDINGS_TEAM": "octo-org/platform sre"},
			wantErr: `config: RUNTIMELINK_CLUSTER_FINDINGS_TEAM="octo-org/platform sre" is not a team (org/team-slug)`},
		{name: "arm endpoint malformed", set: map[string]string{"ARM_ENDPOINT": "management.azure.com"},
			wantErr: `config: ARM_ENDPOINT="management.azure.com" is not an absolute https or http URL`},
		{name: "subscriptions parsed, lower-cased, deduplicated", set: map[string]string{"RUNTIMELINK_SUBSCRIPTIONS": " 0B1F6471-1BF0-4DDA-AEC3-CB9272F09590, ,0b1f6471-1bf0-4dda-aec3-cb9272f09590,9a7c3f00-0000-4000-8000-000000000001,"},
			check: func(t *testing.T, c *Config) {
				want(t, slices.Equal(c.ARM.Subscriptions, []string{"0b1f6471-1bf0-4dda-aec3-cb9272f09590", "9a7c3f00-0000-4000-8000-000000000001"}),
					fmt.Sprintf("subscriptions %v", c.ARM.Subscriptions))
			}},
		{name: "subscriptions malformed", set: map[string]string{"RUNTIMELINK_SUBSCRIPTIONS": "0b1f6471-1bf0-4dda-aec3-cb9272f09590,prod-sub"},
			wantErr: `config: RUNTIMELINK_SUBSCRIPTIONS holds "prod-sub", which is not a subscription id (a GUID)`},
		{name: "subscriptions bad hex", set: map[string]string{"RUNTIMELINK_SUBSCRIPTIONS": "0b1f6471-1bf0-4dda-aec3-cb9272f0959z"},
			wantErr: `config: RUNTIMELINK_SUBSCRIPTIONS holds "0b1f6471-1bf0-4dda-aec3-cb9272f0959z", which is not a subscription id (a GUID)`},

		// RUNTIMELINK_GOVERNANCE, RUNTIMELINK_DRY_RUN
		{name: "governance on locally", set: map[string]string{"RUNTIMELINK_GOVERNANCE": "true"},
			check: func(t *testing.T, c *Config) { want(t, c.Governance, "governance on") }},
		{name: "governance off in Azure", inAzure: true, set: map[string]string{"RUNTIMELINK_GOVERNANCE": "false"},
			check: func(t *testing.T, c *Config) { want(t, !c.Governance, "governance off") }},
		{name: "governance malformed", set: map[string]string{"RUNTIMELINK_GOVERNANCE": "sometimes"},
			wantErr: `config: RUNTIMELINK_GOVERNANCE="sometimes" is not a boolean (true or false)`},
		{name: "dry run on", set: map[string]string{"RUNTIMELINK_DRY_RUN": "True"},
			check: func(t *testing.T, c *Config) { want(t, c.DryRun, "dry run on") }},
		{name: "dry run malformed", set: map[string]string{"RUNTIMELINK_DRY_RUN": "on"},
			wantErr: `config: RUNTIMELINK_DRY_RUN="on" is not a boolean (true or false)`},

		// RUNTIMELINK_POLICY
		{name: "policy kept raw", set: map[string]string{"RUNTIMELINK_POLICY": `{"deployment":{"nowhere":0.4}}`},
			check: func(t *testing.T, c *Config) { eq(t, string(c.Policy), `{"deployment":{"nowhere":0.4}}`) }},
		{name: "policy malformed", set: map[string]string{"RUNTIMELINK_POLICY": `{"deployment":`},
			wantErr: "config: RUNTIMELINK_POLICY is not valid JSON: unexpected end of JSON input"},

		// RUNTIMELINK_ISSUE_MIN_PRIORITY
		{name: "min priority any case", set: map[string]string{"RUNTIMELINK_ISSUE_MIN_PRIORITY": "mEdium"},
			check: func(t *testing.T, c *Config) { eq(t, c.IssueMinPriority, model.PriorityMedium) }},
		{name: "min priority critical", set: map[string]string{"RUNTIMELINK_ISSUE_MIN_PRIORITY": "CRITICAL"},
			check: func(t *testing.T, c *Config) { eq(t, c.IssueMinPriority, model.PriorityCritical) }},
		{name: "min priority malformed", set: map[string]string{"RUNTIMELINK_ISSUE_MIN_PRIORITY": "urgent"},
			wantErr: `config: RUNTIMELINK_ISSUE_MIN_PRIORITY="urgent" is not a priority (Critical, High, Medium or Low)`},

		// RUNTIMELINK_REOPEN_GRACE, RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME
		{name: "reopen grace set", set: map[string]string{"RUNTIMELINK_REOPEN_GRACE": "36h"},
			check: func(t *testing.T, c *Config) { eq(t, c.ReopenGrace, 36*time.Hour) }},
		{name: "reopen grace zero allowed", set: map[string]string{"RUNTIMELINK_REOPEN_GRACE": "0s"},
			check: func(t *testing.T, c *Config) { eq(t, c.ReopenGrace, time.Duration(0)) }},
		{name: "reopen grace malformed", set: map[string]string{"RUNTIMELINK_REOPEN_GRACE": "abc"},
			wantErr: `config: RUNTIMELINK_REOPEN_GRACE="abc" is not a duration (such as 24h or 90m)`},
		{name: "reopen grace negative", set: map[string]string{"RUNTIMELINK_REOPEN_GRACE": "-1h"},
			wantErr: `config: RUNTIMELINK_REOPEN_GRACE="-1h" must not be negative`},
		{name: "redeliver schedule set", set: map[string]string{"RUNTIMELINK_REDELIVER_SCHEDULE": "0 */5 * * * *"},
			check: func(t *testing.T, c *Config) { eq(t, c.RedeliverSchedule, "0 */5 * * * *") }},
		{name: "redeliver schedule of five fields", set: map[string]string{"RUNTIMELINK_REDELIVER_SCHEDULE": "*/10 * * * *"},
			wantErr: `config: RUNTIMELINK_REDELIVER_SCHEDULE="*/10 * * * *" is not a timer schedule (6 NCRONTAB fields {second} {minute} {hour} {day} {month} {day-of-week}, e.g. 0 */10 * * * *)`},
		{name: "redeliver lookback set", set: map[string]string{"RUNTIMELINK_REDELIVER_LOOKBACK": "6h"},
			check: func(t *testing.T, c *Config) { eq(t, c.RedeliverLookback, 6*time.Hour) }},
		{name: "redeliver lookback beyond GitHub's 3 days", set: map[string]string{"RUNTIMELINK_REDELIVER_LOOKBACK": "96h"},
			wantErr: `config: RUNTIMELINK_REDELIVER_LOOKBACK="96h" must be at most 72h (GitHub redelivers only the last 3 days)`},
		{name: "max runtime set", set: map[string]string{"RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME": "4m30s"},
			check: func(t *testing.T, c *Config) { eq(t, c.ReprioritizeMaxRuntime, 4*time.Minute+30*time.Second) }},
		{name: "max runtime zero", set: map[string]string{"RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME": "0"},
			wantErr: `config: RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME="0" must be a positive duration`},
		{name: "max runtime malformed", set: map[string]string{"RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME": "8"},
			wantErr: `config: RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME="8" is not a duration (such as 24h or 90m)`},

		// EVENTHUB_NAME, EVENTHUB_CONSUMER_GROUP
		{name: "event hub set", set: map[string]string{"EVENTHUB_NAME": "export", "EVENTHUB_CONSUMER_GROUP": "rtl"},
			check: func(t *testing.T, c *Config) { eq(t, c.EventHub, EventHub{"export", "rtl"}) }},

		// FUNCTIONS_CUSTOMHANDLER_PORT
		{name: "port set", set: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "34567"},
			check: func(t *testing.T, c *Config) { eq(t, c.Port, 34567) }},
		{name: "port malformed", set: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "http"},
			wantErr: `config: FUNCTIONS_CUSTOMHANDLER_PORT="http" is not a TCP port (1-65535)`},
		{name: "port out of range", set: map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "70000"},
			wantErr: `config: FUNCTIONS_CUSTOMHANDLER_PORT="70000" is not a TCP port (1-65535)`},
	}

	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := minimal()
			if tc.inAzure {
				env = azure()
			}
			for k, v := range tc.set {
				covered[k] = true
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			c, err := load(env)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Load succeeded, want error %q", tc.wantErr)
				}
				if err.Error() != tc.wantErr {
					t.Fatalf("error\n got %s\nwant %s", err, tc.wantErr)
				}
				var se *SettingError
				if !errors.As(err, &se) || !strings.Contains(tc.wantErr, se.Name) {
					t.Errorf("error is not a *SettingError naming the setting: %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tc.check(t, c)
		})
	}
	// Every setting has at least one case of its own.
	for _, name := range Names() {
		if !covered[name] {
			t.Errorf("no case sets %s", name)
		}
	}
}

func want(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Errorf("want %s", what)
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestErrorsNeverHoldSecrets feeds every secret setting a malformed or
// conflicting value and checks the error is one line without the value.
func TestErrorsNeverHoldSecrets(t *testing.T) {
	const v = "leak-VALUE-5e"
	for _, s := range Settings() {
		if !s.Secret {
			continue
		}
		for _, env := range []map[string]string{minimal(), azure()} {
			env[s.Name] = v
			env["GITHUB_APP_ID"] = "1" // makes the private key setting parse
			_, err := load(env)
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error leaks the value or spans lines: %q", s.Name, err)
			}
		}
	}
}

// TestNamesAreWhatLoadReads records every name Load asks for.
func TestNamesAreWhatLoadReads(t *testing.T) {
	for _, base := range []map[string]string{minimal(), azure()} {
		var read []string
		_, err := Load(func(k string) string { read = append(read, k); return base[k] })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(read, Names()) {
			t.Errorf("Load read %v\nNames() = %v", read, Names())
		}
	}
	seen := map[string]bool{}
	for _, n := range Names() {
		if seen[n] {
			t.Errorf("%s listed twice", n)
		}
		seen[n] = true
	}
}

func TestLocalOnly(t *testing.T) {
	want := []string{"COSMOS_KEY", "COSMOS_EMULATOR", "GITHUB_APP_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET",
		"DEPLOYMENTS_TOKEN", "FUNCTIONS_CUSTOMHANDLER_PORT", "AzureWebJobsStorage", "WEBSITE_INSTANCE_ID", "GITHUB_COPILOT_TOKEN"}
	got := LocalOnly()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("LocalOnly() = %v, want %v", got, want)
	}
	// Every secret is local-only: in Azure secrets live in Key Vault.
	for _, s := range Settings() {
		if s.Secret && !s.LocalOnly {
			t.Errorf("%s is a secret that terraform would set", s.Name)
		}
	}
}

func TestPrintedConfigRedactsSecrets(t *testing.T) {
	pkcs1, _ := testKey()
	env := minimal()
	env["COSMOS_KEY"] = cosmosKey
	env["COSMOS_EMULATOR"] = "true"
	env["AzureWebJobsStorage"] = connString
	env["GITHUB_APP_ID"] = "42"
	env["GITHUB_APP_PRIVATE_KEY"] = pkcs1
	c, err := load(env)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("start", "config", c, "cosmos", c.Cosmos, "github", c.GitHub, "key", c.Cosmos.Key)
	asJSON, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{
		"String": c.String(),
		"%v":     fmt.Sprintf("%v", c),
		"%+v":    fmt.Sprintf("%+v", c),
		"%#v":    fmt.Sprintf("%#v", c),
		"%v *c":  fmt.Sprintf("%v", *c),
		"%+v *c": fmt.Sprintf("%+v", *c),
		"%#v *c": fmt.Sprintf("%#v", *c),
		"%s key": fmt.Sprintf("%s %q %x", c.Cosmos.Key, c.GitHub.WebhookSecret, c.DeploymentsToken),
		"slog":   logged.String(),
		"json":   string(asJSON),
	}
	secrets := []string{cosmosKey, connString, "acctkey-VALUE", webhookSecret, deploymentsToken, "PRIVATE KEY", pkcs1[40:80]}
	for form, out := range forms {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s prints secret %q:\n%s", form, s, out)
			}
		}
		if !strings.Contains(out, redacted) {
			t.Errorf("%s shows no redaction marker:\n%s", form, out)
		}
	}
	// Every setting appears by name in the log record and in String.
	for _, n := range Names() {
		if !strings.Contains(logged.String(), `"`+n+`"`) || !strings.Contains(c.String(), n+"=") {
			t.Errorf("%s missing from the printed config", n)
		}
	}
	if !strings.Contains(c.String(), `COSMOS_DATABASE="runtimelink"`) {
		t.Errorf("String does not show plain settings: %s", c)
	}
}

func TestIntegrations(t *testing.T) {
	pkcs1, _ := testKey()
	// local is the answer with nothing optional set; each case names the
	// integrations it changes, and the whole answer is compared.
	local := map[string]string{
		"github":          "off: GITHUB_APP_ID not set",
		"keyvault":        "off: KEYVAULT_URL not set, secrets come from local settings",
		"governance":      "off: RUNTIMELINK_GOVERNANCE not set, and it defaults to true in Azure only",
		"resourcegraph":   "off: RUNTIMELINK_SUBSCRIPTIONS not set",
		"copilot":         "off: RUNTIMELINK_COPILOT_ASSIGN not true",
		"campaigns":       "off: RUNTIMELINK_CAMPAIGNS not true",
		"clusterfindings": "off: findings about a cluster no repository builds are listed per cluster; fallback repository off (RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY not set): they get no issue; fallback team off (RUNTIMELINK_CLUSTER_FINDINGS_TEAM not set): their owners are unknown",
	}
	but := func(changes map[string]string) map[string]string {
		out := maps.Clone(local)
		maps.Copy(out, changes)
		return out
	}
	cases := []struct {
		name string
		env  map[string]string
		want map[string]string
	}{
		{"local, nothing optional", minimal(), local},
		{"azure, all on", with(azure(), "RUNTIMELINK_SUBSCRIPTIONS", "0b1f6471-1bf0-4dda-aec3-cb9272f09590"), but(map[string]string{
			"github": "on", "keyvault": "on", "governance": "on", "resourcegraph": "on: 1 subscription(s)",
		})},
		{"azure, governance without Resource Graph, copilot and campaigns on", with(with(with(azure(), "RUNTIMELINK_COPILOT_ASSIGN", "true"), "RUNTIMELINK_CAMPAIGNS", "true"), "GITHUB_APP_ID", "7"), but(map[string]string{
			"github":     "on",
			"keyvault":   "on",
			"governance": "on; security managers' assignments are read on each group sync only (RUNTIMELINK_SUBSCRIPTIONS not set, no nightly Resource Graph read)",
			"copilot":    "on: new Critical issues are assigned to Copilot coding agent with the user token in secret github-copilot-token",
			"campaigns":  "on",
		})},
		{"cluster findings to a fallback repository", with(minimal(), "RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY", "octo-org/platform"), but(map[string]string{
			"clusterfindings": "on: findings about a cluster no repository builds are listed per cluster; fallback repository on: they get issues in octo-org/platform; fallback team off (RUNTIMELINK_CLUSTER_FINDINGS_TEAM not set): their owners are unknown",
		})},
		{"cluster findings owned by a fallback team", with(minimal(), "RUNTIMELINK_CLUSTER_FINDINGS_TEAM", "octo-org/platform-sre"), but(map[string]string{
			"clusterfindings": "on: findings about a cluster no repository builds are listed per cluster; fallback repository off (RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY not set): they get no issue; fallback team on: @octo-org/platform-sre owns them",
		})},
		{"cluster findings to a fallback repository and team", with(with(minimal(), "RUNTIMELINK_CLUSTER_FINDINGS_TEAM", "octo-org/platform-sre"), "RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY", "octo-org/platform"), but(map[string]string{
			"clusterfindings": "on: findings about a cluster no repository builds are listed per cluster; fallback repository on: they get issues in octo-org/platform; fallback team on: @octo-org/platform-sre owns them and is mentioned in their issues",
		})},
		{"governance switched off", with(azure(), "RUNTIMELINK_GOVERNANCE", "false"), but(map[string]string{
			"github": "on", "keyvault": "on", "governance": "off: RUNTIMELINK_GOVERNANCE=false",
		})},
		{"local github, dry run", with(with(with(minimal(), "GITHUB_APP_ID", "7"), "GITHUB_APP_PRIVATE_KEY", pkcs1), "RUNTIMELINK_DRY_RUN", "true"), but(map[string]string{
			"github": "on (dry run: plans only, no writes)",
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Integrations(); !maps.Equal(got, tc.want) {
				t.Errorf("Integrations() = %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestRequiredSecrets(t *testing.T) {
	c, err := load(minimal())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RequiredSecrets(); !slices.Equal(got, []string{"github-webhook-secret", "deployments-token"}) {
		t.Errorf("without GitHub App: %v", got)
	}
}

func with(env map[string]string, k, v string) map[string]string {
	env[k] = v
	return env
}
