# Storage for the Functions runtime (leases, timers, Event Hub checkpoints),
# the sync queue and the code package. Identity only: no account keys.

# Public network access stays on: Consumption-plan apps have no VNet
# integration or fixed outbound addresses; with shared keys disabled every
# request needs an Entra ID token and an RBAC role.
resource "azurerm_storage_account" "this" {
  name                = local.names.storage_account
  resource_group_name = local.resource_group_name
  location            = var.location

  account_kind             = "StorageV2"
  account_tier             = "Standard"
  account_replication_type = var.storage_replication_type

  min_tls_version                  = "TLS1_2"
  https_traffic_only_enabled       = true
  allow_nested_items_to_be_public  = false
  shared_access_key_enabled        = false
  default_to_oauth_authentication  = true
  cross_tenant_replication_enabled = false

  blob_properties {
    delete_retention_policy {
      days = 7
    }
    container_delete_retention_policy {
      days = 7
    }
  }

  tags = local.tags
}

# Work queue of the sync function: one message per finding group whose desired
# GitHub / Defender state changed. The host moves a message that failed
# maxDequeueCount times to sync-poison; the poison alert watches that.
resource "azurerm_storage_queue" "sync" {
  name               = "sync"
  storage_account_id = azurerm_storage_account.this.id
}

resource "azurerm_storage_queue" "sync_poison" {
  name               = "sync-poison"
  storage_account_id = azurerm_storage_account.this.id
}

# The code: dist/functionapp.zip is uploaded under a content-addressed name and
# the app runs from it (WEBSITE_RUN_FROM_PACKAGE = blob URL), fetching it with
# its own identity. This works on Consumption (where only a URL is supported)
# and Elastic Premium alike, and needs no publishing credentials.
resource "azurerm_storage_container" "packages" {
  name                  = "function-packages"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_storage_blob" "package" {
  name                 = "functionapp-${filemd5(local.package_path)}.zip"
  storage_container_id = azurerm_storage_container.packages.id
  type                 = "Block"
  source               = local.package_path
  content_md5          = filemd5(local.package_path)
  content_type         = "application/zip"

  depends_on = [azurerm_role_assignment.deployer_packages]
}

# Undeliverable Event Grid events (ACR pushes the function did not accept).
resource "azurerm_storage_container" "eventgrid_deadletter" {
  name                  = "eventgrid-deadletter"
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}
