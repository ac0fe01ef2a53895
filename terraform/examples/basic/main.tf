# The smallest useful deployment: a new resource group, Consumption plan,
# Defender export of this subscription, one container registry followed.
#
#   cd terraform/examples/basic
#   terraform init && terraform apply -var subscription_id=... -var acr_id=...

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 5.2"
    }
  }
}

provider "azurerm" {
  features {}

  subscription_id = var.subscription_id

  # The storage account has shared keys disabled: data-plane calls (the
  # package upload) use Entra ID.
  storage_use_azuread = true

  resource_providers_to_register = [
    "Microsoft.DocumentDB",
    "Microsoft.EventGrid",
    "Microsoft.EventHub",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.OperationalInsights",
    "Microsoft.Security",
    "Microsoft.Storage",
    "Microsoft.Web",
  ]
}

variable "subscription_id" {
  description = "Subscription to deploy into (and to export Defender data from)."
  type        = string
}

variable "location" {
  description = "Azure region."
  type        = string
  default     = "westeurope"
}

variable "acr_id" {
  description = "Resource id of an Azure Container Registry to follow (empty: none)."
  type        = string
  default     = ""
}

variable "acr_location" {
  description = "Region of that registry."
  type        = string
  default     = "westeurope"
}

variable "github_app_id" {
  description = "GitHub App ID, once the App exists (README step 4)."
  type        = string
  default     = ""
}

variable "alert_email_addresses" {
  description = "Who gets the alerts."
  type        = list(string)
  default     = []
}

module "runtimelink" {
  source = "../.."

  name                = "rtlink"
  location            = var.location
  resource_group_name = "rg-runtimelink"
  package_path        = "${path.root}/../../../dist/functionapp.zip"

  github_app_id         = var.github_app_id
  alert_email_addresses = var.alert_email_addresses

  container_registries = var.acr_id == "" ? {} : {
    main = { id = var.acr_id, location = var.acr_location }
  }
}

output "webhook_url" {
  description = "GitHub App webhook URL."
  value       = module.runtimelink.webhook_url
}

output "deployments_base_url" {
  description = "Base URL for CD pipelines' deployment records."
  value       = module.runtimelink.deployments_base_url
}

output "function_app_name" {
  description = "Function App name."
  value       = module.runtimelink.function_app_name
}

output "key_vault_name" {
  description = "Key Vault for the GitHub secrets."
  value       = module.runtimelink.key_vault_name
}

output "eventhub_id" {
  description = "defender-export Event Hub."
  value       = module.runtimelink.eventhub_id
}

output "github_app_manifest" {
  description = "GitHub App manifest with this deployment's URLs."
  value       = module.runtimelink.github_app_manifest
}
