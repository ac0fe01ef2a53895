# State: Cosmos DB for NoSQL. Entra ID only (no keys); the app gets the
# built-in data contributor role on its database.

locals {
  # Containers of DESIGN.md (State) with their partition keys. default_ttl:
  # null = items never expire; a number = seconds, overridable per item.
  cosmos_containers = {
    artifacts     = { partition_key = "/digest", default_ttl = null }
    workloads     = { partition_key = "/cluster", default_ttl = null }
    findings      = { partition_key = "/repository", default_ttl = null }
    groups        = { partition_key = "/repository", default_ttl = null }
    deliveries    = { partition_key = "/id", default_ttl = var.deliveries_ttl_seconds }
    installations = { partition_key = "/org", default_ttl = null }
    leases        = { partition_key = "/id", default_ttl = null }
    jobs          = { partition_key = "/id", default_ttl = 604800 } # async cluster jobs: 7 days (cosmos.JobsTTL)
    clusters      = { partition_key = "/id", default_ttl = null }
  }

  # Built-in "Cosmos DB Built-in Data Contributor" data-plane role.
  cosmos_data_contributor_role = "00000000-0000-0000-0000-000000000002"
}

resource "azurerm_cosmosdb_account" "this" {
  name                = local.names.cosmos_account
  resource_group_name = local.resource_group_name
  location            = var.location
  offer_type          = "Standard"
  kind                = "GlobalDocumentDB"

  local_authentication_enabled       = false
  access_key_metadata_writes_enabled = false
  minimal_tls_version                = "Tls12"
  public_network_access_enabled      = true # Consumption-plan apps have no VNet; access is Entra ID only
  automatic_failover_enabled         = false

  dynamic "capabilities" {
    for_each = var.cosmos_serverless ? ["EnableServerless"] : []
    content {
      name = capabilities.value
    }
  }

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    location          = var.location
    failover_priority = 0
  }

  tags = local.tags
}

resource "azurerm_cosmosdb_sql_database" "this" {
  name                = "runtimelink"
  resource_group_name = local.resource_group_name
  account_name        = azurerm_cosmosdb_account.this.name

  dynamic "autoscale_settings" {
    for_each = var.cosmos_serverless ? [] : [var.cosmos_max_throughput]
    content {
      max_throughput = autoscale_settings.value
    }
  }
}

resource "azurerm_cosmosdb_sql_container" "this" {
  for_each = local.cosmos_containers

  name                  = each.key
  resource_group_name   = local.resource_group_name
  account_name          = azurerm_cosmosdb_account.this.name
  database_name         = azurerm_cosmosdb_sql_database.this.name
  partition_key_paths   = [each.value.partition_key]
  partition_key_version = 2
  default_ttl           = each.value.default_ttl
}

resource "azurerm_cosmosdb_sql_role_assignment" "app" {
  resource_group_name = local.resource_group_name
  account_name        = azurerm_cosmosdb_account.this.name
  role_definition_id  = "${azurerm_cosmosdb_account.this.id}/sqlRoleDefinitions/${local.cosmos_data_contributor_role}"
  principal_id        = azurerm_linux_function_app.this.identity[0].principal_id
  scope               = "${azurerm_cosmosdb_account.this.id}/dbs/${azurerm_cosmosdb_sql_database.this.name}"
}
