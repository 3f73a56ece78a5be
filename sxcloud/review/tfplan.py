"""A Terraform plan (`terraform show -json PLAN`) -> the firewall before and after it.

The plan says what the cloud holds now (each resource change's `before`, refreshed) and
what it will hold after `apply` (`after`). Both are read with each cloud's resource
semantics into openings, so the review of a plan shows what applying it opens and closes,
including rules that did not come from sxcloud (a hand-written .tf file beside the stack,
an edited cdk.tf.json, a rule changed in the console that the plan will put back).

Nothing here trusts sxcloud's descriptions: openings are read from the rule attributes.
A description is kept only to say which vendor row a rule *claims* to be for.

Resources read:
- AWS: `aws_security_group` (the appliances' group, sxcloud's `appliance`, and its inline
  `ingress`/`egress` blocks), `aws_vpc_security_group_ingress_rule` / `_egress_rule`,
  `aws_security_group_rule`.
- Azure: `azurerm_network_security_group` (sxcloud's `appliance_nsg`, and inline
  `security_rule` blocks), `azurerm_network_security_rule`,
  `azurerm_application_security_group` (sxcloud's `appliance_asg`: the appliances).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..policy import INBOUND, OUTBOUND
from .openings import (
    ALL_PROTOCOLS,
    ASG,
    CIDR,
    PREFIX_LIST,
    SECURITY_GROUP,
    SELF,
    TAG,
    UNINTENDED,
    Opening,
    Peer,
    Ports,
    guard_text,
)

AWS_GROUP = "aws_security_group"
AWS_INGRESS = "aws_vpc_security_group_ingress_rule"
AWS_EGRESS = "aws_vpc_security_group_egress_rule"
AWS_LEGACY_RULE = "aws_security_group_rule"
AZ_NSG = "azurerm_network_security_group"
AZ_RULE = "azurerm_network_security_rule"
AZ_ASG = "azurerm_application_security_group"

# sxcloud's Terraform names (sxcloud.aws.constructs, sxcloud.azure.constructs) and tags.
AWS_GROUP_NAME = "appliance"
AZ_NSG_NAME = "appliance_nsg"
AZ_ASG_NAME = "appliance_asg"
AWS_TAG = "sxcloud:deployment"
AZ_TAG = "sxcloud-deployment"

UNKNOWN = "(known after apply)"

_RULE_TYPES = (AWS_INGRESS, AWS_EGRESS, AWS_LEGACY_RULE, AZ_RULE)

_AWS_PROTOCOLS = {"-1": ALL_PROTOCOLS, "all": ALL_PROTOCOLS, "6": "tcp", "17": "udp",
                  "1": "icmp", "58": "icmpv6"}


@dataclass
class State:
    """One side of the plan (before or after) for one stack, as raw openings."""

    openings: list[Opening] = field(default_factory=list)
    rule_count: int = 0
    counted: list[tuple[str, str]] = field(default_factory=list)  # AWS quota buckets
    guards: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    present: bool = False  # the group / NSG exists on this side


@dataclass
class PlannedStack:
    """What one plan file says about one sxcloud stack."""

    path: Path
    cloud: str  # aws | azure
    deployment: str | None  # from the group's tag; None when the plan does not say
    before: State
    after: State
    actions: dict[str, list[str]]  # resource address -> actions, for rules that change
    drift: list[str]  # resources Terraform found changed outside it
    terraform_version: str


# --- reading the file -----------------------------------------------------------------------

def load(path: Path) -> list[PlannedStack]:
    """Read a plan file; one PlannedStack per cloud it holds an sxcloud firewall of."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.one(path, "--plan", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(path, "--plan", f"cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError.one(path, "", f"is not JSON ({error}); give the output of "
                             "'terraform show -json PLANFILE'") from None
    return parse(data, path)


def parse(data: Any, path: Path) -> list[PlannedStack]:
    if not isinstance(data, dict) or "format_version" not in data:
        raise InputError.one(path, "format_version", "is missing: this is not the JSON of "
                             "'terraform show -json PLANFILE'")
    if "resource_changes" not in data:
        if "values" in data:
            raise InputError.one(path, "resource_changes", "is missing: this is a state, "
                                 "not a plan; run 'terraform plan -out=PLANFILE' and "
                                 "'terraform show -json PLANFILE'")
        data = {**data, "resource_changes": []}  # a plan with nothing to change
    changes = data["resource_changes"]
    if not isinstance(changes, list):
        raise InputError.one(path, "resource_changes", "must be a list")
    if data.get("errored"):
        raise InputError.one(path, "errored", "is true: Terraform could not finish this plan")
    resources = [_Resource.of(c, i, path) for i, c in enumerate(changes)]
    resources = [r for r in resources if r.mode == "managed"]
    refs = _references(data.get("configuration", {}))
    # Drift of the group / NSG itself is their computed rule lists catching up with the
    # rule resources; only drift of a rule resource says someone changed a rule.
    drift = [f"{d.get('address')} ({', '.join(d.get('change', {}).get('actions', []))})"
             for d in data.get("resource_drift", []) or []
             if isinstance(d, dict) and d.get("type") in _RULE_TYPES]
    version = str(data.get("terraform_version", "?"))
    out = []
    for cloud, reader in (("aws", _aws), ("azure", _azure)):
        stack = reader(resources, refs, path)
        if stack is not None:
            stack.drift = [d for d in drift if d.split(".", 1)[0].startswith(
                "aws_" if cloud == "aws" else "azurerm_")]
            stack.terraform_version = version
            out.append(stack)
    if not out:
        raise InputError.one(path, "resource_changes", "holds no sxcloud firewall: neither an "
                             f"{AWS_GROUP} nor an {AZ_NSG} appears in it")
    return out


@dataclass
class _Resource:
    address: str
    mode: str
    type: str
    name: str
    actions: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    unknown: dict[str, Any]  # after_unknown

    @classmethod
    def of(cls, change: Any, index: int, path: Path) -> "_Resource":
        key = f"resource_changes[{index}]"
        if not isinstance(change, dict) or not isinstance(change.get("change"), dict):
            raise InputError.one(path, key, "must be an object with a 'change'")
        c = change["change"]
        for side in ("before", "after"):
            if c.get(side) is not None and not isinstance(c[side], dict):
                raise InputError.one(path, f"{key}.change.{side}", "must be an object or null")
        unknown = c.get("after_unknown")
        return cls(str(change.get("address", "")), str(change.get("mode", "managed")),
                   str(change.get("type", "")), str(change.get("name", "")),
                   list(c.get("actions", [])), c.get("before"), c.get("after"),
                   unknown if isinstance(unknown, dict) else {})

    def side(self, name: str) -> dict[str, Any] | None:
        return self.before if name == "before" else self.after

    @property
    def local_name(self) -> str:
        """The resource's name without a module prefix or index."""
        return self.address.rsplit(".", 1)[-1].split("[", 1)[0]


def _references(configuration: Any) -> dict[str, dict[str, list[str]]]:
    """address -> attribute -> the addresses its expression refers to (root and modules)."""
    out: dict[str, dict[str, list[str]]] = {}

    def walk(module: Any, prefix: str) -> None:
        if not isinstance(module, dict):
            return
        for resource in module.get("resources", []) or []:
            exprs = resource.get("expressions", {}) or {}
            out[prefix + str(resource.get("address", ""))] = {
                k: list(v.get("references", [])) for k, v in exprs.items()
                if isinstance(v, dict)}
        for name, call in (module.get("module_calls", {}) or {}).items():
            walk(call.get("module", {}) if isinstance(call, dict) else {},
                 f"{prefix}module.{name}.")

    walk(configuration.get("root_module", {}) if isinstance(configuration, dict) else {}, "")
    return out


def _unknown(resource: _Resource, side: str, attribute: str) -> bool:
    return side == "after" and bool(resource.unknown.get(attribute))


def _refers_to(refs: dict[str, dict[str, list[str]]], resource: _Resource, attribute: str,
               target: _Resource | None) -> bool:
    if target is None:
        return False
    base = resource.address.split("[", 1)[0]
    return target.address in refs.get(base, {}).get(attribute, [])


def _same(resource: _Resource, side: str, attribute: str, value: Any,
          refs: dict[str, dict[str, list[str]]], target: _Resource | None,
          target_attribute: str) -> bool:
    """Whether resource.attribute names the target (by value, or, when the value is not
    known until apply, by the configuration's reference)."""
    values = resource.side(side) or {}
    if _unknown(resource, side, attribute) or values.get(attribute) is None:
        return _refers_to(refs, resource, attribute, target)
    if target is None:
        return False
    theirs = (target.side(side) or {}).get(target_attribute)
    if theirs is not None and theirs == value:
        return True
    return _refers_to(refs, resource, attribute, target)


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text


def _ports(low: Any, high: Any, protocol: str) -> Ports:
    if protocol == ALL_PROTOCOLS:
        return Ports(ALL_PROTOCOLS)
    if protocol not in ("tcp", "udp"):
        return Ports(protocol)  # ICMP type/code are not ports; shown as the protocol
    if low is None or (int(low) in (-1, 0) and int(high) in (-1, 65535)):
        return Ports(protocol)
    return Ports(protocol, int(low), int(high))


# --- AWS ------------------------------------------------------------------------------------

def _aws(resources: list[_Resource], refs: dict[str, dict[str, list[str]]],
         path: Path) -> PlannedStack | None:
    groups = [r for r in resources if r.type == AWS_GROUP]
    if not groups:
        return None
    group = _pick(groups, AWS_GROUP_NAME, AWS_TAG)
    if group is None:
        return None
    stack = PlannedStack(path, "aws", _tag(group, AWS_TAG), State(), State(), {}, [], "")
    # The group's own ingress/egress are inline rules only where the configuration sets
    # them (each list on its own); otherwise the provider fills them with every rule the
    # group has in the cloud. (sxcloud.verify.aws reads them the same way.)
    inline = tuple(k for k in ("ingress", "egress") if k in refs.get(group.address, {}))
    computed = tuple(k for k in ("ingress", "egress") if k not in inline)
    for side in ("before", "after"):
        state = stack.before if side == "before" else stack.after
        state.present = group.side(side) is not None
        if not state.present:
            continue
        group_id = (group.side(side) or {}).get("id")
        for r in resources:
            values = r.side(side)
            if values is None:
                continue
            openings: list[Opening] = []
            if r.type in (AWS_INGRESS, AWS_EGRESS):
                if not _same(r, side, "security_group_id", group_id, refs, group, "id"):
                    continue
                openings = _aws_rule(r, side, values, refs, group)
            elif r.type == AWS_LEGACY_RULE:
                if not _same(r, side, "security_group_id", group_id, refs, group, "id"):
                    continue
                openings = _aws_legacy(r, side, values, refs, group)
            elif r is group and inline:
                openings = _aws_inline(r, values, INLINE_NOTE, inline)
            else:
                continue
            _count(state, openings)
            if r.actions not in (["no-op"], ["read"]) and openings:
                stack.actions[r.address] = r.actions
    if computed and group.before is not None:
        # Rules the group has in the cloud that no Terraform resource manages: added
        # outside Terraform. Apply leaves them in place, so they are on both sides.
        managed = {o.key for o in stack.before.openings}
        live = _aws_inline(group, group.before, UNMANAGED_NOTE, computed)
        unmanaged = [o for o in live if o.key not in managed]
        for state in (stack.before, stack.after):
            if state.present:
                _count(state, unmanaged)
    return stack


INLINE_NOTE = "an inline rule of the group, which sxcloud never writes"
UNMANAGED_NOTE = ("in the cloud, but no Terraform resource manages it (added outside "
                  "Terraform, e.g. in the console); apply leaves it in place")


def _count(state: State, openings: list[Opening]) -> None:
    state.openings += openings
    state.counted += [("ingress" if o.direction == INBOUND else "egress", o.peer.family)
                      for o in openings]
    state.rule_count += len(openings)


def _pick(candidates: list[_Resource], name: str, tag: str) -> _Resource | None:
    """sxcloud's resource among several of a type: its Terraform name, or its tag."""
    named = [r for r in candidates if r.local_name == name]
    if len(named) == 1:
        return named[0]
    tagged = [r for r in candidates if _tag(r, tag)]
    return tagged[0] if len(tagged) == 1 else None


def _tag(resource: _Resource, tag: str) -> str | None:
    for side in (resource.after, resource.before):
        tags = (side or {}).get("tags") or {}
        if isinstance(tags, dict) and tags.get(tag):
            return str(tags[tag])
    return None


def _aws_protocol(value: Any) -> str:
    text = str(value).lower()
    return _AWS_PROTOCOLS.get(text, text)


def _aws_rule(r: _Resource, side: str, v: dict[str, Any],
              refs: dict[str, dict[str, list[str]]], group: _Resource) -> list[Opening]:
    direction = INBOUND if r.type == AWS_INGRESS else OUTBOUND
    protocol = _aws_protocol(v.get("ip_protocol"))
    ports = _ports(v.get("from_port"), v.get("to_port"), protocol)
    peer = None
    if v.get("cidr_ipv4"):
        peer = Peer(CIDR, _cidr(v["cidr_ipv4"]))
    elif v.get("cidr_ipv6"):
        peer = Peer(CIDR, _cidr(v["cidr_ipv6"]))
    elif v.get("prefix_list_id"):
        peer = Peer(PREFIX_LIST, v["prefix_list_id"])
    elif v.get("referenced_security_group_id") or _unknown(r, side, "referenced_security_group_id"):
        if _same(r, side, "referenced_security_group_id", v.get("referenced_security_group_id"),
                 refs, group, "id"):
            peer = Peer(SELF, "this security group")
        else:
            peer = Peer(SECURITY_GROUP, v.get("referenced_security_group_id") or UNKNOWN)
    for attribute in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id"):
        if peer is None and _unknown(r, side, attribute):
            peer = Peer(CIDR if attribute.startswith("cidr") else PREFIX_LIST, UNKNOWN)
    if peer is None:
        return []  # AWS refuses a rule without a peer; nothing is opened
    return [_raw(direction, ports, peer, r.address, v.get("description"))]


def _aws_peers(v: dict[str, Any], self_key: str, groups_key: str,
               own_id: Any = None) -> list[Peer]:
    peers = [Peer(CIDR, _cidr(c)) for c in v.get("cidr_blocks") or []]
    peers += [Peer(CIDR, _cidr(c)) for c in v.get("ipv6_cidr_blocks") or []]
    peers += [Peer(PREFIX_LIST, p) for p in v.get("prefix_list_ids") or []]
    groups = v.get(groups_key) or []
    for group in [groups] if isinstance(groups, str) else groups:
        # The provider lists the group's own id for a rule that references it.
        peers.append(Peer(SELF, "this security group") if group == own_id
                     else Peer(SECURITY_GROUP, group))
    if v.get(self_key):
        peers.append(Peer(SELF, "this security group"))
    return list(dict.fromkeys(peers))


def _aws_legacy(r: _Resource, side: str, v: dict[str, Any],
                refs: dict[str, dict[str, list[str]]], group: _Resource) -> list[Opening]:
    direction = INBOUND if v.get("type") == "ingress" else OUTBOUND
    protocol = _aws_protocol(v.get("protocol"))
    ports = _ports(v.get("from_port"), v.get("to_port"), protocol)
    peers = _aws_peers(v, "self", "source_security_group_id", (group.side(side) or {}).get("id"))
    return [_raw(direction, ports, p, r.address, v.get("description"),
                 "an aws_security_group_rule, which sxcloud never writes") for p in peers]


def _aws_inline(r: _Resource, v: dict[str, Any], note: str,
                keys: tuple[str, ...]) -> list[Opening]:
    out = []
    for key, direction in (("ingress", INBOUND), ("egress", OUTBOUND)):
        blocks = v.get(key) if key in keys else None
        for index, block in enumerate(blocks if isinstance(blocks, list) else []):
            protocol = _aws_protocol(block.get("protocol"))
            ports = _ports(block.get("from_port"), block.get("to_port"), protocol)
            out += [_raw(direction, ports, p, f"{r.address}.{key}[{index}]",
                         block.get("description"), note)
                    for p in _aws_peers(block, "self", "security_groups", v.get("id"))]
    return out


def _raw(direction: str, ports: Ports, peer: Peer, resource: str, description: Any,
         note: str = "") -> Opening:
    return Opening(direction, ports, peer, None, (), UNINTENDED, resource, note,
                   str(description or ""))


# --- Azure ----------------------------------------------------------------------------------

def _azure(resources: list[_Resource], refs: dict[str, dict[str, list[str]]],
           path: Path) -> PlannedStack | None:
    nsgs = [r for r in resources if r.type == AZ_NSG]
    if not nsgs:
        return None
    nsg = _pick(nsgs, AZ_NSG_NAME, AZ_TAG)
    if nsg is None:
        return None
    asg = _pick([r for r in resources if r.type == AZ_ASG], AZ_ASG_NAME, AZ_TAG)
    stack = PlannedStack(path, "azure", _tag(nsg, AZ_TAG), State(), State(), {}, [], "")
    # As on AWS: the NSG's security_rule blocks are inline rules only where the
    # configuration sets them; otherwise they are every rule the NSG has in the cloud.
    inline = "security_rule" in refs.get(nsg.address, {})
    managed_names: set[str] = set()
    for side in ("before", "after"):
        state = stack.before if side == "before" else stack.after
        state.present = nsg.side(side) is not None
        if not state.present:
            continue
        nsg_name = (nsg.side(side) or {}).get("name")
        rules: list[tuple[str, dict[str, Any], _Resource, str]] = []
        for r in resources:
            values = r.side(side)
            if values is None:
                continue
            if r.type == AZ_RULE and _same(r, side, "network_security_group_name", nsg_name,
                                            refs, nsg, "name"):
                rules.append((r.address, values, r, ""))
                if side == "before":
                    managed_names.add(str(values.get("name")))
            elif r is nsg and inline:
                rules += [(f"{r.address}.security_rule[{i}]", block, r, INLINE_NOTE_AZ)
                          for i, block in enumerate(values.get("security_rule") or [])]
        if not inline and nsg.before is not None:
            rules += [(f"{nsg.address}.security_rule[{i}]", block, nsg, UNMANAGED_NOTE)
                      for i, block in enumerate(nsg.before.get("security_rule") or [])
                      if str(block.get("name")) not in managed_names]
        asg_id = (asg.side(side) or {}).get("id") if asg else None
        _azure_rules(rules, side, refs, asg, asg_id, state, stack)
    return stack


INLINE_NOTE_AZ = "an inline security_rule of the NSG, which sxcloud never writes"


def _azure_rules(rules: list[tuple[str, dict[str, Any], _Resource, str]], side: str,
                 refs: dict[str, dict[str, list[str]]], asg: _Resource | None,
                 asg_id: str | None, state: State, stack: PlannedStack) -> None:
    """NSG rules in priority order; an allow rule behind a deny-everything rule of the same
    direction never matches, so it opens nothing."""
    state.rule_count = len(rules)
    blocked: dict[str, str] = {}  # direction -> the deny-all rule that ends evaluation
    for address, v, resource, origin_note in sorted(
            rules, key=lambda t: (str(t[1].get("direction")), int(t[1].get("priority") or 0))):
        direction = INBOUND if str(v.get("direction")).lower() == "inbound" else OUTBOUND
        where = f"{v.get('name') or address} ({v.get('priority')})"
        ours = ("destination" if direction == INBOUND else "source")
        theirs = ("source" if direction == INBOUND else "destination")
        own = _azure_side(resource, side, v, ours, refs, asg, asg_id)
        peer_side = _azure_side(resource, side, v, theirs, refs, asg, asg_id)
        protocol = str(v.get("protocol") or "*").lower()
        protocol = ALL_PROTOCOLS if protocol in ("*", "any") else protocol
        ports = [_azure_ports(p, protocol) for p in _azure_port_list(v)]
        everything = (protocol == ALL_PROTOCOLS and ports == [Ports(ALL_PROTOCOLS)]
                      and peer_side == [Peer(TAG, "*")])
        if str(v.get("access")).lower() == "deny":
            if everything and own in ([Peer(SELF, "appliance ASG")], [Peer(TAG, "*")]):
                blocked.setdefault(direction, where)
                state.guards.append(guard_text(str(v.get("name") or address), v.get("priority"),
                                               direction == INBOUND))
            else:
                state.notes.append(f"Deny rule {where} ({direction}, {', '.join(map(str, ports))}"
                                   "): not from sxcloud; it may block intended flows"
                                   + (f" ({origin_note})" if origin_note else ""))
            continue
        if direction in blocked:
            state.notes.append(f"Allow rule {where} comes after {blocked[direction]}, which "
                               "denies everything first, so it opens nothing")
            continue
        if own and all(p.kind == ASG for p in own):
            continue  # it names other machines' ASGs only: the appliances are not in it
        notes = [origin_note] if origin_note else []
        if own != [Peer(SELF, "appliance ASG")]:
            notes.append(f"applies to every machine the NSG protects that "
                         f"{', '.join(p.value for p in own)} covers, not only to the "
                         "appliances' ASG")
        note = "; ".join(notes)
        for port in ports:
            for peer in peer_side:
                state.openings.append(_raw(direction, port, peer, where, v.get("description"),
                                           note))
        if resource.actions not in (["no-op"], ["read"]) and not origin_note:
            stack.actions[address] = resource.actions


def _azure_port_list(v: dict[str, Any]) -> list[str]:
    many = v.get("destination_port_ranges") or []
    one = v.get("destination_port_range")
    return sorted(set(many) | ({one} if one else set())) or ["*"]


def _azure_ports(text: str, protocol: str) -> Ports:
    if text == "*":
        return Ports(protocol) if protocol != ALL_PROTOCOLS else Ports(ALL_PROTOCOLS)
    low, _, high = text.partition("-")
    return Ports(protocol, int(low), int(high or low))


def _azure_side(r: _Resource, side: str, v: dict[str, Any], which: str,
                refs: dict[str, dict[str, list[str]]], asg: _Resource | None,
                asg_id: str | None) -> list[Peer]:
    """The addresses on one side of an NSG rule; the appliances' ASG is SELF."""
    attribute = f"{which}_application_security_group_ids"
    peers = []
    ids = [i for i in v.get(attribute) or [] if i]
    unknown = _unknown(r, side, attribute)
    if ids or unknown:
        appliance = (asg_id is not None and asg_id in ids) or _refers_to(refs, r, attribute, asg)
        if appliance:
            peers.append(Peer(SELF, "appliance ASG"))
        peers += [Peer(ASG, i) for i in ids if i != asg_id]
        if unknown and not appliance:
            peers.append(Peer(ASG, UNKNOWN))
    single = v.get(f"{which}_address_prefix")
    if single:
        peers.append(_azure_address(single))
    peers += [_azure_address(p) for p in v.get(f"{which}_address_prefixes") or []]
    return peers or [Peer(TAG, "*")]


def _azure_address(text: str) -> Peer:
    if text == "*" or not any(ch.isdigit() for ch in text) or text.isalpha():
        return Peer(TAG, text)
    try:
        return Peer(CIDR, str(ipaddress.ip_network(text, strict=False)))
    except ValueError:
        return Peer(TAG, text)  # a service tag such as Storage.WestEurope
