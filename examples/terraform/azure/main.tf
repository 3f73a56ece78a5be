# A root configuration to copy: the appliance NSG of sxcloud.yaml as plain Terraform, with
# the appliance's network interface in it. The same sxcloud.yaml serves `sxcloud verify`,
# `review` and `audit azure`. Copy this folder and ../../../modules (or use a git source,
# "git::https://.../sxcloud.git//modules/azure-appliance-nsg?ref=..."), edit sxcloud.yaml,
# then `terraform init && terraform apply -var subnet_id=/subscriptions/.../subnets/...`.

terraform {
  required_version = ">= 1.5"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 3.0, < 5.0"
    }
  }
}

locals {
  deployment = yamldecode(file("${path.module}/sxcloud.yaml"))
}

provider "azurerm" {
  features {}
}

variable "subnet_id" {
  description = "The subnet of the appliance's network interface."
  type        = string
}

# The appliance's network interface. The module attaches the NSG to it and makes it a
# member of the appliance ASG, which the NSG's rules name.
resource "azurerm_network_interface" "appliance" {
  name                = "nic-${local.deployment.name}-1"
  location            = local.deployment.azure.location
  resource_group_name = local.deployment.azure.resource_group

  ip_configuration {
    name                          = "internal"
    subnet_id                     = var.subnet_id
    private_ip_address_allocation = "Dynamic"
  }
}

module "appliance_firewall" {
  source = "../../../modules/azure-appliance-nsg"

  deployment            = local.deployment
  network_interface_ids = { appliance1 = azurerm_network_interface.appliance.id }
  tags                  = { environment = "production" }
}

output "network_security_group_id" {
  value = module.appliance_firewall.network_security_group_id
}

output "application_security_group_id" {
  value = module.appliance_firewall.application_security_group_id
}

output "warnings" {
  value = module.appliance_firewall.warnings
}
