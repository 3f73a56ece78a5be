# The appliances' application security group (ASG), the NSG, one rule resource per rule of
# sxcloud-rules' output and the NSG's subnet and NIC associations, under the same Terraform
# keys as the CDK stack's resources (rules by name, so priorities never shift).

resource "azurerm_application_security_group" "this" {
  name                = local.asg.name
  location            = local.asg.location
  resource_group_name = local.asg.resource_group_name
  # sxcloud's tags last: `sxcloud audit azure` relies on them.
  tags = merge(var.tags, local.asg.tags)

  lifecycle {
    precondition {
      condition     = local.asg != null
      error_message = "deployment: azure: the deployment has no azure section; azure-appliance-nsg needs one."
    }
  }
}

resource "azurerm_network_security_group" "this" {
  name                = local.nsg.name
  location            = local.nsg.location
  resource_group_name = local.nsg.resource_group_name
  tags                = merge(var.tags, local.nsg.tags)
}

resource "azurerm_network_security_rule" "this" {
  for_each = local.rules

  name                        = each.value.name
  priority                    = each.value.priority
  direction                   = each.value.direction
  access                      = each.value.access
  protocol                    = each.value.protocol
  resource_group_name         = each.value.resource_group_name
  network_security_group_name = azurerm_network_security_group.this.name
  description                 = each.value.description
  source_port_range           = each.value.source_port_range
  destination_port_range      = each.value.destination_port_range
  destination_port_ranges     = each.value.destination_port_ranges
  source_address_prefix       = each.value.source_address_prefix
  source_address_prefixes     = each.value.source_address_prefixes
  source_application_security_group_ids = (
    each.value.source_asg ? concat([azurerm_application_security_group.this.id], each.value.source_asg_ids) : each.value.source_asg_ids
  )
  destination_address_prefix   = each.value.destination_address_prefix
  destination_address_prefixes = each.value.destination_address_prefixes
  destination_application_security_group_ids = (
    each.value.destination_asg ? concat([azurerm_application_security_group.this.id], each.value.destination_asg_ids) : each.value.destination_asg_ids
  )
}

resource "azurerm_subnet_network_security_group_association" "this" {
  for_each = local.subnet_associations

  subnet_id                 = each.value
  network_security_group_id = azurerm_network_security_group.this.id
}

resource "azurerm_network_interface_security_group_association" "this" {
  for_each = local.nic_associations

  network_interface_id      = each.value
  network_security_group_id = azurerm_network_security_group.this.id
}

resource "azurerm_network_interface_application_security_group_association" "this" {
  for_each = local.nic_asg_associations

  network_interface_id          = each.value
  application_security_group_id = azurerm_application_security_group.this.id
}
