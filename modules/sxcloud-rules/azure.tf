# The Azure NSG: the flows (aws.tf) grouped into augmented allow rules, each at its fixed
# priority slot, then the load-balancer allow and the denies; the ASG, the NSG and the
# subnet/NIC associations. The same decisions as sxcloud/azure/plan.py, attributes.py and
# limits.py, proven equal by tests/test_modules_rules.py.

locals {
  azure_asg_id   = "$${azurerm_application_security_group.appliance_asg.id}"
  azure_nsg_id   = "$${azurerm_network_security_group.appliance_nsg.id}"
  azure_nsg_name = "$${azurerm_network_security_group.appliance_nsg.name}"
  azure_bound    = keys(try(local.d.azure.bindings, {}))
  # An adopted NSG or ASG keeps its live name (sxcloud/azure/plan.py, docs/adopt-azure.md).
  azure_nsg = coalesce(try(local.d.azure.adopted_nsg_name, null), replace(local.azure_tables.nsg_name, "%s", local.d.name))
  azure_asg = coalesce(try(local.d.azure.adopted_asg_name, null), replace(local.azure_tables.asg_name, "%s", local.d.name))

  # role -> its Azure addresses: a service tag, the bound ASGs, or its prefixes per family.
  azure_addresses = merge(
    {
      internet        = [{ kind = "tag", values = ["Internet"] }]
      appliance_peers = [{ kind = "appliance", values = [] }]
    },
    {
      for r in local.roles : r => concat(
        [for ids in [try(local.d.azure.bindings[r], [])] : { kind = "asg", values = ids } if contains(local.azure_bound, r)],
        [
          for fam in ["v4", "v6"] : { kind = fam, values = [for n in local.d.roles[r] : n if strcontains(n, ":") == (fam == "v6")] }
          if !contains(local.azure_bound, r) && length([for n in local.d.roles[r] : n if strcontains(n, ":") == (fam == "v6")]) > 0
        ],
      )
    },
  )

  # Flows with the same direction, role, kind of address and protocol share one rule (its
  # slot); the rule's ports are the flows' ports, its description names their rows.
  azure_groups = {
    for e in flatten([
      for f in local.flows : [
        for a in local.azure_addresses[f.peer] : { slot = "${f.direction}/${f.peer}/${a.kind}/${f.protocol}", flow = f, address = a }
      ] if local.d.azure != null
    ]) : e.slot => e...
  }
  azure_allow = [
    for slot, members in local.azure_groups : {
      name      = local.azure_tables.slots[slot].name
      priority  = local.azure_tables.slots[slot].priority
      direction = members[0].flow.direction == "inbound" ? "Inbound" : "Outbound"
      access    = "Allow"
      protocol  = local.azure_tables.protocols[members[0].flow.protocol]
      ports = members[0].flow.protocol == "all" ? ["*"] : [
        for p in sort(distinct([for m in members : format("%05d", m.flow.port)])) : tostring(tonumber(p))
      ]
      source      = members[0].flow.direction == "inbound" ? members[0].address : { kind = "appliance", values = [] }
      destination = members[0].flow.direction == "inbound" ? { kind = "appliance", values = [] } : members[0].address
      description = "sxcloud: ${join(", ", distinct([for m in members : "${m.flow.id} ${m.flow.slug}"]))}"
    }
  ]
  # The vendor rules, the site exceptions' (exceptions.tf), the load-balancer allow and denies.
  azure_rules = concat(local.azure_allow, [
    for r in local.azure_exception_rules : { for k, v in r : k => v if !contains(["exception", "label"], k) }
  ], local.d.azure == null ? [] : local.azure_tables.fixed_rules)

  azure_rule_resources = {
    for r in local.azure_rules : r.name => merge(
      {
        name                        = r.name
        priority                    = r.priority
        direction                   = r.direction
        access                      = r.access
        protocol                    = r.protocol
        resource_group_name         = local.d.azure.resource_group
        network_security_group_name = local.azure_nsg_name
        description                 = r.description
        source_port_range           = "*"
      },
      {
        for k, v in { destination_port_range = "*", destination_port_ranges = r.ports } : k => v
        if(k == "destination_port_range") == (r.ports == ["*"])
      },
      [
        for side, address in { source = r.source, destination = r.destination } : {
          for k, v in {
            "${side}_application_security_group_ids" = address.kind == "appliance" ? [local.azure_asg_id] : address.kind == "asg" ? address.values : null
            "${side}_address_prefix"                 = address.kind == "tag" ? address.values[0] : null
            "${side}_address_prefixes"               = contains(["v4", "v6"], address.kind) ? address.values : null
          } : k => v if v != null
        }
      ]...
    )
  }

  # A stable Terraform name for an association: the resource's name and a short hash of its
  # full id (names repeat across resource groups).
  azure_associations = {
    for prefix, ids in { subnet = try(local.d.azure.subnet_ids, []), nic = try(local.d.azure.network_interface_ids, []), nic_asg = try(local.d.azure.network_interface_ids, []) } :
    prefix => { for id in ids : "${prefix}_${replace(reverse(split("/", trimsuffix(id, "/")))[0], "/[^A-Za-z0-9_-]/", "-")}_${substr(sha256(lower(id)), 0, 8)}" => id }
  }

  azure_grouped = local.d.azure == null ? null : {
    location            = local.d.azure.location
    resource_group_name = local.d.azure.resource_group
    tags                = { for k, v in local.azure_tables.tags : k => replace(v, "%s", local.d.name) }
  }
  azure_resources = local.d.azure == null ? null : {
    for type, named in {
      azurerm_application_security_group = { appliance_asg = merge({ name = local.azure_asg }, local.azure_grouped) }
      azurerm_network_security_group     = { appliance_nsg = merge({ name = local.azure_nsg }, local.azure_grouped) }
      azurerm_network_security_rule      = local.azure_rule_resources
      azurerm_subnet_network_security_group_association = {
        for k, id in local.azure_associations.subnet : k => { subnet_id = id, network_security_group_id = local.azure_nsg_id }
      }
      azurerm_network_interface_security_group_association = {
        for k, id in local.azure_associations.nic : k => { network_interface_id = id, network_security_group_id = local.azure_nsg_id }
      }
      azurerm_network_interface_application_security_group_association = {
        for k, id in local.azure_associations.nic_asg : k => { network_interface_id = id, application_security_group_id = local.azure_asg_id }
      }
    } : type => named if length(named) > 0
  }

  # --- Azure's limits (sxcloud/azure/limits.py), for what a deployment can reach -----------

  azure_limit = local.azure_tables.limits
  # side -> rule name -> IP prefixes on that side (tags and ASGs are not addresses).
  azure_address_counts = {
    for side in ["source", "destination"] : side => {
      for r in local.azure_rules : r.name => contains(["v4", "v6"], r[side].kind) ? length(r[side].values) : 0
    }
  }
  azure_asgs = distinct(flatten([for r in local.azure_rules : [for a in [r.source, r.destination] : [for v in a.values : lower(v)] if a.kind == "asg"]]))
  azure_problems = local.d.azure == null || length(local.input_problems) > 0 ? [] : concat(
    local.azure_identity_problems,
    local.azure_collision_problems,
    [
      for n in [local.azure_nsg, local.azure_asg] :
      "azure: ${n}: the name is not valid in Azure (1 to ${local.azure_limit.name_max} letters, digits, '_', '.' and '-')"
      if !can(regex("^(?:${local.azure_limit.name_pattern})$", n))
    ],
    [
      for r in local.azure_rules : "azure: rule ${r.name}: the description is ${length(r.description)} characters long; Azure takes at most ${local.azure_limit.description_max}"
      if length(r.description) > local.azure_limit.description_max
    ],
    length(local.azure_rules) > local.azure_limit.rules_max ? ["azure: nsg ${local.azure_nsg}: ${length(local.azure_rules)} rules; Azure takes at most ${local.azure_limit.rules_max} per NSG"] : [],
    [
      for side, counts in local.azure_address_counts :
      "azure: nsg ${local.azure_nsg}: ${sum(concat([0], values(counts)))} ${side} addresses across its rules (${join(", ", [for name, n in counts : "${name} ${n}" if n > 0])}); Azure takes at most ${local.azure_limit.addresses_max} ${side} IP addresses and ranges per NSG. Summarise the CIDRs of the role, or bind it to an application security group"
      if sum(concat([0], values(counts))) > local.azure_limit.addresses_max
    ],
    length(local.azure_asgs) + 1 > local.azure_limit.asgs_per_nsg_max ? ["azure: nsg ${local.azure_nsg}: its rules name ${length(local.azure_asgs) + 1} application security groups; Azure takes at most ${local.azure_limit.asgs_per_nsg_max} per NSG"] : [],
  )

  azure_warnings = local.d.azure == null || local.d.appliance.ipv6 ? [] : [
    "azure: the Internet service tag covers IPv4 and IPv6, so rules to or from the Internet also admit IPv6 where the virtual network has IPv6 addresses"
  ]
}
