variable "name" {
  description = "Name of the Security Center automation."
  type        = string
}

variable "resource_group_name" {
  description = "Resource group (in the exported subscription) that holds the automation."
  type        = string
}

variable "location" {
  description = "Region of the automation resource."
  type        = string
}

variable "subscription_id" {
  description = "Subscription whose Defender data is exported. Must be the subscription of the provider this module runs with: an automation only applies to its own subscription."
  type        = string
}

variable "eventhub_id" {
  description = "Resource id of the defender-export Event Hub."
  type        = string
}

variable "eventhub_connection_string" {
  description = "Connection string of a send-only authorization rule on that hub."
  type        = string
  sensitive   = true
}

variable "recommendation_severities" {
  description = "Recommendation severities exported (High, Medium, Low)."
  type        = list(string)
  default     = ["High", "Medium", "Low"]

  validation {
    condition     = length(var.recommendation_severities) > 0 && alltrue([for s in var.recommendation_severities : contains(["High", "Medium", "Low"], s)])
    error_message = "recommendation_severities must be a non-empty subset of High, Medium, Low."
  }
}

variable "alert_severities" {
  description = "Alert severities exported (high, medium, low)."
  type        = list(string)
  default     = ["high", "medium", "low"]

  validation {
    condition     = length(var.alert_severities) > 0 && alltrue([for s in var.alert_severities : contains(["high", "medium", "low"], s)])
    error_message = "alert_severities must be a non-empty subset of high, medium, low."
  }
}

variable "include_snapshots" {
  description = "Also export weekly snapshots of all assessments and sub-assessments (lets runtimelink recover anything a streamed event missed)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags of the automation."
  type        = map(string)
  default     = {}
}
