package config

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/mapping"
	"github.com/runtimelink/runtimelink/shared/model"
)

// setting is one row of the table Load walks. Names, LocalOnly, Settings,
// String and LogValue are all derived from the same rows, so the list of
// settings cannot drift from what Load reads.
type setting struct {
	name      string
	def       string // applied when the setting is unset or blank
	doc       string
	secret    bool // value is never printed, not even in an error
	quiet     bool // value is not echoed in errors (long values)
	localOnly bool // terraform must not set it
	group     string
	// load parses v (default already applied; "" when unset without
	// default) into c. Its error is the problem, phrased to follow the name.
	load func(c *Config, v string) error
	// show is the value as logged; secrets show as redacted.
	show func(c *Config) string
}

// appSlug is what GitHub makes of an App's name for its URL and its bot's
// login: lower-case letters, digits and hyphens.
var appSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// timerSchedule is the shape of a 6-field NCRONTAB expression; the host
// (and the dev host) parse the values.
var timerSchedule = regexp.MustCompile(`^[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){5}$`)

// teamRE is an org login and a team slug, as GitHub spells a team mention.
var teamRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// errRequired is the problem of a required setting that is unset.
var errRequired = errors.New("is required")

// quietError is a problem whose value must not be echoed (a URL carrying
// credentials, say).
type quietError struct{ error }

// The order matters where a default depends on an earlier row
// (WEBSITE_INSTANCE_ID first) and decides which error is reported first.
var table = []setting{
	{
		name: "WEBSITE_INSTANCE_ID", localOnly: true,
		doc:  "set by the Functions platform in Azure; its presence means the app runs in Azure",
		load: func(c *Config, v string) error { c.InstanceID, c.InAzure = v, v != ""; return nil },
		show: func(c *Config) string { return c.InstanceID },
	},
	{
		name: "COSMOS_ENDPOINT",
		doc:  "Cosmos DB account endpoint (NoSQL API)",
		load: func(c *Config, v string) (err error) {
			if v == "" {
				return errRequired
			}
			c.Cosmos.Endpoint, err = absoluteURL(v, "https", "http")
			return err
		},
		show: func(c *Config) string { return c.Cosmos.Endpoint },
	},
	{
		name: "COSMOS_DATABASE", def: "runtimelink",
		doc: "Cosmos DB database name",
		load: func(c *Config, v string) error {
			// Cosmos DB resource id rules.
			if len(v) > 255 || strings.ContainsAny(v, `/\?#`) || strings.HasSuffix(v, " ") {
				return errors.New(`is not a Cosmos DB database name (at most 255 characters, none of / \ ? #)`)
			}
			c.Cosmos.Database = v
			return nil
		},
		show: func(c *Config) string { return c.Cosmos.Database },
	},
	{
		name: "COSMOS_KEY", secret: true, localOnly: true,
		doc:  "Cosmos DB account key, for the local emulator only; in Azure the managed identity is used",
		load: func(c *Config, v string) error { c.Cosmos.Key = Secret(v); return nil },
		show: func(c *Config) string { return c.Cosmos.Key.String() },
	},
	{
		name: "COSMOS_EMULATOR", def: "false", localOnly: true,
		doc: "true to trust the local emulator's self-signed certificate; refused in Azure",
		load: func(c *Config, v string) (err error) {
			c.Cosmos.Emulator, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.Cosmos.Emulator) },
	},
	{
		name: "AzureWebJobsStorage", secret: true, localOnly: true,
		doc: "storage connection string (local runs, Azurite: UseDevelopmentStorage=true); holds the sync queue",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if !isConnectionString(v) {
				return errors.New("is not a storage connection string (key=value pairs such as UseDevelopmentStorage=true " +
					"or DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...)")
			}
			c.Storage.ConnectionString = Secret(v)
			return nil
		},
		show: func(c *Config) string { return c.Storage.ConnectionString.String() },
	},
	{
		name: "AzureWebJobsStorage__queueServiceUri", group: "AzureWebJobsStorage identity",
		doc: "queue service URL of the storage account, used with the managed identity",
		load: func(c *Config, v string) (err error) {
			if v == "" {
				return nil
			}
			c.Storage.QueueServiceURL, err = absoluteURL(v, "https", "http")
			return err
		},
		show: func(c *Config) string { return c.Storage.QueueServiceURL },
	},
	{
		name: "AzureWebJobsStorage__accountName", group: "AzureWebJobsStorage identity",
		doc: "storage account name, used with the managed identity when queueServiceUri is not set (public cloud)",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if !isAccountName(v) {
				return errors.New("is not a storage account name (3-24 lower-case letters and digits)")
			}
			c.Storage.AccountName = v
			if c.Storage.QueueServiceURL == "" {
				c.Storage.QueueServiceURL = "https://" + v + ".queue.core.windows.net/"
			}
			return nil
		},
		show: func(c *Config) string { return c.Storage.AccountName },
	},
	{
		name: "GITHUB_API_URL", def: "https://api.github.com/",
		doc: "GitHub REST API base URL (set for GitHub Enterprise Server and in tests)",
		load: func(c *Config, v string) (err error) {
			c.GitHub.APIURL, err = absoluteURL(v, "https", "http")
			return err
		},
		show: func(c *Config) string { return c.GitHub.APIURL },
	},
	{
		name: "GITHUB_APP_ID",
		doc:  "GitHub App id; unset turns the GitHub integration off (reported in health)",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return errors.New("is not a GitHub App id (a positive integer)")
			}
			c.GitHub.AppID = id
			return nil
		},
		show: func(c *Config) string {
			if c.GitHub.AppID == 0 {
				return ""
			}
			return strconv.FormatInt(c.GitHub.AppID, 10)
		},
	},
	{
		name: "GITHUB_APP_SLUG",
		doc:  "GitHub App slug; its bot `<slug>[bot]` is whose issue events are runtimelink's own. Unset: read from GitHub (`GET /app`)",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			if !appSlug.MatchString(v) {
				return errors.New("is not a GitHub App slug (lower-case letters, digits and hyphens, as in https://github.com/apps/<slug>; without [bot])")
			}
			c.GitHub.AppSlug = v
			return nil
		},
		show: func(c *Config) string { return c.GitHub.AppSlug },
	},
	{
		name: "GITHUB_APP_PRIVATE_KEY", secret: true, localOnly: true,
		doc: "GitHub App private key (PEM), for local runs; in Azure a Key Vault secret",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			key, err := privateKeyPEM(v)
			if err != nil {
				return err
			}
			c.GitHub.AppPrivateKey = Secret(key)
			return nil
		},
		show: func(c *Config) string { return c.GitHub.AppPrivateKey.String() },
	},
	{
		name: "GITHUB_WEBHOOK_SECRET", secret: true, localOnly: true,
		doc:  "GitHub App webhook secret, for local runs; in Azure a Key Vault secret",
		load: func(c *Config, v string) error { c.GitHub.WebhookSecret = Secret(v); return nil },
		show: func(c *Config) string { return c.GitHub.WebhookSecret.String() },
	},
	{
		name: "DEPLOYMENTS_TOKEN", secret: true, localOnly: true,
		doc:  "bearer token of the deployments endpoint, for local runs; in Azure a Key Vault secret",
		load: func(c *Config, v string) error { c.DeploymentsToken = Secret(v); return nil },
		show: func(c *Config) string { return c.DeploymentsToken.String() },
	},
	{
		name: "KEYVAULT_URL",
		doc:  "Key Vault holding the secrets (read with the managed identity); unset means local settings hold them",
		load: func(c *Config, v string) (err error) {
			if v == "" {
				return nil
			}
			c.KeyVaultURL, err = absoluteURL(v, "https")
			return err
		},
		show: func(c *Config) string { return c.KeyVaultURL },
	},
	secretName("GITHUB_APP_PRIVATE_KEY_SECRET_NAME", "github-app-private-key", "GitHub App private key",
		func(c *Config) *string { return &c.Secrets.GitHubAppPrivateKey }),
	secretName("GITHUB_WEBHOOK_SECRET_SECRET_NAME", "github-webhook-secret", "GitHub App webhook secret",
		func(c *Config) *string { return &c.Secrets.GitHubWebhookSecret }),
	secretName("DEPLOYMENTS_TOKEN_SECRET_NAME", "deployments-token", "deployments endpoint bearer token",
		func(c *Config) *string { return &c.Secrets.DeploymentsToken }),
	secretName("GITHUB_COPILOT_TOKEN_SECRET_NAME", "github-copilot-token", "GitHub user token that assigns issues to Copilot coding agent",
		func(c *Config) *string { return &c.Secrets.CopilotToken }),
	{
		name: "ARM_ENDPOINT", def: "https://management.azure.com/",
		doc: "Azure Resource Manager endpoint (set for sovereign clouds and tests)",
		load: func(c *Config, v string) (err error) {
			c.ARM.Endpoint, err = absoluteURL(v, "https", "http")
			return err
		},
		show: func(c *Config) string { return c.ARM.Endpoint },
	},
	{
		name: "RUNTIMELINK_CLOUD",
		doc: "Azure cloud: AzureCloud, AzureUSGovernment or AzureChinaCloud (registry hosts, portal links); " +
			"unset: the cloud of ARM_ENDPOINT, required when ARM_ENDPOINT is no known cloud's",
		load: func(c *Config, v string) error {
			if v == "" {
				cl, ok := mapping.CloudOfARMEndpoint(c.ARM.Endpoint)
				if !ok {
					return errors.New("is required: ARM_ENDPOINT is no known cloud's Resource Manager, so the cloud " +
						"(AzureCloud, AzureUSGovernment or AzureChinaCloud) cannot be derived")
				}
				c.Cloud = cl
				return nil
			}
			cl, ok := mapping.ParseCloud(v)
			if !ok {
				return errors.New("is not a known cloud (AzureCloud, AzureUSGovernment or AzureChinaCloud)")
			}
			c.Cloud = cl
			return nil
		},
		show: func(c *Config) string { return c.Cloud.Name },
	},
	{
		name: "RUNTIMELINK_SUBSCRIPTIONS",
		doc:  "comma-separated subscription ids that scope Resource Graph; unset turns Resource Graph off",
		load: func(c *Config, v string) error {
			for part := range strings.SplitSeq(v, ",") {
				id := strings.ToLower(strings.TrimSpace(part))
				if id == "" {
					continue
				}
				if !isGUID(id) {
					return quietError{fmt.Errorf("holds %q, which is not a subscription id (a GUID)", strings.TrimSpace(part))}
				}
				if !slices.Contains(c.ARM.Subscriptions, id) {
					c.ARM.Subscriptions = append(c.ARM.Subscriptions, id)
				}
			}
			return nil
		},
		show: func(c *Config) string { return strings.Join(c.ARM.Subscriptions, ",") },
	},
	{
		name: "RUNTIMELINK_GOVERNANCE",
		doc:  "write Defender governance assignments; default true in Azure, false elsewhere",
		load: func(c *Config, v string) (err error) {
			if v == "" {
				c.Governance = c.InAzure
				return nil
			}
			c.GovernanceSet = true
			c.Governance, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.Governance) },
	},
	{
		name: "RUNTIMELINK_GOVERNANCE_DUE_DAYS", def: "Critical=7,High=30,Medium=90,Low=180",
		doc: "days to fix per priority, the due date of governance assignments (priorities left out keep their default)",
		load: func(c *Config, v string) error {
			c.GovernanceDueDays = map[model.Priority]int{model.PriorityCritical: 7, model.PriorityHigh: 30, model.PriorityMedium: 90, model.PriorityLow: 180}
			for part := range strings.SplitSeq(v, ",") {
				if strings.TrimSpace(part) == "" {
					continue
				}
				k, n, ok := strings.Cut(part, "=")
				p, okp := model.ParsePriority(strings.TrimSpace(k))
				days, err := strconv.Atoi(strings.TrimSpace(n))
				if !ok || !okp || err != nil || days < 1 || days > 3650 {
					return quietError{fmt.Errorf("holds %q, which is not Priority=days (days 1-3650), e.g. Critical=7", strings.TrimSpace(part))}
				}
				c.GovernanceDueDays[p] = days
			}
			return nil
		},
		show: func(c *Config) string {
			var parts []string
			for _, p := range []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow} {
				parts = append(parts, fmt.Sprintf("%s=%d", p, c.GovernanceDueDays[p]))
			}
			return strings.Join(parts, ",")
		},
	},
	{
		name: "RUNTIMELINK_GOVERNANCE_OWNERS", quiet: true,
		doc: `JSON object mapping a GitHub login or org/team to the e-mail Defender names as owner, e.g. {"octo-org/payments":"payments@example.com"}`,
		load: func(c *Config, v string) error {
			c.GovernanceOwners = map[string]string{}
			if v == "" {
				return nil
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return fmt.Errorf("is not a JSON object of strings: %v", err)
			}
			for k, e := range m {
				key := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(k), "@"))
				if key == "" || !isEmail(e) {
					return fmt.Errorf("maps %q to %q: want a login or org/team and an e-mail address", k, e)
				}
				c.GovernanceOwners[key] = e
			}
			return nil
		},
		show: func(c *Config) string {
			if len(c.GovernanceOwners) == 0 {
				return ""
			}
			b, _ := json.Marshal(c.GovernanceOwners)
			return string(b)
		},
	},
	{
		name: "RUNTIMELINK_GOVERNANCE_DEFAULT_OWNER",
		doc:  "owner e-mail of a governance assignment when no CODEOWNERS owner is mapped; unset leaves it without owner",
		load: func(c *Config, v string) error {
			if v != "" && !isEmail(v) {
				return errors.New("is not an e-mail address")
			}
			c.GovernanceDefaultOwner = v
			return nil
		},
		show: func(c *Config) string { return c.GovernanceDefaultOwner },
	},
	{
		name: "RUNTIMELINK_GOVERNANCE_GRACE_PERIOD", def: "true",
		doc: "isGracePeriod of governance assignments: the secure score is not affected before the due date",
		load: func(c *Config, v string) (err error) {
			c.GovernanceGracePeriod, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.GovernanceGracePeriod) },
	},
	{
		name: "RUNTIMELINK_COPILOT_ASSIGN", def: "false",
		doc: "assign new Critical issues to Copilot coding agent (needs the user token secret)",
		load: func(c *Config, v string) (err error) {
			c.CopilotAssign, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.CopilotAssign) },
	},
	{
		name: "GITHUB_COPILOT_TOKEN", secret: true, localOnly: true,
		doc:  "GitHub user token (fine-grained PAT) that assigns issues to Copilot, for local runs; in Azure a Key Vault secret",
		load: func(c *Config, v string) error { c.CopilotToken = Secret(v); return nil },
		show: func(c *Config) string { return c.CopilotToken.String() },
	},
	{
		name: "RUNTIMELINK_CAMPAIGNS", def: "false",
		doc: "keep one security campaign per org of the code scanning alerts that run in production with a runtime risk",
		load: func(c *Config, v string) (err error) {
			c.Campaigns, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.Campaigns) },
	},
	{
		name: "RUNTIMELINK_CAMPAIGN_LENGTH", def: "720h",
		doc: "how far a campaign's ends_at is rolled forward at each update",
		load: func(c *Config, v string) (err error) {
			c.CampaignLength, err = parseDuration(v, true)
			if err == nil && c.CampaignLength < 24*time.Hour {
				return errors.New("must be at least 24h")
			}
			return err
		},
		show: func(c *Config) string { return c.CampaignLength.String() },
	},
	{
		name: "RUNTIMELINK_CAMPAIGN_MANAGER",
		doc:  "GitHub login set as the campaign manager; unset sets none",
		load: func(c *Config, v string) error {
			if v != "" && !isLogin(v) {
				return errors.New("is not a GitHub login")
			}
			c.CampaignManager = v
			return nil
		},
		show: func(c *Config) string { return c.CampaignManager },
	},
	{
		name: "RUNTIMELINK_DRY_RUN", def: "false",
		doc: "plan only: no writes to GitHub or Defender",
		load: func(c *Config, v string) (err error) {
			c.DryRun, err = parseBool(v)
			return err
		},
		show: func(c *Config) string { return strconv.FormatBool(c.DryRun) },
	},
	{
		name: "RUNTIMELINK_POLICY", quiet: true,
		doc: "scoring policy overrides (JSON); parsed and validated by the scoring package",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			var doc json.RawMessage
			if err := json.Unmarshal([]byte(v), &doc); err != nil {
				return fmt.Errorf("is not valid JSON: %v", err)
			}
			c.Policy = json.RawMessage(v)
			return nil
		},
		show: func(c *Config) string { return string(c.Policy) },
	},
	{
		name: "RUNTIMELINK_ISSUE_MIN_PRIORITY", def: "High",
		doc: "lowest priority that gets a GitHub issue: Critical, High, Medium or Low",
		load: func(c *Config, v string) error {
			for _, p := range []model.Priority{model.PriorityCritical, model.PriorityHigh, model.PriorityMedium, model.PriorityLow} {
				if strings.EqualFold(v, string(p)) {
					c.IssueMinPriority = p
					return nil
				}
			}
			return errors.New("is not a priority (Critical, High, Medium or Low)")
		},
		show: func(c *Config) string { return string(c.IssueMinPriority) },
	},
	{
		name: "RUNTIMELINK_PRODUCTION_CLUSTERS",
		doc: "regular expression (case-insensitive) naming production clusters besides those running a production " +
			"workload, e.g. (^|-)prod(-|$); unset: none",
		load: func(c *Config, v string) (err error) {
			c.ProductionClusters, err = mapping.NewClusterRule(v)
			if err != nil {
				return fmt.Errorf("is not a regular expression: %v", err)
			}
			return nil
		},
		show: func(c *Config) string { return c.ProductionClusters.String() },
	},
	{
		// After RUNTIMELINK_PRODUCTION_CLUSTERS: it adds to that rule.
		name: "RUNTIMELINK_PRODUCTION_CLUSTER_TAGS",
		doc: "comma-separated ARM tags key=value (case-insensitive) naming production clusters besides those running a production " +
			"workload, e.g. env=prod,environment=production; read nightly from Resource Graph (RUNTIMELINK_SUBSCRIPTIONS); unset: none",
		load: func(c *Config, v string) (err error) {
			c.ProductionClusters, err = c.ProductionClusters.WithTags(v)
			return err
		},
		show: func(c *Config) string { return c.ProductionClusters.TagsString() },
	},
	{
		name: "RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY",
		doc: "owner/name of the repository that gets the issues of findings about a cluster no repository builds " +
			"(kube-system, the dashboard); unset: off, such findings are listed per cluster with owners unknown",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			r := mapping.NormalizeRepository(v, "")
			if r == "" || !strings.Contains(v, "/") {
				return errors.New("is not a repository (owner/name)")
			}
			c.ClusterFindingsRepository = r
			return nil
		},
		show: func(c *Config) string { return c.ClusterFindingsRepository },
	},
	{
		name: "RUNTIMELINK_CLUSTER_FINDINGS_TEAM",
		doc: "org/team-slug of the team that owns findings about a cluster no repository builds: mentioned in their issues " +
			"and named as their owner in the report; unset: off, their owners are unknown",
		load: func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			t := strings.TrimPrefix(strings.TrimSpace(v), "@")
			if !teamRE.MatchString(t) {
				return errors.New("is not a team (org/team-slug)")
			}
			c.ClusterFindingsTeam = t
			return nil
		},
		show: func(c *Config) string { return c.ClusterFindingsTeam },
	},
	{
		name: "RUNTIMELINK_REOPEN_GRACE", def: "24h",
		doc: "how long a claimed fix may stay unhealthy on a running workload before its issue is reopened",
		load: func(c *Config, v string) (err error) {
			c.ReopenGrace, err = parseDuration(v, false)
			return err
		},
		show: func(c *Config) string { return c.ReopenGrace.String() },
	},
	{
		name: "RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME", def: "8m",
		doc: "the nightly reprioritize run stops before this",
		load: func(c *Config, v string) (err error) {
			c.ReprioritizeMaxRuntime, err = parseDuration(v, true)
			return err
		},
		show: func(c *Config) string { return c.ReprioritizeMaxRuntime.String() },
	},
	{
		name: "RUNTIMELINK_REDELIVER_SCHEDULE", def: "0 */10 * * * *",
		doc: "when the redeliver function reads the App's webhook delivery log and redelivers what was lost " +
			"(NCRONTAB with seconds; every 5 to 15 minutes is right)",
		load: func(c *Config, v string) error {
			if !timerSchedule.MatchString(v) {
				return errors.New("is not a timer schedule (6 NCRONTAB fields {second} {minute} {hour} {day} {month} {day-of-week}, e.g. 0 */10 * * * *)")
			}
			c.RedeliverSchedule = v
			return nil
		},
		show: func(c *Config) string { return c.RedeliverSchedule },
	},
	{
		name: "RUNTIMELINK_REDELIVER_LOOKBACK", def: "24h",
		doc: "how far back a redeliver run reads the delivery log when it has no watermark or an older one (at most 72h: GitHub redelivers only the last 3 days)",
		load: func(c *Config, v string) (err error) {
			c.RedeliverLookback, err = parseDuration(v, true)
			if err == nil && c.RedeliverLookback > 72*time.Hour {
				return errors.New("must be at most 72h (GitHub redelivers only the last 3 days)")
			}
			return err
		},
		show: func(c *Config) string { return c.RedeliverLookback.String() },
	},
	{
		name: "EVENTHUB_NAME", def: "defender-export",
		doc:  "Event Hub that receives Defender continuous export",
		load: func(c *Config, v string) error { c.EventHub.Name = v; return nil },
		show: func(c *Config) string { return c.EventHub.Name },
	},
	{
		name: "EVENTHUB_CONSUMER_GROUP", def: "runtimelink",
		doc:  "consumer group the defender_export trigger reads with",
		load: func(c *Config, v string) error { c.EventHub.ConsumerGroup = v; return nil },
		show: func(c *Config) string { return c.EventHub.ConsumerGroup },
	},
	{
		name: "FUNCTIONS_CUSTOMHANDLER_PORT", def: "8080", localOnly: true,
		doc: "port the custom handler listens on; set by the Functions host",
		load: func(c *Config, v string) error {
			p, err := strconv.Atoi(v)
			if err != nil || p < 1 || p > 65535 {
				return errors.New("is not a TCP port (1-65535)")
			}
			c.Port = p
			return nil
		},
		show: func(c *Config) string { return strconv.Itoa(c.Port) },
	},
}

// secretName is the row of a Key Vault secret-name setting.
func secretName(name, def, what string, field func(*Config) *string) setting {
	return setting{
		name: name, def: def,
		doc: "Key Vault secret name of the " + what,
		load: func(c *Config, v string) error {
			if !isSecretName(v) {
				return errors.New("is not a Key Vault secret name (1-127 letters, digits and dashes)")
			}
			*field(c) = v
			return nil
		},
		show: func(c *Config) string { return *field(c) },
	}
}

// absoluteURL checks v is an absolute URL with one of schemes and returns it
// with a trailing slash, so callers can resolve paths against it.
func absoluteURL(v string, schemes ...string) (string, error) {
	want := "an absolute " + strings.Join(schemes, " or ") + " URL"
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return "", errors.New("is not " + want)
	}
	if u.User != nil {
		return "", quietError{errors.New("must not carry credentials")}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("is not " + want + " without query or fragment")
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	return u.String(), nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("is not a boolean (true or false)")
}

func parseDuration(v string, positive bool) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("is not a duration (such as 24h or 90m)")
	}
	if d < 0 || (positive && d == 0) {
		if positive {
			return 0, errors.New("must be a positive duration")
		}
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// privateKeyPEM accepts an RSA private key in PEM (PKCS #1 or #8), also with
// its newlines written as `\n` as env files often do, and returns the PEM.
func privateKeyPEM(v string) (string, error) {
	block, _ := pem.Decode([]byte(v))
	if block == nil && strings.Contains(v, `\n`) {
		v = strings.ReplaceAll(v, `\n`, "\n")
		block, _ = pem.Decode([]byte(v))
	}
	if block == nil {
		return "", errors.New("is not a PEM private key")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return v, nil
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return v, nil
	}
	return "", errors.New("holds a PEM block that is not an RSA private key (PKCS #1 or #8)")
}

// isConnectionString accepts key=value pairs separated by semicolons that
// name an account, an emulator or a queue endpoint.
func isConnectionString(v string) bool {
	keys := map[string]bool{}
	for part := range strings.SplitSeq(v, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, _, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return false
		}
		keys[strings.ToLower(strings.TrimSpace(k))] = true
	}
	return keys["usedevelopmentstorage"] || keys["accountname"] || keys["queueendpoint"]
}

func isAccountName(v string) bool {
	if len(v) < 3 || len(v) > 24 {
		return false
	}
	for _, r := range v {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func isSecretName(v string) bool {
	if len(v) < 1 || len(v) > 127 {
		return false
	}
	for _, r := range v {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// isGUID accepts the 8-4-4-4-12 hex form subscription ids take.
func isGUID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, r := range v {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
				return false
			}
		}
	}
	return true
}

// isEmail accepts what Defender takes as an owner: local@domain.
func isEmail(v string) bool {
	local, domain, ok := strings.Cut(v, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(v, " \t<>,;\"")
}

func isLogin(v string) bool {
	if len(v) < 1 || len(v) > 39 || strings.HasPrefix(v, "-") {
		return false
	}
	for _, r := range v {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}
