locals {
  elastic_premium = startswith(var.plan_sku, "EP")
}

resource "azurerm_service_plan" "this" {
  name                = local.names.plan
  resource_group_name = local.resource_group_name
  location            = var.location
  os_type             = "Linux"
  sku_name            = var.plan_sku

  maximum_elastic_worker_count = local.elastic_premium ? var.max_scale_out : null

  tags = local.tags
}

# The Go custom handler (one binary for every function). Anonymous HTTP only
# where the function authenticates itself (webhook HMAC, deployments bearer
# token); the rest uses function keys or non-HTTP triggers.
resource "azurerm_linux_function_app" "this" {
  name                = local.names.function_app
  resource_group_name = local.resource_group_name
  location            = var.location
  service_plan_id     = azurerm_service_plan.this.id

  functions_extension_version = "~4"

  # Host storage through the system identity: sets AzureWebJobsStorage__accountName.
  storage_account_name          = azurerm_storage_account.this.name
  storage_uses_managed_identity = true
  # No Azure Files content share: the app runs from the package URL.
  content_share_force_disabled = true
  # AzureWebJobsDashboard would need an account key.
  builtin_logging_enabled = false

  https_only                                     = true
  public_network_access_enabled                  = true # GitHub webhooks and CD pipelines call in
  ftp_publish_basic_authentication_enabled       = false
  webdeploy_publish_basic_authentication_enabled = false
  client_certificate_enabled                     = false

  identity {
    type = "SystemAssigned"
  }

  app_settings = local.app_settings

  site_config {
    application_stack {
      use_custom_runtime = true # FUNCTIONS_WORKER_RUNTIME = custom
    }

    application_insights_connection_string = azurerm_application_insights.this.connection_string

    ftps_state              = "Disabled"
    minimum_tls_version     = "1.2"
    scm_minimum_tls_version = "1.2"
    http2_enabled           = true

    app_scale_limit           = local.elastic_premium ? null : var.max_scale_out
    elastic_instance_minimum  = local.elastic_premium ? 1 : null
    pre_warmed_instance_count = local.elastic_premium ? 1 : null
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = local.servicebus_suffix != ""
      error_message = "cloud must be set when arm_endpoint is not the Resource Manager of AzureCloud, AzureUSGovernment or AzureChinaCloud: the Event Hub host differs per cloud."
    }
  }
}

# Event Grid validates an Azure Function endpoint against the functions the
# host has indexed, which happens only after the host has fetched the package
# (and after the identity may read it). Wait for that before subscribing.
resource "terraform_data" "functions_ready" {
  count = var.wait_for_functions && length(var.container_registries) > 0 ? 1 : 0

  triggers_replace = [
    azurerm_linux_function_app.this.id,
    azurerm_storage_blob.package.name,
  ]

  provisioner "local-exec" {
    command = "sh '${path.module}/scripts/wait-for-functions.sh' '${azurerm_linux_function_app.this.id}' registry_events"
  }

  depends_on = [
    azurerm_role_assignment.app_storage_blob,
    azurerm_role_assignment.app_storage_queue,
  ]
}
