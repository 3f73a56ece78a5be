"""A Terraform plan (`terraform show -json PLAN`) -> the firewall before and after it.

The plan says what the cloud holds now (each resource change's `before`, refreshed) and
what it will hold after `apply` (its planned values). verify's reader reads both sides
(`verify.tfjson`, `side=BEFORE` for the first) and interprets the rule resources of each
cloud (`verify.rules`); this module turns those rules into openings, so the review of a
plan shows what applying it opens and closes, including rules that did not come from
sxcloud (a hand-written .tf file beside the stack, an edited cdk.tf.json, a rule changed in
the console that the plan will put back).

Nothing here trusts sxcloud's descriptions: openings are read from the rule attributes.
A description is kept only to say which vendor row a rule *claims* to be for.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..policy import INBOUND
from ..verify import rules as tf
from ..verify.aws import TAG as AWS_TAG
from ..verify.azure import TAG as AZ_TAG
from ..verify.tfjson import AFTER, BEFORE, PLAN, Document, Resource, load_json, parse as parse_json
from . import planactions
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
    rule_ports,
)

# sxcloud's Terraform names (sxcloud.aws.constructs, sxcloud.azure.constructs).
AWS_GROUP_NAME = "appliance"
AZ_NSG_NAME = "appliance_nsg"
AZ_ASG_NAME = "appliance_asg"

UNKNOWN = "(known after apply)"
_AZURE_TYPES = ("azurerm_", "azuread_", "azapi_")

NOTES = {
    tf.LEGACY: "an aws_security_group_rule, which sxcloud never writes",
    tf.INLINE: "an inline rule of the group, which sxcloud never writes",
    tf.UNMANAGED: ("in the cloud, but no Terraform resource manages it (added outside "
                   "Terraform, e.g. in the console); apply leaves it in place"),
}
INLINE_NOTE_AZ = "an inline security_rule of the NSG, which sxcloud never writes"


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
    drift: list[str] = field(default_factory=list)  # resources changed outside Terraform
    terraform_version: str = "?"
    module: str = ""  # the module address sxcloud's group / NSG is in ("" or "module.x.")
    changes: list[planactions.Change] = field(default_factory=list)  # non-rule resources
    #: The appliances' group / NSG and ASG in the plan (for membership changes).
    appliances: planactions.Appliances = field(default_factory=planactions.Appliances)
    #: Rules of other groups / NSGs that the plan adds or removes (`foreign`).
    others: list[planactions.OtherRule] = field(default_factory=list)
    #: The plan's two sides as verify reads them (BEFORE, AFTER), for the exact change.
    documents: dict[str, Document] = field(default_factory=dict)


def load(path: Path) -> list[PlannedStack]:
    """Read a plan file; one PlannedStack per cloud it holds an sxcloud firewall of."""
    return parse(load_json(path, "--plan", "; give the output of 'terraform show -json "
                           "PLANFILE'"), path)


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
    if data.get("errored"):
        raise InputError.one(path, "errored", "is true: Terraform could not finish this plan")
    sides = {side: parse_json(data, str(path), PLAN, side) for side in (BEFORE, AFTER)}
    # Drift of the group / NSG itself is their computed rule lists catching up with the
    # rule resources; only drift of a rule resource says someone changed a rule.
    drift = [f"{d.get('address')} ({', '.join(d.get('change', {}).get('actions', []))})"
             for d in data.get("resource_drift", []) or []
             if isinstance(d, dict) and d.get("type") in (*tf.AWS_RULES, tf.AZ_RULE)]
    out = []
    for cloud, reader in (("aws", _aws), ("azure", _azure)):
        stack = reader(sides, path)
        if stack is not None:
            stack.drift = [d for d in drift if d.split(".", 1)[0].startswith(
                "aws_" if cloud == "aws" else "azurerm_")]
            stack.terraform_version = str(data.get("terraform_version", "?"))
            out.append(stack)
    changes = planactions.read(data)
    verbs = planactions.verbs(data)
    for stack in out:
        stack.others = _others(sides, stack.cloud, verbs)
        stack.documents = sides
    for stack in out:  # with two stacks in one plan, each takes its provider's resources
        stack.changes = [c for c in changes if len(out) == 1
                         or c.type.startswith(_AZURE_TYPES) == (stack.cloud == "azure")]
    if not out:
        raise InputError.one(path, "resource_changes", "holds no sxcloud firewall: neither an "
                             f"{tf.AWS_GROUP} nor an {tf.AZ_NSG} appears in it")
    return out


def _pick(document: Document, rtype: str, name: str, tag: str) -> Resource | None:
    """sxcloud's resource among several of a type: its Terraform name, or its tag."""
    named = [r for r in document.of_type(rtype) if r.name == name]
    if len(named) == 1:
        return named[0]
    found = tf.tagged(document, rtype, tag)
    return found[0] if len(found) == 1 else None


def _stack(sides: dict[str, Document], path: Path, cloud: str, rtype: str, name: str,
           tag: str) -> tuple[PlannedStack | None, dict[str, Resource | None]]:
    """The stack of one cloud, and its group / NSG on each side (None where absent)."""
    found = {side: _pick(document, rtype, name, tag) for side, document in sides.items()}
    if not any(found.values()):
        return None, found
    tags = [(r.values.get("tags") or {}) if r else {} for r in (found[AFTER], found[BEFORE])]
    deployment = next((str(t[tag]) for t in tags if isinstance(t, dict) and t.get(tag)), None)
    stack = PlannedStack(path, cloud, deployment, State(), State())
    stack.before.present, stack.after.present = found[BEFORE] is not None, found[AFTER] is not None
    shown = found[AFTER] or found[BEFORE]
    assert shown is not None
    local = f"{shown.type}.{shown.name}"
    if shown.address.endswith(local):
        stack.module = shown.address[: len(shown.address) - len(local)]
    _appliances(stack, [r for r in found.values() if r is not None])
    return stack, found


def _appliances(stack: PlannedStack, resources: list[Resource]) -> None:
    """Add the appliances' group / NSG / ASG resources (either side) to what stands for them."""
    known = stack.appliances
    ids = {str(r.values["id"]).lower() for r in resources if isinstance(r.values.get("id"), str)}
    stack.appliances = planactions.Appliances(
        known.addresses | {r.address for r in resources}, known.ids | ids, stack.module)


def _state(stack: PlannedStack, side: str) -> State:
    return stack.before if side == BEFORE else stack.after


def _raw(direction: str, ports: Ports, peer: Peer, resource: str, description: str,
         note: str = "") -> Opening:
    return Opening(direction, ports, peer, None, (), UNINTENDED, resource, note, description)


# --- AWS ------------------------------------------------------------------------------------

def _aws(sides: dict[str, Document], path: Path) -> PlannedStack | None:
    stack, groups = _stack(sides, path, "aws", tf.AWS_GROUP, AWS_GROUP_NAME, AWS_TAG)
    for side, group in groups.items():
        if stack is None or group is None:
            continue
        state = _state(stack, side)
        for rule in tf.security_group_rules(sides[side], group).rules:
            opening = _raw(rule.direction, _sg_ports(rule),
                           _aws_peer(rule), rule.address, rule.description,
                           NOTES.get(rule.origin, ""))
            state.openings.append(opening)
            state.counted.append(("ingress" if rule.direction == INBOUND else "egress",
                                  opening.peer.family))
        state.rule_count = len(state.openings)
    return stack


def _sg_ports(rule: tf.SgRule) -> Ports:
    return rule_ports(rule.protocol, *(rule.ports or (None, None)), icmp=True)


def _aws_peer(rule: tf.SgRule) -> Peer:
    if rule.value == SELF:
        return Peer(SELF, "this security group")
    if not isinstance(rule.value, str):
        value = UNKNOWN
    elif rule.kind in (tf.CIDR_V4, tf.CIDR_V6):
        value = _cidr(rule.value)
    else:
        value = rule.value
    kind = {tf.PREFIX_LIST: PREFIX_LIST, tf.GROUP: SECURITY_GROUP}.get(rule.kind, CIDR)
    return Peer(kind, value)


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return text


# --- Azure ----------------------------------------------------------------------------------

def _azure(sides: dict[str, Document], path: Path) -> PlannedStack | None:
    stack, nsgs = _stack(sides, path, "azure", tf.AZ_NSG, AZ_NSG_NAME, AZ_TAG)
    for side, nsg in nsgs.items():
        if stack is None or nsg is None:
            continue
        asg = _pick(sides[side], tf.AZ_ASG, AZ_ASG_NAME, AZ_TAG)
        _appliances(stack, [asg] if asg else [])
        _azure_rules(tf.nsg_rules(sides[side], nsg, asg).rules, _state(stack, side))
    return stack


def _azure_rules(rules: list[tf.NsgRule], state: State) -> None:
    """NSG rules in priority order; an allow rule behind a deny-everything rule of the same
    direction never matches, so it opens nothing."""
    state.rule_count = len(rules)
    blocked: dict[str, str] = {}  # direction -> the deny-all rule that ends evaluation
    for rule in sorted(rules, key=lambda r: (r.direction, r.priority)):
        inbound = rule.direction == INBOUND
        where = f"{rule.name} ({rule.priority})"
        origin_note = INLINE_NOTE_AZ if rule.origin == tf.INLINE else NOTES.get(rule.origin, "")
        own = _azure_side(rule.destination if inbound else rule.source)
        peer_side = _azure_side(rule.source if inbound else rule.destination)
        ports = [rule_ports(rule.protocol)] if rule.ports is None else sorted(
            {rule_ports(rule.protocol, low, high) for low, high in rule.ports})
        everything = (rule.protocol == ALL_PROTOCOLS and ports == [Ports(ALL_PROTOCOLS)]
                      and peer_side == [Peer(TAG, "*")])
        if not rule.allow:
            if everything and own in ([Peer(SELF, "appliance ASG")], [Peer(TAG, "*")]):
                blocked.setdefault(rule.direction, where)
                state.guards.append(guard_text(rule.name, rule.priority, inbound))
            else:
                state.notes.append(f"Deny rule {where} ({rule.direction}, "
                                   f"{', '.join(map(str, ports))}): not from sxcloud; it may "
                                   "block intended flows"
                                   + (f" ({origin_note})" if origin_note else ""))
            continue
        if rule.direction in blocked:
            state.notes.append(f"Allow rule {where} comes after {blocked[rule.direction]}, "
                               "which denies everything first, so it opens nothing")
            continue
        if own and all(p.kind == ASG for p in own):
            continue  # it names other machines' ASGs only: the appliances are not in it
        notes = [origin_note] if origin_note else []
        if own != [Peer(SELF, "appliance ASG")]:
            notes.append(f"applies to every machine the NSG protects that "
                         f"{', '.join(p.value for p in own)} covers, not only to the "
                         "appliances' ASG")
        state.openings += [_raw(rule.direction, port, peer, where, rule.description,
                                "; ".join(notes)) for port in ports for peer in peer_side]


def _azure_side(side: tf.Side) -> list[Peer]:
    """The addresses on one side of an NSG rule; the appliances' ASG is SELF."""
    peers = [Peer(SELF, "appliance ASG") if a == SELF
             else Peer(ASG, a if isinstance(a, str) else UNKNOWN) for a in side.asgs]
    peers += [_azure_address(p) if isinstance(p, str) else Peer(CIDR, UNKNOWN)
              for p in side.prefixes]
    return list(dict.fromkeys(peers)) or [Peer(TAG, "*")]


def _azure_address(text: str) -> Peer:
    if text == "*" or not any(ch.isdigit() for ch in text) or text.isalpha():
        return Peer(TAG, text)
    try:
        return Peer(CIDR, str(ipaddress.ip_network(text, strict=False)))
    except ValueError:
        return Peer(TAG, text)  # a service tag such as Storage.WestEurope


# --- rules of other groups ------------------------------------------------------------------

def _others(sides: dict[str, Document], cloud: str,
            verbs: dict[str, str]) -> list[planactions.OtherRule]:
    """The rules of other groups (AWS) or NSGs (Azure) that the plan adds or removes, read
    by the one interpreter of rule resources (`verify.rules`), with what each opens."""
    read: dict[str, dict[tuple[str, Any], tf.Foreign]] = {}
    for side, document in sides.items():
        if cloud == "aws":
            group = _pick(document, tf.AWS_GROUP, AWS_GROUP_NAME, AWS_TAG)
            found = tf.foreign_sg_rules(document, group)
        else:
            nsg = _pick(document, tf.AZ_NSG, AZ_NSG_NAME, AZ_TAG)
            asg = _pick(document, tf.AZ_ASG, AZ_ASG_NAME, AZ_TAG)
            found = tf.foreign_nsg_rules(document, nsg, asg)
        read[side] = {(f.rule.address, f.rule): f for f in found}
    noun = "security group" if cloud == "aws" else "NSG"
    out = []
    for side, added in ((AFTER, True), (BEFORE, False)):
        other = read[BEFORE if added else AFTER]
        for key, f in read[side].items():
            if key not in other:
                opens = _sg_opens(f.rule) if cloud == "aws" else _nsg_opens(f.rule)
                out.append(planactions.OtherRule(
                    f.rule.address, f.names, noun, opens, added,
                    verbs.get(f.resource, "updates")))
    return out


def _sg_opens(rule: tf.SgRule) -> str:
    ports = _sg_ports(rule)
    peer = "the appliances' security group" if rule.value == SELF else _aws_peer(rule).short()
    return f"{rule.direction} {ports} {'from' if rule.direction == INBOUND else 'to'} {peer}"


def _nsg_opens(rule: tf.NsgRule) -> str:
    ports = [rule_ports(rule.protocol)] if rule.ports is None else sorted(
        {rule_ports(rule.protocol, low, high) for low, high in rule.ports})

    def side(s: tf.Side) -> str:
        return ", ".join("the appliances' ASG" if p.kind == SELF else p.short()
                         for p in _azure_side(s))
    return (f"{rule.direction} {'allow' if rule.allow else 'deny'} "
            f"{', '.join(map(str, ports))} from {side(rule.source)} to "
            f"{side(rule.destination)} (priority {rule.priority})")
