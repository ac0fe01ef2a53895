# The runtimelink workbook (Azure portal > Monitor > Workbooks, or the
# Application Insights resource > Workbooks): ingest volume, issues opened and
# closed, priority mix, GitHub rate-limit headroom, sync lag and errors.

locals {
  workbook_queries = {
    ingest = <<-KQL
      AppRequests
      | where OperationName in (${join(", ", [for f in local.function_names : "\"${f}\""])})
      | summarize invocations = count() by bin(TimeGenerated, {TimeRange:grain}), OperationName
      | render timechart
    KQL

    issues = <<-KQL
      ${local.kql_app_log}
      | where msg in ("issue opened", "issue closed", "issue reopened")
      | summarize issues = count() by bin(TimeGenerated, {TimeRange:grain}), msg
      | render columnchart
    KQL

    priority_mix = <<-KQL
      ${local.kql_app_log}
      | where msg == "reprioritize summary" and tobool(j.complete) and not(tobool(j.resumed))
      | top 1 by TimeGenerated
      | mv-expand kv = todynamic(j.openByPriority)
      | extend priority = tostring(bag_keys(kv)[0])
      | project priority, findings = toint(kv[priority])
      | render piechart
    KQL

    rate_limit = <<-KQL
      ${local.kql_app_log}
      | where msg == "github rate limit"
      | extend remaining = todouble(j.remaining), hourlyLimit = todouble(j.limit)
      | where hourlyLimit > 0
      | summarize headroomPercent = min(100.0 * remaining / hourlyLimit) by bin(TimeGenerated, {TimeRange:grain}), installation = tostring(j.installation)
      | render timechart
    KQL

    sync_lag = <<-KQL
      ${local.kql_app_log}
      | where msg == "sync lag"
      | summarize lagSeconds = max(todouble(j.lagSeconds)) by bin(TimeGenerated, {TimeRange:grain})
      | render timechart
    KQL

    errors = <<-KQL
      union
        (AppRequests | where Success == false | project TimeGenerated, kind = "failed invocation", functionName = OperationName, detail = tostring(ResultCode)),
        (AppExceptions | project TimeGenerated, kind = "exception", functionName = OperationName, detail = OuterMessage),
        (${replace(local.kql_app_log, "\n", " ")} | where level == "ERROR" | project TimeGenerated, kind = "handler error", functionName = tostring(j["function"]), detail = msg)
      | summarize occurrences = count(), lastSeen = max(TimeGenerated) by kind, functionName, detail
      | order by occurrences desc
    KQL
  }

  workbook_query_items = [
    for key, title in {
      ingest       = "Ingest volume: invocations per function"
      issues       = "GitHub issues opened, closed and reopened"
      priority_mix = "Priority mix (latest score of each finding)"
      rate_limit   = "GitHub rate-limit headroom (% of the hourly limit left)"
      sync_lag     = "Sync lag (seconds behind)"
      errors       = "Errors"
      } : {
      type = 3
      name = key
      content = {
        version                  = "KqlItem/1.0"
        title                    = title
        query                    = local.workbook_queries[key]
        size                     = 0
        queryType                = 0
        resourceType             = "microsoft.operationalinsights/workspaces"
        timeContextFromParameter = "TimeRange"
        timeContext              = { durationMs = 86400000 }
        visualization            = key == "errors" ? "table" : null
      }
    }
  ]

  workbook = {
    version = "Notebook/1.0"
    items = concat([
      {
        type = 1
        name = "intro"
        content = {
          json = "## runtimelink\nWhat runtimelink ingests, what it changes in GitHub, and what holds it back. Handler log lines are JSON; see the module README for the fields these charts read."
        }
      },
      {
        type = 9
        name = "parameters"
        content = {
          version = "KqlParameterItem/1.0"
          parameters = [{
            id         = "2f4d9d63-6f4b-4c51-9a9e-8d1a1c2f0b11"
            version    = "KqlParameterItem/1.0"
            name       = "TimeRange"
            type       = 4
            isRequired = true
            value      = { durationMs = 86400000 }
            typeSettings = {
              selectableValues = [
                { durationMs = 3600000 },
                { durationMs = 86400000 },
                { durationMs = 604800000 },
                { durationMs = 2592000000 },
              ]
            }
          }]
        }
      },
    ], local.workbook_query_items)
    fallbackResourceIds = [azurerm_log_analytics_workspace.this.id]
    "$schema"           = "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
  }
}

resource "azurerm_application_insights_workbook" "this" {
  name                = uuidv5("url", "https://runtimelink.invalid/${data.azurerm_client_config.current.subscription_id}/${local.resource_group_name}/${local.base}/workbook")
  resource_group_name = local.resource_group_name
  location            = var.location
  display_name        = "runtimelink (${local.base})"
  description         = "runtimelink: ingest volume, issues opened/closed, priority mix, GitHub rate-limit headroom, sync lag, errors."
  category            = "workbook"
  source_id           = lower(azurerm_log_analytics_workspace.this.id)
  data_json           = jsonencode(local.workbook)

  tags = local.tags
}
