# The deployment file: its problems (each "KEY: message", as sxcloud's loader names keys),
# and the deployment with the JSON Schema's defaults filled in (`local.d`).
#
# Everything here is written so that bad input never makes an expression fail: a value of the
# wrong type reads as absent (try), and its problem is listed instead. The `warnings`
# output's precondition then fails the plan with every problem at once.

locals {
  doc      = var.deployment
  keys     = local.schema.keys
  patterns = local.schema.patterns
  defaults = local.schema.defaults
  roles    = local.catalog.configured_roles

  # Sections: whether each is given, and whether it is a mapping.
  section_parent = {
    "appliance"      = "", "appliance.features" = "appliance", "roles" = "", "aws" = "",
    "aws.bindings"   = "aws", "aws.endpoints" = "aws", "aws.backend" = "aws", "azure" = "",
    "azure.bindings" = "azure", "azure.associate" = "azure", "azure.backend" = "azure",
  }
  has     = { for s, v in local.sections_raw : s => can(keys(v)) }
  present = { for s, p in local.section_parent : s => contains(local.given[p], reverse(split(".", s))[0]) }
  sections_raw = {
    "appliance"          = try(local.doc.appliance, null)
    "appliance.features" = try(local.doc.appliance.features, null)
    "roles"              = try(local.doc.roles, null)
    "aws"                = try(local.doc.aws, null)
    "aws.bindings"       = try(local.doc.aws.bindings, null)
    "aws.endpoints"      = try(local.doc.aws.endpoints, null)
    "aws.backend"        = try(local.doc.aws.backend, null)
    "azure"              = try(local.doc.azure, null)
    "azure.bindings"     = try(local.doc.azure.bindings, null)
    "azure.associate"    = try(local.doc.azure.associate, null)
    "azure.backend"      = try(local.doc.azure.backend, null)
  }
  # Keys given in each section (none when the section is absent or not a mapping).
  given = merge({ "" = keys(local.doc) }, {
    for k, v in local.sections_raw : k => try(keys(v), [])
  })

  # --- values with the schema's defaults (what the rest of the module reads) --------------

  aws_bindings_raw   = { for r in local.roles : r => try(local.doc.aws.bindings[r], null) if contains(local.given["aws.bindings"], r) }
  azure_bindings_raw = { for r in local.roles : r => try(local.doc.azure.bindings[r], null) if contains(local.given["azure.bindings"], r) }

  d = {
    name = try(tostring(local.doc.name), "")
    appliance = {
      cluster           = try(coalesce(tobool(local.doc.appliance.cluster), local.defaults.appliance.cluster), local.defaults.appliance.cluster)
      internal_firewall = try(coalesce(tobool(local.doc.appliance.internal_firewall), local.defaults.appliance.internal_firewall), local.defaults.appliance.internal_firewall)
      ipv6              = try(coalesce(tobool(local.doc.appliance.ipv6), local.defaults.appliance.ipv6), local.defaults.appliance.ipv6)
      dns               = try(contains(local.schema.dns_modes, local.doc.appliance.dns) ? tostring(local.doc.appliance.dns) : local.defaults.appliance.dns, local.defaults.appliance.dns)
      features = {
        for f, default in local.defaults.features :
        f => try(coalesce(tobool(local.doc.appliance.features[f]), default), default)
      }
    }
    # role -> its valid CIDRs, canonical (as Python's ipaddress writes them), first occurrence.
    roles = {
      for r in local.roles : r => distinct([for e in local.cidr_entries[r] : e.network if e.problem == null])
    }
    aws = !local.has.aws ? null : {
      region     = try(tostring(local.doc.aws.region), "")
      vpc_id     = try(tostring(local.doc.aws.vpc_id), "")
      rule_quota = try(coalesce(tonumber(local.doc.aws.rule_quota), local.defaults.rule_quota), local.defaults.rule_quota)
      bindings = {
        for r, b in local.aws_bindings_raw : r => {
          security_group_ids = try([for v in b.security_group_ids : tostring(v)], [])
          prefix_list_ids    = try([for v in b.prefix_list_ids : tostring(v)], [])
        }
      }
    }
    azure = !local.has.azure ? null : {
      location       = try(tostring(local.doc.azure.location), "")
      resource_group = try(tostring(local.doc.azure.resource_group), "")
      bindings = {
        for r, b in local.azure_bindings_raw : r => try([for v in b.application_security_group_ids : tostring(v)], [])
      }
      subnet_ids            = try([for v in local.doc.azure.associate.subnet_ids : tostring(v)], [])
      network_interface_ids = try([for v in local.doc.azure.associate.network_interface_ids : tostring(v)], [])
      # azure.adopt (`sxcloud adopt azure`): the live NSG's and ASG's names, the last part of
      # their ids, which the stack keeps (a new name would replace them).
      adopted_nsg_name = try(regex("[^/]+$", tostring(local.doc.azure.adopt.network_security_group_id)), null)
      adopted_asg_name = try(regex("[^/]+$", tostring(local.doc.azure.adopt.application_security_group_id)), null)
    }
  }
  targets = [for c in ["aws", "azure"] : c if local.d[c] != null]

  # --- CIDRs ------------------------------------------------------------------------------

  # role -> its list as given (empty when absent or not a list).
  role_lists = {
    for r in local.roles : r => try([for e in local.doc.roles[r] : e if !can(keys(local.doc.roles[r]))], [])
  }
  cidr_parsed = {
    for r in local.roles : r => [
      for i, e in local.role_lists[r] : {
        key  = "roles.${r}[${i}]"
        text = try(tostring(e) == e && e != null ? trimspace(e) : null, null)
      }
    ]
  }
  cidr_entries = {
    for r in local.roles : r => [
      for i, e in local.cidr_parsed[r] : merge(e, {
        network = local.cidr_network[e.key]
        problem = try(local.cidr_problem[e.key], "'${e.text}' is not a valid CIDR block")
      })
    ]
  }
  cidr_problem = merge([
    for r in local.roles : {
      for i, e in local.cidr_parsed[r] : e.key => (
        e.text == null ? "must be a CIDR string such as 10.0.0.0/16" :
        !strcontains(e.text, "/") ? (
          can(regex(local.ipv4, "${e.text}/32")) ? "'${e.text}' is a host address without a prefix length; write ${e.text}/32" :
          strcontains(e.text, ":") && can(cidrhost("${e.text}/128", 0)) ? "'${e.text}' is a host address without a prefix length; write ${cidrhost("${e.text}/128", 0)}/128" :
          "'${e.text}' is not a CIDR block (such as 10.0.0.0/16)"
        ) :
        local.cidr_network[e.key] == null ? "'${e.text}' is not a valid CIDR block" :
        strcontains(e.text, ":") && strcontains(local.cidr_network[e.key], ".") ? "'${e.text}' is an IPv4-mapped IPv6 range, which this module does not take; write the IPv4 range" :
        cidrhost(e.text, 0) != cidrhost("${split("/", e.text)[0]}/${strcontains(e.text, ":") ? 128 : 32}", 0) ? "'${e.text}' has host bits set; the network is ${local.cidr_network[e.key]}" :
        local.cidr_first[r][local.cidr_network[e.key]][0] < i ? "${local.cidr_network[e.key]} is listed twice" :
        endswith(local.cidr_network[e.key], "/0") ? "${local.cidr_network[e.key]} is the whole Internet; a role must name its own hosts or networks (the Internet is built in)" :
        tonumber(split("/", e.text)[1]) < local.widest[e.key] ? "${local.cidr_network[e.key]} is wider than /${local.widest[e.key]}, wider than any one organisation's network; a role must name its own hosts or networks" :
        strcontains(e.text, ":") && tonumber(split("/", e.text)[1]) < local.routed.widest_prefix && cidrsubnet("${split("/", local.cidr_network[e.key])[0]}/3", 0, 0) == local.routed.network ? "${local.cidr_network[e.key]} is wider than /${local.routed.widest_prefix}, wider than any allocation in the routed IPv6 Internet (${local.routed.network}); a role must name its own hosts or networks" :
        null
      )
    }
  ]...)
  widest = merge([for r in local.roles : { for e in local.cidr_parsed[r] : e.key => local.schema.widest_prefix[strcontains(e.text, ":") ? "IPv6" : "IPv4"] if e.text != null }]...)

  # Coverage: the ranges of one role (valid ones, however wide), and of all roles (those
  # within the limits), must not cover half of an address family, nor half of the routed IPv6
  # Internet (2000::/3; `routed`: the IPv6 ranges inside it, or 2000::/3 itself when a range
  # holds it). CIDR blocks nest or are disjoint, so the union is the sum over the blocks that
  # no other listed block contains; that is computed only when the plain sum reaches half.
  routed = local.schema.routed_ipv6
  cidr_valid = {
    for r in local.roles : r => distinct([
      for e in local.cidr_entries[r] : e.network
      if e.network != null && !endswith(coalesce(e.network, "/0"), "/0") && (e.problem == null || can(regex("listed twice|is wider than", coalesce(e.problem, "-"))))
    ])
  }
  coverage_subjects = merge(
    { for r in local.roles : "roles.${r}" => { subject = "its ranges", nets = local.cidr_valid[r] } },
    { roles = { subject = "the roles' ranges", nets = distinct(flatten(values(local.d.roles))) } },
  )
  coverage = {
    for s, c in local.coverage_subjects : s => {
      for family, bits in { IPv4 = 32, IPv6 = 128, routed = 128 } : family => {
        nets = family != "routed" ? [for n in c.nets : n if strcontains(n, ":") == (family == "IPv6")] : distinct([
          for n in c.nets : (tonumber(split("/", n)[1]) < 3 ? local.routed.network : n) if strcontains(n, ":") && (
            tonumber(split("/", n)[1]) < 3 ? cidrsubnet("${split("/", local.routed.network)[0]}/${split("/", n)[1]}", 0, 0) == n :
            cidrsubnet("${split("/", n)[0]}/3", 0, 0) == local.routed.network
          )
        ])
        whole = family == "routed" ? pow(2, 125) : pow(2, bits)
        bits  = bits
      }
    }
  }
  coverage_sum = {
    for s, fams in local.coverage : s => {
      for family, f in fams : family => sum(concat([0], [for n in f.nets : pow(2, f.bits - tonumber(split("/", n)[1]))]))
    }
  }
  coverage_union = {
    for s, fams in local.coverage : s => {
      for family, f in fams : family => sum(concat([0], [
        for n in(local.coverage_sum[s][family] * 2 >= f.whole ? f.nets : []) : pow(2, f.bits - tonumber(split("/", n)[1]))
        if !anytrue([for p in range(1, tonumber(split("/", n)[1])) : contains(f.nets, cidrsubnet("${split("/", n)[0]}/${p}", 0, 0))])
      ]))
    }
  }
  coverage_messages = {
    for s, fams in local.coverage : s => [
      for family, f in fams : (
        family == "routed" ? (
          local.coverage_union[s][family] == f.whole ?
          "${s}: together ${local.coverage_subjects[s].subject} are the whole routed IPv6 Internet (${local.routed.network}); a role must name its own hosts or networks (the Internet is built in)" :
          "${s}: together ${local.coverage_subjects[s].subject} cover half or more of the routed IPv6 Internet (${local.routed.network}); a role must name its own hosts or networks"
        ) :
        local.coverage_union[s][family] == f.whole ?
        "${s}: together ${local.coverage_subjects[s].subject} are the whole ${family} Internet; a role must name its own hosts or networks (the Internet is built in)" :
        "${s}: together ${local.coverage_subjects[s].subject} cover half or more of the ${family} address space; a role must name its own hosts or networks"
        # the routed share is named only when the share of all IPv6 is not (as the loader does)
      ) if local.coverage_union[s][family] * 2 >= f.whole && (family != "routed" || local.coverage_union[s].IPv6 * 2 < fams.IPv6.whole)
    ]
  }
  coverage_problems = concat(
    flatten([for r in local.roles : local.coverage_messages["roles.${r}"]]),
    length(flatten([for r in local.roles : local.coverage_messages["roles.${r}"]])) == 0 ? local.coverage_messages.roles : [],
  )

  # role -> network -> the indexes where it is listed (linear, for roles with thousands).
  cidr_first = {
    for r in local.roles : r => {
      for i, e in local.cidr_parsed[r] : local.cidr_network[e.key] => i... if local.cidr_network[e.key] != null
    }
  }
  # IPv4 as Python's ipaddress takes it (Terraform also takes leading zeros, Python does not).
  ipv4 = "^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])/([0-9]+)$"
  # entry key -> its canonical network (host bits cleared), or null when it is no CIDR.
  cidr_network = merge([
    for r in local.roles : {
      for e in local.cidr_parsed[r] : e.key => try(
        strcontains(e.text, ":") || can(regex(local.ipv4, e.text)) ? cidrsubnet(e.text, 0, 0) : null,
      null)
    }
  ]...)

  # --- problems -----------------------------------------------------------------------------

  input_problems = concat(
    local.control_problems,
    local.unknown_key_problems,
    local.required_problems,
    local.type_problems,
    local.pattern_problems,
    local.list_problems,
    flatten([for r in local.roles : [for e in local.cidr_entries[r] : "${e.key}: ${e.problem}" if e.problem != null]]),
    local.coverage_problems,
    local.role_problems,
    local.exception_problems,
    length(local.targets) == 0 && local.has_cloud_keys == 0 ? ["deployment: has neither an 'aws' nor an 'azure' section, so there is nothing to synthesize"] : [],
  )
  has_cloud_keys = length(setintersection(local.given[""], ["aws", "azure"]))

  # Sections and their known keys; bindings per role.
  known_keys = merge(
    { for k in ["", "appliance", "appliance.features", "roles", "aws", "aws.bindings", "aws.endpoints", "azure", "azure.bindings", "azure.associate"] : k => local.keys[k] },
    { for r in keys(local.aws_bindings_raw) : "aws.bindings.${r}" => local.keys.aws_binding },
    { for r in keys(local.azure_bindings_raw) : "azure.bindings.${r}" => local.keys.azure_binding },
  )
  binding_keys = merge(
    { for r, b in local.aws_bindings_raw : "aws.bindings.${r}" => try(keys(b), []) },
    { for r, b in local.azure_bindings_raw : "azure.bindings.${r}" => try(keys(b), []) },
  )
  unknown_key_problems = flatten([
    for section, known in local.known_keys : [
      for k in try(local.given[section], local.binding_keys[section]) :
      "${section == "" ? "" : "${section}."}${k}: unknown key; known keys: ${join(", ", known)}"
      if !contains(known, k) && !can(regex(local.unsafe, k))
    ]
  ])

  required_problems = concat(
    [for k in local.schema.required[""] : "${k}: is required" if !contains(local.given[""], k)],
    flatten([for s in ["roles", "aws", "azure"] : [
      for k in local.schema.required[s] : "${s}.${k}: is required"
      if local.has[s] && !contains(local.given[s], k)
    ]]),
    [for r, b in local.azure_bindings_raw : "azure.bindings.${r}.application_security_group_ids: is required" if !can(b.application_security_group_ids)],
  )

  # Mappings, booleans, the DNS mode and the quota.
  type_problems = concat(
    [for s, p in local.present : "${s}: must be a mapping" if p && !local.has[s]],
    [for k in ["cluster", "internal_firewall", "ipv6"] : "appliance.${k}: must be true or false" if contains(local.given.appliance, k) && !try(local.doc.appliance[k] == true || local.doc.appliance[k] == false, false)],
    [for k in local.given["appliance.features"] : "appliance.features.${k}: must be true or false" if contains(local.keys["appliance.features"], k) && !try(local.doc.appliance.features[k] == true || local.doc.appliance.features[k] == false, false)],
    contains(local.given.appliance, "dns") && !try(contains(local.schema.dns_modes, local.doc.appliance.dns) && tostring(local.doc.appliance.dns) == local.doc.appliance.dns, false) ? ["appliance.dns: '${try(tostring(local.doc.appliance.dns), "?")}' is not one of: ${join(", ", local.schema.dns_modes)}"] : [],
    contains(local.given.aws, "rule_quota") && !try(tonumber(local.doc.aws.rule_quota) == local.doc.aws.rule_quota && floor(local.doc.aws.rule_quota) == local.doc.aws.rule_quota && local.doc.aws.rule_quota >= local.schema.rule_quota.minimum && local.doc.aws.rule_quota <= local.schema.rule_quota.maximum, false) ? ["aws.rule_quota: must be a whole number between ${local.schema.rule_quota.minimum} and ${local.schema.rule_quota.maximum}"] : [],
    [for r in local.given.roles : "roles.${r}: must be a list" if contains(local.roles, r) && !try(!can(keys(local.doc.roles[r])) && local.doc.roles[r] != null && can([for e in local.doc.roles[r] : e]), false)],
    contains(local.given.roles, "internal_network") && length(local.role_lists.internal_network) == 0 && can([for e in local.doc.roles.internal_network : e]) ? ["roles.internal_network: must not be empty"] : [],
    [for s in ["aws.backend", "azure.backend"] : "${s}: must name exactly one backend, one of: ${join(", ", local.schema.backends)}" if local.has[s] && length(local.given[s]) != 1],
    flatten([for s in ["aws.backend", "azure.backend"] : [for k in local.given[s] : "${s}.${k}: '${k}' is not a valid key here; use one of ${join(", ", local.schema.backends)}" if !contains(local.schema.backends, k)]]),
    flatten([for s in ["aws.backend", "azure.backend"] : [for k in local.given[s] : "${s}.${k}: must be a mapping of settings" if !can(keys(local.sections_raw[s][k]))]]),
  )

  # Strings with a pattern (the schema's, in RE2; hints in the loader's words). An absent
  # value is not checked here (required_problems names it), nor one with a control character
  # (control_problems names it).
  pattern_checks = concat(
    [
      { key = "name", value = try(local.doc.name, null), kind = "name", present = contains(local.given[""], "name") },
      { key = "aws.region", value = try(local.doc.aws.region, null), kind = "region", present = contains(local.given.aws, "region") },
      { key = "aws.vpc_id", value = try(local.doc.aws.vpc_id, null), kind = "vpc_id", present = contains(local.given.aws, "vpc_id") },
      { key = "azure.location", value = try(local.doc.azure.location, null), kind = "location", present = contains(local.given.azure, "location") },
      { key = "azure.resource_group", value = try(local.doc.azure.resource_group, null), kind = "resource_group", present = contains(local.given.azure, "resource_group") },
    ],
    [for k in local.given["aws.endpoints"] : { key = "aws.endpoints.${k}", value = try(local.doc.aws.endpoints[k], null), kind = "endpoint_url", present = true } if contains(local.keys["aws.endpoints"], k)],
    flatten([for r, b in local.aws_bindings_raw : [
      for kind in ["security_group_ids", "prefix_list_ids"] : [
        for i, v in try([for x in b[kind] : x], []) : { key = "aws.bindings.${r}.${kind}[${i}]", value = v, kind = kind, present = true }
      ]
    ]]),
    flatten([for l in local.arm_lists : [for i, v in l.ids : { key = "${l.key}[${i}]", value = v, kind = l.kind, present = true }]]),
  )
  pattern_hints = merge(local.schema.hints, { endpoint_url = local.schema.hints.endpoints })
  pattern_problems = [
    for c in local.pattern_checks : (
      !try(tostring(c.value) == c.value && c.value != null, false) ? "${c.key}: must be a string" :
      "${c.key}: '${c.value}' is not valid here (${local.pattern_hints[c.kind]})"
      ) if c.present && !contains(local.control_keys, c.key) && !try(
      can(regex(local.patterns[c.kind], c.value)) && tostring(c.value) == c.value &&
      (c.kind != "name" || !startswith(c.value, local.schema.name_forbidden_prefix)),
    false)
  ]

  # Control and format characters, in any key or value: the whole document, walked to the
  # depth the schema has (deeper keys are unknown keys, reported as such).
  walk        = concat(local.walk_levels...)
  walk_levels = [local.walk0, local.walk1, local.walk2, local.walk3, local.walk4, local.walk5, local.walk6, local.walk7]
  walk0       = [{ key = "", value = local.doc, name = "" }]
  walk1       = flatten([for n in local.walk0 : try([for k, v in n.value : { key = can(keys(n.value)) ? (n.key == "" ? k : "${n.key}.${k}") : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk2       = flatten([for n in local.walk1 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk3       = flatten([for n in local.walk2 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk4       = flatten([for n in local.walk3 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk5       = flatten([for n in local.walk4 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk6       = flatten([for n in local.walk5 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  walk7       = flatten([for n in local.walk6 : try([for k, v in n.value : { key = can(keys(n.value)) ? "${n.key}.${k}" : "${n.key}[${k}]", value = v, name = tostring(k), parent = n.key }], [])])
  # C0 and C1 controls, DEL, format characters (such as U+202E), line and paragraph separators.
  unsafe = "[\\p{Cc}\\p{Cf}\\x{2028}\\x{2029}]"
  control_keys = concat(
    [for n in local.walk : n.key if try(can(regex(local.unsafe, n.value)) && tostring(n.value) == n.value, false)],
    [for n in local.walk : n.key if can(regex(local.unsafe, n.name))],
  )
  control_problems = concat(
    distinct([for n in local.walk : "${n.parent == "" ? "deployment" : n.parent}: a key holds control or format characters" if can(regex(local.unsafe, n.name))]),
    [for n in local.walk : "${n.key}: holds control or format characters; none is valid in a deployment file" if try(can(regex(local.unsafe, n.value)) && tostring(n.value) == n.value && !can(regex(local.unsafe, n.name)), false)],
  )

  # Lists of ids: a list, not empty (bindings), no entry twice, at most N entries, of the right kind.
  arm_lists = concat(
    [for r, b in local.azure_bindings_raw : { key = "azure.bindings.${r}.application_security_group_ids", kind = "application_security_group_ids", ids = try([for v in b.application_security_group_ids : v], []), present = can(b.application_security_group_ids), min = 1, max = local.schema.asgs_per_binding, value = try(b.application_security_group_ids, null) }],
    [for k in ["subnet_ids", "network_interface_ids"] : { key = "azure.associate.${k}", kind = k, ids = try([for v in local.doc.azure.associate[k] : v], []), present = contains(local.given["azure.associate"], k), min = 0, max = null, value = try(local.doc.azure.associate[k], null) }],
  )
  id_lists = concat(
    local.arm_lists,
    flatten([for r, b in local.aws_bindings_raw : [
      for kind in ["security_group_ids", "prefix_list_ids"] : {
        key = "aws.bindings.${r}.${kind}", kind = kind, ids = try([for v in b[kind] : v], []), present = can(b[kind]), min = 1, max = null, value = try(b[kind], null)
      }
    ]]),
  )
  list_problems = concat(
    [for l in local.id_lists : "${l.key}: must be a list" if l.present && !try(!can(keys(l.value)) && l.value != null && can([for v in l.value : v]), false)],
    [for l in local.id_lists : "${l.key}: must not be empty" if l.present && length(l.ids) < l.min && can([for v in l.value : v])],
    [for l in local.id_lists : "${l.key}: takes at most ${l.max} entries" if l.max != null && length(l.ids) > coalesce(l.max, 0)],
    [for l in local.id_lists : "${l.key}: lists an entry twice" if try(length(distinct(l.ids)) != length(l.ids), false)],
    [for r, b in local.aws_bindings_raw : "aws.bindings.${r}: must not be empty" if try(length(keys(b)) == 0, false)],
  )

  # Roles the enabled rows need: CIDRs in the file, or a binding in every cloud section present.
  admin_features = sort([for f in ["admin_https", "admin_http"] : f if local.d.appliance.features[f]])
  needed_roles = merge(
    { internal_network = "always", internal_mail_server = "R03 always applies" },
    local.d.appliance.dns == "internal" ? { internal_nameserver = "appliance.dns is internal" } : {},
    local.d.appliance.dns == "external" ? { external_nameserver = "appliance.dns is external" } : {},
    length(local.admin_features) > 0 ? { admin_pc = "appliance.features.${local.admin_features[0]} is on" } : {},
  )
  bindings_by_cloud = {
    aws   = keys(local.aws_bindings_raw)
    azure = keys(local.azure_bindings_raw)
  }
  role_problems = [
    for r, reason in local.needed_roles :
    "roles.${r}: is required: ${reason}, and ${join(" and ", [for c in local.targets : c if !contains(local.bindings_by_cloud[c], r)])} ${length([for c in local.targets : c if !contains(local.bindings_by_cloud[c], r)]) == 1 ? "has" : "have"} no binding for it"
    if length(local.role_lists[r]) == 0 && length([for c in local.targets : c if !contains(local.bindings_by_cloud[c], r)]) > 0
  ]

  # --- warnings (sxcloud's loader gives the same ones, prefixed with the file's path) -------

  # A role that only an exception names is used all the same.
  used_roles = merge(local.needed_roles, local.exception_roles)
  input_warnings = concat(
    [for r in local.roles : "roles.${r} is not used with these options" if !contains(keys(local.used_roles), r) && length(local.d.roles[r]) > 0],
    flatten([for c in local.targets : [for r in local.bindings_by_cloud[c] : "${c}.bindings.${r} is not used with these options" if !contains(keys(local.used_roles), r)]]),
    local.d.appliance.features.admin_http ? ["appliance.features.admin_http opens plain-HTTP administration (R15, TCP 8080); the vendor recommends admin_https (R16, TCP 8443) only"] : [],
    local.d.appliance.internal_firewall ? [] : flatten([
      for r in ["internal_mail_server", "internal_nameserver", "admin_pc"] : [
        for n in local.d.roles[r] : "roles.${r} ${n} lies outside roles.internal_network; a simple installation drops the ** rows that would reach it"
        if contains(keys(local.used_roles), r) && !anytrue([for i in local.d.roles.internal_network : local.within[n][i]])
      ]
    ]),
    local.exception_warnings,
  )
  # network -> internal network -> whether the first lies within the second (same family).
  within = {
    for n in distinct(flatten(values(local.d.roles))) : n => {
      # (&& does not short-circuit: the try catches a prefix length of the other family)
      for i in local.d.roles.internal_network : i => try(
        strcontains(n, ":") == strcontains(i, ":") &&
        tonumber(split("/", n)[1]) >= tonumber(split("/", i)[1]) &&
        cidrsubnet("${split("/", n)[0]}/${split("/", i)[1]}", 0, 0) == i,
      false)
    }
  }
}
