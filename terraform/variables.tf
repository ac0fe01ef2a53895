# ---------------------------------------------------------------------------
# Placement and naming
# ---------------------------------------------------------------------------

variable "name" {
  description = "Short name used in every resource name (2-12 lower-case letters or digits, starting with a letter)."
  type        = string
  default     = "rtlink"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,11}$", var.name))
    error_message = "name must be 2-12 lower-case letters or digits and start with a letter (it ends up in storage account and Key Vault names)."
  }
}

variable "name_suffix" {
  description = "Suffix that makes the globally unique names unique. Empty: derived from the subscription, resource group and name (stable across applies)."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9]{0,6}$", var.name_suffix))
    error_message = "name_suffix must be at most 6 lower-case letters or digits."
  }
}

variable "location" {
  description = "Azure region for every resource (for an existing resource group too)."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group to deploy into."
  type        = string
}

variable "create_resource_group" {
  description = "Create the resource group (true) or use an existing one (false)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# Function App
# ---------------------------------------------------------------------------

variable "plan_sku" {
  description = "Functions plan: Y1 (Consumption, default) or EP1/EP2/EP3 (Elastic Premium)."
  type        = string
  default     = "Y1"

  validation {
    condition     = contains(["Y1", "EP1", "EP2", "EP3"], var.plan_sku)
    error_message = "plan_sku must be Y1, EP1, EP2 or EP3 (Flex Consumption is not supported yet, see README)."
  }
}

variable "package_path" {
  description = "Path of the Function App package built by `make package`. Null: dist/functionapp.zip at the repository root."
  type        = string
  default     = null
}

variable "max_scale_out" {
  description = "Most instances the app scales out to; bounds concurrent writes to GitHub (secondary rate limits)."
  type        = number
  default     = 10

  validation {
    condition     = var.max_scale_out >= 1 && var.max_scale_out <= 200
    error_message = "max_scale_out must be between 1 and 200."
  }
}

variable "wait_for_functions" {
  description = "After deploying the package, wait (with the Azure CLI) until the Functions host lists the functions that Event Grid subscribes to. Turn off only when container_registries is empty or the az CLI is unavailable."
  type        = bool
  default     = true
}

variable "extra_app_settings" {
  description = "Additional app settings. Settings the module manages win over these."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# What runtimelink does (mirrors the handler's configuration, see README)
# ---------------------------------------------------------------------------

variable "github_api_url" {
  description = "GitHub REST API base URL (set for GitHub Enterprise Server / data residency)."
  type        = string
  default     = "https://api.github.com"
}

variable "github_app_slug" {
  description = "Slug of the GitHub App; its bot <slug>[bot] is whose issue events are runtimelink's own. Empty: read from GitHub (GET /app) at start."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[a-z0-9-]*$", var.github_app_slug))
    error_message = "github_app_slug must be the App's slug: lower-case letters, digits and hyphens."
  }
}

variable "github_app_id" {
  description = "ID of the GitHub App created from the manifest. Empty until the App exists: the GitHub integration then reports as off."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[0-9]*$", var.github_app_id))
    error_message = "github_app_id must be the numeric App ID (or empty)."
  }
}

variable "github_app_private_key_secret_name" {
  description = "Key Vault secret holding the GitHub App private key (PEM)."
  type        = string
  default     = "github-app-private-key"
}

variable "github_webhook_secret_secret_name" {
  description = "Key Vault secret holding the GitHub App webhook secret."
  type        = string
  default     = "github-webhook-secret"
}

variable "deployments_token_secret_name" {
  description = "Key Vault secret holding the bearer token CD pipelines present to the deployments endpoint."
  type        = string
  default     = "deployments-token"
}

variable "arm_endpoint" {
  description = "Azure Resource Manager endpoint the app calls (Resource Graph, governance assignments)."
  type        = string
  default     = "https://management.azure.com"
}

variable "cloud" {
  description = "Azure cloud the app runs in: AzureCloud, AzureUSGovernment or AzureChinaCloud (registry hosts, portal links, the Event Hub host). Empty: derived from arm_endpoint; required when that is no known cloud's."
  type        = string
  default     = ""

  validation {
    condition     = contains(["", "AzureCloud", "AzureUSGovernment", "AzureChinaCloud"], var.cloud)
    error_message = "cloud must be AzureCloud, AzureUSGovernment, AzureChinaCloud or empty."
  }
}

variable "subscription_ids" {
  description = "Subscriptions runtimelink reads (Resource Graph, Defender) and writes governance assignments in. Empty: the subscription Terraform deploys into."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.subscription_ids : can(regex("^[0-9a-fA-F-]{36}$", s))])
    error_message = "subscription_ids must be subscription GUIDs."
  }
}

variable "governance_enabled" {
  description = "Write Defender governance assignments (ticket link and status) for findings with an issue."
  type        = bool
  default     = true
}

variable "governance_due_days" {
  description = "Days to fix per priority: the due date of the governance assignments runtimelink writes (RUNTIMELINK_GOVERNANCE_DUE_DAYS)."
  type        = string
  default     = "Critical=7,High=30,Medium=90,Low=180"
}

variable "governance_owners" {
  description = "GitHub login or org/team (as in CODEOWNERS, without @) to the e-mail Defender names as owner of a governance assignment."
  type        = map(string)
  default     = {}
}

variable "governance_default_owner" {
  description = "Owner e-mail of a governance assignment when no CODEOWNERS owner is in governance_owners. Empty: no owner."
  type        = string
  default     = ""
}

variable "governance_grace_period" {
  description = "isGracePeriod of the governance assignments: the secure score is not affected before the due date."
  type        = bool
  default     = true
}

variable "copilot_assign" {
  description = "Assign new Critical issues to Copilot coding agent. Needs a GitHub user token (fine-grained PAT) in the Key Vault secret github_copilot_token_secret_name."
  type        = bool
  default     = false
}

variable "github_copilot_token_secret_name" {
  description = "Key Vault secret holding the GitHub user token that assigns issues to Copilot coding agent (GitHub refuses installation tokens for it)."
  type        = string
  default     = "github-copilot-token"
}

variable "campaigns_enabled" {
  description = "Keep one security campaign per org of the code scanning alerts that run in production with a runtime risk factor."
  type        = bool
  default     = false
}

variable "campaign_length" {
  description = "How far a campaign's end date is rolled forward at each update (Go duration, at least 24h)."
  type        = string
  default     = "720h"
}

variable "campaign_manager" {
  description = "GitHub login set as manager of the security campaigns. Empty: none."
  type        = string
  default     = ""
}

variable "dry_run" {
  description = "Plan only: compute and log what would change, write nothing to GitHub or Defender."
  type        = bool
  default     = false
}

variable "scoring_policy" {
  description = "Scoring policy overrides as JSON (RUNTIMELINK_POLICY). Empty: the default policy."
  type        = string
  default     = ""

  validation {
    condition     = var.scoring_policy == "" || can(jsondecode(var.scoring_policy))
    error_message = "scoring_policy must be empty or a JSON document."
  }
}

variable "issue_min_priority" {
  description = "Lowest priority that gets a GitHub issue."
  type        = string
  default     = "High"

  validation {
    condition     = contains(["Critical", "High", "Medium", "Low"], var.issue_min_priority)
    error_message = "issue_min_priority must be Critical, High, Medium or Low."
  }
}

variable "reopen_grace" {
  description = "How long after a fix is claimed a finding may stay unhealthy on a running workload before its issue is reopened (Go duration)."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.reopen_grace))
    error_message = "reopen_grace must be a Go duration such as 24h or 90m."
  }
}

variable "reprioritize_max_runtime" {
  description = "The nightly reprioritize run stops (and resumes next time) before this Go duration; keep it under host.json's functionTimeout (10 minutes at most on Consumption)."
  type        = string
  default     = "8m"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.reprioritize_max_runtime))
    error_message = "reprioritize_max_runtime must be a Go duration such as 8m."
  }
}

variable "redeliver_schedule" {
  description = "When the redeliver function reads the App's webhook delivery log and asks GitHub to redeliver what runtimelink never recorded (6-field NCRONTAB; every 5 to 15 minutes)."
  type        = string
  default     = "0 */10 * * * *"

  validation {
    condition     = can(regex("^[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){5}$", var.redeliver_schedule))
    error_message = "redeliver_schedule must be a 6-field NCRONTAB expression such as 0 */10 * * * *."
  }
}

variable "redeliver_lookback" {
  description = "How far back a redeliver run reads the webhook delivery log when it has no watermark or an older one (Go duration, at most 72h: GitHub redelivers only the last 3 days)."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$", var.redeliver_lookback))
    error_message = "redeliver_lookback must be a Go duration such as 24h."
  }
}

# ---------------------------------------------------------------------------
# Data and messaging
# ---------------------------------------------------------------------------

variable "storage_replication_type" {
  description = "Replication of the Functions storage account."
  type        = string
  default     = "LRS"
}

variable "cosmos_serverless" {
  description = "Cosmos DB serverless (true, default) or provisioned autoscale throughput on the database (false)."
  type        = bool
  default     = true
}

variable "cosmos_max_throughput" {
  description = "Autoscale maximum RU/s of the database when cosmos_serverless is false."
  type        = number
  default     = 1000
}

variable "deliveries_ttl_seconds" {
  description = "How long webhook delivery ids are kept for redelivery dedupe (default TTL of the deliveries container)."
  type        = number
  default     = 604800

  validation {
    condition     = var.deliveries_ttl_seconds >= 604800
    error_message = "deliveries_ttl_seconds must be at least 7 days (604800): GitHub lets you redeliver for that long."
  }
}

variable "eventhub_partition_count" {
  description = "Partitions of the defender-export hub."
  type        = number
  default     = 2
}

variable "eventhub_message_retention_days" {
  description = "Days the defender-export hub keeps events (Standard tier: 1-7)."
  type        = number
  default     = 3
}

# ---------------------------------------------------------------------------
# Defender for Cloud continuous export and ACR events
# ---------------------------------------------------------------------------

variable "defender_export_enabled" {
  description = "Create the continuous export (assessments, sub-assessments, alerts; streaming and weekly snapshots) of the deployment subscription to the Event Hub. Other subscriptions: see README (modules/defender-export)."
  type        = bool
  default     = true
}

variable "defender_recommendation_severities" {
  description = "Recommendation (assessment) severities exported."
  type        = list(string)
  default     = ["High", "Medium", "Low"]
}

variable "defender_alert_severities" {
  description = "Security alert severities exported."
  type        = list(string)
  default     = ["high", "medium", "low"]
}

variable "container_registries" {
  description = "Azure Container Registries whose pushes and deletes runtimelink follows, keyed by a short name: { id = registry resource id, location = its region }. Each gets an Event Grid system topic (a registry can have only one)."
  type = map(object({
    id       = string
    location = string
  }))
  default = {}

  validation {
    condition     = alltrue([for r in values(var.container_registries) : can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.ContainerRegistry/registries/[^/]+$", r.id))])
    error_message = "container_registries ids must be Azure Container Registry resource ids."
  }
}

# ---------------------------------------------------------------------------
# Access and monitoring
# ---------------------------------------------------------------------------

variable "grant_deployer_access" {
  description = "Give the identity running Terraform Key Vault Secrets Officer on the vault (to set the GitHub secrets, see README) and write access to the package container (to upload the package)."
  type        = bool
  default     = true
}

variable "alert_email_addresses" {
  description = "Addresses the action group e-mails when an alert fires."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Log Analytics retention."
  type        = number
  default     = 30
}

variable "function_failure_threshold" {
  description = "Failed invocations of one function in 15 minutes that raise the failure alert (retries make a few expected)."
  type        = number
  default     = 5
}

variable "sync_lag_threshold_seconds" {
  description = "Sync lag (oldest desired change not yet written to GitHub, logged by the app as `sync lag`) that raises the alert."
  type        = number
  default     = 3600
}

variable "production_clusters" {
  description = "Regular expression (case-insensitive) naming production clusters besides those running a production workload, e.g. (^|-)prod(-|$). Empty: none."
  type        = string
  default     = ""
}

variable "production_cluster_tags" {
  description = "Comma-separated ARM tags key=value (case-insensitive) naming production clusters besides those running a production workload, e.g. env=prod,environment=production; read nightly from Resource Graph. Empty: none."
  type        = string
  default     = ""

  validation {
    condition     = alltrue([for p in split(",", var.production_cluster_tags) : trimspace(p) == "" || can(regex("^[^=]+=[^=]+$", trimspace(p)))])
    error_message = "production_cluster_tags must be comma-separated key=value pairs or empty."
  }
}

variable "cluster_findings_repository" {
  description = "owner/name of the repository that gets the issues of findings about a cluster no repository builds (kube-system, the dashboard). Empty: off, such findings are listed per cluster with owners unknown."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_findings_repository == "" || can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.cluster_findings_repository))
    error_message = "cluster_findings_repository must be owner/name or empty."
  }
}

variable "cluster_findings_team" {
  description = "org/team-slug of the team that owns findings about a cluster no repository builds: mentioned in their issues and named as their owner in the report. Empty: off, their owners are unknown."
  type        = string
  default     = ""

  validation {
    condition     = var.cluster_findings_team == "" || can(regex("^@?[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$", var.cluster_findings_team))
    error_message = "cluster_findings_team must be org/team-slug or empty."
  }
}
