variable "deployment" {
  description = "The deployment file's content: `yamldecode(file(\"sxcloud.yaml\"))`. It needs an `aws` section."
  type        = any
}

variable "vpc_id" {
  description = "The VPC of the security group; overrides `aws.vpc_id` of the deployment (which may then be left out). May be known only after apply."
  type        = string
  default     = null
}

variable "tags" {
  description = "Extra tags of the security group. sxcloud's own tags (`Name`, `sxcloud:deployment`, `ManagedBy`) win over these: `sxcloud audit aws` finds the group by them."
  type        = map(string)
  default     = {}
}

variable "bound_security_group_ids" {
  description = "Security groups that stand for a role, by a name you choose: `{ internal_mail_server = { exchange = aws_security_group.exchange.id } }`. For groups whose ids are known only after apply (ids known before belong in `aws.bindings` of the file). They join the role's bindings; their rules are keyed by the name (`R03_in_tcp25_sg_exchange`), so the keys are known at plan time."
  type        = map(map(string))
  default     = {}

  validation {
    condition     = alltrue([for role, groups in var.bound_security_group_ids : alltrue([for name, _ in groups : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])])
    error_message = "bound_security_group_ids: each name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' (it becomes part of a Terraform resource key)."
  }
}

variable "bound_prefix_list_ids" {
  description = "Managed prefix lists that stand for a role, by a name you choose, as `bound_security_group_ids`: `{ admin_pc = { admins = aws_ec2_managed_prefix_list.admins.id } }`. Their rules are keyed `..._pl_<name>`."
  type        = map(map(string))
  default     = {}

  validation {
    condition     = alltrue([for role, lists in var.bound_prefix_list_ids : alltrue([for name, _ in lists : can(regex("^[A-Za-z0-9_-]{1,64}$", name))])])
    error_message = "bound_prefix_list_ids: each name must be 1-64 characters of A-Z, a-z, 0-9, '_' and '-' (it becomes part of a Terraform resource key)."
  }
}

variable "today" {
  description = "The day site exceptions' expiry is counted from, YYYY-MM-DD (sxcloud's `SXCLOUD_TODAY`), for reproducible plans and tests. Default: the plan's UTC date (`plantimestamp()`). Passed to sxcloud-rules."
  type        = string
  default     = null
}
