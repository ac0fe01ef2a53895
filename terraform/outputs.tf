locals {
  app_base_url = "https://${azurerm_linux_function_app.this.default_hostname}"

  # The repository's GitHub App manifest with this deployment's URLs filled in.
  github_app_manifest = merge(jsondecode(file("${path.module}/github-app-manifest.json")), {
    url = local.app_base_url
    # GitHub sends the browser here with ?code=... after the App is created;
    # the app's root page answers, and the code is read from the address bar.
    redirect_url = "${local.app_base_url}/"
    hook_attributes = {
      url    = "${local.app_base_url}/api/github/webhook"
      active = true
    }
  })
}

output "resource_group_name" {
  description = "Resource group holding everything."
  value       = local.resource_group_name
}

output "function_app_name" {
  description = "Name of the Function App."
  value       = azurerm_linux_function_app.this.name
}

output "function_app_id" {
  description = "Resource id of the Function App."
  value       = azurerm_linux_function_app.this.id
}

output "function_app_hostname" {
  description = "Default host name of the Function App (all URLs below are on it)."
  value       = azurerm_linux_function_app.this.default_hostname
}

output "function_app_principal_id" {
  description = "Object id of the Function App's system-assigned identity (grant it more, e.g. on other subscriptions)."
  value       = azurerm_linux_function_app.this.identity[0].principal_id
}

output "webhook_url" {
  description = "GitHub App webhook URL (github_webhook)."
  value       = "${local.app_base_url}/api/github/webhook"
}

output "deployments_base_url" {
  description = "Base URL of GitHub's artifact-metadata API as runtimelink serves it (deployment records, cluster jobs, storage records, listings): deployment-tracker's BASE_URL."
  value       = "${local.app_base_url}/api"
}

output "api_base_url" {
  description = "Base URL of the read API and report page (function key required)."
  value       = "${local.app_base_url}/api"
}

output "key_vault_name" {
  description = "Key Vault holding the GitHub App key, webhook secret and deployments token."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "Key Vault URI (KEYVAULT_URL)."
  value       = azurerm_key_vault.this.vault_uri
}

output "key_vault_secret_names" {
  description = "Secrets to set in the vault (README)."
  value = {
    github_app_private_key = var.github_app_private_key_secret_name
    github_webhook_secret  = var.github_webhook_secret_secret_name
    deployments_token      = var.deployments_token_secret_name
    github_copilot_token   = var.github_copilot_token_secret_name
  }
}

output "eventhub_id" {
  description = "Resource id of the defender-export Event Hub (target of Defender continuous export)."
  value       = azurerm_eventhub.defender_export.id
}

output "eventhub_namespace_name" {
  description = "Event Hub namespace."
  value       = azurerm_eventhub_namespace.this.name
}

output "defender_export_connection_string" {
  description = "Send-only connection string of the defender-export hub, for modules/defender-export in other subscriptions."
  value       = azurerm_eventhub_authorization_rule.defender_send.primary_connection_string
  sensitive   = true
}

output "cosmos_endpoint" {
  description = "Cosmos DB endpoint (COSMOS_ENDPOINT)."
  value       = azurerm_cosmosdb_account.this.endpoint
}

output "storage_account_name" {
  description = "Storage account of the Functions runtime and the sync queues."
  value       = azurerm_storage_account.this.name
}

output "application_insights_name" {
  description = "Application Insights resource (Failures, Logs, Workbooks)."
  value       = azurerm_application_insights.this.name
}

output "workbook_id" {
  description = "Resource id of the runtimelink workbook."
  value       = azurerm_application_insights_workbook.this.id
}

output "github_app_manifest" {
  description = "GitHub App manifest (github-app-manifest.json) with this deployment's webhook URL, as JSON."
  value       = jsonencode(local.github_app_manifest)
}
