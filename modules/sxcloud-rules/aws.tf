# The AWS security group: which catalog rows apply, one rule per flow and peer, the rules'
# stable keys, and the quota count. The same decisions as sxcloud/policy.py and
# sxcloud/aws/plan.py, proven equal by tests/test_modules_rules.py.

locals {
  # --- flows (sxcloud.policy): the rows that apply, each service, seen from the appliance --

  applies = [
    for r in local.catalog.rows : r
    if !(r.simple_only && local.d.appliance.internal_firewall)
    && !(r.internal && !local.d.appliance.internal_firewall)
    && !(r.cluster && !local.d.appliance.cluster)
    && (r.dns == "" || r.dns == local.d.appliance.dns)
    && (r.feature == "" || try(local.d.appliance.features[r.feature], false))
  ]
  # One type for every flow (a list, not a tuple of distinct object types): Terraform then
  # compares one element type instead of one per flow, which keeps thousands of module
  # instances fast. port is 0 for "all".
  flows = flatten([
    for r in local.applies : [
      for s in r.services : [
        for f in [
          { direction = "outbound", peer = r.target, on = r.source == local.catalog.appliance },
          { direction = "inbound", peer = r.target, on = r.source == local.catalog.appliance && contains(local.catalog.both_ways, r.target) },
          { direction = "inbound", peer = r.source, on = r.source != local.catalog.appliance },
          ] : {
          id        = r.id, slug = r.slug, rationale = r.rationale, protocol = s.protocol, port = s.port,
          direction = f.direction, peer = f.peer
        } if f.on
      ]
    ]
  ])

  # --- peers: the AWS objects that stand for each role ------------------------------------

  # (No conditional around these two: Terraform would unify its branches' types and turn the
  # numbers into strings. A deployment without an aws section simply has no rules.)
  aws_peers = merge(
    {
      internet = concat(
        [{ kind = "cidr_ipv4", value = local.aws_tables.internet_v4 }],
        [for v in [local.aws_tables.internet_v6] : { kind = "cidr_ipv6", value = v } if local.d.appliance.ipv6],
      )
      appliance_peers = [{ kind = "referenced_security_group_id", value = local.aws_tables.self }]
    },
    {
      for r in local.roles : r => concat(
        [for g in try(local.d.aws.bindings[r].security_group_ids, []) : { kind = "referenced_security_group_id", value = g }],
        [for p in try(local.d.aws.bindings[r].prefix_list_ids, []) : { kind = "prefix_list_id", value = p }],
        [for n in local.d.roles[r] : { kind = strcontains(n, ":") ? "cidr_ipv6" : "cidr_ipv4", value = n } if !contains(keys(try(local.d.aws.bindings, {})), r)],
      )
    },
  )

  # --- rules ------------------------------------------------------------------------------

  aws_group_id = "$${aws_security_group.appliance.id}"
  # The vendor rules, then the site exceptions' (exceptions.tf).
  aws_rules = concat(local.aws_vendor_rules, [
    for r in local.aws_exception_rules : {
      key         = r.key, type = r.type, family = r.family, label = r.label, protocol = r.protocol, port = 0,
      description = r.description, kind = r.kind, value = r.value, from_port = r.from_port, to_port = r.to_port,
      source      = r.source, origin = r.label
    }
  ])
  aws_vendor_rules = flatten([
    for f in local.flows : [
      for p in local.aws_peers[f.peer] : {
        # e.g. R03_in_tcp25_cidr_10-20-1-10_32 (sxcloud/aws/plan.py rule_key). Peers are
        # validated CIDRs and ids, so '.' and ':' are the only characters the key replaces.
        key = join("_", [
          f.id,
          f.direction == "inbound" ? "in" : "out",
          f.protocol == "all" ? "all" : "${f.protocol}${f.port}",
          local.aws_peer_kinds[p.kind],
          replace(replace(replace(trimprefix(trimprefix(p.value, "sg-"), "pl-"), "/", "_"), ".", "-"), ":", "-"),
        ])
        type        = f.direction == "inbound" ? "aws_vpc_security_group_ingress_rule" : "aws_vpc_security_group_egress_rule"
        family      = p.kind == "cidr_ipv6" ? "IPv6" : "IPv4"
        label       = "${f.id} ${f.peer}"
        protocol    = f.protocol == "all" ? "-1" : f.protocol
        port        = f.port
        description = "${f.id} ${f.slug}: ${f.rationale}"
        kind        = p.kind
        value       = p.value == local.aws_tables.self ? local.aws_group_id : p.value
        from_port   = f.protocol == "all" ? null : f.port
        to_port     = f.protocol == "all" ? null : f.port
        source      = "aws"
        origin      = f.id
      }
    ] if local.d.aws != null
  ])
  aws_peer_kinds = { cidr_ipv4 = "cidr", cidr_ipv6 = "cidr", prefix_list_id = "pl", referenced_security_group_id = "sg" }

  # Attributes as synthesis writes them: no from_port/to_port for "all" traffic.
  aws_rule_attributes = merge({
    for r in local.aws_vendor_rules : r.key => merge(
      { security_group_id = local.aws_group_id, ip_protocol = r.protocol, description = r.description, (r.kind) = r.value },
      { for k in ["from_port", "to_port"] : k => r.port if r.protocol != "-1" },
    )
  }, local.aws_exception_attributes)

  aws_resources = local.d.aws == null ? null : merge(
    {
      aws_security_group = {
        appliance = {
          name        = replace(local.aws_tables.group_name, "%s", local.d.name)
          description = "SX-MailCrypt appliances of ${local.d.name} (managed by sxcloud)"
          vpc_id      = local.d.aws.vpc_id
          tags        = { for k, v in local.aws_tables.tags : k => replace(v, "%s", local.d.name) }
        }
      }
    },
    {
      for t in ["aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"] :
      t => { for r in local.aws_rules : r.key => local.aws_rule_attributes[r.key] if r.type == t }
      if length([for r in local.aws_rules : r if r.type == t]) > 0
    },
  )

  # --- quota: rules per direction and IP family, as AWS counts them ------------------------

  aws_usage = local.d.aws == null ? null : {
    quota   = local.d.aws.rule_quota
    ingress = { for fam in ["IPv4", "IPv6"] : fam => length([for r in local.aws_rules : r if r.type == "aws_vpc_security_group_ingress_rule" && r.family == fam]) }
    egress  = { for fam in ["IPv4", "IPv6"] : fam => length([for r in local.aws_rules : r if r.type == "aws_vpc_security_group_egress_rule" && r.family == fam]) }
  }
  aws_problems = local.d.aws == null || length(local.input_problems) > 0 ? [] : concat(local.aws_exception_problems, flatten([
    for direction in ["ingress", "egress"] : [
      for fam, count in local.aws_usage[direction] :
      "aws: ${count} ${fam} ${direction} rules exceed the quota of ${local.d.aws.rule_quota} per direction and IP family (most from: ${join(", ", local.aws_heaviest[direction][fam])}); bind the role to a managed prefix list (aws.bindings.<role>.prefix_list_ids), or, once AWS has raised the quota, set aws.rule_quota"
      if count > local.d.aws.rule_quota
    ]
  ]))
  # direction -> family -> the three row-and-peer pairs with most rules, e.g. "R03 admin_pc (70)".
  aws_heaviest = {
    for direction in ["ingress", "egress"] : direction => {
      for fam in ["IPv4", "IPv6"] : fam => [
        for entry in slice(reverse(sort([
          for label, rules in { for r in local.aws_rules : r.label => r... if r.type == "aws_vpc_security_group_${direction}_rule" && r.family == fam } :
          format("%06d %s (%d)", length(rules), label, length(rules))
        ])), 0, min(3, length(distinct([for r in local.aws_rules : r.label if r.type == "aws_vpc_security_group_${direction}_rule" && r.family == fam])))) :
        substr(entry, 7, -1)
      ]
    }
  }

  aws_warnings = local.d.aws == null ? [] : concat(
    anytrue([for r in local.aws_rules : r.type == "aws_vpc_security_group_egress_rule" && contains([local.aws_tables.internet_v4, local.aws_tables.internet_v6], r.value)]) ? ["aws: security groups cannot deny, so the rules to the Internet (0.0.0.0/0) also reach internal addresses on the same ports"] : [],
    length(local.aws_prefix_lists) > 0 ? ["aws: each rule naming a prefix list (${join(", ", local.aws_prefix_lists)}) counts as the list's max_entries against the rule quota; sxcloud counts it as 1"] : [],
  )
  aws_prefix_lists = sort(distinct([for r in local.aws_rules : r.value if r.kind == "prefix_list_id"]))
}
