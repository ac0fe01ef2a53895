# What operators watch in the portal: workspace-based Application Insights fed
# by the host and by the handler's JSON log lines, three alerts and a workbook
# (workbook.tf). The log lines these queries read are listed in README
# ("Log lines the alerts and workbook read").

resource "azurerm_log_analytics_workspace" "this" {
  name                = local.names.log_analytics
  resource_group_name = local.resource_group_name
  location            = var.location
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days

  tags = local.tags
}

resource "azurerm_application_insights" "this" {
  name                = local.names.app_insights
  resource_group_name = local.resource_group_name
  location            = var.location
  workspace_id        = azurerm_log_analytics_workspace.this.id
  application_type    = "other"

  # Ingestion only with Entra ID tokens (the app's identity), not the key in
  # the connection string.
  local_authentication_enabled = false

  tags = local.tags
}

resource "azurerm_monitor_action_group" "this" {
  name                = local.names.action_group
  resource_group_name = local.resource_group_name
  short_name          = "runtimelink"

  dynamic "email_receiver" {
    for_each = toset(var.alert_email_addresses)
    content {
      name                    = "email-${index(var.alert_email_addresses, email_receiver.value)}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }

  tags = local.tags
}

locals {
  # Handler log lines are JSON (log/slog); the host may prefix them, and a line
  # can reach the workspace twice (process stdout and the invocation's Logs),
  # so take the JSON object out of the message and keep each line once.
  kql_app_log = trimspace(<<-KQL
    AppTraces
    | where Message has "\"msg\""
    | summarize TimeGenerated = min(TimeGenerated) by Message
    | extend j = parse_json(extract(@"(\{.*\})", 1, Message))
    | extend msg = tostring(j.msg), level = tostring(j.level)
  KQL
  )
}

# Invocations that failed (the handler returned an error or non-2xx, so the
# host retries): per function.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "function_failures" {
  name                = "runtimelink-function-failures-${local.base}"
  display_name        = "runtimelink: function failures"
  description         = "More than ${var.function_failure_threshold} failed invocations of one function in 15 minutes. Look at Application Insights > Failures, filtered on the function."
  resource_group_name = local.resource_group_name
  location            = var.location
  scopes              = [azurerm_log_analytics_workspace.this.id]
  severity            = 2

  evaluation_frequency = "PT5M"
  window_duration      = "PT15M"

  criteria {
    query                   = <<-KQL
      AppRequests
      | where Success == false
      | where OperationName in (${join(", ", [for f in local.function_names : "\"${f}\""])})
      | summarize failures = count() by OperationName
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "failures"
    operator                = "GreaterThan"
    threshold               = var.function_failure_threshold

    dimension {
      name     = "OperationName"
      operator = "Include"
      values   = ["*"]
    }

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }

  auto_mitigation_enabled = true
  tags                    = local.tags
}

# A sync message failed maxDequeueCount times and went to sync-poison: the
# host logs "Moving message to queue 'sync-poison'"; the handler logs the
# queue name too when it gives up on a message.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "poison_queue" {
  name                = "runtimelink-sync-poison-${local.base}"
  display_name        = "runtimelink: messages in sync-poison"
  description         = "A sync message went to the ${azurerm_storage_queue.sync_poison.name} queue. Read it in the storage account (Queues > ${azurerm_storage_queue.sync_poison.name}); fix the cause, then move it back to ${azurerm_storage_queue.sync.name} or let the nightly reprioritize sweep re-enqueue the group."
  resource_group_name = local.resource_group_name
  location            = var.location
  scopes              = [azurerm_log_analytics_workspace.this.id]
  severity            = 2

  evaluation_frequency = "PT5M"
  window_duration      = "PT15M"

  criteria {
    query                   = <<-KQL
      AppTraces
      | where Message has "${azurerm_storage_queue.sync_poison.name}"
      | summarize poisoned = count()
    KQL
    time_aggregation_method = "Total"
    metric_measure_column   = "poisoned"
    operator                = "GreaterThan"
    threshold               = 0

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }

  auto_mitigation_enabled = true
  tags                    = local.tags
}

# Sync lag: the sync function logs {"msg":"sync lag","lagSeconds":N}, the age
# of the oldest desired change it has not yet written.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "sync_lag" {
  name                = "runtimelink-sync-lag-${local.base}"
  display_name        = "runtimelink: sync lag"
  description         = "GitHub and Defender are more than ${var.sync_lag_threshold_seconds} s behind runtimelink's state. Check the sync function's failures and the GitHub rate-limit headroom in the runtimelink workbook."
  resource_group_name = local.resource_group_name
  location            = var.location
  scopes              = [azurerm_log_analytics_workspace.this.id]
  severity            = 3

  evaluation_frequency = "PT15M"
  window_duration      = "PT30M"

  criteria {
    query                   = <<-KQL
      ${local.kql_app_log}
      | where msg == "sync lag"
      | summarize lagSeconds = max(todouble(j.lagSeconds))
    KQL
    time_aggregation_method = "Maximum"
    metric_measure_column   = "lagSeconds"
    operator                = "GreaterThan"
    threshold               = var.sync_lag_threshold_seconds

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }

  auto_mitigation_enabled = true
  tags                    = local.tags
}
