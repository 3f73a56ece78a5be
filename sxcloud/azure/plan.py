"""Flows -> the NSG rule set: augmented allow rules, then explicit denies.

Flows with the same direction, peer, kind of address and protocol share one rule whose
destination ports are a list (an augmented rule), so the rule count stays small. Each rule's
priority comes from a fixed slot table keyed by exactly those properties, never from the
rule's position, so that toggling an option does not move any other rule.

Layout per direction (lower number wins):
  100-239  allow rules from the slot table
  240-3999 site exceptions' allow rules (below)
  4000     inbound only: AzureLoadBalancer -> appliances (health probes keep working)
  4096     deny everything else to / from the appliances, overriding the NSG defaults
           AllowVnetInBound, AllowVnetOutBound and AllowInternetOutBound

A site exception becomes one allow rule per kind of address of its peer (IPv4 prefixes,
IPv6 prefixes, application security groups, each service tag), named
`X-<id>-<in|out>-<kind>`. Its priority is a hash of that name into 240-3999, so it depends
on the rule alone: adding, removing or editing another exception, or toggling an option,
never moves it. Two names can hash to one priority; that is refused, naming both
exceptions, and resolved by giving one an explicit `azure.priority` (never by moving
either silently). An exception with one rule may also give its `azure.name` (how `sxcloud
adopt` keeps a live rule's name and priority).
"""

from __future__ import annotations

import hashlib

from .. import catalog
from ..catalog import ALL, TCP, UDP
from ..config import Deployment
from ..errors import InputError
from ..exceptions import AH, ESP, ICMP, SiteException
from ..policy import INBOUND, ExceptionFlow, Flow, exception_flows, flows
from . import limits
# The NSG's types live in .nsg (limits reads them too); plan re-exports them, as the place
# where callers have always found them.
from .nsg import (  # noqa: F401
    ANY, APPLIANCE_ASG, APPLIANCES, ASGS, INBOUND_AZ, OUTBOUND_AZ, TAG, V4, V6, Address, Imports,
    NsgPlan, NsgRule)

_KINDS = (TAG, ASGS, V4, V6)
_PROTOCOLS = (TCP, UDP, ALL)
_AZ_PROTOCOL = {TCP: "Tcp", UDP: "Udp", ALL: "*"}

PRIORITY_BASE = 100
PRIORITY_LOAD_BALANCER = 4000
PRIORITY_DENY = 4096
#: The band of the site exceptions' derived priorities: after every vendor slot (the last is
#: 100 + 6*20 + 3*4 + 2 = 234), before the load balancer's allow and the denies.
EXCEPTION_PRIORITIES = range(240, PRIORITY_LOAD_BALANCER)

_EXCEPTION_PROTOCOL = {TCP: "Tcp", UDP: "Udp", ICMP: "Icmp", ALL: "*",
                       str(ESP): "Esp", str(AH): "Ah"}


def nsg_name(name: str) -> str:
    return f"nsg-{name}-appliance"


def asg_name(name: str) -> str:
    return f"asg-{name}-appliance"


def tags(name: str) -> dict[str, str]:
    return {"sxcloud-deployment": name, "managed-by": "sxcloud"}


def addresses(role: str, deployment: Deployment) -> list[Address]:
    """The Azure addresses that stand for a role: a tag, bound ASGs, or prefixes by family."""
    assert deployment.azure is not None
    if role == catalog.INTERNET:
        return [Address(TAG, ("Internet",))]
    if role == catalog.APPLIANCE_PEERS:
        return [APPLIANCES]
    bound = deployment.azure.bindings.get(role)
    if bound:
        return [Address(ASGS, bound)]
    nets = deployment.roles.get(role, ())
    out = []
    for kind, version in ((V4, 4), (V6, 6)):
        prefixes = tuple(str(n) for n in nets if n.version == version)
        if prefixes:
            out.append(Address(kind, prefixes))
    return out


def slot(direction: str, role: str, kind: str, protocol: str) -> tuple[int, str]:
    """The fixed priority and name of the allow rule for this combination."""
    role_index = catalog.PEER_ROLES.index(role)
    kind_index = _KINDS.index(TAG if kind == APPLIANCE_ASG else kind)
    priority = PRIORITY_BASE + role_index * 20 + kind_index * 4 + _PROTOCOLS.index(protocol)
    short = "in" if direction == INBOUND else "out"
    qualifier = "" if kind in (TAG, APPLIANCE_ASG) else f"-{kind}"
    return priority, f"allow-{short}-{role.replace('_', '-')}{qualifier}-{protocol}"


def plan(deployment: Deployment) -> NsgPlan:
    """The NSG rule set of a deployment; raises InputError when Azure would refuse it."""
    assert deployment.azure is not None, "plan() needs a deployment with an azure section"
    groups: dict[tuple[str, str, Address, str], list[Flow]] = {}
    for flow in flows(deployment):
        for address in addresses(flow.peer, deployment):
            groups.setdefault((flow.direction, flow.peer, address, flow.service.protocol), []).append(flow)
    rules = [_allow(direction, role, address, protocol, members)
             for (direction, role, address, protocol), members in groups.items()]
    rules += _exception_rules(deployment)
    rules += [
        NsgRule("allow-in-azure-load-balancer", PRIORITY_LOAD_BALANCER, INBOUND_AZ, "Allow", "*",
                ("*",), Address(TAG, ("AzureLoadBalancer",)), APPLIANCES,
                "sxcloud: Azure load balancer health probes reach the appliances"),
        NsgRule("deny-in-all", PRIORITY_DENY, INBOUND_AZ, "Deny", "*", ("*",), ANY, APPLIANCES,
                "sxcloud: nothing else reaches the appliances (overrides AllowVnetInBound)"),
        NsgRule("deny-out-all", PRIORITY_DENY, OUTBOUND_AZ, "Deny", "*", ("*",), APPLIANCES, ANY,
                "sxcloud: appliances open nothing else (overrides AllowVnetOutBound and "
                "AllowInternetOutBound)"),
    ]
    rules.sort(key=lambda r: (r.direction, r.priority))
    collisions = _exception_collisions(rules)
    if collisions:  # before the limits, which would name the same rules less helpfully
        raise InputError([(deployment.path, key, message) for key, message in collisions])
    adopt = deployment.azure.adopt
    result = NsgPlan(
        adopt.network_security_group.name if adopt else nsg_name(deployment.name),
        adopt.application_security_group.name if adopt and adopt.application_security_group
        else asg_name(deployment.name),
        tags(deployment.name), tuple(rules), tuple(_warnings(deployment)),
        _imports(deployment, rules))
    _check(result, deployment)
    return result


def _imports(deployment: Deployment, rules: list[NsgRule]) -> Imports:
    """What an adopted stack imports: the NSG, the ASG if adopted, and each rule named in
    `azure.adopt.rules`, which must be a rule of this plan (an import block for a resource
    the configuration lacks is an error in Terraform)."""
    assert deployment.azure is not None
    adopt = deployment.azure.adopt
    if adopt is None:
        return Imports()
    nsg = adopt.network_security_group
    by_name = {r.name: r for r in rules}
    problems = []
    for index, name in enumerate(adopt.rules):
        if name not in by_name:
            near = [r.name for r in rules if r.name.casefold() == name.casefold()]
            hint = (f"; the plan's rule is written {near[0]} (Terraform compares names with "
                    "case)" if near else "; remove it here too when you remove its exception "
                    "or option (after the first apply these names may all go)")
            problems.append((deployment.path, f"azure.adopt.rules[{index}]",
                             f"no rule of the plan is named {name}{hint}"))
    if problems:
        raise InputError(problems)
    asg = adopt.application_security_group
    wanted = set(adopt.rules)
    return Imports(nsg.id, asg.id if asg else None,
                   tuple((r.name, f"{nsg.id}/securityRules/{r.name}") for r in rules
                         if r.name in wanted), adopt.associations)


def _allow(direction: str, role: str, address: Address, protocol: str,
           members: list[Flow]) -> NsgRule:
    priority, name = slot(direction, role, address.kind, protocol)
    ports = ("*",) if protocol == ALL else tuple(
        str(p) for p in sorted({f.service.port for f in members if f.service.port is not None}))
    rows = list(dict.fromkeys(f.row for f in members))
    description = "sxcloud: " + ", ".join(f"{r.id} {r.slug}" for r in rows)
    inbound = direction == INBOUND
    return NsgRule(
        name=name, priority=priority, direction=INBOUND_AZ if inbound else OUTBOUND_AZ,
        access="Allow", protocol=_AZ_PROTOCOL[protocol], ports=ports,
        source=address if inbound else APPLIANCES,
        destination=APPLIANCES if inbound else address,
        description=description, flows=tuple(members))


def _warnings(deployment: Deployment) -> list[str]:
    if deployment.appliance.ipv6:
        return []
    return ["azure: the Internet service tag covers IPv4 and IPv6, so rules to or from the "
            "Internet also admit IPv6 where the virtual network has IPv6 addresses"]


def _check(result: NsgPlan, deployment: Deployment) -> None:
    """Refuse a rule set that Azure would refuse (sxcloud.azure.limits), naming each rule."""
    problems = limits.problems(result)
    if problems:
        raise InputError([(deployment.path, f"azure: {what}", message)
                          for what, message in problems])


# --- site exceptions ------------------------------------------------------------------------

def exception_addresses(flow: ExceptionFlow, deployment: Deployment) -> list[tuple[str, Address]]:
    """(kind, address) of each rule an exception's peer needs: prefixes and application
    security groups cannot share a side of a rule, and a service tag goes alone."""
    peer = flow.peer
    if peer.internet:
        return [("internet", Address(TAG, ("Internet",)))]
    if peer.role == catalog.APPLIANCE_PEERS:
        return [("appliances", APPLIANCES)]
    if peer.role:
        return [(address.kind, address) for address in addresses(peer.role, deployment)]
    out = [(kind, Address(kind, tuple(str(n) for n in peer.cidrs if n.version == version)))
           for kind, version in ((V4, 4), (V6, 6))]
    out.append((ASGS, Address(ASGS, peer.azure.application_security_group_ids)))
    out = [(kind, address) for kind, address in out if address.values]
    return out + [(f"tag-{t}", Address(TAG, (t,))) for t in peer.azure.service_tags]


def exception_priority(name: str) -> int:
    """The derived priority of an exception's rule: a hash of its name into the band (the
    name without case, as Azure compares names)."""
    digest = hashlib.sha256(name.casefold().encode()).digest()
    return EXCEPTION_PRIORITIES[int.from_bytes(digest[:8], "big") % len(EXCEPTION_PRIORITIES)]


def exception_description(exception: SiteException) -> str:
    """`X-<id> <ticket> until <date>: <reason>`, the reason cut to fit Azure's 140
    characters (the head is at most 116: the loader bounds id and ticket)."""
    ticket = f" {exception.ticket}" if exception.ticket else ""
    text = f"{exception.label}{ticket} until {exception.expires}: {exception.reason}"
    return text if len(text) <= limits.DESCRIPTION_MAX else text[:limits.DESCRIPTION_MAX - 3] + "..."


def _exception_rules(deployment: Deployment) -> list[NsgRule]:
    problems = []
    rules = []
    for flow in exception_flows(deployment, "azure"):
        exception = flow.exception
        inbound = flow.direction == INBOUND
        parts = exception_addresses(flow, deployment)
        given = exception.azure
        if (given.name or given.priority) and len(parts) != 1:
            problems.append((deployment.path, f"{exception.key}.azure", f"names one NSG rule, "
                             f"but {exception.label} needs {len(parts)} on Azure (one per kind "
                             f"of address: {', '.join(k for k, _ in parts)}); split it into one "
                             "exception per kind"))
            continue
        traffic = flow.traffic
        ports = tuple(str(r) for r in traffic.ports) if traffic.ports else ("*",)
        for kind, address in parts:
            name = given.name or f"{exception.label}-{'in' if inbound else 'out'}-{kind}"
            rules.append(NsgRule(
                name=name, priority=given.priority or exception_priority(name),
                direction=INBOUND_AZ if inbound else OUTBOUND_AZ, access="Allow",
                protocol=_EXCEPTION_PROTOCOL[traffic.protocol], ports=ports,
                source=address if inbound else APPLIANCES,
                destination=APPLIANCES if inbound else address,
                description=exception_description(exception), exception=flow))
    if problems:
        raise InputError(problems)
    return rules


def _exception_collisions(rules: list[NsgRule]) -> list[tuple[str, str]]:
    """An exception's rule whose priority (per direction) or name (without case) another
    rule has: one problem each, naming both and a free priority."""
    used = {(r.direction, r.priority) for r in rules}
    first_priority: dict[tuple[str, int], NsgRule] = {}
    first_name: dict[str, NsgRule] = {}
    out = []
    for rule in rules:
        other = first_priority.setdefault((rule.direction, rule.priority), rule)
        if other is not rule:
            mine, theirs = (rule, other) if rule.exception else (other, rule)
            if mine.exception:
                free = _free_priority(mine.direction, mine.priority, used)
                out.append((_key(mine), f"{_owner(mine)} rule {mine.name} takes priority "
                            f"{mine.priority} ({mine.direction}), which {_owner(theirs)} rule "
                            f"{theirs.name} has; Azure needs unique priorities per direction. "
                            f"Give one of them a free priority, e.g. "
                            f"{_key(mine)}.azure.priority: {free}"))
        other = first_name.setdefault(rule.name.casefold(), rule)
        if other is not rule and (rule.exception or other.exception):
            mine, theirs = (rule, other) if rule.exception else (other, rule)
            out.append((_key(mine), f"{_owner(mine)} rule name {mine.name} is also the name "
                        f"of {_owner(theirs)} rule {theirs.name} (Azure compares names "
                        f"without case); set {_key(mine)}.azure.name to another name"))
    return out


def _key(rule: NsgRule) -> str:
    assert rule.exception is not None
    return rule.exception.exception.key


def _owner(rule: NsgRule) -> str:
    if rule.exception:
        return f"{rule.exception.origin}'s"
    return "sxcloud's own"


def _free_priority(direction: str, near: int, used: set[tuple[str, int]]) -> int:
    """The first priority of the band after `near` (wrapping) that no rule has."""
    band = EXCEPTION_PRIORITIES
    start = near - band.start + 1 if near in band else 0
    for step in range(len(band)):
        candidate = band[(start + step) % len(band)]
        if (direction, candidate) not in used:
            return candidate
    return near  # a full band: no rule count Azure accepts gets here (1,000 per NSG)
