# ACR image pushes and deletes -> registry_events, through one Event Grid
# system topic per registry (Azure allows only one per source resource).

resource "azurerm_eventgrid_system_topic" "acr" {
  for_each = var.container_registries

  name                = "evgt-${local.base}-${each.key}"
  resource_group_name = local.resource_group_name
  location            = each.value.location
  source_resource_id  = each.value.id
  topic_type          = "Microsoft.ContainerRegistry.Registries"

  identity {
    type = "SystemAssigned" # writes undeliverable events to the dead-letter container
  }

  tags = local.tags
}

resource "azurerm_role_assignment" "eventgrid_deadletter" {
  for_each = var.container_registries

  scope                = azurerm_storage_container.eventgrid_deadletter.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_eventgrid_system_topic.acr[each.key].identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_eventgrid_system_topic_event_subscription" "registry_events" {
  for_each = var.container_registries

  name                  = "runtimelink-registry-events"
  system_topic          = azurerm_eventgrid_system_topic.acr[each.key].name
  resource_group_name   = local.resource_group_name
  event_delivery_schema = "EventGridSchema"

  included_event_types = [
    "Microsoft.ContainerRegistry.ImagePushed",
    "Microsoft.ContainerRegistry.ImageDeleted",
  ]

  azure_function_endpoint {
    function_id                       = "${azurerm_linux_function_app.this.id}/functions/registry_events"
    max_events_per_batch              = 1
    preferred_batch_size_in_kilobytes = 64
  }

  retry_policy {
    max_delivery_attempts = 30
    event_time_to_live    = 1440
  }

  dead_letter_identity {
    type = "SystemAssigned"
  }

  storage_blob_dead_letter_destination {
    storage_account_id          = azurerm_storage_account.this.id
    storage_blob_container_name = azurerm_storage_container.eventgrid_deadletter.name
  }

  # The function must exist (package fetched, host indexed) before Event Grid
  # accepts it as an endpoint.
  depends_on = [
    azurerm_storage_blob.package,
    terraform_data.functions_ready,
    azurerm_role_assignment.eventgrid_deadletter,
  ]
}
