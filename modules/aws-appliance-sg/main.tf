# The appliances' security group and one rule resource per rule of sxcloud-rules' output,
# under the same Terraform keys as the CDK stack's resources, so either path plans the same
# rules and `sxcloud verify` / `audit aws` read both alike.

module "rules" {
  source     = "../sxcloud-rules"
  deployment = local.deployment
  today      = var.today
}

locals {
  file_aws = try(var.deployment.aws, null)

  # Bound objects whose ids may be known only after apply stand in the deployment as ids
  # derived from their names (known at plan time), so that the rule keys, which contain the
  # peer's id, are known at plan time. They are renamed and resolved below.
  placeholders = merge(
    merge([for role, groups in var.bound_security_group_ids : {
      for name, id in groups : "sg-${substr(sha256("sg/${role}/${name}"), 0, 17)}" => { role = role, name = name, id = id, kind = "security_group_ids" }
    }]...),
    merge([for role, lists in var.bound_prefix_list_ids : {
      for name, id in lists : "pl-${substr(sha256("pl/${role}/${name}"), 0, 17)}" => { role = role, name = name, id = id, kind = "prefix_list_ids" }
    }]...),
  )
  file_bindings = try(local.file_aws.bindings, {})
  bound_roles   = distinct([for p in values(local.placeholders) : p.role])
  bindings = merge(local.file_bindings, {
    for role in local.bound_roles : role => merge(try(local.file_bindings[role], {}), {
      for kind in ["security_group_ids", "prefix_list_ids"] : kind => concat(
        try(local.file_bindings[role][kind], []),
        [for placeholder, p in local.placeholders : placeholder if p.role == role && p.kind == kind],
      ) if length([for p in values(local.placeholders) : p if p.role == role && p.kind == kind]) > 0
    })
  })

  # What sxcloud-rules sees: the file, with the bound objects above, and a stand-in VPC id
  # when the file leaves the VPC to var.vpc_id (the group takes var.vpc_id either way).
  aws = merge(
    try(var.deployment.aws, {}),
    { for k, v in { bindings = local.bindings } : k => v if length(local.bound_roles) > 0 },
    { for k, v in { vpc_id = "vpc-00000000" } : k => v if try(local.file_aws.vpc_id, null) == null },
  )
  deployment = merge(var.deployment, { for k, v in { aws = local.aws } : k => v if local.file_aws != null })

  # How sxcloud-rules (and the CDK stack) write a reference to the group itself.
  self = "$${aws_security_group.appliance.id}"

  resources = try(module.rules.aws_resources, {})
  group     = try(local.resources.aws_security_group.appliance, null)
  rules = {
    for direction in ["ingress", "egress"] : direction => {
      for key, rule in try(local.resources["aws_vpc_security_group_${direction}_rule"], {}) :
      (
        contains(keys(local.placeholders), local.peer[direction][key])
        ? "${trimsuffix(key, substr(local.peer[direction][key], 3, -1))}${local.placeholders[local.peer[direction][key]].name}"
        : key
        ) => {
        ip_protocol    = rule.ip_protocol
        from_port      = try(rule.from_port, null)
        to_port        = try(rule.to_port, null)
        cidr_ipv4      = try(rule.cidr_ipv4, null)
        cidr_ipv6      = try(rule.cidr_ipv6, null)
        prefix_list_id = try(local.placeholders[rule.prefix_list_id].id, rule.prefix_list_id, null)
        self           = try(rule.referenced_security_group_id, null) == local.self
        referenced_security_group_id = try(
          local.placeholders[rule.referenced_security_group_id].id, rule.referenced_security_group_id, null
        )
        description = rule.description
        tags        = try(rule.tags, null) # a site exception's: id, owner, expiry, ticket
      }
    }
  }
  # The peer id of each rule ("-" for CIDR peers), to tell the bound stand-ins.
  peer = {
    for direction in ["ingress", "egress"] : direction => {
      for key, rule in try(local.resources["aws_vpc_security_group_${direction}_rule"], {}) :
      key => try(rule.referenced_security_group_id, rule.prefix_list_id, "-")
    }
  }
}

resource "aws_security_group" "this" {
  # An adopted group (aws.adopt, `sxcloud adopt aws`) keeps its live name and description:
  # EC2 replaces a group whose name or description changes.
  name        = try(local.file_aws.adopt.name, local.group.name)
  description = try(local.file_aws.adopt.description, local.group.description)
  vpc_id      = var.vpc_id != null ? var.vpc_id : local.group.vpc_id
  # sxcloud's tags last: `sxcloud audit aws` finds the group by `sxcloud:deployment`.
  tags = merge(var.tags, local.group.tags)

  lifecycle {
    precondition {
      condition     = local.file_aws != null
      error_message = "deployment: aws: the deployment has no aws section; aws-appliance-sg needs one."
    }
    precondition {
      condition     = var.vpc_id != null || try(local.file_aws.vpc_id, null) != null
      error_message = "deployment: aws.vpc_id: required unless the module's vpc_id is set."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local.rules.ingress

  security_group_id            = aws_security_group.this.id
  ip_protocol                  = each.value.ip_protocol
  from_port                    = each.value.from_port
  to_port                      = each.value.to_port
  cidr_ipv4                    = each.value.cidr_ipv4
  cidr_ipv6                    = each.value.cidr_ipv6
  prefix_list_id               = each.value.prefix_list_id
  referenced_security_group_id = each.value.self ? aws_security_group.this.id : each.value.referenced_security_group_id
  description                  = each.value.description
  tags                         = each.value.tags
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = local.rules.egress

  security_group_id            = aws_security_group.this.id
  ip_protocol                  = each.value.ip_protocol
  from_port                    = each.value.from_port
  to_port                      = each.value.to_port
  cidr_ipv4                    = each.value.cidr_ipv4
  cidr_ipv6                    = each.value.cidr_ipv6
  prefix_list_id               = each.value.prefix_list_id
  referenced_security_group_id = each.value.self ? aws_security_group.this.id : each.value.referenced_security_group_id
  description                  = each.value.description
  tags                         = each.value.tags
}
