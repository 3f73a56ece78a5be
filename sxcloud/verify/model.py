"""What verify works with: probes, decisions, findings and the result per stack."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Union

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

#: A probe's membership of the appliance's own group (AWS security group, Azure ASG).
SELF = "self"

MISSING = "missing"  # the file intends the flow; the firewall denies it
UNEXPECTED = "unexpected"  # the firewall allows a flow the file does not intend
OPAQUE = "opaque"  # a rule verify cannot evaluate (an unbound prefix list, group, tag...)
INVALID = "invalid"  # the cloud would refuse or misread the rules (priorities, no group...)
EXPIRED = "expired"  # a site exception whose date has passed (its rules are still there)
KINDS = (MISSING, UNEXPECTED, OPAQUE, INVALID, EXPIRED)


@dataclass(frozen=True)
class Probe:
    """A host on the other end of a flow: an address, and the cloud groups it is a member of
    (SELF for the appliance's own group, else bound security group, prefix list or ASG ids,
    lower-case)."""

    label: str
    address: IPAddress
    groups: frozenset[str] = frozenset()
    inbound_only: bool = False

    def __str__(self) -> str:
        return f"{self.label} ({self.address})"

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "address": str(self.address), "groups": sorted(self.groups)}


#: What a rule's peer is, for the scope check: ("net", network), ("member", SELF or a
#: lower-case id), ("tag", service tag) or ("any", "*").
Scope = tuple[str, Any]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    by: str  # the rule (its Terraform address) or the default that decided
    grants: tuple[Scope, ...] = ()  # when allowed: the peers of the rules that allow it


@dataclass(frozen=True)
class Reason:
    """Why the file intends a flow. `role`: the flow's named peer role, whose own rule must
    allow it (None for the Internet and platform facts, where any allowing rule will do)."""

    text: str
    role: str | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    message: str
    direction: str | None = None
    protocol: str | None = None
    port: int | None = None
    probe: Probe | None = None
    intended: str | None = None  # the flow the file intends (missing findings)
    decided_by: str | None = None
    allowed: bool | None = None  # what the firewall did with the probe

    @property
    def service(self) -> str:
        return f"{self.protocol.upper()} {self.port}" if self.protocol else ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.direction:
            out.update(direction=self.direction, protocol=self.protocol, port=self.port)
        if self.probe:
            out["probe"] = self.probe.to_json()
        if self.intended:
            out["intended"] = self.intended
        if self.decided_by:
            out["decided_by"] = self.decided_by
            out["allowed"] = self.allowed
        return out


@dataclass
class StackResult:
    """The verification of one stack (one cloud of one deployment) from one document."""

    stack: str
    cloud: str
    source: str  # the file read
    kind: str  # cdk.tf.json, plan or state
    intended_flows: int = 0
    probes: int = 0
    decisions: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "cloud": self.cloud, "source": self.source,
                "kind": self.kind, "ok": self.ok, "intended_flows": self.intended_flows,
                "probes": self.probes, "decisions": self.decisions,
                "findings": [f.to_json() for f in self.findings], "notes": list(self.notes)}
