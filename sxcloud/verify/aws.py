"""AWS security-group semantics over the rules `verify.rules` reads from Terraform resources.

The appliance group is the `aws_security_group` tagged `sxcloud:deployment = <name>`; its
rules (rule resources, legacy rules, and the entries of its lists that no rule resource is)
are read by `rules.security_group_rules`, which documents how the lists are told apart.

Security groups are stateful and allow-only: a connection is allowed when any rule of its
direction matches its protocol, destination port and peer, and denied otherwise. Protocol -1
is all traffic. Peers: a CIDR (containment, per IP family); the group itself (the cluster
peers); a group or prefix list bound to a role in the deployment file (its members);
a group or prefix list a site exception names as its peer; anything else, or a value not
known until apply, is opaque and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config import Deployment
from ..policy import INBOUND, OUTBOUND
from .intent import AWS, exception_objects
from .model import INVALID, OPAQUE, SELF, Finding, Host, IPNetwork, Scope
from .netindex import NetIndex
from .rules import AWS_GROUP as GROUP
from .rules import CIDR_V4, CIDR_V6, PREFIX_LIST, SgRule, security_group_rules, tagged
from .rules import network as _network
from .space import NO_TRAFFIC, Traffic, icmp_ranges, of, parse_protocol
from .tfjson import PLAN, Document, Ref, Resource, Unknown

TAG = "sxcloud:deployment"  # how the generated group names its deployment (aws/plan.py)

CIDR = "cidr"
MEMBERS = "members"  # a security group or prefix list: matched by membership
NOTHING = "nothing"  # opaque: matches no packet, reported as a finding


#: Notes on list entries no rule resource allows (evaluated as rules of the group).
UNMANAGED = ("rules of the group in the cloud (as the plan read it) that no Terraform resource "
             "manages: added outside Terraform, and left in place by apply; evaluated")
UNMATCHED = ("rules of the group as Terraform last read it, in no rule resource of the state: "
             "inline rules, rules added outside Terraform, or rules deleted since the group was "
             "last read (a refreshed plan tells which); evaluated")


@dataclass(frozen=True)
class Rule:
    allow: ClassVar[bool] = True  # security groups only allow

    address: str
    direction: str
    protocol: str  # tcp, udp, all, or the rule's own value (icmp, 132, ...)
    ports: tuple[int, int] | None  # None: every port
    peer: str  # CIDR, MEMBERS or NOTHING
    network: IPNetwork | None = None
    member: str | None = None  # SELF or a lower-case id
    traffic: Traffic = NO_TRAFFIC  # what it matches of protocols and ports

    @property
    def label(self) -> str:
        return self.address

    @property
    def scope(self) -> Scope:
        """The rule's peer, for the scope check."""
        if self.network is not None:
            return ("net", self.network)
        return ("member", self.member) if self.member else ("any", "opaque")


#: A rule that matches a peer, with the peer it matched by.
Candidate = tuple[Rule, tuple[Scope, ...]]


class SecurityGroup:
    """The appliance group of one deployment in one document, ready to decide packets."""

    first_match = False  # the union of the allows decides

    def __init__(self, deployment: Deployment, document: Document) -> None:
        assert deployment.aws is not None
        self.problems: list[Finding] = []
        self.notes: list[str] = []
        self.rules: list[Rule] = []
        self._bound = {i.lower() for b in deployment.aws.bindings.values()
                       for i in (*b.security_group_ids, *b.prefix_list_ids)}
        self._bound |= exception_objects(deployment, AWS)  # trusted as bindings are
        self.group = self._find_group(deployment, document)
        if self.group is not None:
            self._collect(document)
        # Candidates are (rule, its peer as matched); CIDR rules are indexed per direction,
        # so a peer looks up its few prefix lengths instead of testing every rule.
        self._cidr: dict[str, NetIndex[Candidate]] = {INBOUND: NetIndex(), OUTBOUND: NetIndex()}
        self._members: dict[tuple[str, str], list[Candidate]] = {}
        self._order = {id(rule): index for index, rule in enumerate(self.rules)}  # reporting order
        for rule in self.rules:
            candidate = (rule, (rule.scope,))
            if rule.peer == CIDR and rule.network is not None:
                self._cidr[rule.direction].add(rule.network, candidate)
            elif rule.peer == MEMBERS and rule.member is not None:
                self._members.setdefault((rule.direction, rule.member), []).append(candidate)

    # --- reading ----------------------------------------------------------------------------

    def _find_group(self, d: Deployment, document: Document) -> Resource | None:
        groups = tagged(document, GROUP, TAG, d.name)
        if len(groups) != 1:
            what = "no" if not groups else f"{len(groups)}"
            self.problems.append(Finding(INVALID, f"{document.path} holds {what} "
                                         f"aws_security_group tagged {TAG} = {d.name}; "
                                         "there must be exactly one, the appliances' group"))
            return None
        return groups[0]

    def _collect(self, document: Document) -> None:
        assert self.group is not None
        read = security_group_rules(document, self.group)
        self.problems += read.problems
        self.notes += read.notes
        for rule in read.rules:
            self._add(rule)
        if read.unmanaged:
            self.notes.append(f"{', '.join(read.unmanaged)}: " + (
                UNMANAGED if document.kind == PLAN else UNMATCHED))

    def _traffic(self, e: SgRule) -> Traffic:
        """The protocols and ports (ICMP: type and code) of a rule, as AWS reads them."""
        try:
            protocols = parse_protocol(e.protocol)
        except ValueError:
            self.problems.append(Finding(INVALID, f"{e.address}: protocol {e.protocol!r} is "
                                         "neither a number 0-255 nor a name AWS knows (tcp, "
                                         "udp, icmp, icmpv6, -1); rule not evaluated"))
            return NO_TRAFFIC
        if protocols is None or e.ports is None:
            return of(protocols)
        if e.protocol in ("icmp", "icmpv6"):
            return of(protocols, icmp_ranges(*e.ports))
        return of(protocols, (e.ports,))

    def _add(self, e: SgRule) -> None:
        address, direction, kind, value = e.address, e.direction, e.kind, e.value
        traffic = self._traffic(e)
        rule = Rule(address, direction, e.protocol, e.ports, NOTHING, traffic=traffic)
        if isinstance(value, Unknown):
            self.problems.append(Finding(OPAQUE, f"{address}: {kind} is {value}, so verify "
                                         "cannot tell whom the rule admits"))
        elif kind in (CIDR_V4, CIDR_V6):
            network = _network(value)
            if network is None or (network.version == 4) != (kind == CIDR_V4):
                what = (f"is {value}, not known in this document" if isinstance(value, Ref)
                        else f"{value} is not an IPv{4 if kind == CIDR_V4 else 6} CIDR block")
                self.problems.append(Finding(OPAQUE if network is None else INVALID,
                                             f"{address}: {kind} {what}"))
            else:
                rule = Rule(address, direction, e.protocol, e.ports, CIDR, network=network,
                            traffic=traffic)
        elif value == SELF:
            rule = Rule(address, direction, e.protocol, e.ports, MEMBERS, member=SELF,
                        traffic=traffic)
        elif isinstance(value, str) and value.lower() in self._bound:
            rule = Rule(address, direction, e.protocol, e.ports, MEMBERS, member=value.lower(),
                        traffic=traffic)
        else:
            noun = "prefix list" if kind == PREFIX_LIST else "security group"
            self.problems.append(Finding(OPAQUE, f"{address}: {noun} {value} is bound to no role "
                                         "(aws.bindings), so verify cannot tell whom it admits"))
        self.rules.append(rule)

    # --- deciding ---------------------------------------------------------------------------

    def networks(self) -> list[IPNetwork]:
        return [r.network for r in self.rules if r.network is not None]

    def denied(self, direction: str) -> str:
        """Why a packet no rule allows is denied."""
        return _DENY[direction]

    def candidates(self, peer: Host, direction: str) -> tuple[Candidate, ...]:
        """The rules of a direction whose peer side holds this peer."""
        out = self._cidr[direction].holding(peer.address)
        for group in sorted(peer.groups):
            out += self._members.get((direction, group), ())
        return tuple(sorted(out, key=lambda c: self._order[id(c[0])]))



_DENY = {d: f"no {kind} rule of the appliance group matches (security groups deny what no "
             "rule allows)" for d, kind in ((INBOUND, "ingress"), (OUTBOUND, "egress"))}
