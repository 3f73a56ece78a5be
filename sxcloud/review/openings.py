"""What a firewall lets through, in one shape for both clouds: openings.

An opening is one direction, one protocol/port range and one peer, seen from the
appliances. It is the unit a reviewer reads and the unit the change between two versions is
counted in: an AWS rule is one opening; an Azure augmented rule is as many openings as it
has ports times addresses. Each opening carries the vendor rows (R01...) it exists for, so
every line of the review can say why.

This module builds openings from sxcloud's own plans (the deployment files' intent);
`tfplan` builds them from the rules `sxcloud.verify.rules` reads from a Terraform plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import total_ordering

from .. import catalog
from ..app import Planned
from ..aws import plan as aws_plan
from ..azure import limits
from ..azure import plan as azure_plan
from ..policy import INBOUND, OUTBOUND
from ..verify import space

# Where an opening comes from; the flags column and the warnings use these.
TABLE = "table"  # a row of the vendor table
EXTENSION = "extension"  # sxcloud's documented extension (X01, the simple installation)
PLATFORM = "platform"  # what the cloud needs although the table does not say it (Azure probes)
UNINTENDED = "unintended"  # in a Terraform plan, not in what the deployment files intend
EXCEPTION = "exception"  # a site exception of the file, beyond the vendor table (X-<id>)

# Peer kinds.
CIDR = "cidr"
SECURITY_GROUP = "sg"
PREFIX_LIST = "pl"
TAG = "tag"
ASG = "asg"
SELF = "self"  # the appliances' own group (AWS security group, Azure ASG)

ALL_PROTOCOLS = "all"

_ROW_ORDER = {row.id: index for index, row in enumerate(catalog.ROWS)}


@total_ordering
@dataclass(frozen=True)
class Ports:
    """A protocol and a destination port range (for an AWS ICMP rule its type and code);
    low/high None means every port."""

    protocol: str  # tcp, udp, icmp, icmpv6, all, or what a plan names (esp, a number)
    low: int | None = None  # ICMP: type * 256 + code, as verify.space counts them
    high: int | None = None

    def _order(self) -> tuple[str, int, int]:
        # Every port (None) sorts before any single range of the same protocol; comparing
        # None with a number is what crashed `review --plan` on TCP 0-65535 (issue 9).
        return (self.protocol, -1 if self.low is None else self.low,
                -1 if self.high is None else self.high)

    def __lt__(self, other: Ports) -> bool:
        return self._order() < other._order()

    def __str__(self) -> str:
        if self.protocol == ALL_PROTOCOLS:
            return "all traffic" if self.low is None else f"any protocol {self._range()}"
        if self.protocol in ("tcp", "udp"):
            name = self.protocol.upper()
            return f"{name} all ports" if self.low is None else f"{name} {self._range()}"
        try:  # named in words as verify names it: ICMP, ICMPv6, protocol 47 (GRE)
            numbers = frozenset(space.parse_protocol(self.protocol) or space.PROTOCOLS)
        except ValueError:  # not a protocol a cloud knows: as the rule writes it
            return self.protocol.upper()
        name = space.protocols_text(numbers)
        if self.low is None or self.high is None:
            return name
        return f"{name} {space.ports_text(numbers, self.low, self.high)}"

    def _range(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    @property
    def single(self) -> bool:
        """One protocol and one port, as every row of the vendor table has."""
        return self.protocol != ALL_PROTOCOLS and self.low is not None and self.low == self.high


@dataclass(frozen=True, order=True)
class Peer:
    """The other end of an opening, as the cloud names it."""

    kind: str  # CIDR, SECURITY_GROUP, PREFIX_LIST, TAG, ASG or SELF
    value: str  # the CIDR, id or tag; for SELF the cloud's name for the appliances' group

    @property
    def family(self) -> str:
        """The AWS quota bucket: IPv4 and IPv6 rules are counted apart."""
        return "IPv6" if self.kind == CIDR and ":" in self.value else "IPv4"

    @property
    def internet(self) -> bool:
        """Whether the peer is the whole Internet (or wider: Azure's '*' is every address)."""
        return self.value in (aws_plan.INTERNET_V4, aws_plan.INTERNET_V6, "Internet", "*")

    def short(self) -> str:
        """A readable name: Azure resource ids shortened to their last segment."""
        if self.kind in (ASG, SECURITY_GROUP) and "/" in self.value:
            return self.value.rstrip("/").rsplit("/", 1)[-1]
        return self.value


@dataclass(frozen=True)
class Opening:
    direction: str  # policy.INBOUND or OUTBOUND, seen from the appliances
    ports: Ports
    peer: Peer
    role: str | None  # the role the peer stands for; None when nothing in the files says
    rows: tuple[str, ...]  # catalog ids this opening exists for
    origin: str  # TABLE, EXTENSION, PLATFORM or UNINTENDED
    resource: str  # the rule that makes it: AWS rule key, Azure "name (priority)"
    note: str = ""  # a caveat about this opening (e.g. a wider scope than the appliances)
    description: str = ""  # the rule's own description, as a plan holds it

    @property
    def key(self) -> tuple[str, Ports, Peer]:
        """Identity across versions: what is let through, not why or by which rule."""
        return (self.direction, self.ports, self.peer)

    def sort_key(self) -> tuple[object, ...]:
        """Inbound first, then in vendor-table order; openings of no row last."""
        first_row = min((_ROW_ORDER.get(r, len(_ROW_ORDER)) for r in self.rows),
                        default=len(_ROW_ORDER) + 1)
        return (self.direction != INBOUND, first_row, self.ports, self.peer)


@dataclass(frozen=True)
class QuotaUse:
    what: str  # e.g. "ingress IPv4"
    used: int
    limit: int


@dataclass(frozen=True)
class Firewall:
    """The firewall of one stack, as openings: what the report shows for one cloud."""

    stack: str  # "<name>-aws" / "<name>-azure"
    cloud: str  # "aws" or "azure"
    deployment: str
    label: str  # e.g. "security group mail-appliance"
    openings: tuple[Opening, ...]
    rule_count: int
    quota: tuple[QuotaUse, ...]
    guards: tuple[str, ...] = ()  # rules that deny everything else (Azure)
    notes: tuple[str, ...] = field(default=())  # facts the reviewer should know

    def sorted_openings(self) -> list[Opening]:
        return sorted(self.openings, key=Opening.sort_key)


def guard_text(name: str, priority: object, inbound: bool) -> str:
    """How a deny-everything rule is shown; the same words for the files and for a plan."""
    what = "nothing else reaches the appliances" if inbound else "the appliances open nothing else"
    return f"{name} ({priority}): {what}"


def origin_of(row_id: str) -> str:
    return EXTENSION if catalog.ROWS_BY_ID[row_id].extension else TABLE


def merge(openings: list[Opening]) -> tuple[Opening, ...]:
    """One opening per key; the rows of duplicates are joined (two roles, one address)."""
    merged: dict[tuple[str, Ports, Peer], Opening] = {}
    for o in openings:
        old = merged.get(o.key)
        if old is None:
            merged[o.key] = o
            continue
        rows = tuple(dict.fromkeys(old.rows + o.rows))
        role = old.role if old.role == o.role else " / ".join(filter(None, (old.role, o.role)))
        resources = old.resource if o.resource in old.resource.split(", ") else (
            f"{old.resource}, {o.resource}")
        merged[o.key] = Opening(old.direction, old.ports, old.peer, role or None, rows,
                                old.origin, resources, old.note or o.note,
                                old.description or o.description)
    return tuple(merged.values())


def rule_ports(protocol: str, low: int | None = None, high: int | None = None,
               icmp: bool = False) -> Ports:
    """A rule's protocol and ports as verify's engine reads them (verify.space): ports
    restrict TCP and UDP, 0-65535 being every port; with `icmp` (an AWS ICMP rule) `low` and
    `high` are its type and code (-1: every), which restrict ICMP and ICMPv6; other
    protocols are matched whole."""
    if icmp and protocol in ("icmp", "icmpv6") and low is not None and high is not None:
        ranges = space.icmp_ranges(low, high)
        return Ports(protocol, *ranges[0]) if ranges else Ports(protocol)
    if protocol not in ("tcp", "udp") or low is None or (low, high) == space.EVERY_PORT:
        return Ports(protocol)
    return Ports(protocol, low, high)


def flow_ports(service: catalog.Service) -> Ports:
    if service.protocol == catalog.ALL:
        return Ports(ALL_PROTOCOLS)
    return Ports(service.protocol, service.port, service.port)


# --- from sxcloud's plans (the files' intent) ----------------------------------------------

def aws_peer(peer: aws_plan.Peer) -> Peer:
    kind = {aws_plan.CIDR_IPV4: CIDR, aws_plan.CIDR_IPV6: CIDR,
            aws_plan.PREFIX_LIST: PREFIX_LIST, aws_plan.SECURITY_GROUP: SECURITY_GROUP}[peer.kind]
    if peer.value == aws_plan.SELF:
        return Peer(SELF, "this security group")
    return Peer(kind, peer.value)


def aws_quota(counted: list[tuple[str, str]], limit: int) -> tuple[QuotaUse, ...]:
    """Rules per direction and IP family against the per-group quota (spec/clouds.md).

    `counted` holds one (ingress|egress, IPv4|IPv6) pair per rule. IPv6 buckets are shown
    only when used."""
    out = []
    for direction in ("ingress", "egress"):
        for family in ("IPv4", "IPv6"):
            used = counted.count((direction, family))
            if used or family == "IPv4":
                out.append(QuotaUse(f"{direction} {family}", used, limit))
    return tuple(out)


def from_sg_plan(name: str, plan: aws_plan.SgPlan) -> Firewall:
    """The AWS firewall the deployment files intend."""
    openings = merge([
        Opening(r.flow.direction, flow_ports(r.flow.service), aws_peer(r.peer), r.flow.peer,
                (r.flow.row.id,), origin_of(r.flow.row.id), r.key)
        for r in plan.rules if r.exception is None])  # exceptions: review.exceptions
    counted = [(r.direction, r.peer.family) for r in plan.rules]
    return Firewall(f"{name}-aws", "aws", name, f"security group {plan.group_name}",
                    openings, len(plan.rules), aws_quota(counted, plan.quota))


def azure_address_peers(address: azure_plan.Address) -> list[Peer]:
    if address.kind == azure_plan.APPLIANCE_ASG:
        return [Peer(SELF, "appliance ASG")]
    kind = {azure_plan.TAG: TAG, azure_plan.ASGS: ASG, azure_plan.V4: CIDR,
            azure_plan.V6: CIDR}[address.kind]
    return [Peer(kind, value) for value in address.values]


def from_nsg_plan(name: str, plan: azure_plan.NsgPlan) -> Firewall:
    """The Azure firewall the deployment files intend."""
    openings: list[Opening] = []
    guards: list[str] = []
    for rule in plan.rules:
        inbound = rule.direction == azure_plan.INBOUND_AZ
        where = f"{rule.name} ({rule.priority})"
        if rule.access == "Deny":
            guards.append(guard_text(rule.name, rule.priority, inbound))
            continue
        if rule.exception is not None:
            continue  # a site exception's: review.exceptions adds its openings
        peers = azure_address_peers(rule.source if inbound else rule.destination)
        if not rule.flows:  # sxcloud's own platform rule (load balancer probes)
            openings += [Opening(INBOUND if inbound else OUTBOUND, Ports(ALL_PROTOCOLS), p,
                                 None, (), PLATFORM, where) for p in peers]
            continue
        for flow in rule.flows:
            openings += [Opening(flow.direction, flow_ports(flow.service), p, flow.peer,
                                 (flow.row.id,), origin_of(flow.row.id), where) for p in peers]
    merged = merge(openings)
    return Firewall(f"{name}-azure", "azure", name,
                    f"network security group {plan.nsg_name} (appliances: ASG {plan.asg_name})",
                    merged, len(plan.rules),
                    (QuotaUse("rules", len(plan.rules), limits.RULES_MAX),), tuple(guards))


def intended(planned: Planned) -> list[Firewall]:
    """The firewalls of one planned deployment, one per cloud section, in cloud order."""
    out = []
    name = planned.deployment.name
    if planned.aws:
        out.append(from_sg_plan(name, planned.aws))
    if planned.azure:
        out.append(from_nsg_plan(name, planned.azure))
    return out
