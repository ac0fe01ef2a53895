data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  count = var.create_resource_group ? 1 : 0

  name     = var.resource_group_name
  location = var.location
  tags     = local.tags
}

data "azurerm_resource_group" "existing" {
  count = var.create_resource_group ? 0 : 1

  name = var.resource_group_name
}

locals {
  resource_group_name = var.create_resource_group ? azurerm_resource_group.this[0].name : data.azurerm_resource_group.existing[0].name

  # Globally unique names need a suffix; derive a stable one so that a second
  # apply (or a colleague's) lands on the same resources.
  suffix  = var.name_suffix != "" ? var.name_suffix : substr(sha256("${data.azurerm_client_config.current.subscription_id}/${var.resource_group_name}/${var.name}"), 0, 6)
  base    = "${var.name}-${local.suffix}"
  compact = "${var.name}${local.suffix}"

  names = {
    plan               = "asp-${local.base}"
    function_app       = "func-${local.base}"
    storage_account    = "st${local.compact}"
    key_vault          = "kv-${local.base}"
    cosmos_account     = "cosmos-${local.base}"
    eventhub_namespace = "evhns-${local.base}"
    log_analytics      = "log-${local.base}"
    app_insights       = "appi-${local.base}"
    action_group       = "ag-${local.base}"
  }

  subscription_ids = length(var.subscription_ids) > 0 ? var.subscription_ids : [data.azurerm_client_config.current.subscription_id]

  package_path = var.package_path != null ? var.package_path : "${path.module}/../dist/functionapp.zip"

  # The functions of the app (folders under functions/ holding function.json).
  # Alerts and the workbook break numbers down by these names; the Event Grid
  # subscriptions point at registry_events.
  function_names = [
    "github_webhook",
    "deployments",
    "deployments_v3",
    "deployments_noprefix",
    "defender_export",
    "registry_events",
    "sync",
    "reprioritize",
    "redeliver",
    "api",
  ]

  tags = merge({ application = "runtimelink" }, var.tags)
}
