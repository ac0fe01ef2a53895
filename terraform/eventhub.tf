# Defender for Cloud continuous export lands here; defender_export reads it.

resource "azurerm_eventhub_namespace" "this" {
  name                = local.names.eventhub_namespace
  resource_group_name = local.resource_group_name
  location            = var.location
  sku                 = "Standard" # consumer groups beyond $Default
  capacity            = 1

  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  # Defender's continuous export can only send with a SAS connection string,
  # so local (SAS) auth stays on; runtimelink itself reads with its identity.
  local_authentication_enabled = true

  tags = local.tags
}

resource "azurerm_eventhub" "defender_export" {
  name              = "defender-export"
  namespace_id      = azurerm_eventhub_namespace.this.id
  partition_count   = var.eventhub_partition_count
  message_retention = var.eventhub_message_retention_days
}

resource "azurerm_eventhub_consumer_group" "runtimelink" {
  name                = "runtimelink"
  namespace_name      = azurerm_eventhub_namespace.this.name
  eventhub_name       = azurerm_eventhub.defender_export.name
  resource_group_name = local.resource_group_name
}

# Send-only key on this one hub, for Defender's export (its API takes nothing else).
resource "azurerm_eventhub_authorization_rule" "defender_send" {
  name                = "defender-export-send"
  namespace_name      = azurerm_eventhub_namespace.this.name
  eventhub_name       = azurerm_eventhub.defender_export.name
  resource_group_name = local.resource_group_name

  send   = true
  listen = false
  manage = false
}

# Continuous export of the deployment subscription. For more subscriptions,
# call modules/defender-export once per subscription (README).
module "defender_export" {
  source = "./modules/defender-export"
  count  = var.defender_export_enabled ? 1 : 0

  name                       = "runtimelink-${local.base}"
  resource_group_name        = local.resource_group_name
  location                   = var.location
  subscription_id            = data.azurerm_client_config.current.subscription_id
  eventhub_id                = azurerm_eventhub.defender_export.id
  eventhub_connection_string = azurerm_eventhub_authorization_rule.defender_send.primary_connection_string
  recommendation_severities  = var.defender_recommendation_severities
  alert_severities           = var.defender_alert_severities
  tags                       = local.tags
}
