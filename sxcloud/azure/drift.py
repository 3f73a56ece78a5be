"""A live NSG against the rule set its deployment intends: missing, unexpected, changed rules.

The intended side is `sxcloud.azure.plan.plan`, the rule set synth renders, turned into the
shape ARM returns (the same mapping the constructs make: one rule per NsgRule, source ports
'*', the appliance ASG by its ARM id). The live side is an NSG as azure-mgmt-network returns
it; this module reads it by attribute only and imports no SDK, so it stays a pure function.

Rules are matched by name, because the name is what Terraform manages a rule by (changing it
replaces the rule), and a finding is named by the rule's name. Values are compared the way
ARM means them: singular and plural fields as one set (`destinationPortRange: "25"` equals
`destinationPortRanges: ["25"]`), a bare IP as its /32 or /128, and names, ids, tags and
enumerations without case, as ARM compares them.

A site exception's rules are intended rules like the vendor rows': live, they are expected.
Once the exception has expired (its date before the audit's day), each of its rules still
live is an "expired" finding naming the exception, until it is renewed or removed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from typing import Any, Iterable

from .. import exceptions
from .nsg import APPLIANCE_ASG, ASGS, Address, NsgPlan

MISSING = "missing"
UNEXPECTED = "unexpected"
CHANGED = "changed"
EXPIRED = "expired"  # a live rule of a site exception whose date has passed

#: The fields compared, in report order, as the report names them.
FIELDS = ("direction", "priority", "access", "protocol", "source_ports", "destination_ports",
          "source_prefixes", "source_asgs", "destination_prefixes", "destination_asgs",
          "description")
_EXACT = ("priority", "description")  # compared as they are; the rest without case


def arm_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    """The ARM id of a Microsoft.Network resource, e.g. kind 'applicationSecurityGroups'."""
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Network/{kind}/{name}")


@dataclass(frozen=True)
class RuleView:
    """One security rule as ARM holds it, normalised for comparison (see `rule_view`)."""

    name: str
    direction: str
    priority: int | None
    access: str
    protocol: str
    source_ports: tuple[str, ...]
    destination_ports: tuple[str, ...]
    source_prefixes: tuple[str, ...]
    source_asgs: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    description: str

    def key(self, name: str) -> object:
        """The value of a field as ARM compares it."""
        value = getattr(self, name)
        if name in _EXACT:
            return value
        if isinstance(value, tuple):
            return tuple(sorted(v.casefold() for v in value))
        return value.casefold()

    def data(self) -> dict[str, Any]:
        return {"name": self.name, **{f: _json(getattr(self, f)) for f in FIELDS}}


@dataclass(frozen=True)
class Change:
    field: str
    intended: str
    live: str


@dataclass(frozen=True)
class Finding:
    """One drifted rule: missing (intended, not live), unexpected (live, not intended), changed."""

    kind: str
    rule: str
    intended: RuleView | None
    live: RuleView | None
    changes: tuple[Change, ...] = ()
    message: str = ""  # what an EXPIRED finding means, naming the exception

    @property
    def direction(self) -> str:
        return (self.live or self.intended).direction  # type: ignore[union-attr]

    @property
    def priority(self) -> int | None:
        return (self.live or self.intended).priority  # type: ignore[union-attr]

    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "rule": self.rule, "direction": self.direction,
                "priority": self.priority,
                "changes": [{"field": c.field, "intended": c.intended, "live": c.live}
                            for c in self.changes],
                "intended": self.intended.data() if self.intended else None,
                "live": self.live.data() if self.live else None,
                **({"message": self.message} if self.message else {})}


@dataclass(frozen=True)
class Report:
    """The outcome of an audit: drift findings, and notes that are not drift."""

    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = field(default=())
    intended_rules: int = 0
    live_rules: int = 0

    @property
    def drift(self) -> bool:
        return bool(self.findings)

    def count(self, kind: str) -> int:
        return sum(1 for f in self.findings if f.kind == kind)


# --- normalising ------------------------------------------------------------------------------

def _text(value: Any) -> str:
    """An SDK enumeration member or a string, as the string ARM sent."""
    if isinstance(value, Enum):
        return str(value.value)
    return "" if value is None else str(value)


def _sorted(values: Iterable[str]) -> tuple[str, ...]:
    unique = {v.casefold(): v for v in values if v}
    return tuple(unique[k] for k in sorted(unique))


def _ports(values: Iterable[str]) -> tuple[str, ...]:
    ports = {p.replace(" ", "") for p in values if p}
    ports = {"*" if p == "0-65535" else p for p in ports}
    return ("*",) if "*" in ports else _sorted(ports)


def _prefixes(values: Iterable[str]) -> tuple[str, ...]:
    def canonical(value: str) -> str:
        try:
            return str(ipaddress.ip_network(value.strip()))  # '10.0.0.5' -> '10.0.0.5/32'
        except ValueError:
            return value.strip()  # a service tag or '*'
    return _sorted(canonical(v) for v in values if v)


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(value) if value else "-"
    return "-" if value in (None, "") else str(value)


def _json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- building views ---------------------------------------------------------------------------

def rule_view(*, name: str, direction: Any, priority: Any, access: Any, protocol: Any,
              source_ports: Iterable[str], destination_ports: Iterable[str],
              source_prefixes: Iterable[str], source_asgs: Iterable[str],
              destination_prefixes: Iterable[str], destination_asgs: Iterable[str],
              description: str | None) -> RuleView:
    """A RuleView with every value in its canonical form, whichever side it comes from."""
    return RuleView(
        name=name, direction=_text(direction),
        priority=int(priority) if priority is not None else None,
        access=_text(access), protocol=_text(protocol),
        source_ports=_ports(source_ports), destination_ports=_ports(destination_ports),
        source_prefixes=_prefixes(source_prefixes), source_asgs=_sorted(source_asgs),
        destination_prefixes=_prefixes(destination_prefixes),
        destination_asgs=_sorted(destination_asgs), description=description or "")


def intended_views(plan: NsgPlan, subscription: str, resource_group: str) -> list[RuleView]:
    """The rules of the plan as ARM would hold them after `terraform apply` of the stack."""
    appliance = arm_id(subscription, resource_group, "applicationSecurityGroups", plan.asg_name)

    def side(address: Address) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if address.kind == APPLIANCE_ASG:
            return (), (appliance,)
        if address.kind == ASGS:
            return (), address.values
        return address.values, ()

    views = []
    for rule in plan.rules:
        (src, src_asgs), (dst, dst_asgs) = side(rule.source), side(rule.destination)
        views.append(rule_view(
            name=rule.name, direction=rule.direction, priority=rule.priority,
            access=rule.access, protocol=rule.protocol, source_ports=("*",),
            destination_ports=rule.ports, source_prefixes=src, source_asgs=src_asgs,
            destination_prefixes=dst, destination_asgs=dst_asgs, description=rule.description))
    return views


def live_view(rule: Any) -> RuleView:
    """A RuleView of an azure-mgmt-network SecurityRule (read by attribute)."""
    def both(singular: Any, plural: Any) -> list[str]:
        return ([singular] if singular else []) + list(plural or [])

    def asgs(groups: Any) -> list[str]:
        return [g.id for g in groups or [] if g.id]

    return rule_view(
        name=rule.name or "", direction=rule.direction, priority=rule.priority,
        access=rule.access, protocol=rule.protocol,
        source_ports=both(rule.source_port_range, rule.source_port_ranges),
        destination_ports=both(rule.destination_port_range, rule.destination_port_ranges),
        source_prefixes=both(rule.source_address_prefix, rule.source_address_prefixes),
        source_asgs=asgs(rule.source_application_security_groups),
        destination_prefixes=both(rule.destination_address_prefix,
                                  rule.destination_address_prefixes),
        destination_asgs=asgs(rule.destination_application_security_groups),
        description=rule.description)


# --- comparing --------------------------------------------------------------------------------

def compare(intended: list[RuleView], live: list[RuleView],
            fields: tuple[str, ...] = FIELDS) -> list[Finding]:
    """Findings, ordered by direction, then priority, then name."""
    live_by_name = {v.name.casefold(): v for v in live}
    intended_names = {v.name.casefold() for v in intended}
    findings = []
    for want in intended:
        have = live_by_name.get(want.name.casefold())
        if have is None:
            findings.append(Finding(MISSING, want.name, want, None))
            continue
        changes = tuple(Change(f, _show(getattr(want, f)), _show(getattr(have, f)))
                        for f in fields if want.key(f) != have.key(f))
        if changes:
            findings.append(Finding(CHANGED, want.name, want, have, changes))
    findings += [Finding(UNEXPECTED, have.name, None, have)
                 for have in live if have.name.casefold() not in intended_names]
    return sorted(findings, key=lambda f: (f.direction.casefold(), f.priority or 0, f.rule))


def expired(plan: NsgPlan, live: list[RuleView], on: date) -> list[Finding]:
    """One finding per live rule (by name) of a site exception expired on day `on`."""
    live_by_name = {v.name.casefold(): v for v in live}
    out = []
    for rule in plan.rules:
        have = live_by_name.get(rule.name.casefold())
        if rule.exception is None or have is None:
            continue
        e = rule.exception.exception
        status = exceptions.status(e, on)
        if status.state == exceptions.EXPIRED:
            out.append(Finding(EXPIRED, have.name, None, have, (), (
                f"{e.label} (owner {e.owner}) expired on {e.expires} ({status}); renew it "
                "(a later expires) or remove it from the file")))
    return out


def audit(plan: NsgPlan, nsg: Any, *, subscription: str, resource_group: str,
          location: str, on: date | None = None) -> Report:
    """Compare a live NSG (azure-mgmt-network's NetworkSecurityGroup) with the plan, on
    day `on` (default: exceptions.today()) for the site exceptions' expiry."""
    intended = intended_views(plan, subscription, resource_group)
    live = [live_view(r) for r in nsg.security_rules or []]
    notes = _nsg_notes(plan, nsg, location) + default_rule_notes(nsg.default_security_rules)
    found = compare(intended, live) + expired(plan, live, on or exceptions.today())
    return Report(tuple(found), tuple(notes), len(intended), len(live))


# --- the NSG itself and its default rules: notes, not drift -----------------------------------

def _default(name: str, direction: str, priority: int, access: str, source: str,
             destination: str) -> RuleView:
    return rule_view(name=name, direction=direction, priority=priority, access=access,
                     protocol="*", source_ports=("*",), destination_ports=("*",),
                     source_prefixes=(source,), source_asgs=(), destination_prefixes=(destination,),
                     destination_asgs=(), description=None)


#: The six default rules every NSG has (spec/clouds.md; network-security-groups-overview.md).
DEFAULT_RULES = (
    _default("AllowVnetInBound", "Inbound", 65000, "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", "Inbound", 65001, "Allow", "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", "Inbound", 65500, "Deny", "*", "*"),
    _default("AllowVnetOutBound", "Outbound", 65000, "Allow", "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", "Outbound", 65001, "Allow", "*", "Internet"),
    _default("DenyAllOutBound", "Outbound", 65500, "Deny", "*", "*"),
)


def default_rule_notes(rules: Any) -> list[str]:
    """Notes where the default rules are not the six Azure documents.

    Nobody can edit default rules, so a difference is no drift of this deployment; but the
    deny rules at 4096 are designed against these six, so a different set deserves a look.
    """
    if rules is None:
        return ["the NSG came without defaultSecurityRules, so the default rules were not "
                "checked (an older API version or an ARM-compatible cloud may omit them)"]
    fields = tuple(f for f in FIELDS if f != "description")  # Azure's wording is not ours
    notes = []
    for finding in compare(list(DEFAULT_RULES), [live_view(r) for r in rules], fields):
        if finding.kind == CHANGED:
            what = "; ".join(f"{c.field} {c.live} (documented: {c.intended})"
                             for c in finding.changes)
            notes.append(f"default rule {finding.rule} differs from Azure's documented one: {what}")
        elif finding.kind == MISSING:
            notes.append(f"default rule {finding.rule} is missing (not in the NSG)")
        else:
            notes.append(f"default rule {finding.rule} is unexpected (not one of the six "
                         "Azure documents)")
    return notes


def _nsg_notes(plan: NsgPlan, nsg: Any, location: str) -> list[str]:
    notes = []
    live_location = (nsg.location or "").replace(" ", "").casefold()
    if live_location and live_location != location.casefold():
        notes.append(f"the NSG is in {nsg.location}, the file says azure.location {location}; "
                     "Terraform would replace it")
    tags = nsg.tags or {}
    wrong = {k: v for k, v in plan.tags.items() if tags.get(k) != v}
    if wrong:
        notes.append("the NSG lacks the tags sxcloud gives it ("
                     + ", ".join(f"{k}={v}" for k, v in wrong.items())
                     + "): it may not have been created by this deployment's stack")
    state = _text(nsg.provisioning_state) if nsg.provisioning_state else ""
    if state and state != "Succeeded":
        notes.append(f"the NSG's provisioningState is {state}: a change may be in progress; "
                     "audit again when it is Succeeded")
    return notes
