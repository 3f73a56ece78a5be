"""The shape of a planned NSG: its rules and their addresses (data only).

sxcloud.azure.plan makes these from a deployment; sxcloud.azure.limits checks them, and the
renderers, constructs and the audit read them. Kept apart from the planner so that the
planner can call the limits check and the limits check can read these types without either
importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..policy import ExceptionFlow, Flow

INBOUND_AZ = "Inbound"
OUTBOUND_AZ = "Outbound"

TAG = "tag"  # a service tag or '*', in the singular *_address_prefix field
ASGS = "asg"  # application security group ids
V4 = "v4"  # IPv4 prefixes, in the plural *_address_prefixes field
V6 = "v6"  # IPv6 prefixes
APPLIANCE_ASG = "appliance"  # the generated ASG of the appliances


@dataclass(frozen=True)
class Address:
    """One side of an NSG rule."""

    kind: str  # TAG, ASGS, V4, V6 or APPLIANCE_ASG
    values: tuple[str, ...] = ()


ANY = Address(TAG, ("*",))
APPLIANCES = Address(APPLIANCE_ASG)


@dataclass(frozen=True)
class NsgRule:
    name: str
    priority: int
    direction: str  # Inbound or Outbound
    access: str  # Allow or Deny
    protocol: str  # Tcp, Udp, Icmp, Esp, Ah or *
    ports: tuple[str, ...]  # destination ports and ranges; ("*",) for all
    source: Address
    destination: Address
    description: str
    flows: tuple[Flow, ...] = ()  # the vendor rows' flows; empty for the rules below
    exception: ExceptionFlow | None = None  # the site exception this rule opens


@dataclass(frozen=True)
class Imports:
    """The live objects an adopted stack takes over (Terraform `import` blocks): ARM ids of
    the NSG and the ASG (None: created), and of the live rules, by rule name."""

    nsg: str | None = None
    asg: str | None = None
    rules: tuple[tuple[str, str], ...] = ()  # (rule name, ARM id), in the plan's order
    associations: tuple[str, ...] = ()  # subnet and NIC ids whose association with the NSG is live


@dataclass(frozen=True)
class NsgPlan:
    nsg_name: str
    asg_name: str
    tags: dict[str, str]
    rules: tuple[NsgRule, ...]
    warnings: tuple[str, ...]
    imports: Imports = Imports()
