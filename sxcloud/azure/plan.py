"""Flows -> the NSG rule set: augmented allow rules, then explicit denies.

Flows with the same direction, peer, kind of address and protocol share one rule whose
destination ports are a list (an augmented rule), so the rule count stays small. Each rule's
priority comes from a fixed slot table keyed by exactly those properties, never from the
rule's position, so that toggling an option does not move any other rule.

Layout per direction (lower number wins):
  100-239  allow rules from the slot table
  4000     inbound only: AzureLoadBalancer -> appliances (health probes keep working)
  4096     deny everything else to / from the appliances, overriding the NSG defaults
           AllowVnetInBound, AllowVnetOutBound and AllowInternetOutBound
"""

from __future__ import annotations

from .. import catalog
from ..catalog import ALL, TCP, UDP
from ..config import Deployment
from ..errors import InputError
from ..policy import INBOUND, Flow, flows
from . import limits
# The NSG's types live in .nsg (limits reads them too); plan re-exports them, as the place
# where callers have always found them.
from .nsg import (  # noqa: F401
    ANY, APPLIANCE_ASG, APPLIANCES, ASGS, INBOUND_AZ, OUTBOUND_AZ, TAG, V4, V6, Address, NsgPlan,
    NsgRule)

_KINDS = (TAG, ASGS, V4, V6)
_PROTOCOLS = (TCP, UDP, ALL)
_AZ_PROTOCOL = {TCP: "Tcp", UDP: "Udp", ALL: "*"}

PRIORITY_BASE = 100
PRIORITY_LOAD_BALANCER = 4000
PRIORITY_DENY = 4096


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
    result = NsgPlan(nsg_name(deployment.name), asg_name(deployment.name),
                     tags(deployment.name), tuple(rules), tuple(_warnings(deployment)))
    _check(result, deployment)
    return result


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
