"""Intended rules (the plan) against live rules (DescribeSecurityGroupRules): the drift.

A pure function of its inputs: no boto3 here. Rules are matched by what AWS itself treats as
one rule, the permission (direction, protocol, ports, peer); AWS refuses a second rule with
the same permission (InvalidPermission.Duplicate), so a match is one to one. Whatever else a
matched rule carries (today: its description) is compared field by field and reported as
"changed". Peers are compared in canonical form, so `FD00:30::/48` and `fd00:30::/48` match.

A site exception's rules are intended rules like the vendor rows': live, they are expected.
Once the exception has expired (its date before `on`), each of its rules still live is
"expired", a finding naming the exception, until it is renewed or removed from the file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

from .. import exceptions
from .plan import (CIDR_IPV4, CIDR_IPV6, EGRESS, INGRESS, PREFIX_LIST, SECURITY_GROUP, SELF,
                   SgPlan, SgRule)

# DescribeSecurityGroupRules names tcp, udp, icmp and icmpv6; other protocols come as
# numbers. The planner writes names, so numbers that have one are mapped to it.
_PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
#: Protocols whose rules have ports (ICMP: type and code); AWS returns -1 for the others.
_PORTED = ("tcp", "udp", "icmp", "icmpv6")


@dataclass(frozen=True)
class Permission:
    """What makes a security-group rule one rule in AWS's eyes."""

    direction: str  # INGRESS or EGRESS
    protocol: str  # tcp, udp, icmp, -1 (all), or a protocol number
    from_port: int | None  # None for protocol -1 (all ports)
    to_port: int | None
    peer_kind: str  # CIDR_IPV4, CIDR_IPV6, PREFIX_LIST or SECURITY_GROUP
    peer: str  # canonical CIDR, pl-..., or sg-...

    @property
    def ports(self) -> str:
        """`tcp/25`, `udp/6000-6010`, or `all` as people write them."""
        if self.protocol == "-1":
            return "all"
        if self.from_port is None:  # a protocol without ports (ESP, 50)
            return f"protocol {self.protocol}"
        if self.from_port == self.to_port:
            return f"{self.protocol}/{self.from_port}"
        return f"{self.protocol}/{self.from_port}-{self.to_port}"

    def sort_key(self) -> tuple[str, str, int, int, str, str]:
        return (self.direction, self.protocol, -1 if self.from_port is None else self.from_port,
                -1 if self.to_port is None else self.to_port, self.peer_kind, self.peer)


@dataclass(frozen=True)
class LiveRule:
    """One rule as DescribeSecurityGroupRules returned it."""

    rule_id: str  # sgr-...
    permission: Permission
    description: str  # "" when AWS returned none


@dataclass(frozen=True)
class FieldChange:
    field: str
    intended: Any
    live: Any


@dataclass(frozen=True)
class Changed:
    """An intended rule that is live with the same permission but differs otherwise."""

    rule: SgRule
    live: LiveRule
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class Expired:
    """A live rule of a site exception whose date has passed."""

    rule: SgRule
    live: LiveRule
    status: exceptions.Status

    @property
    def message(self) -> str:
        e = self.rule.exception
        assert e is not None
        return (f"{e.label} (owner {e.owner}) expired on {e.expires} ({self.status}); renew "
                "it (a later expires) or remove it from the file")


@dataclass(frozen=True)
class Drift:
    group_id: str
    intended: int  # rules the deployment intends
    live: int  # rules the group has
    missing: tuple[SgRule, ...]  # intended, not live
    unexpected: tuple[LiveRule, ...]  # live, not intended
    changed: tuple[Changed, ...]
    expired: tuple[Expired, ...] = ()  # live rules of expired site exceptions

    @property
    def found(self) -> bool:
        """Whether there is any drift (or an expired exception still live) at all."""
        return bool(self.missing or self.unexpected or self.changed or self.expired)


def _canonical_cidr(text: str) -> str:
    # strict=False: AWS stores what it accepted; a host-bit variant is still the same range.
    return str(ipaddress.ip_network(text, strict=False))


def intended_permission(rule: SgRule, group_id: str) -> Permission:
    """The permission of a planned rule, in the group `group_id` (which `self` stands for)."""
    kind, value = rule.peer.kind, rule.peer.value
    if kind in (CIDR_IPV4, CIDR_IPV6):
        value = _canonical_cidr(value)
    elif value == SELF:
        value = group_id
    ports = (rule.from_port, rule.to_port) if rule.ip_protocol in _PORTED else (None, None)
    return Permission(rule.direction, rule.ip_protocol, *ports, kind, value)


def live_rule(item: dict[str, Any]) -> LiveRule:
    """A DescribeSecurityGroupRules item as a LiveRule.

    AWS returns -1 as both ports of an all-protocols rule and of a rule for a protocol
    without ports (ESP, 50); they carry no meaning there.
    """
    protocol = str(item["IpProtocol"]).lower()
    protocol = _PROTOCOL_NAMES.get(protocol, protocol)
    if protocol not in _PORTED:  # -1 or a number (a site exception's): ports mean nothing
        ports: tuple[int | None, int | None] = (None, None)
    else:
        ports = (item.get("FromPort"), item.get("ToPort"))
    if item.get("CidrIpv4"):
        peer = (CIDR_IPV4, _canonical_cidr(item["CidrIpv4"]))
    elif item.get("CidrIpv6"):
        peer = (CIDR_IPV6, _canonical_cidr(item["CidrIpv6"]))
    elif item.get("PrefixListId"):
        peer = (PREFIX_LIST, item["PrefixListId"])
    elif item.get("ReferencedGroupInfo", {}).get("GroupId"):
        peer = (SECURITY_GROUP, item["ReferencedGroupInfo"]["GroupId"])
    else:  # not a shape AWS documents; keep it visible rather than guess
        peer = ("unknown", "?")
    direction = EGRESS if item["IsEgress"] else INGRESS
    return LiveRule(item["SecurityGroupRuleId"], Permission(direction, protocol, *ports, *peer),
                    item.get("Description") or "")


def compare(plan: SgPlan, group_id: str, live: Iterable[LiveRule], on: date) -> Drift:
    """Missing, unexpected and changed rules of the group `group_id` against the plan, and
    the live rules of site exceptions expired on day `on`."""
    live = list(live)
    by_permission: dict[Permission, LiveRule] = {}
    unexpected: list[LiveRule] = []
    for rule in live:
        if rule.permission in by_permission:  # AWS refuses duplicates; keep both visible
            unexpected.append(rule)
        else:
            by_permission[rule.permission] = rule
    missing: list[SgRule] = []
    changed: list[Changed] = []
    expired: list[Expired] = []
    for rule in plan.rules:
        match = by_permission.pop(intended_permission(rule, group_id), None)
        if match is None:
            missing.append(rule)
            continue
        if rule.exception is not None:
            status = exceptions.status(rule.exception, on)
            if status.state == exceptions.EXPIRED:
                expired.append(Expired(rule, match, status))
        if match.description != rule.description:
            changed.append(Changed(rule, match, (
                FieldChange("description", rule.description, match.description),)))
    unexpected.extend(by_permission.values())
    unexpected.sort(key=lambda r: (r.permission.sort_key(), r.rule_id))
    return Drift(group_id, len(plan.rules), len(live), tuple(missing), tuple(unexpected),
                 tuple(changed), tuple(expired))
