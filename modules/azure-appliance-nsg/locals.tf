# Everything this module computes, with no reference to its own resources (main.tf wires
# those in), so that the tests can evaluate this file without an azurerm provider.

module "rules" {
  source     = "../sxcloud-rules"
  deployment = var.deployment
  today      = var.today
}

locals {
  # How sxcloud-rules (and the CDK stack) write references to the stack's own resources.
  asg_id = "$${azurerm_application_security_group.appliance_asg.id}"

  resources = try(module.rules.azure_resources, {})
  asg       = try(local.resources.azurerm_application_security_group.appliance_asg, null)
  nsg       = try(local.resources.azurerm_network_security_group.appliance_nsg, null)

  # One shape for every rule; `*_asg` tells where the appliance ASG goes (its id is known
  # only after apply), the other ids stay as they are.
  rules = {
    for key, rule in try(local.resources.azurerm_network_security_rule, {}) : key => {
      name                    = rule.name
      priority                = rule.priority
      direction               = rule.direction
      access                  = rule.access
      protocol                = rule.protocol
      resource_group_name     = rule.resource_group_name
      description             = rule.description
      source_port_range       = rule.source_port_range
      destination_port_range  = try(rule.destination_port_range, null)
      destination_port_ranges = try(rule.destination_port_ranges, null)
      source_address_prefix   = try(rule.source_address_prefix, null)
      source_address_prefixes = try(rule.source_address_prefixes, null)
      source_asg              = contains(try(rule.source_application_security_group_ids, []), local.asg_id)
      source_asg_ids = try([
        for id in rule.source_application_security_group_ids : id if id != local.asg_id
      ], null)
      destination_address_prefix   = try(rule.destination_address_prefix, null)
      destination_address_prefixes = try(rule.destination_address_prefixes, null)
      destination_asg              = contains(try(rule.destination_application_security_group_ids, []), local.asg_id)
      destination_asg_ids = try([
        for id in rule.destination_application_security_group_ids : id if id != local.asg_id
      ], null)
    }
  }

  # Associations: those of the file under sxcloud-rules' keys (the CDK stack's), and those
  # given to the module by name.
  subnet_associations = merge(
    { for key, a in try(local.resources.azurerm_subnet_network_security_group_association, {}) : key => a.subnet_id },
    { for name, id in var.subnet_ids : "subnet_${name}" => id },
  )
  nic_associations = merge(
    { for key, a in try(local.resources.azurerm_network_interface_security_group_association, {}) : key => a.network_interface_id },
    { for name, id in var.network_interface_ids : "nic_${name}" => id },
  )
  nic_asg_associations = merge(
    { for key, a in try(local.resources.azurerm_network_interface_application_security_group_association, {}) : key => a.network_interface_id },
    { for name, id in var.network_interface_ids : "nic_asg_${name}" => id },
  )
}
