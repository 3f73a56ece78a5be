# Site exceptions (the file's `exceptions` list; spec/config.md "Site exceptions"): their
# checks, the AWS and Azure rules they become, and their expiry warnings. The same decisions
# as sxcloud/exceptions.py, aws/plan.py and azure/plan.py, proven equal by
# tests/test_modules_rules.py. aws.tf and azure.tf add these rules to their own.
#
# As in input.tf, bad input never makes an expression fail: a value of the wrong type reads
# as absent, its problem is listed, and no exception is turned into rules while any entry
# has a problem (`exception_problems`).

variable "today" {
  description = "The day the expiry warnings and the 366-day limit count from, YYYY-MM-DD (sxcloud's SXCLOUD_TODAY). Default: the UTC date of the plan (plantimestamp())."
  type        = string
  default     = null

  validation {
    condition     = var.today == null || can(formatdate("YYYY", "${var.today}T00:00:00Z")) && can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.today))
    error_message = "today: is not a date written YYYY-MM-DD; leave it unset to use the plan's UTC date."
  }
}

locals {
  xt = local.exception_tables

  # "Today" and day numbers: days since 0000-03-01 of a valid YYYY-MM-DD date (differences
  # of two are the days between them).
  today      = coalesce(var.today, formatdate("YYYY-MM-DD", plantimestamp()))
  today_days = local.x_day_numbers[local.today]
  x_day_numbers = {
    for s in distinct(concat([local.today], [for e in local.x_fields : e.expires if e.expires != null])) : s => (
      365 * (tonumber(substr(s, 0, 4)) - (tonumber(substr(s, 5, 2)) <= 2 ? 1 : 0))
      + floor((tonumber(substr(s, 0, 4)) - (tonumber(substr(s, 5, 2)) <= 2 ? 1 : 0)) / 4)
      -floor((tonumber(substr(s, 0, 4)) - (tonumber(substr(s, 5, 2)) <= 2 ? 1 : 0)) / 100)
      + floor((tonumber(substr(s, 0, 4)) - (tonumber(substr(s, 5, 2)) <= 2 ? 1 : 0)) / 400)
      + floor((153 * ((tonumber(substr(s, 5, 2)) + 9) % 12) + 2) / 5) + tonumber(substr(s, 8, 2))
    )
  }

  # --- the entries, as given -----------------------------------------------------------------

  x_given   = contains(local.given[""], "exceptions")
  x_is_list = try(!can(keys(local.doc.exceptions)) && local.doc.exceptions != null && can([for e in local.doc.exceptions : e]), false)
  x_raw     = try([for e in local.doc.exceptions : e if local.x_is_list], [])

  # Each entry's values, normalised; null where absent or of the wrong type (its problem is
  # in x_problems). `str` is a string value, `int` a whole number.
  x_fields = [
    for i, e in local.x_raw : {
      i         = i
      key       = "exceptions[${i}]"
      map       = can(keys(e))
      given     = try(keys(e), [])
      id        = try(tostring(e.id) == e.id && can(regex(local.xt.patterns.id, e.id)) ? e.id : null, null)
      direction = try(contains(local.xt.directions, e.direction) && tostring(e.direction) == e.direction ? e.direction : null, null)
      protocol = try(
        tostring(e.protocol) == e.protocol ? (contains(local.xt.protocols, e.protocol) ? e.protocol : null) :
        tonumber(e.protocol) == e.protocol && floor(e.protocol) == e.protocol && e.protocol >= 0 && e.protocol <= 255 && !contains(keys(local.xt.named_numbers), tostring(e.protocol)) ? tostring(e.protocol) : null,
      null)
      icmp_type = try(tonumber(e.icmp_type) == e.icmp_type && floor(e.icmp_type) == e.icmp_type && e.icmp_type >= 0 && e.icmp_type <= 255 ? e.icmp_type : null, null)
      icmp_code = try(tonumber(e.icmp_code) == e.icmp_code && floor(e.icmp_code) == e.icmp_code && e.icmp_code >= 0 && e.icmp_code <= 255 ? e.icmp_code : null, null)
      reason    = try(tostring(e.reason) == e.reason && can(regex(local.xt.patterns.reason, e.reason)) ? e.reason : null, null)
      owner     = try(tostring(e.owner) == e.owner && can(regex(local.xt.patterns.owner, e.owner)) ? e.owner : null, null)
      ticket    = try(tostring(e.ticket) == e.ticket && can(regex(local.xt.patterns.ticket, e.ticket)) ? e.ticket : null, null)
      # yamldecode reads a plain YAML date as a timestamp (2027-06-30T00:00:00Z); a quoted one
      # stays as written. Both are the date.
      expires = try(
        can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}(T00:00:00Z)?$", e.expires)) && tonumber(substr(e.expires, 0, 4)) >= 1 && can(formatdate("YYYY", "${substr(e.expires, 0, 10)}T00:00:00Z")) ? substr(e.expires, 0, 10) : null,
      null)
      clouds = try(
        [for c in e.clouds : c if contains(local.xt.clouds, c) && tostring(c) == c],
        [for c in local.targets : c],
      )
      clouds_list    = try([for c in e.clouds : c if !can(keys(e.clouds))], [])
      azure_name     = try(tostring(e.azure.name) == e.azure.name && can(regex(local.xt.patterns.name, e.azure.name)) ? e.azure.name : null, null)
      azure_priority = try(tonumber(e.azure.priority) == e.azure.priority && floor(e.azure.priority) == e.azure.priority && e.azure.priority >= local.xt.priority.minimum && e.azure.priority <= local.xt.priority.maximum ? e.azure.priority : null, null)
      ports_list     = try([for p in e.ports : p if !can(keys(e.ports))], [])
      peer           = try(e.peer, null)
      peer_given     = try(keys(e.peer), [])
      v              = e
    }
  ]

  # Ports: (low, high) of each entry's valid items, and each item's problem.
  x_ports = [
    for e in local.x_fields : [
      for j, p in e.ports_list : {
        key = "${e.key}.ports[${j}]", j = j
        # a port, or a "low-high" range
        low  = try(tonumber(p) == p && floor(p) == p && p >= 0 && p <= 65535, false) ? p : try(tostring(p) == p && can(regex(local.xt.patterns.port_range, p)), false) ? tonumber(split("-", p)[0]) : null
        high = try(tonumber(p) == p && floor(p) == p && p >= 0 && p <= 65535, false) ? p : try(tostring(p) == p && can(regex(local.xt.patterns.port_range, p)), false) ? tonumber(split("-", p)[1]) : null
        form = try(tonumber(p) == p && floor(p) == p && p >= 0 && p <= 65535, false) || try(tostring(p) == p && can(regex(local.xt.patterns.port_range, p)), false)
        text = try(tostring(p), jsonencode(p))
      }
    ]
  ]
  # ...and whether each valid item is a range low <= high <= 65535.
  x_ports_ok = [
    for ports in local.x_ports : [
      for p in ports : try(p.form && p.low <= p.high && p.high <= 65535, false)
    ]
  ]
  # The valid ranges of each entry in order (low, high, then position), for the overlaps.
  x_ranges = [
    for i, ports in local.x_ports : [
      for s in sort([for n, p in ports : format("%05d-%05d-%05d", p.low, p.high, p.j) if local.x_ports_ok[i][n]]) : {
        low  = tonumber(split("-", s)[0]), high = tonumber(split("-", s)[1]), j = tonumber(split("-", s)[2])
        text = tonumber(split("-", s)[0]) == tonumber(split("-", s)[1]) ? tostring(tonumber(split("-", s)[0])) : "${tonumber(split("-", s)[0])}-${tonumber(split("-", s)[1])}"
      }
    ]
  ]

  # Peer CIDRs, checked as the loader checks a role's (and named "an exception" there).
  x_cidrs = [
    for e in local.x_fields : [
      for j, c in try([for c in e.peer.cidrs : c if !can(keys(e.peer.cidrs))], []) : {
        key  = "${e.key}.peer.cidrs[${j}]", j = j
        text = try(tostring(c) == c && c != null ? trimspace(c) : null, null)
        network = try(
          strcontains(trimspace(c), ":") || can(regex(local.ipv4, trimspace(c))) ? cidrsubnet(trimspace(c), 0, 0) : null,
        null)
      }
    ]
  ]
  x_cidr_problems = [
    for i, cidrs in local.x_cidrs : {
      for c in cidrs : c.key => (
        c.text == null ? "must be a CIDR string such as 10.0.0.0/16" :
        !strcontains(c.text, "/") ? (
          can(regex(local.ipv4, "${c.text}/32")) ? "'${c.text}' is a host address without a prefix length; write ${c.text}/32" :
          strcontains(c.text, ":") && can(cidrhost("${c.text}/128", 0)) ? "'${c.text}' is a host address without a prefix length; write ${cidrhost("${c.text}/128", 0)}/128" :
          "'${c.text}' is not a CIDR block (such as 10.0.0.0/16)"
        ) :
        c.network == null ? "'${c.text}' is not a valid CIDR block" :
        strcontains(c.text, ":") && strcontains(c.network, ".") ? "'${c.text}' is an IPv4-mapped IPv6 range, which this module does not take; write the IPv4 range" :
        cidrhost(c.text, 0) != cidrhost("${split("/", c.text)[0]}/${strcontains(c.text, ":") ? 128 : 32}", 0) ? "'${c.text}' has host bits set; the network is ${c.network}" :
        endswith(c.network, "/0") ? "${c.network} is the whole Internet; an exception must name its own hosts or networks (the Internet is built in); the Internet is `internet: true`" :
        tonumber(split("/", c.text)[1]) < local.schema.widest_prefix[strcontains(c.text, ":") ? "IPv6" : "IPv4"] ? "${c.network} is wider than /${local.schema.widest_prefix[strcontains(c.text, ":") ? "IPv6" : "IPv4"]}, wider than any one organisation's network; an exception must name its own hosts or networks; the Internet is `internet: true`" :
        strcontains(c.text, ":") && tonumber(split("/", c.text)[1]) < local.routed.widest_prefix && cidrsubnet("${split("/", c.network)[0]}/3", 0, 0) == local.routed.network ? "${c.network} is wider than /${local.routed.widest_prefix}, wider than any allocation in the routed IPv6 Internet (${local.routed.network}); an exception must name its own hosts or networks; the Internet is `internet: true`" :
        index([for d in cidrs : d.network], c.network) < c.j ? "${c.network} is listed twice" :
        null
      ) if !contains(local.control_keys, c.key)
    }
  ]

  # Peer objects: (key, kind, value) of each id and tag listed.
  x_objects = [
    for e in local.x_fields : flatten([
      for cloud, kinds in { aws = local.xt.peer_aws_keys, azure = local.xt.peer_azure_keys } : [
        for kind in kinds : [
          for j, v in try([for v in e.peer[cloud][kind] : v if !can(keys(e.peer[cloud][kind]))], []) :
          { key = "${e.key}.peer.${cloud}.${kind}[${j}]", kind = kind, value = v, cloud = cloud }
        ]
      ]
    ])
  ]
  x_object_patterns = merge(
    { for k in local.xt.peer_aws_keys : k => local.patterns[k] },
    { application_security_group_ids = local.patterns.application_security_group_ids, service_tags = local.xt.patterns.service_tags },
  )
  x_object_hints = merge(local.schema.hints, { service_tags = local.xt.hints.service_tags })
  x_object_ok = [
    for objects in local.x_objects : [
      for o in objects : try(tostring(o.value) == o.value && can(regex(local.x_object_patterns[o.kind], o.value)), false)
    ]
  ]

  # --- problems, one per fault, naming the key (as sxcloud's loader words them) -------------

  x_peer_choice = [
    for e in local.x_fields : concat(
      [for k in ["internet", "role"] : k if contains(e.peer_given, k)],
      length(setintersection(e.peer_given, ["cidrs", "aws", "azure"])) > 0 ? ["addresses"] : [],
    )
  ]
  x_first_id = { for e in local.x_fields : e.id => e.i... if e.id != null }

  x_entry_problems = flatten(local.x_problems_by_entry)
  x_problems_by_entry = [
    for e in local.x_fields : !e.map ? ["${e.key}: must be a mapping"] : compact(concat(
      [for k in e.given : "${e.key}.${k}: unknown key; known keys: ${join(", ", local.xt.keys)}" if !contains(local.xt.keys, k) && !can(regex(local.unsafe, k))],
      [for k in local.xt.required : "${e.key}.${k}: is required" if !contains(e.given, k)],
      # strings with a pattern (a value with control characters is named by control_problems)
      [
        for k in ["id", "reason", "owner", "ticket"] : (
          try(tostring(e.v[k]) == e.v[k] && e.v[k] != null, false) ? "${e.key}.${k}: '${e.v[k]}' is not valid here (${local.xt.hints[k]})" : "${e.key}.${k}: must be a string"
        ) if contains(e.given, k) && e[k] == null && !contains(local.control_keys, "${e.key}.${k}")
      ],
      contains(e.given, "id") && e.id != null ? [for first in [local.x_first_id[coalesce(e.id, "-")][0]] : "${e.key}.id: '${e.id}' is also the id of exceptions[${first}]; ids must be unique" if first != e.i] : [],
      contains(e.given, "direction") && e.direction == null && !contains(local.control_keys, "${e.key}.direction") ? ["${e.key}.direction: '${try(tostring(e.v.direction), "?")}' is not one of: ${join(", ", local.xt.directions)}"] : [],
      # protocol: a name, or a number without one
      contains(e.given, "protocol") && e.protocol == null && !contains(local.control_keys, "${e.key}.protocol") ? [
        try(contains(keys(local.xt.named_numbers), tostring(e.v.protocol)) && tonumber(e.v.protocol) == e.v.protocol, false)
        ? "${e.key}.protocol: ${e.v.protocol} has a name: write '${local.xt.named_numbers[tostring(e.v.protocol)]}'${tostring(e.v.protocol) == "58" ? " (ICMPv6 for IPv6 peers)" : ""}"
        : "${e.key}.protocol: '${try(tostring(e.v.protocol), "?")}' is not valid here (${local.xt.hints.protocol})"
      ] : [],
      # ports: the items, their ranges and overlaps, and whether the protocol takes them
      contains(e.given, "ports") && (length(e.ports_list) == 0) ? [try(length(e.v.ports) == 0 && !can(keys(e.v.ports)), false) ? "${e.key}.ports: must not be empty" : "${e.key}.ports: must be a list"] : [],
      [for p in local.x_ports[e.i] : "${p.key}: '${p.text}' is not valid here (${local.xt.hints.ports})" if !p.form && !contains(local.control_keys, p.key)],
      [for n, p in local.x_ports[e.i] : "${p.key}: '${p.text}' is not a port range low-high with 0 <= low <= high <= 65535" if p.form && !local.x_ports_ok[e.i][n]],
      [
        for n, b in local.x_ranges[e.i] : "${e.key}.ports[${b.j}]: ${b.low == local.x_ranges[e.i][n - 1].low && b.high == local.x_ranges[e.i][n - 1].high ? "${b.text} is listed twice" : "${b.text} overlaps ${local.x_ranges[e.i][n - 1].text}"}; list each port once"
        if n > 0 && b.low <= try(local.x_ranges[e.i][n - 1].high, -1)
      ],
      contains(e.given, "ports") && e.protocol != null && !contains(["tcp", "udp"], coalesce(e.protocol, "-")) ? ["${e.key}.ports: ${e.protocol == "all" ? "all protocols" : "protocol ${e.protocol}"} takes no ports; only tcp and udp do"] : [],
      !contains(e.given, "ports") && contains(["tcp", "udp"], coalesce(e.protocol, "-")) ? ["${e.key}.ports: is required for ${e.protocol} (write 0-65535 for every port)"] : [],
      # ICMP type and code
      [for k in ["icmp_type", "icmp_code"] : "${e.key}.${k}: must be a whole number between 0 and 255" if contains(e.given, k) && e[k] == null],
      [for k in ["icmp_type", "icmp_code"] : "${e.key}.${k}: is for icmp only, not ${e.protocol}" if contains(e.given, k) && e.protocol != null && e.protocol != "icmp"],
      contains(e.given, "icmp_code") && !contains(e.given, "icmp_type") ? ["${e.key}.icmp_code: needs icmp_type (a code belongs to a type)"] : [],
      # expires: a date, at most max_days_ahead after today
      contains(e.given, "expires") && e.expires == null && !contains(local.control_keys, "${e.key}.expires") ? ["${e.key}.expires: '${try(tostring(e.v.expires), "?")}' is not a date written YYYY-MM-DD"] : [],
      e.expires != null ? [
        for ahead in [local.x_day_numbers[coalesce(e.expires, local.today)] - local.today_days] :
        "${e.key}.expires: ${e.expires} is ${ahead} days after today (${local.today}); an exception is granted for at most ${local.xt.max_days_ahead} days, then renewed"
        if ahead > local.xt.max_days_ahead
      ] : [],
      # clouds: a list of the file's cloud sections, each once
      contains(e.given, "clouds") && !try(!can(keys(e.v.clouds)) && length(e.clouds_list) > 0, false) ? ["${e.key}.clouds: must be a list of aws and azure, not empty"] : [],
      [for j, c in e.clouds_list : "${e.key}.clouds[${j}]: '${try(tostring(c), "?")}' is not one of: ${join(", ", local.xt.clouds)}" if !try(contains(local.xt.clouds, c) && tostring(c) == c, false) && !contains(local.control_keys, "${e.key}.clouds[${j}]")],
      length(distinct(e.clouds_list)) != length(e.clouds_list) ? ["${e.key}.clouds: lists an entry twice"] : [],
      [for j, c in e.clouds_list : "${e.key}.clouds[${j}]: the file has no '${c}' section; name only clouds it deploys to" if try(contains(local.xt.clouds, c) && !contains(local.targets, c), false)],
      # azure: the NSG rule's name and priority, for an exception on azure
      contains(e.given, "azure") && !try(can(keys(e.v.azure)) && length(keys(e.v.azure)) > 0, false) ? ["${e.key}.azure: must be a mapping with name and/or priority"] : [],
      [for k in try(keys(e.v.azure), []) : "${e.key}.azure.${k}: unknown key; known keys: ${join(", ", local.xt.azure_keys)}" if !contains(local.xt.azure_keys, k) && !can(regex(local.unsafe, k))],
      can(e.v.azure.name) && e.azure_name == null && !contains(local.control_keys, "${e.key}.azure.name") ? ["${e.key}.azure.name: '${try(tostring(e.v.azure.name), "?")}' is not valid here (${local.xt.hints.name})"] : [],
      can(e.v.azure.priority) && e.azure_priority == null ? ["${e.key}.azure.priority: must be between ${local.xt.priority.minimum} and ${local.xt.priority.maximum}"] : [],
      contains(e.given, "azure") && !contains(e.clouds, "azure") ? ["${e.key}.azure: names an NSG rule, but the exception is not on azure (clouds)"] : [],
      # peer: exactly one of internet, role, or addresses
      contains(e.given, "peer") && !can(keys(e.peer)) ? ["${e.key}.peer: must be a mapping"] : [],
      [for k in e.peer_given : "${e.key}.peer.${k}: unknown key; known keys: ${join(", ", local.xt.peer_keys)}" if !contains(local.xt.peer_keys, k) && !can(regex(local.unsafe, k))],
      can(keys(e.peer)) && length(local.x_peer_choice[e.i]) != 1 ? ["${e.key}.peer: needs exactly one of internet, role, or addresses (cidrs, aws, azure)${length(local.x_peer_choice[e.i]) > 0 ? "; it has ${join(" and ", local.x_peer_choice[e.i])}" : ""}"] : [],
      contains(e.peer_given, "internet") && !try(e.peer.internet == true, false) ? ["${e.key}.peer.internet: is true or absent"] : [],
      contains(e.peer_given, "role") && !try(contains(local.xt.peer_roles, e.peer.role) && tostring(e.peer.role) == e.peer.role, false) && !contains(local.control_keys, "${e.key}.peer.role") ? ["${e.key}.peer.role: '${try(tostring(e.peer.role), "?")}' is not one of: ${join(", ", local.xt.peer_roles)}"] : [],
      contains(e.peer_given, "cidrs") && length(local.x_cidrs[e.i]) == 0 ? ["${e.key}.peer.cidrs: must be a list of CIDR blocks, not empty"] : [],
      [for k, p in local.x_cidr_problems[e.i] : "${k}: ${p}" if p != null],
      [for cloud, known in { aws = local.xt.peer_aws_keys, azure = local.xt.peer_azure_keys } : "${e.key}.peer.${cloud}: must be a mapping of ${join(" and/or ", known)}" if contains(e.peer_given, cloud) && !try(length(keys(e.peer[cloud])) > 0, false)],
      flatten([for cloud, known in { aws = local.xt.peer_aws_keys, azure = local.xt.peer_azure_keys } : [
        for k in try(keys(e.peer[cloud]), []) : "${e.key}.peer.${cloud}.${k}: unknown key; known keys: ${join(", ", known)}" if !contains(known, k) && !can(regex(local.unsafe, k))
      ]]),
      flatten([for cloud, known in { aws = local.xt.peer_aws_keys, azure = local.xt.peer_azure_keys } : [
        for k in known : [
          for l in [try(e.peer[cloud][k], null)] :
          !can(keys(l)) && can([for v in l : v]) && l != null ? (
            length([for v in l : v]) == 0 ? "${e.key}.peer.${cloud}.${k}: must not be empty" :
            length(distinct([for v in l : v])) != length([for v in l : v]) ? "${e.key}.peer.${cloud}.${k}: lists an entry twice" :
            k == "application_security_group_ids" && length([for v in l : v]) > local.xt.asgs_max ? "${e.key}.peer.${cloud}.${k}: takes at most ${local.xt.asgs_max} entries" : null
          ) : "${e.key}.peer.${cloud}.${k}: must be a list"
        ] if can(e.peer[cloud][k])
      ]]),
      [
        for n, o in local.x_objects[e.i] : (
          try(tostring(o.value) == o.value && o.value != null, false) ? "${o.key}: '${o.value}' is not valid here (${local.x_object_hints[o.kind]})" : "${o.key}: must be a string"
        ) if !local.x_object_ok[e.i][n] && !contains(local.control_keys, o.key)
      ],
      [for o in local.x_objects[e.i] : "${o.key}: the Internet is `internet: true`, not a service tag" if o.kind == "service_tags" && try(lower(o.value) == "internet", false)],
    ))
  ]

  # Entries without a problem of their own (control characters in one are control_problems'),
  # as the rules need them.
  x_valid = [
    for e in local.x_fields : e
    if length(local.x_problems_by_entry[e.i]) == 0 && length([for k in local.control_keys : k if k == e.key || startswith(k, "${e.key}.") || startswith(k, "${e.key}[")]) == 0
  ]
  x_peers = {
    for e in local.x_valid : e.key => {
      internet = contains(e.peer_given, "internet")
      role     = try(tostring(e.peer.role), "")
      cidrs    = [for c in local.x_cidrs[e.i] : c.network]
      aws      = { for k in local.xt.peer_aws_keys : k => [for o in local.x_objects[e.i] : o.value if o.kind == k] }
      azure    = { for k in local.xt.peer_azure_keys : k => [for o in local.x_objects[e.i] : o.value if o.kind == k] }
    }
  }
  # What each of its clouds cannot express (checked once the entry is otherwise valid).
  x_cloud_problems = flatten([
    for e in local.x_valid : concat(
      flatten([for cloud in e.clouds : concat(
        local.x_peers[e.key].role != "" && local.x_peers[e.key].role != "appliance_peers" && length(try(local.d.roles[local.x_peers[e.key].role], [])) == 0 && !contains(local.bindings_by_cloud[cloud], local.x_peers[e.key].role) ? ["${e.key}.peer.role: roles.${local.x_peers[e.key].role} has no CIDRs and no ${cloud}.bindings.${local.x_peers[e.key].role}, so it names nothing on ${cloud}"] : [],
        !local.x_peers[e.key].internet && local.x_peers[e.key].role == "" && length(local.x_peers[e.key].cidrs) == 0 && length(flatten(values(local.x_peers[e.key][cloud]))) == 0 ? ["${e.key}.peer: names nothing on ${cloud} (no cidrs and no peer.${cloud}); add them, or leave ${cloud} out of clouds"] : [],
      ) if contains(local.targets, cloud)]),
      contains(e.clouds, "azure") ? concat(
        !contains(concat(keys(local.xt.azure_protocols)), e.protocol) ? ["${e.key}.protocol: Azure knows only tcp, udp, icmp, all, ${local.xt.esp_ah[0]} (ESP) and ${local.xt.esp_ah[1]} (AH), not protocol ${e.protocol}; leave azure out of clouds"] : [],
        e.icmp_type != null ? ["${e.key}.icmp_type: Azure cannot match an ICMP type or code (its Icmp rules take every one); drop icmp_type and icmp_code, or leave azure out of clouds"] : [],
        ) : length(flatten(values(local.x_peers[e.key].azure))) > 0 ? [
        "${e.key}.peer.azure: names Azure objects, but the exception is not on azure (clouds)"
      ] : [],
      !contains(e.clouds, "aws") && length(flatten(values(local.x_peers[e.key].aws))) > 0 ? ["${e.key}.peer.aws: names AWS objects, but the exception is not on aws (clouds)"] : [],
    )
  ])

  exception_problems = concat(
    local.x_given && !local.x_is_list && !contains(local.control_keys, "exceptions") ? ["exceptions: must be a list"] : [],
    local.x_entry_problems,
    local.x_cloud_problems,
  )

  # The exceptions, once every one is valid (none otherwise: the plan fails on the problems).
  exceptions = length(local.exception_problems) > 0 ? [] : [
    for e in local.x_valid : {
      key         = e.key
      id          = e.id
      label       = "${local.xt.prefix}${e.id}"
      direction   = e.direction
      protocol    = e.protocol
      ranges      = local.x_ranges[e.i]
      icmp_type   = e.icmp_type
      icmp_code   = e.icmp_code
      peer        = local.x_peers[e.key]
      clouds      = e.clouds
      expires     = e.expires
      days_left   = local.x_day_numbers[e.expires] - local.today_days
      description = "${local.xt.prefix}${e.id}${e.ticket == null ? "" : " ${e.ticket}"} until ${e.expires}: ${e.reason}"
      tags = merge(
        { "sxcloud:exception" = e.id, "sxcloud:owner" = e.owner, "sxcloud:expires" = e.expires },
        e.ticket == null ? {} : { "sxcloud:ticket" = e.ticket },
      )
      azure_name     = e.azure_name
      azure_priority = e.azure_priority
    }
  ]
  # A role that only an exception names is used all the same (no "not used" warning).
  exception_roles = { for x in local.exceptions : x.peer.role => x.label... if x.peer.role != "" }

  # --- expiry warnings (sxcloud plan and synth print the same, with the file's path) --------

  exception_warnings = flatten([
    for x in local.exceptions : (
      x.days_left < 0 ? ["${x.key}: ${x.label} expired on ${x.expires} (expired ${- x.days_left} day${- x.days_left == 1 ? "" : "s"} ago); it is still emitted, and verify, review and audit report it until it is renewed or removed"] :
      x.days_left <= local.xt.warn_days ? ["${x.key}: ${x.label} ${x.days_left == 0 ? "expires today" : "expires in ${x.days_left} day${x.days_left == 1 ? "" : "s"}"} (${x.expires}); renew it (a later `expires`) or remove it"] :
      []
    )
  ])

  # --- AWS: one rule per peer and port range (sxcloud/aws/plan.py _exception_rules) --------

  aws_exception_rules = flatten([
    for x in local.exceptions : [
      for p in(
        x.peer.internet ? local.aws_peers.internet : x.peer.role != "" ? local.aws_peers[x.peer.role] : concat(
          [for n in x.peer.cidrs : { kind = strcontains(n, ":") ? "cidr_ipv6" : "cidr_ipv4", value = n }],
          [for g in x.peer.aws.security_group_ids : { kind = "referenced_security_group_id", value = g }],
          [for l in x.peer.aws.prefix_list_ids : { kind = "prefix_list_id", value = l }],
        )
        ) : [
        for s in(
          contains(["tcp", "udp"], x.protocol) ? [for r in x.ranges : { protocol = x.protocol, from = r.low, to = r.high, part = "${x.protocol}${r.text}" }] :
          x.protocol == "icmp" ? [for v in [p.kind == "cidr_ipv6" ? "icmpv6" : "icmp"] : {
            protocol = v, from = coalesce(x.icmp_type, -1), to = coalesce(x.icmp_code, -1)
            part     = "${v}${x.icmp_type == null ? "" : "t${x.icmp_type}"}${x.icmp_code == null ? "" : "c${x.icmp_code}"}"
          }] :
          x.protocol == "all" ? [{ protocol = "-1", from = null, to = null, part = "all" }] :
          [{ protocol = x.protocol, from = null, to = null, part = "p${x.protocol}" }]
          ) : {
          key = join("_", [
            x.label, x.direction == "inbound" ? "in" : "out", s.part, local.aws_peer_kinds[p.kind],
            replace(replace(replace(trimprefix(trimprefix(p.value, "sg-"), "pl-"), "/", "_"), ".", "-"), ":", "-"),
          ])
          type        = x.direction == "inbound" ? "aws_vpc_security_group_ingress_rule" : "aws_vpc_security_group_egress_rule"
          family      = p.kind == "cidr_ipv6" ? "IPv6" : "IPv4"
          label       = x.label
          protocol    = s.protocol
          from_port   = s.from
          to_port     = s.to
          description = x.description
          kind        = p.kind
          value       = p.value == local.aws_tables.self ? local.aws_group_id : p.value
          tags        = x.tags
          source      = x.key
        }
      ]
    ] if contains(x.clouds, "aws") && local.d.aws != null
  ])
  aws_exception_attributes = {
    for r in local.aws_exception_rules : r.key => merge(
      { security_group_id = local.aws_group_id, ip_protocol = r.protocol, description = r.description, (r.kind) = r.value, tags = r.tags },
      { for k, v in { from_port = r.from_port, to_port = r.to_port } : k => v if v != null },
    )
  }
  # A rule that only repeats another (EC2 refuses it as InvalidPermission.Duplicate): only an
  # exception can repeat one, and the first of each meaning keeps it.
  aws_rule_meanings = length(local.aws_exception_rules) == 0 ? [] : [
    for r in local.aws_rules : {
      key     = r.key, label = r.origin, source = r.source
      meaning = jsonencode([r.type, r.protocol, r.from_port, r.to_port, r.kind, r.value])
    }
  ]
  aws_first_meaning = { for n, r in local.aws_rule_meanings : r.meaning => n... }
  aws_exception_problems = [
    for n, r in local.aws_rule_meanings : (
      "${r.source}: ${r.label}'s rule ${r.key} is the same rule as ${local.aws_rule_meanings[local.aws_first_meaning[r.meaning][0]].key} (${local.aws_rule_meanings[local.aws_first_meaning[r.meaning][0]].label}); EC2 refuses a duplicate rule: drop the repeated peer or ports from ${r.label}"
    ) if local.aws_first_meaning[r.meaning][0] != n
  ]

  # --- Azure: one rule per kind of address (sxcloud/azure/plan.py _exception_rules) --------

  azure_exception_parts = [
    for x in local.exceptions : {
      x = x
      parts = (
        x.peer.internet ? [{ kind = "internet", address = { kind = "tag", values = ["Internet"] } }] :
        x.peer.role == "appliance_peers" ? [{ kind = "appliances", address = { kind = "appliance", values = [] } }] :
        x.peer.role != "" ? [for a in local.azure_addresses[x.peer.role] : { kind = a.kind, address = a }] :
        concat(
          [for fam in ["v4", "v6"] : { kind = fam, address = { kind = fam, values = [for n in x.peer.cidrs : n if strcontains(n, ":") == (fam == "v6")] } } if length([for n in x.peer.cidrs : n if strcontains(n, ":") == (fam == "v6")]) > 0],
          [for ids in [x.peer.azure.application_security_group_ids] : { kind = "asg", address = { kind = "asg", values = ids } } if length(ids) > 0],
          [for t in x.peer.azure.service_tags : { kind = "tag-${t}", address = { kind = "tag", values = [t] } }],
        )
      )
    } if contains(x.clouds, "azure") && local.d.azure != null
  ]
  azure_exception_rules = flatten([
    for e in local.azure_exception_parts : [
      for part in e.parts : {
        name = coalesce(e.x.azure_name, "${e.x.label}-${e.x.direction == "inbound" ? "in" : "out"}-${part.kind}")
        priority = coalesce(e.x.azure_priority, local.xt.azure_band.first + parseint(substr(sha256(lower(
          coalesce(e.x.azure_name, "${e.x.label}-${e.x.direction == "inbound" ? "in" : "out"}-${part.kind}")
        )), 0, 16), 16) % local.xt.azure_band.size)
        direction = e.x.direction == "inbound" ? "Inbound" : "Outbound"
        access    = "Allow"
        protocol  = local.xt.azure_protocols[e.x.protocol]
        # (a tuple, as azure.tf's own rules have: it compares ports with ["*"])
        ports       = [for t in(length(e.x.ranges) > 0 ? [for r in e.x.ranges : r.text] : ["*"]) : t]
        source      = e.x.direction == "inbound" ? part.address : { kind = "appliance", values = [] }
        destination = e.x.direction == "inbound" ? { kind = "appliance", values = [] } : part.address
        description = length(e.x.description) <= local.azure_limit.description_max ? e.x.description : "${substr(e.x.description, 0, local.azure_limit.description_max - 3)}..."
        exception   = e.x.key
        label       = e.x.label
      }
    ] if(e.x.azure_name == null && e.x.azure_priority == null) || length(e.parts) == 1
  ])
  # A name and priority given in the file name one rule; the peer must then make one.
  azure_identity_problems = [
    for e in local.azure_exception_parts :
    "${e.x.key}.azure: names one NSG rule, but ${e.x.label} needs ${length(e.parts)} on Azure (one per kind of address: ${join(", ", [for p in e.parts : p.kind])}); split it into one exception per kind"
    if(e.x.azure_name != null || e.x.azure_priority != null) && length(e.parts) != 1
  ]

  # Collisions: an exception's rule whose priority (per direction) or name (without case)
  # another rule has, in the planner's order (direction, priority, then position).
  azure_ordered = length(local.azure_exception_rules) == 0 ? [] : [
    for s in sort([for n, r in local.azure_collision_rules : format("%s/%04d/%05d", r.direction, r.priority, n)]) :
    local.azure_collision_rules[tonumber(split("/", s)[2])]
  ]
  azure_collision_rules = concat(
    [for r in local.azure_allow : { name = r.name, priority = r.priority, direction = r.direction, exception = "", label = "" }],
    [for r in local.azure_exception_rules : { name = r.name, priority = r.priority, direction = r.direction, exception = r.exception, label = r.label }],
    [for r in(local.d.azure == null ? [] : local.azure_tables.fixed_rules) : { name = r.name, priority = r.priority, direction = r.direction, exception = "", label = "" }],
  )
  azure_first_priority = { for n, r in local.azure_ordered : "${r.direction}/${r.priority}" => n... }
  azure_first_name     = { for n, r in local.azure_ordered : lower(r.name) => n... }
  # The band's priorities (range() makes at most 1,024 values at a time), when a free one is
  # to be named.
  azure_band = length(local.azure_first_priority) == length(local.azure_ordered) ? [] : concat([for start in range(local.xt.azure_band.first, local.xt.azure_band.first + local.xt.azure_band.size, 1000) : range(start, min(start + 1000, local.xt.azure_band.first + local.xt.azure_band.size))]...)
  azure_used = { for d in ["Inbound", "Outbound"] : d => [for r in local.azure_rules : r.priority if r.direction == d] }
  azure_collision_problems = concat(
    flatten([
      for n, r in local.azure_ordered : [
        for pair in [[r, local.azure_ordered[local.azure_first_priority["${r.direction}/${r.priority}"][0]]]] : [
          for mine_theirs in [pair[0].exception != "" ? pair : [pair[1], pair[0]]] : (
            "${mine_theirs[0].exception}: ${mine_theirs[0].label}'s rule ${mine_theirs[0].name} takes priority ${mine_theirs[0].priority} (${mine_theirs[0].direction}), which ${mine_theirs[1].exception != "" ? "${mine_theirs[1].label}'s" : "sxcloud's own"} rule ${mine_theirs[1].name} has; Azure needs unique priorities per direction. Give one of them a free priority, e.g. ${mine_theirs[0].exception}.azure.priority: ${[
              for p in concat(
                [for p in local.azure_band : p if p > mine_theirs[0].priority && contains(local.azure_band, mine_theirs[0].priority)],
                local.azure_band,
              ) : p if !contains(local.azure_used[mine_theirs[0].direction], p)
            ][0]}"
          ) if mine_theirs[0].exception != ""
        ]
      ] if local.azure_first_priority["${r.direction}/${r.priority}"][0] != n
    ]),
    flatten([
      for n, r in local.azure_ordered : [
        for pair in [[r, local.azure_ordered[local.azure_first_name[lower(r.name)][0]]]] : [
          for mine_theirs in [pair[0].exception != "" ? pair : [pair[1], pair[0]]] :
          "${mine_theirs[0].exception}: ${mine_theirs[0].label}'s rule name ${mine_theirs[0].name} is also the name of ${mine_theirs[1].exception != "" ? "${mine_theirs[1].label}'s" : "sxcloud's own"} rule ${mine_theirs[1].name} (Azure compares names without case); set ${mine_theirs[0].exception}.azure.name to another name"
          if mine_theirs[0].exception != ""
        ]
      ] if local.azure_first_name[lower(r.name)][0] != n
    ]),
  )
}
