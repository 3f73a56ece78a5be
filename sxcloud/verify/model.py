"""What verify works with: peers, decisions, regions of the packet space, findings and the
result per stack."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Union

from . import space

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: A peer's membership of the appliance's own group (AWS security group, Azure ASG).
SELF = "self"

MISSING = "missing"  # the file intends the flow; the firewall denies it
UNEXPECTED = "unexpected"  # the firewall allows a flow the file does not intend
OPAQUE = "opaque"  # a rule verify cannot evaluate (an unbound prefix list, group, tag...)
INVALID = "invalid"  # the cloud would refuse or misread the rules (priorities, no group...)
EXPIRED = "expired"  # a site exception whose date has passed (its rules are still there)
KINDS = (MISSING, UNEXPECTED, OPAQUE, INVALID, EXPIRED)


@dataclass(frozen=True)
class Host:
    """A peer on the other end of a flow: an address, and the cloud groups it is a member of
    (SELF for the appliance's own group, else a bound security group, prefix list or ASG id,
    lower-case; or intent.BEYOND_VNET)."""

    address: IPAddress
    groups: frozenset[str] = frozenset()


#: What a rule's peer is, for the scope check: ("net", network), ("member", SELF or a
#: lower-case id), ("tag", service tag) or ("any", "*").
Scope = tuple[str, Any]


@dataclass(frozen=True)
class Reason:
    """Why the file intends a flow. `role`: the flow's named peer role, whose own rule must
    allow it (None for the Internet and platform facts, where any allowing rule will do)."""

    text: str
    role: str | None = None


@dataclass(frozen=True)
class Region:
    """A box of the packet space in one direction: protocols, one range of the second
    dimension (ports, or ICMP type/code), and a range of peer addresses of one IP family,
    for peers that are members of one group (`member`: SELF or an id) or of none ("")."""

    direction: str
    protocols: frozenset[int]
    ports: tuple[int, int]
    first: IPAddress
    last: IPAddress
    member: str = ""
    peer: str = ""  # the members' group in words ("" for any host at these addresses)

    def addresses(self) -> str:
        """The address range as CIDR blocks where two or fewer say it, else first-last."""
        blocks = list(ipaddress.summarize_address_range(self.first, self.last))  # type: ignore[arg-type]
        if len(blocks) <= 2:
            return ", ".join(map(str, blocks))
        return f"{self.first}-{self.last}"

    def __str__(self) -> str:
        what = space.protocols_text(self.protocols)
        ports = space.ports_text(self.protocols, *self.ports)
        way = "from" if self.direction == "inbound" else "to"
        peer = f" ({self.peer})" if self.peer else ""
        return f"{self.direction} {what}{' ' + ports if ports else ''} {way} {self.addresses()}{peer}"

    def to_json(self) -> dict[str, Any]:
        return {"direction": self.direction,
                "protocols": [list(s) for s in space.spans(self.protocols)],
                "protocol_names": space.protocols_text(self.protocols),
                "ports": list(self.ports), "first_address": str(self.first),
                "last_address": str(self.last), "member_of": self.member or None}


@dataclass(frozen=True)
class Packet:
    """One concrete packet of a region: what a reviewer can try."""

    direction: str
    protocol: int
    port: int | None  # TCP/UDP destination port, ICMP type*256+code, None: no ports
    address: IPAddress
    member: str = ""  # as in Region
    peer: str = ""

    def __str__(self) -> str:
        way = "from" if self.direction == "inbound" else "to"
        peer = f" ({self.peer})" if self.peer else ""
        return f"{self.direction} {space.example_text(self.protocol, self.port)} {way} {self.address}{peer}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"direction": self.direction, "protocol": self.protocol,
                               "protocol_name": space.protocol_name(self.protocol),
                               "address": str(self.address), "member_of": self.member or None}
        if self.port is not None and self.protocol in space.TYPED:
            out.update(icmp_type=self.port // 256, icmp_code=self.port % 256)
        elif self.port is not None:
            out["port"] = self.port
        return out


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    direction: str | None = None
    protocol: str | None = None  # the example packet's protocol, in words
    port: int | None = None  # the example packet's port (ICMP: type * 256 + code)
    intended: str | None = None  # the flow the file intends (missing findings)
    decided_by: str | None = None
    allowed: bool | None = None  # what the firewall does in the region
    region: Region | None = None  # where the firewall and the intent differ
    example: Packet | None = None  # one packet of the region

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.direction:
            out.update(direction=self.direction, protocol=self.protocol, port=self.port)
        if self.intended:
            out["intended"] = self.intended
        if self.decided_by:
            out["decided_by"] = self.decided_by
            out["allowed"] = self.allowed
        if self.region:
            out["region"] = self.region.to_json()
        if self.example:
            out["example"] = self.example.to_json()
        return out


@dataclass
class StackResult:
    """The verification of one stack (one cloud of one deployment) from one document."""

    stack: str
    cloud: str
    source: str  # the file read
    kind: str  # cdk.tf.json, plan or state
    intended_flows: int = 0
    peer_ranges: int = 0  # address ranges x memberships decided, per direction
    cells: int = 0  # protocol x port x peer boxes decided
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "cloud": self.cloud, "source": self.source,
                "kind": self.kind, "ok": self.ok, "intended_flows": self.intended_flows,
                "peer_ranges": self.peer_ranges, "cells": self.cells,
                "findings": [f.to_json() for f in self.findings], "notes": list(self.notes)}
