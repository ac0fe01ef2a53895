terraform {
  # 1.5.7 is the last MPL-licensed release; the module uses nothing newer.
  required_version = ">= 1.5.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 5.2"
    }
  }
}
