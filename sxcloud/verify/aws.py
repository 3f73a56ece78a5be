"""AWS security-group semantics over Terraform resources.

The appliance group is the `aws_security_group` tagged `sxcloud:deployment = <name>`. Its
rules are every `aws_vpc_security_group_ingress_rule` / `_egress_rule` and
`aws_security_group_rule` attached to it, and the rules of its `ingress` / `egress` lists
that are not these. The lists are inline rules where the configuration sets them; otherwise
the provider fills them with every rule it read from the cloud, standalone rules included,
and refreshes them only when it reads the group again (not when a standalone rule is
created or deleted). So, where the configuration does not set a list (a plan whose
configuration does not; state, which does not say), an entry is a copy of a rule resource
when it allows what a rule resource of the document allows, or allowed before the plan
(a rule the plan deletes), and is not evaluated twice; any other entry is a rule no Terraform
resource manages (added outside Terraform; in state, possibly one deleted since the group
was last read), which stays after apply and is evaluated.

Security groups are stateful and allow-only: a connection is allowed when any rule of its
direction matches its protocol, destination port and peer, and denied otherwise. Protocol -1
is all traffic. Peers: a CIDR (containment, per IP family); the group itself (the cluster
peers); a group or prefix list bound to a role in the deployment file (its members);
anything else, or a value not known until apply, is opaque and reported.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import Deployment
from ..policy import INBOUND, OUTBOUND
from .model import INVALID, OPAQUE, SELF, Decision, Finding, IPNetwork, Probe, Scope
from .netindex import NetIndex
from .tfjson import PLAN, Document, Ref, Resource, Unknown, items, refers_to

TAG = "sxcloud:deployment"  # how the generated group names its deployment (aws/plan.py)

GROUP = "aws_security_group"
INGRESS = "aws_vpc_security_group_ingress_rule"
EGRESS = "aws_vpc_security_group_egress_rule"
LEGACY = "aws_security_group_rule"

CIDR = "cidr"
MEMBERS = "members"  # a security group or prefix list: matched by membership
NOTHING = "nothing"  # opaque: matches no probe, reported as a finding

_ALL = "all"
_PROTOCOLS = {"-1": _ALL, "all": _ALL, "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
              "1": "icmp", "58": "icmpv6"}
_RULES = (INGRESS, EGRESS, LEGACY)

#: Notes on list entries no rule resource allows (evaluated as rules of the group).
UNMANAGED = ("rules of the group in the cloud (as the plan read it) that no Terraform resource "
             "manages: added outside Terraform, and left in place by apply; evaluated")
UNMATCHED = ("rules of the group as Terraform last read it, in no rule resource of the state: "
             "inline rules, rules added outside Terraform, or rules deleted since the group was "
             "last read (a refreshed plan tells which); evaluated")


@dataclass(frozen=True)
class _Entry:
    """One peer of a rule, as the document states it (before it is evaluated)."""

    address: str
    direction: str
    protocol: Any
    from_port: Any
    to_port: Any
    kind: str  # cidr_ipv4, cidr_ipv6, prefix_list_id or referenced_security_group_id
    value: Any


@dataclass(frozen=True)
class Rule:
    allow: ClassVar[bool] = True  # security groups only allow

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


#: A rule that matches a probe, with the peer it matched by.
Candidate = tuple[Rule, tuple[Scope, ...]]


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
        # Candidates are (rule, its peer as matched); CIDR rules are indexed per direction,
        # so a probe looks up its few prefix lengths instead of testing every rule.
        self._cidr: dict[str, NetIndex[Candidate]] = {INBOUND: NetIndex(), OUTBOUND: NetIndex()}
        self._members: dict[tuple[str, str], list[Candidate]] = {}
        self._order = {rule: index for index, rule in enumerate(self.rules)}  # reporting order
        for rule in self.rules:
            candidate = (rule, (rule.scope,))
            if rule.peer == CIDR and rule.network is not None:
                self._cidr[rule.direction].add(rule.network, candidate)
            elif rule.peer == MEMBERS and rule.member is not None:
                self._members.setdefault((rule.direction, rule.member), []).append(candidate)

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
        managed: set[tuple[Any, ...]] = set()  # what the rule resources allow, as keys
        for resource in document.of_type(*_RULES):
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
            entries = self._entries(resource)
            if resource.type != LEGACY and len(entries) != 1:
                self.problems.append(Finding(INVALID, f"{resource.address} names {len(entries)} "
                                             "peers; the provider takes exactly one of cidr_ipv4, "
                                             "cidr_ipv6, prefix_list_id, "
                                             "referenced_security_group_id"))
            for entry in entries:
                managed.add(self._key(entry))
                self._add(entry)
        # A plan's rules as they were before it: one it deletes is still in the group's lists.
        for resource in document.prior:
            if resource.type in _RULES and refers_to(resource.values.get("security_group_id"),
                                                     group, "id"):
                managed.update(self._key(e) for e in self._entries(resource))
        unmanaged: list[str] = []
        for key, direction in (("ingress", INBOUND), ("egress", OUTBOUND)):
            unmanaged += self._inline(key, direction, managed)
        if unmanaged:
            self.notes.append(f"{', '.join(unmanaged)}: " + (UNMANAGED if document.kind == PLAN
                                                              else UNMATCHED))

    def _inline(self, key: str, direction: str, managed: set[tuple[Any, ...]]) -> list[str]:
        """The group's `ingress` or `egress` list: inline rules where the configuration sets
        it, else the rules the provider read, of which only those no rule resource allows
        are evaluated (returned, to be named in a note)."""
        group = self.group
        assert group is not None
        configured = group.configured is not None and key in group.configured
        blocks = group.values.get(key)
        if isinstance(blocks, (Ref, Unknown)):
            if configured:  # a computed list of a group not yet created holds nothing
                self.problems.append(Finding(OPAQUE, f"{group.address}.{key} is {blocks}, so "
                                             "verify cannot tell which rules it holds"))
            return []
        unmanaged = []
        for index, block in enumerate(items(blocks)):
            address = f"{group.address}.{key}[{index}]"
            if not isinstance(block, dict):
                self.problems.append(Finding(OPAQUE, f"{address} is {block}, so verify cannot "
                                             "tell which rule it is"))
                continue
            entries = self._block(address, direction, block)
            if not configured:
                entries = [e for e in entries if self._key(e) not in managed]
                if entries:
                    unmanaged.append(address)
            for entry in entries:
                self._add(entry)
        return unmanaged

    def _entries(self, r: Resource) -> list[_Entry]:
        """The peers of a rule resource."""
        v = r.values
        if r.type == LEGACY:
            direction = INBOUND if v.get("type") == "ingress" else OUTBOUND
            source = v.get("source_security_group_id")
            if r.configured is not None and "source_security_group_id" not in r.configured:
                source = None  # computed, and only ever the group the configuration names
            return self._block(r.address, direction, {**v, "security_groups": [source]})
        direction = INBOUND if r.type == INGRESS else OUTBOUND
        return [_Entry(r.address, direction, v.get("ip_protocol"), v.get("from_port"),
                       v.get("to_port"), k, v[k])
                for k in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                          "referenced_security_group_id") if v.get(k) not in (None, "")]

    def _block(self, address: str, direction: str, v: dict[str, Any]) -> list[_Entry]:
        """The peers of an inline block or a legacy rule: lists, and `self` for the group."""
        peers: list[tuple[str, Any]] = []
        peers += [("cidr_ipv4", c) for c in items(v.get("cidr_blocks"))]
        peers += [("cidr_ipv6", c) for c in items(v.get("ipv6_cidr_blocks"))]
        peers += [("prefix_list_id", p) for p in items(v.get("prefix_list_ids"))]
        peers += [("referenced_security_group_id", g) for g in items(v.get("security_groups"))
                  if g]
        if v.get("self") is True:
            peers.append(("referenced_security_group_id", SELF))
        elif isinstance(v.get("self"), (Ref, Unknown)):
            peers.append(("referenced_security_group_id", v["self"]))
        return [_Entry(address, direction, v.get("protocol"), v.get("from_port"),
                       v.get("to_port"), kind, value) for kind, value in peers]

    def _key(self, e: _Entry) -> tuple[Any, ...]:
        """What a peer of a rule allows, to match a list entry with a rule resource."""
        protocol = _protocol(e.protocol)
        ports = None if protocol == _ALL else _ports(e.from_port, e.to_port)
        if e.kind in ("cidr_ipv4", "cidr_ipv6"):
            peer: Any = _network(e.value) or str(e.value)
        elif e.kind == "referenced_security_group_id" and self._is_group(e.value):
            peer = SELF
        else:
            peer = (e.kind, str(e.value).lower())
        return (e.direction, protocol, ports, peer)

    def _is_group(self, value: Any) -> bool:
        """Whether a referenced group is the appliance group itself."""
        return value == SELF or (self.group is not None and refers_to(value, self.group, "id"))

    def _add(self, e: _Entry) -> None:
        address, direction, kind, value = e.address, e.direction, e.kind, e.value
        proto = _protocol(e.protocol)
        ports = None if proto == _ALL else _ports(e.from_port, e.to_port)
        rule = Rule(address, direction, proto, ports, NOTHING)
        own = kind == "referenced_security_group_id" and self._is_group(value)
        if isinstance(value, Unknown) and not own:
            self.problems.append(Finding(OPAQUE, f"{address}: {kind} is {value}, so verify "
                                         "cannot tell whom the rule admits"))
        elif kind in ("cidr_ipv4", "cidr_ipv6"):
            network = _network(value)
            if network is None or (network.version == 4) != (kind == "cidr_ipv4"):
                what = (f"is {value}, not known in this document" if isinstance(value, Ref)
                        else f"{value} is not an IPv{4 if kind == 'cidr_ipv4' else 6} CIDR block")
                self.problems.append(Finding(OPAQUE if network is None else INVALID,
                                             f"{address}: {kind} {what}"))
            else:
                rule = Rule(address, direction, proto, ports, CIDR, network=network)
        elif own:
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

    def candidates(self, probe: Probe, direction: str) -> tuple[Candidate, ...]:
        """The rules of a direction whose peer is this probe."""
        out = self._cidr[direction].holding(probe.address)
        for group in sorted(probe.groups):
            out += self._members.get((direction, group), ())
        return tuple(sorted(out, key=lambda c: self._order[c[0]]))

    def decide(self, candidates: tuple[Candidate, ...], direction: str, protocol: str,
               ports: tuple[int, ...]) -> list[Decision]:
        """The decision for each of the (sorted) ports: allowed if any rule matches; every
        allowing rule's peer is a grant."""
        allowing: list[list[Rule]] = [[] for _ in ports]
        for rule, _ in candidates:
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


def _protocol(value: Any) -> str:
    """tcp, udp, all, or the rule's own value (icmp, ...), which matches no probe."""
    text = str(value).lower()
    return _PROTOCOLS.get(text, text)


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
