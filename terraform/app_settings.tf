# Every setting the handler reads in Azure, in one place. A Go test
# (settings_test.go) checks that each name shared/config reads is set here,
# except the local-only ones (keys, the emulator switch, the port).
#
# Secrets are not app settings at all: the handler reads them from Key Vault
# by name (KEYVAULT_URL + *_SECRET_NAME) with its managed identity and picks up
# a rotated value without a restart. Connections use the identity too
# (AzureWebJobsStorage__*, EventHubConnection__fullyQualifiedNamespace,
# COSMOS_ENDPOINT without a key).
locals {
  # The cloud the app runs in, as the handler reads it (RUNTIMELINK_CLOUD,
  # else the cloud of ARM_ENDPOINT): Terraform needs it for the hosts it
  # spells itself, such as the Event Hub namespace's, which differ per cloud.
  cloud_of_arm_host = {
    "management.azure.com"         = "AzureCloud"
    "management.usgovcloudapi.net" = "AzureUSGovernment"
    "management.chinacloudapi.cn"  = "AzureChinaCloud"
  }
  servicebus_suffix_of_cloud = {
    AzureCloud        = "servicebus.windows.net"
    AzureUSGovernment = "servicebus.usgovcloudapi.net"
    AzureChinaCloud   = "servicebus.chinacloudapi.cn"
  }
  cloud             = var.cloud != "" ? var.cloud : lookup(local.cloud_of_arm_host, lower(regex("^(?:[a-zA-Z]+://)?([^/:]+)", var.arm_endpoint)[0]), "")
  servicebus_suffix = lookup(local.servicebus_suffix_of_cloud, local.cloud, "")

  app_settings = merge(var.extra_app_settings, {
    # Code: run from the package blob, fetched with the system identity.
    WEBSITE_RUN_FROM_PACKAGE                     = azurerm_storage_blob.package.url
    WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID = "SystemAssigned"

    # Telemetry with Entra ID auth (Application Insights local auth is off).
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD"

    # Storage queues (sync) with the identity; the host's own storage is
    # AzureWebJobsStorage__accountName, set by the provider (see below).
    AzureWebJobsStorage__queueServiceUri = azurerm_storage_account.this.primary_queue_endpoint

    # Cosmos DB with the identity (local auth is disabled on the account).
    COSMOS_ENDPOINT = azurerm_cosmosdb_account.this.endpoint
    COSMOS_DATABASE = azurerm_cosmosdb_sql_database.this.name

    # GitHub App.
    GITHUB_API_URL  = var.github_api_url
    GITHUB_APP_ID   = var.github_app_id
    GITHUB_APP_SLUG = var.github_app_slug

    # Secrets, by name, in the vault.
    KEYVAULT_URL                       = azurerm_key_vault.this.vault_uri
    GITHUB_APP_PRIVATE_KEY_SECRET_NAME = var.github_app_private_key_secret_name
    GITHUB_WEBHOOK_SECRET_SECRET_NAME  = var.github_webhook_secret_secret_name
    DEPLOYMENTS_TOKEN_SECRET_NAME      = var.deployments_token_secret_name
    GITHUB_COPILOT_TOKEN_SECRET_NAME   = var.github_copilot_token_secret_name

    # Azure Resource Manager: Resource Graph scope and governance assignments.
    ARM_ENDPOINT              = var.arm_endpoint
    RUNTIMELINK_SUBSCRIPTIONS = join(",", local.subscription_ids)
    RUNTIMELINK_GOVERNANCE    = tostring(var.governance_enabled)
    RUNTIMELINK_CLOUD         = var.cloud

    RUNTIMELINK_GOVERNANCE_DUE_DAYS      = var.governance_due_days
    RUNTIMELINK_GOVERNANCE_OWNERS        = jsonencode(var.governance_owners)
    RUNTIMELINK_GOVERNANCE_DEFAULT_OWNER = var.governance_default_owner
    RUNTIMELINK_GOVERNANCE_GRACE_PERIOD  = tostring(var.governance_grace_period)

    # Copilot coding agent and security campaigns (off by default).
    RUNTIMELINK_COPILOT_ASSIGN   = tostring(var.copilot_assign)
    RUNTIMELINK_CAMPAIGNS        = tostring(var.campaigns_enabled)
    RUNTIMELINK_CAMPAIGN_LENGTH  = var.campaign_length
    RUNTIMELINK_CAMPAIGN_MANAGER = var.campaign_manager

    # Behaviour.
    RUNTIMELINK_DRY_RUN            = tostring(var.dry_run)
    RUNTIMELINK_POLICY             = var.scoring_policy
    RUNTIMELINK_ISSUE_MIN_PRIORITY = var.issue_min_priority
    RUNTIMELINK_REOPEN_GRACE       = var.reopen_grace

    # Findings about clusters: which clusters are production by name or tag, and the
    # repository that gets the issues of those no repository builds and the
    # team that owns them.
    RUNTIMELINK_PRODUCTION_CLUSTERS         = var.production_clusters
    RUNTIMELINK_PRODUCTION_CLUSTER_TAGS     = var.production_cluster_tags
    RUNTIMELINK_CLUSTER_FINDINGS_REPOSITORY = var.cluster_findings_repository
    RUNTIMELINK_CLUSTER_FINDINGS_TEAM       = var.cluster_findings_team

    RUNTIMELINK_REPRIORITIZE_MAX_RUNTIME = var.reprioritize_max_runtime

    # The redeliver timer: its schedule (read by the host from
    # function.json) and how far back it reads the webhook delivery log.
    RUNTIMELINK_REDELIVER_SCHEDULE = var.redeliver_schedule
    RUNTIMELINK_REDELIVER_LOOKBACK = var.redeliver_lookback

    # Defender continuous export (Event Hub trigger of defender_export).
    EVENTHUB_NAME                               = azurerm_eventhub.defender_export.name
    EVENTHUB_CONSUMER_GROUP                     = azurerm_eventhub_consumer_group.runtimelink.name
    EventHubConnection__fullyQualifiedNamespace = "${azurerm_eventhub_namespace.this.name}.${local.servicebus_suffix}"
  })

  # Settings the azurerm provider writes itself from dedicated arguments of
  # azurerm_linux_function_app. Listing them in app_settings too would make
  # every plan show a diff, so they live there: setting => argument.
  provider_managed_settings = {
    FUNCTIONS_WORKER_RUNTIME              = "use_custom_runtime"                     # = custom
    APPLICATIONINSIGHTS_CONNECTION_STRING = "application_insights_connection_string" # workspace-based App Insights
    AzureWebJobsStorage__accountName      = "storage_uses_managed_identity"          # with storage_account_name
  }
}
