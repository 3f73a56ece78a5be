output "network_security_group_id" {
  description = "The NSG of the appliances."
  value       = azurerm_network_security_group.this.id
}

output "application_security_group_id" {
  description = "The appliances' application security group; their network interfaces must be members."
  value       = azurerm_application_security_group.this.id
}

output "warnings" {
  description = "sxcloud's warnings about the deployment (sxcloud-rules' warnings)."
  value       = module.rules.warnings
}
