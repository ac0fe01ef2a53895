# Secrets: GitHub App private key, webhook secret, deployments token. Their
# values are set outside Terraform (README) so they never land in state.

#tfsec:ignore:azure-keyvault-specify-network-acl Consumption-plan apps have no fixed outbound addresses or VNet integration, so the vault cannot be firewalled to them; access is RBAC only (the app can read secrets, nothing else)
resource "azurerm_key_vault" "this" {
  name                = local.names.key_vault
  resource_group_name = local.resource_group_name
  location            = var.location
  tenant_id           = data.azurerm_client_config.current.tenant_id
  sku_name            = "standard"

  rbac_authorization_enabled    = true
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  public_network_access_enabled = true

  network_acls {
    bypass         = "AzureServices"
    default_action = "Allow"
  }

  tags = local.tags
}
