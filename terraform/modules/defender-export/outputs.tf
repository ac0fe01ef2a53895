output "id" {
  description = "Resource id of the continuous export automation."
  value       = azurerm_security_center_automation.this.id
}

output "event_sources" {
  description = "Defender data types exported."
  value       = local.event_sources
}
