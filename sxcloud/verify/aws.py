"""AWS security-group semantics over Terraform resources.

The appliance group is the `aws_security_group` tagged `sxcloud:deployment = <name>`. Its
rules are every `aws_vpc_security_group_ingress_rule` / `_egress_rule` and
`aws_security_group_rule` attached to it, and its inline `ingress` / `egress` blocks (state
lists every rule there). Security groups are stateful and allow-only: a connection is
allowed when any rule of its direction matches its protocol, destination port and peer, and
denied otherwise. Protocol -1 is all traffic. Peers: a CIDR (containment, per IP family);
the group itself (the cluster peers); a group or prefix list bound to a role in the
deployment file (its members); anything else is opaque and reported.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from ..config import Deployment
from ..policy import INBOUND, OUTBOUND
from .model import INVALID, OPAQUE, SELF, Decision, Finding, IPNetwork, Probe, Scope
from .tfjson import Document, Resource, Unknown, refers_to

TAG = "sxcloud:deployment"  # how the generated group names its deployment (aws/plan.py)

GROUP = "aws_security_group"
INGRESS = "aws_vpc_security_group_ingress_rule"
EGRESS = "aws_vpc_security_group_egress_rule"
LEGACY = "aws_security_group_rule"

CIDR = "cidr"
MEMBERS = "members"  # a security group or prefix list: matched by membership
NOTHING = "nothing"  # opaque: matches no probe, reported as a finding

_ALL = "all"
_PROTOCOLS = {"-1": _ALL, "all": _ALL, "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}


@dataclass(frozen=True)
class Rule:
    address: str
    direction: str
    protocol: str  # tcp, udp, all, or the rule's own value (icmp, ...), which matches no probe
    ports: tuple[int, int] | None  # None: every port
    peer: str  # CIDR, MEMBERS or NOTHING
    network: IPNetwork | None = None
    member: str | None = None  # SELF or a lower-case id

    @property
    def scope(self) -> Scope:
        """The rule's peer, for the scope check."""
        if self.network is not None:
            return ("net", self.network)
        return ("member", self.member) if self.member else ("any", "opaque")


class SecurityGroup:
    """The appliance group of one deployment in one document, ready to decide probes."""

    def __init__(self, deployment: Deployment, document: Document) -> None:
        assert deployment.aws is not None
        self.problems: list[Finding] = []
        self.notes: list[str] = []
        self.rules: list[Rule] = []
        self._bound = {i.lower() for b in deployment.aws.bindings.values()
                       for i in (*b.security_group_ids, *b.prefix_list_ids)}
        self.group = self._find_group(deployment, document)
        if self.group is not None:
            self._collect(document)
        # CIDR rules indexed by (direction, version) -> prefix length -> network (as an
        # integer) -> rules, so a probe looks up its few prefix lengths instead of every rule.
        self._cidr: dict[tuple[str, int], dict[int, dict[int, list[Rule]]]] = {}
        self._members: dict[tuple[str, str], list[Rule]] = {}
        self._order = {rule: index for index, rule in enumerate(self.rules)}  # reporting order
        for rule in self.rules:
            if rule.peer == CIDR and rule.network is not None:
                by_len = self._cidr.setdefault((rule.direction, rule.network.version), {})
                by_len.setdefault(rule.network.prefixlen, {}).setdefault(
                    int(rule.network.network_address), []).append(rule)
            elif rule.peer == MEMBERS and rule.member is not None:
                self._members.setdefault((rule.direction, rule.member), []).append(rule)

    # --- reading ----------------------------------------------------------------------------

    def _find_group(self, d: Deployment, document: Document) -> Resource | None:
        groups = [g for g in document.of_type(GROUP)
                  if isinstance(g.values.get("tags"), dict) and g.values["tags"].get(TAG) == d.name]
        if len(groups) != 1:
            what = "no" if not groups else f"{len(groups)}"
            self.problems.append(Finding(INVALID, f"{document.path} holds {what} "
                                         f"aws_security_group tagged {TAG} = {d.name}; "
                                         "there must be exactly one, the appliances' group"))
            return None
        return groups[0]

    def _collect(self, document: Document) -> None:
        group = self.group
        assert group is not None
        for resource in document.of_type(INGRESS, EGRESS, LEGACY):
            owner = resource.values.get("security_group_id")
            if isinstance(owner, Unknown):
                self.problems.append(Finding(OPAQUE, f"{resource.address}: its security group "
                                             f"is {owner}, so verify cannot tell whether it "
                                             "is the appliances'"))
                continue
            if not refers_to(owner, group, "id"):
                self.notes.append(f"{resource.address} belongs to another security group "
                                  f"({resource.values.get('security_group_id')}); not evaluated")
                continue
            if resource.type == LEGACY:
                self._legacy(resource)
            else:
                self._vpc_rule(resource)
        for key, direction in (("ingress", INBOUND), ("egress", OUTBOUND)):
            blocks = group.values.get(key)
            if isinstance(blocks, list):
                for index, block in enumerate(blocks):
                    if isinstance(block, dict):
                        self._block(f"{group.address}.{key}[{index}]", direction, block)

    def _vpc_rule(self, r: Resource) -> None:
        v = r.values
        direction = INBOUND if r.type == INGRESS else OUTBOUND
        peers = [(k, v[k]) for k in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                                     "referenced_security_group_id") if v.get(k) not in (None, "")]
        if len(peers) != 1:
            self.problems.append(Finding(INVALID, f"{r.address} names {len(peers)} peers; the "
                                         "provider takes exactly one of cidr_ipv4, cidr_ipv6, "
                                         "prefix_list_id, referenced_security_group_id"))
        for kind, value in peers:
            self._add(r.address, direction, v.get("ip_protocol"), v.get("from_port"),
                      v.get("to_port"), kind, value)

    def _legacy(self, r: Resource) -> None:
        v = r.values
        direction = INBOUND if v.get("type") == "ingress" else OUTBOUND
        self._block(r.address, direction, {**v, "security_groups": [v.get("source_security_group_id")]})

    def _block(self, address: str, direction: str, v: dict[str, Any]) -> None:
        """An inline block or a legacy rule: several peers in lists, `self` for the group."""
        peers: list[tuple[str, Any]] = []
        peers += [("cidr_ipv4", c) for c in v.get("cidr_blocks") or []]
        peers += [("cidr_ipv6", c) for c in v.get("ipv6_cidr_blocks") or []]
        peers += [("prefix_list_id", p) for p in v.get("prefix_list_ids") or []]
        peers += [("referenced_security_group_id", g) for g in v.get("security_groups") or [] if g]
        if v.get("self") is True:
            peers.append(("referenced_security_group_id", SELF))
        for kind, value in peers:
            self._add(address, direction, v.get("protocol"), v.get("from_port"), v.get("to_port"),
                      kind, value)

    def _add(self, address: str, direction: str, protocol: Any, from_port: Any, to_port: Any,
             kind: str, value: Any) -> None:
        proto = _PROTOCOLS.get(str(protocol).lower(), str(protocol).lower())
        ports = None if proto == _ALL else _ports(from_port, to_port)
        rule = Rule(address, direction, proto, ports, NOTHING)
        if kind in ("cidr_ipv4", "cidr_ipv6"):
            network = _network(value)
            if network is None or (network.version == 4) != (kind == "cidr_ipv4"):
                self.problems.append(Finding(OPAQUE if network is None else INVALID,
                                             f"{address}: {kind} {value} is not an IPv"
                                             f"{4 if kind == 'cidr_ipv4' else 6} CIDR block"))
            else:
                rule = Rule(address, direction, proto, ports, CIDR, network=network)
        elif kind == "referenced_security_group_id" and (value == SELF or refers_to(value, self.group, "id")):
            rule = Rule(address, direction, proto, ports, MEMBERS, member=SELF)
        elif isinstance(value, str) and value.lower() in self._bound:
            rule = Rule(address, direction, proto, ports, MEMBERS, member=value.lower())
        else:
            noun = "prefix list" if kind == "prefix_list_id" else "security group"
            self.problems.append(Finding(OPAQUE, f"{address}: {noun} {value} is bound to no role "
                                         "(aws.bindings), so verify cannot tell whom it admits"))
        self.rules.append(rule)

    # --- deciding ---------------------------------------------------------------------------

    def networks(self) -> list[IPNetwork]:
        return [r.network for r in self.rules if r.network is not None]

    def port_ranges(self) -> list[tuple[int, int]]:
        return [r.ports for r in self.rules if r.ports is not None]

    def candidates(self, probe: Probe, direction: str) -> tuple[Rule, ...]:
        """The rules of a direction whose peer is this probe."""
        out: list[Rule] = []
        value = int(probe.address)
        bits = probe.address.max_prefixlen
        for prefixlen, nets in self._cidr.get((direction, probe.address.version), {}).items():
            # the probe's network of this length, as an integer: clear the host bits
            out += nets.get(value >> (bits - prefixlen) << (bits - prefixlen), ())
        for group in sorted(probe.groups):
            out += self._members.get((direction, group), ())
        return tuple(sorted(out, key=self._order.__getitem__))

    def signature(self, candidates: tuple[Rule, ...]) -> tuple[int, ...]:
        """What makes two probes' decisions equal (with equal roles): the same rules."""
        return tuple(map(id, candidates))

    def decide(self, candidates: tuple[Rule, ...], direction: str, protocol: str,
               ports: tuple[int, ...]) -> list[Decision]:
        """The decision for each of the (sorted) ports: allowed if any rule matches; every
        allowing rule's peer is a grant."""
        allowing: list[list[Rule]] = [[] for _ in ports]
        for rule in candidates:
            if rule.protocol != _ALL and rule.protocol != protocol:
                continue
            low, high = (0, len(ports)) if rule.ports is None else (
                bisect_left(ports, rule.ports[0]), bisect_right(ports, rule.ports[1]))
            for i in range(low, high):
                allowing[i].append(rule)
        deny = _DENY[direction]
        cache: dict[tuple[int, ...], Decision] = {}  # many ports share their allowing rules
        out = []
        for rules in allowing:
            if not rules:
                out.append(deny)
                continue
            key = tuple(map(id, rules))
            decision = cache.get(key)
            if decision is None:
                decision = cache[key] = Decision(True, ", ".join(r.address for r in rules),
                                                 tuple(r.scope for r in rules))
            out.append(decision)
        return out


_DENY = {d: Decision(False, f"no {kind} rule of the appliance group matches (security groups "
                            "deny what no rule allows)")
         for d, kind in ((INBOUND, "ingress"), (OUTBOUND, "egress"))}


def _network(value: Any) -> IPNetwork | None:
    if not isinstance(value, str):  # a Ref or Unknown: not known in this document
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _ports(from_port: Any, to_port: Any) -> tuple[int, int] | None:
    """A tcp/udp port range; absent or -1 means every port, as AWS reads it."""
    try:
        low, high = int(from_port), int(to_port)
    except (TypeError, ValueError):
        return None
    if low < 0 or high < 0:
        return None
    return (low, high)
