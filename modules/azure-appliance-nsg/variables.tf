variable "deployment" {
  description = "The deployment file's content: `yamldecode(file(\"sxcloud.yaml\"))`. It needs an `azure` section."
  type        = any
}

variable "tags" {
  description = "Extra tags of the NSG and the ASG. sxcloud's own tags (`managed-by`, `sxcloud-deployment`) win over these: `sxcloud audit azure` relies on them."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Subnets to attach the NSG to, by a name you choose: `{ dmz = azurerm_subnet.dmz.id }`. For ids known only after apply (ids known before may go to `azure.associate.subnet_ids` of the file). Their associations are keyed `subnet_<name>`, so the keys are known at plan time."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name, _ in var.subnet_ids : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])
    error_message = "subnet_ids: each name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' (it becomes part of a Terraform resource key)."
  }
}

variable "network_interface_ids" {
  description = "The appliances' network interfaces, by a name you choose: `{ appliance1 = azurerm_network_interface.appliance1.id }`. Each gets the NSG and joins the appliance ASG, as those in `azure.associate.network_interface_ids` of the file. Keyed `nic_<name>` / `nic_asg_<name>`."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name, _ in var.network_interface_ids : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])
    error_message = "network_interface_ids: each name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' (it becomes part of a Terraform resource key)."
  }
}

variable "today" {
  description = "The day site exceptions' expiry is counted from, YYYY-MM-DD (sxcloud's `SXCLOUD_TODAY`), for reproducible plans and tests. Default: the plan's UTC date (`plantimestamp()`). Passed to sxcloud-rules."
  type        = string
  default     = null
}
