# Who may do what. The app's system identity gets data-plane roles on exactly
# the resources it uses, and a custom role (narrower than Security Reader +
# Security Admin) on each subscription it reads.

locals {
  app_principal_id = azurerm_linux_function_app.this.identity[0].principal_id
}

# --- Function App identity ---------------------------------------------------

# Host storage (leases, timers, Event Hub checkpoints) needs Blob Data Owner;
# it also fetches the package with it.
resource "azurerm_role_assignment" "app_storage_blob" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Blob Data Owner"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# The sync queue: the queue trigger reads and deletes, inbound functions enqueue.
resource "azurerm_role_assignment" "app_storage_queue" {
  scope                = azurerm_storage_account.this.id
  role_definition_name = "Storage Queue Data Contributor"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "app_key_vault" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "app_eventhub" {
  scope                = azurerm_eventhub.defender_export.id
  role_definition_name = "Azure Event Hubs Data Receiver"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# Telemetry with Entra ID auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource "azurerm_role_assignment" "app_insights" {
  scope                = azurerm_application_insights.this.id
  role_definition_name = "Monitoring Metrics Publisher"
  principal_id         = local.app_principal_id
  principal_type       = "ServicePrincipal"
}

# Resource Graph reads (attack paths, assessments, clusters) and governance
# assignment writes. Resource Graph only returns what the caller may read, so
# read on Microsoft.Security plus the container resources is what it needs.
resource "azurerm_role_definition" "runtimelink" {
  name        = "runtimelink (${local.base})"
  scope       = "/subscriptions/${data.azurerm_client_config.current.subscription_id}"
  description = "runtimelink: read Defender for Cloud data and container resources, write governance assignments (ticket links) on assessments."

  permissions {
    actions = [
      "Microsoft.Security/*/read",
      "Microsoft.Security/assessments/governanceAssignments/write",
      "Microsoft.ContainerService/managedClusters/read",
      "Microsoft.ContainerRegistry/registries/read",
      "Microsoft.Resources/subscriptions/read",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
    ]
    not_actions = []
  }

  assignable_scopes = [for s in local.subscription_ids : "/subscriptions/${s}"]
}

resource "azurerm_role_assignment" "app_subscriptions" {
  for_each = toset(local.subscription_ids)

  scope              = "/subscriptions/${each.value}"
  role_definition_id = "/subscriptions/${each.value}/providers/Microsoft.Authorization/roleDefinitions/${azurerm_role_definition.runtimelink.role_definition_id}"
  principal_id       = local.app_principal_id
  principal_type     = "ServicePrincipal"
}

# --- The identity running Terraform (optional) --------------------------------

# Upload the package (shared keys are disabled, so this is an Entra ID write).
resource "azurerm_role_assignment" "deployer_packages" {
  count = var.grant_deployer_access ? 1 : 0

  scope                = azurerm_storage_container.packages.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = data.azurerm_client_config.current.object_id
}

# Set the GitHub secrets with `az keyvault secret set` (README).
resource "azurerm_role_assignment" "deployer_key_vault" {
  count = var.grant_deployer_access ? 1 : 0

  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = data.azurerm_client_config.current.object_id
}
