# Defender for Cloud continuous export to Event Hub: recommendations
# (assessments, which carry properties.risk), their findings (sub-assessments:
# container image CVEs) and security alerts, streamed as they change and, with
# include_snapshots, as weekly snapshots. The rule sets follow the ones the
# built-in "Deploy export to Event Hub" policy writes; sub-assessments are
# exported unfiltered (their parent assessment must be exported too, which it is).

locals {
  streaming_sources = ["Assessments", "SubAssessments", "Alerts"]
  snapshot_sources  = var.include_snapshots ? ["AssessmentsSnapshot", "SubAssessmentsSnapshot"] : []
  event_sources     = concat(local.streaming_sources, local.snapshot_sources)
}

resource "azurerm_security_center_automation" "this" {
  name                = var.name
  resource_group_name = var.resource_group_name
  location            = var.location
  description         = "runtimelink: Defender for Cloud continuous export to Event Hub"
  enabled             = true

  scopes = ["/subscriptions/${var.subscription_id}"]

  action {
    type              = "EventHub"
    resource_id       = var.eventhub_id
    connection_string = var.eventhub_connection_string
  }

  dynamic "source" {
    for_each = local.event_sources
    content {
      event_source = source.value

      # Assessments: one rule set per severity (rule sets are ORed, rules ANDed).
      dynamic "rule_set" {
        for_each = startswith(source.value, "Assessments") ? var.recommendation_severities : []
        content {
          rule {
            property_path  = "type"
            operator       = "Contains"
            expected_value = "Microsoft.Security/assessments"
            property_type  = "String"
          }
          rule {
            property_path  = "properties.metadata.severity"
            operator       = "Equals"
            expected_value = rule_set.value
            property_type  = "String"
          }
        }
      }

      # Alerts: one rule set per severity.
      dynamic "rule_set" {
        for_each = source.value == "Alerts" ? var.alert_severities : []
        content {
          rule {
            property_path  = "Severity"
            operator       = "Equals"
            expected_value = rule_set.value
            property_type  = "String"
          }
        }
      }
    }
  }

  tags = var.tags
}
