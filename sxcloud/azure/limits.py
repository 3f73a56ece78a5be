"""Azure's limits on a network security group, checked on the planned rule set.

`terraform apply` would otherwise be the first to find out, half way through creating the
rules. Each problem names the rule (or the NSG, for limits on the whole group) and the limit.

Sources (MicrosoftDocs/azure-docs):
- includes/azure-virtual-network-limits.md, "Networking limits - Azure Resource Manager":
  1,000 rules per NSG; 4,000 IP addresses and ranges for source or destination in a security
  group (the limit applies separately to source and destination); 10 application security
  groups referenced as source/destination per rule; 100 application security groups within all
  the rules of an NSG.
- articles/virtual-network/network-security-groups-overview.md (spec/clouds.md): priorities
  100-4096, unique per direction; augmented rules; service tags and application security
  groups cannot be mixed with prefixes on one side of a rule.
- articles/azure-resource-manager/management/resource-name-rules.md: names of NSGs, their
  security rules and application security groups are 1-80 alphanumerics, underscores,
  periods and hyphens, starting with an alphanumeric and ending with an alphanumeric or an
  underscore.
- The REST API (SecurityRulePropertiesFormat): a description is restricted to 140 characters;
  protocol Tcp, Udp, Icmp, Esp, Ah or *; ports 0-65535, a range, or *.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

from .nsg import APPLIANCE_ASG, ASGS, TAG, V4, V6, Address, NsgPlan, NsgRule

PRIORITY_MIN = 100
PRIORITY_MAX = 4096
NAME_MAX = 80
DESCRIPTION_MAX = 140
RULES_MAX = 1000
ADDRESSES_MAX = 4000  # per NSG, counted separately for sources and destinations
ASGS_PER_SIDE_MAX = 10
ASGS_PER_NSG_MAX = 100

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "Ah", "*")
ACCESSES = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,%d}[A-Za-z0-9_])?" % (NAME_MAX - 2))
_PORT_RANGE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
_ASG_ID = re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                     r"Microsoft\.Network/applicationSecurityGroups/[^/]+$", re.IGNORECASE)

#: (what the problem is about, e.g. "rule allow-in-internet-tcp" or "nsg NAME", message)
Problem = tuple[str, str]


def problems(plan: NsgPlan) -> list[Problem]:
    """Every way in which Azure would refuse this NSG; empty when it would accept it."""
    out: list[Problem] = []
    for what, name in ((f"nsg {plan.nsg_name}", plan.nsg_name),
                       (f"application security group {plan.asg_name}", plan.asg_name)):
        out += [(what, m) for m in _name_problems(name)]
    for rule in plan.rules:
        out += [(f"rule {rule.name}", m) for m in _rule_problems(rule)]
    out += _nsg_problems(plan)
    return out


def _name_problems(name: str) -> list[str]:
    if _NAME.fullmatch(name):
        return []
    if not name or len(name) > NAME_MAX:
        return [f"the name is {len(name)} characters long; Azure takes 1 to {NAME_MAX}"]
    return [f"the name '{name}' is not valid in Azure: use letters, digits, '_', '.' and '-', "
            "start with a letter or digit and end with a letter, digit or '_'"]


def _rule_problems(rule: NsgRule) -> list[str]:
    out = _name_problems(rule.name)
    if len(rule.description) > DESCRIPTION_MAX:
        out.append(f"the description is {len(rule.description)} characters long; Azure takes "
                   f"at most {DESCRIPTION_MAX}")
    if not PRIORITY_MIN <= rule.priority <= PRIORITY_MAX:
        out.append(f"priority {rule.priority} is outside {PRIORITY_MIN}-{PRIORITY_MAX}")
    for field, value, allowed in (("protocol", rule.protocol, PROTOCOLS),
                                  ("access", rule.access, ACCESSES),
                                  ("direction", rule.direction, DIRECTIONS)):
        if value not in allowed:
            out.append(f"{field} '{value}' is not one of {', '.join(allowed)}")
    out += [f"destination port '{p}' {why}" for p, why in _port_problems(rule.ports)]
    for side, address in (("source", rule.source), ("destination", rule.destination)):
        out += [f"{side}: {m}" for m in _side_problems(address)]
    return out


def _port_problems(ports: tuple[str, ...]) -> list[tuple[str, str]]:
    if not ports:
        return [("", "is missing: a rule needs at least one port or '*'")]
    if "*" in ports:
        return [] if len(ports) == 1 else [("*", "cannot be listed with other ports")]
    out = []
    for port in ports:
        match = _PORT_RANGE.fullmatch(port)
        low, high = (int(match[1]), int(match[2] or match[1])) if match else (-1, -1)
        if not (match and 0 <= low <= high <= 65535):
            out.append((port, "is not a port (0-65535), a range such as 8000-8080, or '*'"))
    return out


def _is_prefix(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _side_problems(address: Address) -> list[str]:
    values = address.values
    if address.kind == APPLIANCE_ASG:
        return [] if not values else ["the appliance ASG side takes no further values"]
    if not values:
        return ["no address, tag or application security group"]
    if address.kind == TAG:
        if len(values) > 1:
            return [f"{len(values)} service tags or prefixes ({', '.join(values)}) in the singular "
                    "address field; Azure takes one there"]
        return []
    if address.kind in (V4, V6):
        tags = [v for v in values if not _is_prefix(v)]
        if tags:
            return [f"{', '.join(tags)} in the list of address prefixes: Azure does not take "
                    "service tags (or anything but IP prefixes) in the plural field; a tag "
                    "goes alone into the singular field"]
        return []
    if address.kind == ASGS:
        out = []
        others = [v for v in values if not _ASG_ID.match(v)]
        if others:
            out.append(f"{', '.join(others)} mixed with application security groups: Azure "
                       "does not mix prefixes or tags with application security groups on one "
                       "side of a rule")
        if len(values) > ASGS_PER_SIDE_MAX:
            out.append(f"{len(values)} application security groups; Azure takes at most "
                       f"{ASGS_PER_SIDE_MAX} per side of a rule")
        return out
    return [f"unknown kind of address '{address.kind}'"]


def _nsg_problems(plan: NsgPlan) -> list[Problem]:
    what = f"nsg {plan.nsg_name}"
    out: list[Problem] = []
    if len(plan.rules) > RULES_MAX:
        out.append((what, f"{len(plan.rules)} rules; Azure takes at most {RULES_MAX} per NSG"))
    by_priority: dict[tuple[str, int], list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for rule in plan.rules:
        by_priority.setdefault((rule.direction, rule.priority), []).append(rule.name)
        by_name.setdefault(rule.name.casefold(), []).append(rule.name)
    for (direction, priority), names in by_priority.items():
        if len(names) > 1:
            out.append((f"rule {names[1]}", f"priority {priority} ({direction}) is also the "
                        f"priority of {', '.join(n for n in names if n != names[1])}; Azure "
                        "needs unique priorities per direction"))
    for names in by_name.values():
        if len(names) > 1:
            out.append((f"rule {names[1]}", f"the name is also used by another rule "
                        f"({names[0]}); Azure compares names without case"))
    for side in ("source", "destination"):
        counts = Counter({r.name: _address_count(getattr(r, side)) for r in plan.rules})
        total = sum(counts.values())
        if total > ADDRESSES_MAX:
            top = ", ".join(f"{name} {n}" for name, n in counts.most_common(3) if n)
            out.append((what, f"{total} {side} addresses across its rules ({top}); Azure takes "
                        f"at most {ADDRESSES_MAX} {side} IP addresses and ranges per NSG. "
                        "Summarise the CIDRs of the role, or bind it to an application "
                        "security group"))
    asgs = {v.casefold() for r in plan.rules for a in (r.source, r.destination)
            if a.kind == ASGS for v in a.values}
    if any(a.kind == APPLIANCE_ASG for r in plan.rules for a in (r.source, r.destination)):
        asgs.add(f"appliance:{plan.asg_name}".casefold())
    if len(asgs) > ASGS_PER_NSG_MAX:
        out.append((what, f"its rules name {len(asgs)} application security groups; Azure "
                    f"takes at most {ASGS_PER_NSG_MAX} per NSG"))
    return out


def _address_count(address: Address) -> int:
    """IP addresses and ranges on one side of a rule (tags and '*' are not addresses)."""
    if address.kind in (V4, V6):
        return len(address.values)
    if address.kind == TAG:
        return sum(1 for v in address.values if _is_prefix(v))
    return 0
