// Package config loads runtimelink's settings (app settings in Azure,
// environment variables locally) once at start, validates them, and stops
// start-up with one line naming the first setting that is missing or wrong.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// Version is the build's version, set at link time:
//
//	go build -ldflags "-X github.com/runtimelink/runtimelink/shared/config.Version=v1.2.3"
var Version = "dev"

// Config is every setting runtimelink reads, parsed and validated.
type Config struct {
	// InAzure is true when the Functions platform runs the app
	// (WEBSITE_INSTANCE_ID is set); it changes defaults and refuses
	// local-only shortcuts such as COSMOS_EMULATOR.
	InAzure    bool
	InstanceID string

	Cosmos  Cosmos
	Storage Storage
	GitHub  GitHub

	// KeyVaultURL is the vault secrets are read from; "" means the plain
	// local settings (GitHub.AppPrivateKey, GitHub.WebhookSecret,
	// DeploymentsToken) hold them.
	KeyVaultURL string
	// Secrets names each secret. Callers always ask a keyvault.Provider for
	// these names, whether the provider reads Key Vault or local settings.
	Secrets SecretNames

	// DeploymentsToken is the bearer token of the deployments endpoint, for
	// local runs (a Key Vault secret in Azure).
	DeploymentsToken Secret

	ARM ARM
	// Cloud is the Azure cloud (RUNTIMELINK_CLOUD, else ARM_ENDPOINT's):
	// registry hosts derived from resource ids and portal links use it.
	Cloud mapping.Cloud
	// Governance turns on writing Defender governance assignments.
	Governance bool
	// GovernanceSet says RUNTIMELINK_GOVERNANCE was set (not defaulted).
	GovernanceSet bool
	// GovernanceDueDays is the time to fix, in days, per priority.
	GovernanceDueDays map[model.Priority]int
	// GovernanceOwners maps a GitHub login or "org/team" (lower case) to
	// the e-mail Defender knows the owner by.
	GovernanceOwners map[string]string
	// GovernanceDefaultOwner is the owner e-mail when no owner is mapped.
	GovernanceDefaultOwner string
	// GovernanceGracePeriod is the isGracePeriod of the assignments.
	GovernanceGracePeriod bool
	// CopilotAssign assigns new Critical issues to Copilot coding agent.
	CopilotAssign bool
	// CopilotToken is the user token Copilot assignment needs, for local
	// runs (a Key Vault secret in Azure).
	CopilotToken Secret
	// Campaigns keeps one security campaign per org of the runtime-critical
	// code scanning alerts.
	Campaigns bool
	// CampaignLength is how far ends_at is rolled forward at each update.
	CampaignLength time.Duration
	// CampaignManager is the login set as the campaign's manager ("" none).
	CampaignManager string
	// DryRun plans every write to GitHub and Defender but makes none.
	DryRun bool
	// Policy is the raw RUNTIMELINK_POLICY JSON (nil when unset); the
	// scoring package parses and validates its content.
	Policy json.RawMessage
	// IssueMinPriority is the lowest priority that gets a GitHub issue.
	IssueMinPriority model.Priority
	// ProductionClusters names production clusters by name, besides those
	// running a production workload (RUNTIMELINK_PRODUCTION_CLUSTERS).
	ProductionClusters mapping.ClusterRule
	// ClusterFindingsRepository ("owner/name", "" = off) files the findings
	// about a cluster no repository builds, so the issue threshold applies
	// to them (RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY).
	ClusterFindingsRepository string
	// ClusterFindingsTeam ("org/team-slug", "" = off) owns those findings:
	// their issues mention it, the report names it as their owner
	// (RUNTIMELINK_CLUSTER_FINDINGS_TEAM).
	ClusterFindingsTeam string
	// ReopenGrace is how long a finding may stay unhealthy on a running
	// workload after a fix was claimed before its issue is reopened.
	ReopenGrace time.Duration
	// ReprioritizeMaxRuntime caps the nightly run; it stops before this.
	ReprioritizeMaxRuntime time.Duration
	// RedeliverSchedule is the redeliver timer's schedule (the host reads
	// it from function.json's %RUNTIMELINK_REDELIVER_SCHEDULE%); checked
	// here so a typo fails at start, naming the setting.
	RedeliverSchedule string
	// RedeliverLookback bounds how far back a redeliver run reads the
	// App's webhook delivery log.
	RedeliverLookback time.Duration
	EventHub          EventHub
	// Port is where the custom handler listens (FUNCTIONS_CUSTOMHANDLER_PORT).
	Port int
}

// Cosmos is how to reach the state store.
type Cosmos struct {
	Endpoint string
	Database string
	// Key is the account key, for the local emulator; empty in Azure, where
	// the managed identity is used.
	Key Secret
	// Emulator makes the client trust the emulator's self-signed certificate.
	Emulator bool
}

// Storage is how to reach the storage account holding the sync queue: a
// connection string (local, Azurite) or a queue service URL used with the
// managed identity.
type Storage struct {
	ConnectionString Secret
	// QueueServiceURL is AzureWebJobsStorage__queueServiceUri, or the public
	// cloud URL derived from AzureWebJobsStorage__accountName.
	QueueServiceURL string
	AccountName     string
}

// UsesIdentity reports whether the queue is reached with the managed
// identity rather than a connection string. Like the Functions host, a
// connection string wins when both are set, so the app and the host's queue
// trigger always use the same account.
func (s Storage) UsesIdentity() bool { return !s.ConnectionString.IsSet() }

// GitHub is the GitHub App runtimelink acts as.
type GitHub struct {
	// APIURL is absolute and ends with "/".
	APIURL string
	// AppID is 0 when the GitHub integration is off.
	AppID int64
	// AppSlug is GITHUB_APP_SLUG: the App's slug when set, which then
	// names its bot ("<slug>[bot]") without asking GitHub (GET /app).
	AppSlug string
	// AppPrivateKey and WebhookSecret are the local-run values; in Azure
	// they live in Key Vault under Config.Secrets.
	AppPrivateKey Secret
	WebhookSecret Secret
}

// Enabled reports whether the GitHub App is configured (GITHUB_APP_ID set).
func (g GitHub) Enabled() bool { return g.AppID != 0 }

// SecretNames are the names secrets are read by (Key Vault secret names).
type SecretNames struct {
	GitHubAppPrivateKey string
	GitHubWebhookSecret string
	DeploymentsToken    string
	// CopilotToken is the user token for Copilot coding agent assignment.
	CopilotToken string
}

// ARM is how to reach Azure Resource Manager and Resource Graph.
type ARM struct {
	// Endpoint is absolute and ends with "/".
	Endpoint string
	// Subscriptions scope Resource Graph queries (lower-case GUIDs, no
	// duplicates); none means the Resource Graph integration is off.
	Subscriptions []string
}

// EventHub names the Defender export hub the defender_export trigger reads.
type EventHub struct {
	Name          string
	ConsumerGroup string
}

// SettingError names the setting that stopped start-up and why. Error() is
// one line; a secret's value is never part of it.
type SettingError struct {
	Name string
	// Value is the offending value, shown quoted; empty for secrets, for
	// long values and when the setting is missing.
	Value   string
	Problem string
}

func (e *SettingError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("config: %s=%q %s", e.Name, e.Value, e.Problem)
	}
	return fmt.Sprintf("config: %s %s", e.Name, e.Problem)
}

// Load reads every setting through getenv (os.Getenv in production, a map
// in tests), applies defaults and validates them. It returns the first
// problem found as a *SettingError.
func Load(getenv func(string) string) (*Config, error) {
	c := &Config{}
	for _, s := range table {
		raw := getenv(s.name)
		v := strings.TrimSpace(raw)
		if s.secret && v != "" {
			// A secret is used byte for byte (a webhook secret may end in a
			// space); only an all-blank one counts as unset.
			v = raw
		}
		if v == "" {
			v = s.def
		}
		if err := s.load(c, v); err != nil {
			se := &SettingError{Name: s.name, Problem: err.Error()}
			var q quietError
			if v != "" && !s.secret && !s.quiet && !errors.As(err, &q) {
				se.Value = v
			}
			return nil, se
		}
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// check validates what depends on more than one setting.
func (c *Config) check() error {
	if c.Cosmos.Emulator && c.InAzure {
		return &SettingError{Name: "COSMOS_EMULATOR", Value: "true", Problem: "is refused in Azure (WEBSITE_INSTANCE_ID is set): " +
			"it makes the Cosmos DB client accept the local emulator's self-signed certificate, which must never happen against a real account; remove the setting"}
	}
	if c.Cosmos.Emulator && !c.Cosmos.Key.IsSet() {
		return &SettingError{Name: "COSMOS_KEY", Problem: "is required when COSMOS_EMULATOR=true (the emulator takes its well-known key, not an identity)"}
	}
	if !c.Storage.ConnectionString.IsSet() && c.Storage.QueueServiceURL == "" {
		return &SettingError{Name: "AzureWebJobsStorage", Problem: "is required for the sync queue " +
			"(or AzureWebJobsStorage__queueServiceUri / AzureWebJobsStorage__accountName with the managed identity)"}
	}
	if c.GitHub.AppPrivateKey.IsSet() && !c.GitHub.Enabled() {
		return &SettingError{Name: "GITHUB_APP_ID", Problem: "is required when GITHUB_APP_PRIVATE_KEY is set"}
	}
	local := []struct {
		name string
		set  bool
		need bool
		why  string
	}{
		{"GITHUB_WEBHOOK_SECRET", c.GitHub.WebhookSecret.IsSet(), true, "webhooks are never accepted unsigned"},
		{"DEPLOYMENTS_TOKEN", c.DeploymentsToken.IsSet(), true, "the deployments endpoint is never open"},
		{"GITHUB_APP_PRIVATE_KEY", c.GitHub.AppPrivateKey.IsSet(), c.GitHub.Enabled(), "GITHUB_APP_ID is set"},
		{"GITHUB_COPILOT_TOKEN", c.CopilotToken.IsSet(), c.GitHub.Enabled() && c.CopilotAssign, "RUNTIMELINK_COPILOT_ASSIGN=true needs a user token"},
	}
	for _, l := range local {
		switch {
		case c.KeyVaultURL != "" && l.set:
			return &SettingError{Name: l.name, Problem: "is set together with KEYVAULT_URL; secrets come from Key Vault, remove the plain setting"}
		case c.KeyVaultURL == "" && l.need && !l.set:
			return &SettingError{Name: l.name, Problem: "is required when KEYVAULT_URL is not set (" + l.why + ")"}
		}
	}
	return nil
}

// RequiredSecrets names the secrets the app cannot run without. Start-up
// reads each once (keyvault.Check) so an empty or missing Key Vault secret
// stops it, as an empty local setting does.
func (c *Config) RequiredSecrets() []string {
	names := []string{c.Secrets.GitHubWebhookSecret, c.Secrets.DeploymentsToken}
	if c.GitHub.Enabled() {
		names = append(names, c.Secrets.GitHubAppPrivateKey)
	}
	if c.GitHub.Enabled() && c.CopilotAssign {
		names = append(names, c.Secrets.CopilotToken)
	}
	return names
}

// gitHubOptIn is the Integrations value of an opt-in integration that
// needs the GitHub App: on (with detail) when setting is true and the App
// is configured.
func (c *Config) gitHubOptIn(on bool, setting, detail string) string {
	switch {
	case on && !c.GitHub.Enabled():
		return "off: " + setting + "=true but GITHUB_APP_ID not set"
	case on:
		return "on" + detail
	default:
		return "off: " + setting + " not true"
	}
}

// Integrations says, for the health answer, which optional integration is
// on and why each off one is off. Every value starts with "on" or "off".
func (c *Config) Integrations() map[string]string {
	dry := ""
	if c.DryRun {
		dry = " (dry run: plans only, no writes)"
	}
	m := map[string]string{}
	if c.GitHub.Enabled() {
		m["github"] = "on" + dry
	} else {
		m["github"] = "off: GITHUB_APP_ID not set"
	}
	if c.KeyVaultURL != "" {
		m["keyvault"] = "on"
	} else {
		m["keyvault"] = "off: KEYVAULT_URL not set, secrets come from local settings"
	}
	switch {
	case c.Governance && len(c.ARM.Subscriptions) == 0:
		m["governance"] = "on" + dry + "; security managers' assignments are read on each group sync only (RUNTIMELINK_SUBSCRIPTIONS not set, no nightly Resource Graph read)"
	case c.Governance:
		m["governance"] = "on" + dry
	case c.GovernanceSet:
		m["governance"] = "off: RUNTIMELINK_GOVERNANCE=false"
	default:
		m["governance"] = "off: RUNTIMELINK_GOVERNANCE not set, and it defaults to true in Azure only"
	}
	m["copilot"] = c.gitHubOptIn(c.CopilotAssign, "RUNTIMELINK_COPILOT_ASSIGN",
		dry+": new Critical issues are assigned to Copilot coding agent with the user token in secret "+c.Secrets.CopilotToken)
	m["campaigns"] = c.gitHubOptIn(c.Campaigns, "RUNTIMELINK_CAMPAIGNS", dry)
	m["clusterfindings"] = c.ClusterFindingsFallback()
	if n := len(c.ARM.Subscriptions); n > 0 {
		m["resourcegraph"] = fmt.Sprintf("on: %d subscription(s)", n)
	} else {
		m["resourcegraph"] = "off: RUNTIMELINK_SUBSCRIPTIONS not set"
	}
	return m
}

// String prints every setting on one line, secrets redacted.
func (c *Config) String() string {
	var b strings.Builder
	b.WriteString("config{")
	for i, s := range table {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", s.name, s.show(c))
	}
	b.WriteByte('}')
	return b.String()
}

// GoString keeps %#v from printing secrets.
func (c *Config) GoString() string { return c.String() }

// LogValue logs every setting by name, secrets redacted.
func (c *Config) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, len(table)+1)
	attrs = append(attrs, slog.String("version", Version))
	for _, s := range table {
		attrs = append(attrs, slog.String(s.name, s.show(c)))
	}
	return slog.GroupValue(attrs...)
}

// Setting describes one setting, for documentation and deployment checks.
type Setting struct {
	Name    string
	Default string // "" when there is none or it depends on other settings (see Doc)
	Doc     string
	Secret  bool
	// LocalOnly settings must not be set by terraform: local-run values
	// replaced in Azure by the managed identity or Key Vault, and values the
	// platform provides itself.
	LocalOnly bool
	// Group is shared by alternatives of which one suffices (the storage
	// account's queueServiceUri or accountName); "" for the rest.
	Group string
}

// Settings describes every setting Load reads, in the order it reads them.
func Settings() []Setting {
	out := make([]Setting, len(table))
	for i, s := range table {
		out[i] = Setting{Name: s.name, Default: s.def, Doc: s.doc, Secret: s.secret, LocalOnly: s.localOnly, Group: s.group}
	}
	return out
}

// Names lists every setting Load reads.
func Names() []string {
	out := make([]string, len(table))
	for i, s := range table {
		out[i] = s.name
	}
	return out
}

// LocalOnly lists the settings terraform must not set (see Setting.LocalOnly).
func LocalOnly() []string {
	var out []string
	for _, s := range table {
		if s.localOnly {
			out = append(out, s.name)
		}
	}
	return out
}

// ClusterFindingsFallback says what happens to findings about a cluster no
// repository builds (kube-system, the dashboard): the fallback repository
// that gets their issues and the fallback team that owns them, each on or
// off, for the health answer and the report.
func (c *Config) ClusterFindingsFallback() string {
	repo := "repository off (RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY not set): they get no issue"
	if c.ClusterFindingsRepository != "" {
		repo = "repository on: they get issues in " + c.ClusterFindingsRepository
	}
	team := "team off (RUNTIMELINK_CLUSTER_FINDINGS_TEAM not set): their owners are unknown"
	if c.ClusterFindingsTeam != "" {
		team = "team on: @" + c.ClusterFindingsTeam + " owns them"
		if c.ClusterFindingsRepository != "" {
			team += " and is mentioned in their issues"
		}
	}
	state := "off"
	if c.ClusterFindingsRepository != "" || c.ClusterFindingsTeam != "" {
		state = "on"
	}
	return state + ": findings about a cluster no repository builds are listed per cluster; fallback " + repo + "; fallback " + team
}
