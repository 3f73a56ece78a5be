"""The firewall rules a Terraform document holds, read with each cloud's resource semantics.

This is the one reader of rule attributes: verify decides every packet with these rules
(`verify.aws`, `verify.azure`), and review turns them into openings (`review.tfplan`), for a
plan's planned values and for its `before` alike (`tfjson.parse(..., side=BEFORE)`).

AWS (`security_group_rules`): the rules of the appliance group are every
`aws_vpc_security_group_ingress_rule` / `_egress_rule` and `aws_security_group_rule`
attached to it, and the entries of its `ingress` / `egress` lists that are not these. The
lists are inline rules where the configuration sets them; otherwise the provider fills them
with every rule it read from the cloud, standalone rules included, and refreshes them only
when it reads the group again (not when a standalone rule is created or deleted). So, where
the configuration does not set a list (a plan whose configuration does not; state, which
does not say), an entry is a copy of a rule resource when it allows what a rule resource of
the document allows, or allowed before the plan (a rule the plan deletes), and is not read
twice; any other entry is a rule no Terraform resource manages (added outside Terraform; in
state, possibly one deleted since the group was last read), which stays after apply.

Azure (`nsg_rules`): the `azurerm_network_security_rule` resources of the NSG and its
`security_rule` blocks, read the same way: where the configuration does not set the list, a
block named like a rule resource of the document (or one the plan deletes) is that rule, and
any other block is a rule no Terraform resource manages.

A rule is one peer of one AWS rule (`SgRule`), or one NSG rule with both of its sides
(`NsgRule`). Values not known in the document stay `Ref` / `Unknown`; a reference to the
appliances' own group (security group, ASG) is `SELF`. What the cloud would refuse or what
cannot be read is a finding in `problems`. The attributes read here have the types
`shape.ATTRIBUTES` gives them: `tfjson.parse` checked them first.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..policy import INBOUND, OUTBOUND
from .model import INVALID, OPAQUE, SELF, Finding
from .shape import AWS_EGRESS, AWS_GROUP, AWS_INGRESS, AWS_LEGACY, AZ_ASG, AZ_NSG, AZ_RULE
from .tfjson import Document, Ref, Resource, Unknown, items, refers_to

AWS_RULES = (AWS_INGRESS, AWS_EGRESS, AWS_LEGACY)

# Where a rule comes from.
RESOURCE = "resource"  # a rule resource (aws_vpc_security_group_*_rule, NSG rule)
LEGACY = "legacy"  # an aws_security_group_rule
INLINE = "inline"  # a block of the group's / NSG's list, which the configuration sets
UNMANAGED = "unmanaged"  # a block of that list that no rule resource of the document is

# The peer kinds of an AWS rule, as the rule resources name them.
CIDR_V4 = "cidr_ipv4"
CIDR_V6 = "cidr_ipv6"
PREFIX_LIST = "prefix_list_id"
GROUP = "referenced_security_group_id"

ALL = "all"
_AWS_PROTOCOLS = {"-1": ALL, "all": ALL, "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
                  "1": "icmp", "58": "icmpv6"}
_AZ_PROTOCOLS = {"*": ALL, "tcp": "tcp", "udp": "udp"}
_AZ_DIRECTIONS = {"inbound": INBOUND, "outbound": OUTBOUND}


@dataclass
class Read:
    """The rules of one firewall in one document, and what could not be read."""

    rules: list[Any] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unmanaged(self) -> list[str]:
        """The addresses of list entries no Terraform resource manages."""
        return list(dict.fromkeys(r.address for r in self.rules if r.origin == UNMANAGED))


def tagged(document: Document, rtype: str, tag: str, value: str | None = None) -> list[Resource]:
    """The resources of a type that carry a tag (with that value, when one is given)."""
    return [r for r in document.of_type(rtype) if isinstance(r.values.get("tags"), dict)
            and r.values["tags"].get(tag) and (value is None or r.values["tags"][tag] == value)]


# --- AWS ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SgRule:
    """One peer of one security-group rule."""

    address: str
    direction: str  # INBOUND or OUTBOUND
    protocol: str  # tcp, udp, all, or the rule's own value (icmp, ...)
    ports: tuple[int, int] | None  # from/to port (ICMP: type, code; -1 every code); None: every
    kind: str  # CIDR_V4, CIDR_V6, PREFIX_LIST or GROUP
    value: Any  # the CIDR or id as written (str, Ref or Unknown); SELF for the group itself
    origin: str  # RESOURCE, LEGACY, INLINE or UNMANAGED
    description: str = ""

    @property
    def key(self) -> tuple[Any, ...]:
        """What the rule allows, to match a list entry with a rule resource."""
        peer: Any = (network(self.value) or str(self.value)) if self.kind in (
            CIDR_V4, CIDR_V6) else (self.kind, str(self.value).lower())
        return (self.direction, self.protocol, self.ports, peer)


def security_group_rules(document: Document, group: Resource) -> Read:
    out = Read()
    managed: set[tuple[Any, ...]] = set()  # what the rule resources allow, as keys
    for resource in document.of_type(*AWS_RULES):
        owner = resource.values.get("security_group_id")
        if isinstance(owner, Unknown):
            out.problems.append(Finding(OPAQUE, f"{resource.address}: its security group is "
                                        f"{owner}, so verify cannot tell whether it is the "
                                        "appliances'"))
            continue
        if not refers_to(owner, group, "id"):
            out.notes.append(f"{resource.address} belongs to another security group "
                             f"({owner}); not evaluated")
            continue
        rules = _sg_resource(resource, group)
        if resource.type != AWS_LEGACY and len(rules) != 1:
            out.problems.append(Finding(INVALID, f"{resource.address} names {len(rules)} peers; "
                                        "the provider takes exactly one of cidr_ipv4, cidr_ipv6, "
                                        "prefix_list_id, referenced_security_group_id"))
        managed.update(r.key for r in rules)
        out.rules += rules
    # A plan's rules as they were before it: one it deletes is still in the group's lists.
    for resource in document.prior:
        if resource.type in AWS_RULES and refers_to(resource.values.get("security_group_id"),
                                                    group, "id"):
            managed.update(r.key for r in _sg_resource(resource, group))
    for key, direction in (("ingress", INBOUND), ("egress", OUTBOUND)):
        configured = group.configured is not None and key in group.configured
        blocks = group.values.get(key)
        if isinstance(blocks, (Ref, Unknown)):
            if configured:  # a computed list of a group not yet created holds nothing
                out.problems.append(Finding(OPAQUE, f"{group.address}.{key} is {blocks}, so "
                                            "verify cannot tell which rules it holds"))
            continue
        for index, block in enumerate(items(blocks)):
            address = f"{group.address}.{key}[{index}]"
            if not isinstance(block, dict):
                out.problems.append(Finding(OPAQUE, f"{address} is {block}, so verify cannot "
                                            "tell which rule it is"))
                continue
            origin = INLINE if configured else UNMANAGED
            out.rules += [r for r in _sg_block(address, direction, block, group, origin)
                          if configured or r.key not in managed]
    return out


def _sg_resource(r: Resource, group: Resource) -> list[SgRule]:
    v = r.values
    if r.type == AWS_LEGACY:
        direction = INBOUND if v.get("type") == "ingress" else OUTBOUND
        source = v.get("source_security_group_id")
        if r.configured is not None and "source_security_group_id" not in r.configured:
            source = None  # computed, and only ever the group the configuration names
        return _sg_block(r.address, direction, {**v, "security_groups": [source]}, group, LEGACY)
    direction = INBOUND if r.type == AWS_INGRESS else OUTBOUND
    return [_sg_rule(r.address, direction, v, v.get("ip_protocol"), kind, v[kind], group,
                     RESOURCE)
            for kind in (CIDR_V4, CIDR_V6, PREFIX_LIST, GROUP) if v.get(kind) not in (None, "")]


def _sg_block(address: str, direction: str, v: dict[str, Any], group: Resource,
              origin: str) -> list[SgRule]:
    """The peers of an inline block or a legacy rule: lists, and `self` for the group."""
    peers: list[tuple[str, Any]] = []
    peers += [(CIDR_V4, c) for c in items(v.get("cidr_blocks"))]
    peers += [(CIDR_V6, c) for c in items(v.get("ipv6_cidr_blocks"))]
    peers += [(PREFIX_LIST, p) for p in items(v.get("prefix_list_ids"))]
    peers += [(GROUP, g) for g in items(v.get("security_groups")) if g]
    if v.get("self") is True:
        peers.append((GROUP, SELF))
    elif isinstance(v.get("self"), (Ref, Unknown)):
        peers.append((GROUP, v["self"]))
    rules = [_sg_rule(address, direction, v, v.get("protocol"), kind, value, group, origin)
             for kind, value in peers]
    return list(dict.fromkeys(rules))  # the group's own id and `self` are one peer


def _sg_rule(address: str, direction: str, v: dict[str, Any], protocol: Any, kind: str,
             value: Any, group: Resource, origin: str) -> SgRule:
    text = str(protocol).lower()
    proto = _AWS_PROTOCOLS.get(text, text)
    ports = None if proto == ALL else _aws_ports(v.get("from_port"), v.get("to_port"),
                                                 icmp=proto in ("icmp", "icmpv6"))
    if kind == GROUP and refers_to(value, group, "id"):
        value = SELF
    return SgRule(address, direction, proto, ports, kind, value, origin,
                  str(v.get("description") or ""))


def _aws_ports(from_port: Any, to_port: Any, icmp: bool = False) -> tuple[int, int] | None:
    """A port range; absent or -1 means every port, as AWS reads it. For ICMP the pair is
    (type, code), where a code of -1 is every code of the type."""
    try:
        low, high = int(from_port), int(to_port)
    except (TypeError, ValueError):
        return None
    if low < 0 or (high < 0 and not icmp):
        return None
    return (low, high)


def network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str):  # a Ref or Unknown: not known in this document
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


# --- Azure ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Side:
    """The addresses on one side of an NSG rule, as written: prefixes (CIDRs, service tags,
    `*`) and ASG ids (SELF for the appliances' ASG); Ref or Unknown where not known."""

    prefixes: tuple[Any, ...]
    asgs: tuple[Any, ...]


@dataclass(frozen=True)
class NsgRule:
    address: str
    name: str
    priority: int
    direction: str  # INBOUND or OUTBOUND
    allow: bool
    protocol: str  # tcp, udp, all, or the rule's own value (icmp, ...)
    ports: tuple[tuple[int, int], ...] | None  # destination ports; None: every port
    source_ports: tuple[tuple[int, int], ...] | None
    source: Side
    destination: Side
    origin: str  # RESOURCE, INLINE or UNMANAGED
    description: str = ""


def nsg_rules(document: Document, nsg: Resource, asg: Resource | None) -> Read:
    out = Read()

    def attached(v: dict[str, Any]) -> bool:
        return refers_to(v.get("network_security_group_name"), nsg, "name") and _same(
            v.get("resource_group_name"), nsg.values.get("resource_group_name"))

    names = set()
    for resource in document.of_type(AZ_RULE):
        v = resource.values
        if isinstance(v.get("network_security_group_name"), Unknown):
            out.problems.append(Finding(OPAQUE, f"{resource.address}: its NSG is "
                                        f"{v['network_security_group_name']}, so verify cannot "
                                        "tell whether it is the appliances'"))
            continue
        if not attached(v):
            out.notes.append(f"{resource.address} belongs to another NSG "
                             f"({v.get('network_security_group_name')}); not evaluated")
            continue
        rule = _nsg_rule(resource.address, v, asg, RESOURCE, out)
        if rule is not None:
            out.rules.append(rule)
            names.add(rule.name)
    # The NSG's list: inline rules where the configuration sets it, else what the provider
    # read from the cloud, where the rule resources (also those a plan deletes) are.
    inline = nsg.configured is not None and "security_rule" in nsg.configured
    if not inline:
        names |= {str(r.values.get("name")) for r in document.prior
                  if r.type == AZ_RULE and attached(r.values)}
    blocks = nsg.values.get("security_rule")
    if isinstance(blocks, (Ref, Unknown)):
        if inline:  # a computed list of an NSG not yet created holds nothing
            out.problems.append(Finding(OPAQUE, f"{nsg.address}.security_rule is {blocks}, so "
                                        "verify cannot tell which rules it holds"))
        return out
    for index, block in enumerate(items(blocks)):
        address = f"{nsg.address}.security_rule[{index}]"
        if not isinstance(block, dict):
            out.problems.append(Finding(OPAQUE, f"{address} is {block}, so verify cannot tell "
                                        "which rule it is"))
        elif str(block.get("name")) not in names:
            rule = _nsg_rule(address, block, asg, INLINE if inline else UNMANAGED, out)
            if rule is not None:
                out.rules.append(rule)
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal resource group names, or not both known (a reference, or not yet known)."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return True


def _nsg_rule(address: str, v: dict[str, Any], asg: Resource | None, origin: str,
              out: Read) -> NsgRule | None:
    direction = _AZ_DIRECTIONS.get(str(v.get("direction")).lower())
    access = str(v.get("access")).lower()
    try:
        priority = int(v.get("priority"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        priority = None
    if direction is None or access not in ("allow", "deny") or priority is None:
        out.problems.append(Finding(INVALID, f"{address}: direction {v.get('direction')}, "
                                    f"access {v.get('access')}, priority {v.get('priority')} "
                                    "are not all known and valid; rule not evaluated"))
        return None
    protocol = str(v.get("protocol")).lower()
    return NsgRule(address, str(v.get("name", address)), priority, direction, access == "allow",
                   _AZ_PROTOCOLS.get(protocol, protocol),
                   _nsg_ports(address, v, "destination", out), _nsg_ports(address, v, "source", out),
                   _nsg_side(address, v, "source", asg, out),
                   _nsg_side(address, v, "destination", asg, out), origin,
                   str(v.get("description") or ""))


def _nsg_ports(address: str, v: dict[str, Any], side: str,
               out: Read) -> tuple[tuple[int, int], ...] | None:
    texts = [t for t in [v.get(f"{side}_port_range"), *items(v.get(f"{side}_port_ranges"))]
             if t not in (None, "")]
    if not texts or "*" in texts:
        return None
    ranges = []
    for text in texts:
        if isinstance(text, (Ref, Unknown)):
            out.problems.append(Finding(OPAQUE, f"{address}: {side} port range {text} is not "
                                        "known in this document, so verify cannot tell which "
                                        "ports the rule covers"))
            continue
        try:
            low, _, high = str(text).partition("-")
            ranges.append((int(low), int(high or low)))
        except ValueError:
            out.problems.append(Finding(INVALID, f"{address}: {side} port range {text!r} is "
                                        "not a port or a range"))
    return tuple(ranges)


def _nsg_side(address: str, v: dict[str, Any], side: str, asg: Resource | None,
              out: Read) -> Side:
    prefixes = [p for p in [v.get(f"{side}_address_prefix"),
                            *items(v.get(f"{side}_address_prefixes"))] if p not in (None, "")]
    asgs = [SELF if asg is not None and refers_to(a, asg, "id") else a
            for a in items(v.get(f"{side}_application_security_group_ids")) if a]
    if prefixes and asgs:
        out.problems.append(Finding(INVALID, f"{address}: {side} mixes address prefixes and "
                                    "application security groups, which Azure refuses"))
    if not prefixes and not asgs:
        out.problems.append(Finding(INVALID, f"{address}: no {side} address"))
    return Side(tuple(prefixes), tuple(asgs))


# --- rules of other groups ------------------------------------------------------------------

@dataclass(frozen=True)
class Foreign:
    """A rule of a security group or NSG other than the appliances': the appliances may be
    members of that group too, and a rule of it may name the appliances' group as its peer
    (which reads as SELF here)."""

    rule: Any  # SgRule or NsgRule
    names: tuple[str, ...]  # what the group is known by: id, Terraform address, RG/NAME
    resource: str  # the resource that holds the rule: a rule resource, or the group (inline)


def _group_names(document: Document, value: Any, attribute: str) -> tuple[str, ...]:
    """The names of the group a rule's owner attribute names: the value itself, and for a
    reference, the group resource's address and its known `attribute` and id."""
    if not isinstance(value, Ref):
        return (str(value),)
    names = [value.address]
    target = next((r for r in document.resources if r.address == value.address), None)
    if target is not None:
        names += [str(target.values[k]) for k in (attribute, "id")
                  if isinstance(target.values.get(k), str)]
    return tuple(dict.fromkeys(names))


def foreign_sg_rules(document: Document, group: Resource | None) -> list[Foreign]:
    """Every AWS rule of the document that is not the appliance group's: rule resources
    attached to another group, and the inline rules of other groups (where the
    configuration sets the lists; lists the provider reads back are no resource's rules)."""
    out = []
    for resource in document.of_type(*AWS_RULES):
        owner = resource.values.get("security_group_id")
        if isinstance(owner, Unknown) or (group is not None and refers_to(owner, group, "id")):
            continue  # unknown owners are verify's problem (security_group_rules)
        names = _group_names(document, owner, "id")
        out += [Foreign(r, names, resource.address) for r in _sg_resource(resource, group or
                                                                           resource)]
    for other in document.of_type(AWS_GROUP):
        if other is group or other.configured is None:
            continue
        names = (other.address, *[str(other.values[k]) for k in ("id", "name")
                                  if isinstance(other.values.get(k), str)])
        for key, direction in (("ingress", INBOUND), ("egress", OUTBOUND)):
            if key not in other.configured:
                continue
            for index, block in enumerate(items(other.values.get(key))):
                if not isinstance(block, dict):
                    continue
                if block.get("self") is True:  # `self` of another group is that group
                    block = {**block, "self": False, "security_groups": [
                        *items(block.get("security_groups")), Ref(other.address, "id")]}
                out += [Foreign(r, names, other.address) for r in _sg_block(
                    f"{other.address}.{key}[{index}]", direction, block, group or other,
                    INLINE)]
    return out


def foreign_nsg_rules(document: Document, nsg: Resource | None,
                      asg: Resource | None) -> list[Foreign]:
    """Every NSG rule of the document that is not the appliance NSG's: rule resources of
    another NSG, and the inline `security_rule` blocks of other NSGs where configured."""
    out = []
    scratch = Read()  # what cannot be read is verify's problem, for the appliance NSG
    for resource in document.of_type(AZ_RULE):
        v = resource.values
        name, group = v.get("network_security_group_name"), v.get("resource_group_name")
        if isinstance(name, Unknown) or (nsg is not None and refers_to(name, nsg, "name")
                                         and _same(group, nsg.values.get("resource_group_name"))):
            continue
        rule = _nsg_rule(resource.address, v, asg, RESOURCE, scratch)
        names = _group_names(document, name, "name")
        names += tuple(f"{group}/{n}" for n in names if isinstance(group, str))
        if rule is not None:
            out.append(Foreign(rule, names, resource.address))
    for other in document.of_type(AZ_NSG):
        if other is nsg or other.configured is None or "security_rule" not in other.configured:
            continue
        names = (other.address, *[str(other.values[k]) for k in ("id", "name")
                                  if isinstance(other.values.get(k), str)])
        if isinstance(other.values.get("name"), str):
            names += (f"{other.values.get('resource_group_name')}/{other.values['name']}",)
        for index, block in enumerate(items(other.values.get("security_rule"))):
            rule = (_nsg_rule(f"{other.address}.security_rule[{index}]", block, asg, INLINE,
                              scratch) if isinstance(block, dict) else None)
            if rule is not None:
                out.append(Foreign(rule, names, other.address))
    return out
