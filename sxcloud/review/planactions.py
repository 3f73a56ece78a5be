"""The resources a Terraform plan creates, updates or deletes besides the firewall rules.

Rules are read as openings (`tfplan`). Everything else a plan touches is listed here, and
compared with the resources the deployment files intend (the `resource` block synthesis
writes, `verification.planned_resources`): the appliances' group or NSG and ASG, and the
NSG's associations. A plan action on a resource that no sxcloud file intends is a finding:
a hand-written `.tf` file beside the stack can create anything (an instance, a bucket
policy, a `terraform_data` that runs a command) and the firewall report would not say so.

A plan of a root that calls sxcloud's modules names the same resources `TYPE.this` and
`TYPE.this["KEY"]` (`local_name` maps them onto the stack's names). A network interface that
joins the appliances' group is a membership change (`_membership`): listed, a finding only
when it leaves. The rules a plan adds to other groups are listed too (`other_rules`).

Only action names and changed attribute *names* are shown, never values: a plan holds the
values of every attribute in clear, sensitive ones included.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..azure.attributes import NIC_ASG_TYPE, NIC_NSG_TYPE, SUBNET_NSG_TYPE
from ..verify import rules as tf
from .policyfile import NONE, Policy

RULE_TYPES = (*tf.AWS_RULES, tf.AZ_RULE)  # read as openings instead
QUIET = (("no-op",), ("read",))  # actions that change nothing

_VERBS = {("create",): "creates", ("update",): "updates", ("delete",): "deletes",
          ("delete", "create"): "replaces", ("create", "delete"): "replaces",
          ("forget",): "forgets"}
_GUARDED = {SUBNET_NSG_TYPE: ("subnet_id", "subnet"),
            NIC_NSG_TYPE: ("network_interface_id", "network interface"),
            NIC_ASG_TYPE: ("network_interface_id", "network interface")}


@dataclass(frozen=True)
class Change:
    """One entry of a plan's `resource_changes`, as far as the review needs it."""

    address: str
    type: str
    actions: tuple[str, ...]
    before: dict[str, Any]
    after: dict[str, Any]
    unknown: frozenset[str]  # attributes known only after apply
    #: Per attribute, the addresses its configuration expression refers to (full addresses:
    #: a module's references with the module's address in front).
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The module calls whose arguments refer to this resource ("module.NAME").
    passed_to: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Appliances:
    """What stands for the appliances in a plan: the full addresses of their group (AWS), or
    NSG and ASG (Azure), their ids where known, and the module that holds them ("" or
    "module.NAME.")."""

    addresses: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    module: str = ""


#: Resources whose job is membership of a group: a network interface, and the attachments
#: and associations that put one into a group / NSG / ASG; the attribute that names it.
MEMBERSHIP = {"aws_network_interface": "security_groups",
              "aws_network_interface_sg_attachment": "security_group_id",
              "azurerm_network_interface": "",
              NIC_NSG_TYPE: "network_security_group_id",
              NIC_ASG_TYPE: "application_security_group_id"}

#: How a module instance key or index ends an address, to find the configuration address.
_INSTANCE = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class ResourceAction:
    address: str
    action: str  # "creates", "updates", "deletes", "replaces", or Terraform's own words
    intended: bool  # the deployment files intend this resource
    attributes: tuple[str, ...]  # names of the attributes an update changes
    meaning: str
    finding: bool


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read(data: dict[str, Any]) -> list[Change]:
    """The managed, non-rule resource changes of a plan. Entries of the wrong shape are left
    out here: the plan reader (`verify.tfjson`) refuses them with a message first."""
    references: dict[str, dict[str, tuple[str, ...]]] = {}
    passed: dict[str, tuple[str, ...]] = {}
    root = _dict(_dict(data.get("configuration")).get("root_module"))
    for kind, address, expressions in _configuration(root):
        # A module's expressions refer to what is in it; its arguments, to the caller's.
        inside = _module_of(address) if kind == "resource" else address.rsplit("module.", 1)[0]
        if kind == "resource":
            references[address] = {k: _refs(v, inside) for k, v in expressions.items()}
        else:
            passed[address] = _refs(expressions, inside)
    out = []
    for raw in data.get("resource_changes") or []:
        if not isinstance(raw, dict) or raw.get("mode", "managed") != "managed":
            continue
        change = _dict(raw.get("change"))
        actions = change.get("actions")
        address, rtype = raw.get("address"), raw.get("type")
        if not (isinstance(address, str) and isinstance(rtype, str) and isinstance(actions, list)
                and all(isinstance(a, str) for a in actions)) or rtype in RULE_TYPES:
            continue
        unknown = _dict(change.get("after_unknown"))
        config = _INSTANCE.sub("", address)
        out.append(Change(address, rtype, tuple(actions), _dict(change.get("before")),
                          _dict(change.get("after")),
                          frozenset(k for k, v in unknown.items() if isinstance(k, str) and v),
                          references.get(config, {}),
                          frozenset(m for m, refs in passed.items()
                                    if any(r == config or r.startswith(config + ".")
                                           for r in refs))))
    return out


def _configuration(module: dict[str, Any], prefix: str = "") -> Iterator[
        tuple[str, str, dict[str, Any]]]:
    """("resource" | "module", full configuration address, expressions) of a configuration
    module and its module calls, nested."""
    for resource in module.get("resources") or []:
        if isinstance(resource, dict) and isinstance(resource.get("address"), str):
            yield "resource", prefix + resource["address"], _dict(resource.get("expressions"))
    for name, call in _dict(module.get("module_calls")).items():
        call = _dict(call)
        yield "module", f"{prefix}module.{name}", _dict(call.get("expressions"))
        yield from _configuration(_dict(call.get("module")), f"{prefix}module.{name}.")


def _refs(expression: Any, prefix: str) -> tuple[str, ...]:
    """The references an expression (or nested block expressions) makes, as full addresses."""
    found = []
    stack = [expression]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            found += [prefix + r for r in value.get("references") or [] if isinstance(r, str)]
            stack += [v for k, v in value.items() if k != "references"]
        elif isinstance(value, list):
            stack += value
    return tuple(found)


def _module_of(address: str) -> str:
    """The module prefix of a configuration address ("" or "module.a.module.b.")."""
    parts = address.split(".")
    out = ""
    while len(parts) > 2 and parts[0] == "module":
        out += f"module.{parts[1]}."
        parts = parts[2:]
    return out


def _changed(change: Change) -> tuple[str, ...]:
    if change.actions != ("update",):
        return ()
    keys = dict.fromkeys([*change.before, *change.after, *sorted(change.unknown)])
    return tuple(str(k) for k in keys if k in change.unknown
                 or change.before.get(k) != change.after.get(k))


def _unguarded(change: Change) -> str:
    """For an association the plan deletes: what the NSG no longer guards."""
    attribute, noun = _GUARDED.get(change.type, ("", ""))
    target = change.before.get(attribute) if attribute else None
    if "delete" not in change.actions or not isinstance(target, str):
        return ""
    return f": the NSG no longer guards {noun} {target}"


#: The Terraform names sxcloud gives its one group / NSG / ASG; a module names each `this`.
SINGLE = {"aws_security_group": "appliance", "azurerm_network_security_group": "appliance_nsg",
          "azurerm_application_security_group": "appliance_asg"}
_LOCAL = re.compile(r"(?P<type>[A-Za-z0-9_-]+)\.this(?:\[(?P<key>.+)\])?")


def local_name(address: str, module: str) -> str:
    """The address a resource of sxcloud's module has in the CDK stack's resource block:
    `module.M.aws_security_group.this` is `aws_security_group.appliance`, and
    `module.M.TYPE.this["KEY"]` is `TYPE.KEY` (the modules key each resource by the CDK
    stack's name for it). Addresses outside `module` are kept whole."""
    if not address.startswith(module):
        return address
    rest = address[len(module):]
    match = _LOCAL.fullmatch(rest)
    if match is None:
        return rest
    if match["key"] is None:
        return f"{match['type']}.{SINGLE[match['type']]}" if match["type"] in SINGLE else rest
    try:
        key = json.loads(match["key"])
    except ValueError:
        return rest
    return f"{match['type']}.{key}" if isinstance(key, str) else rest


def _names_appliances(change: Change, side: dict[str, Any], appliances: Appliances) -> bool:
    """Whether a membership resource puts its interface into the appliances' group, NSG or
    ASG on one side of the change (`side`: before or after values): it names their id, its
    configuration refers to their resource or sxcloud's module (which describes the after
    side only), or the configuration hands it to that module."""
    attribute = MEMBERSHIP[change.type]
    module_call = appliances.module.rstrip(".")
    if module_call and module_call in change.passed_to:
        return True  # handed to sxcloud's module, which puts it into the group
    if not attribute:
        return False
    values = side.get(attribute)
    values = values if isinstance(values, list) else [values]
    if any(isinstance(v, str) and v.lower() in appliances.ids for v in values):
        return True
    references = change.references.get(attribute, ())
    return side is change.after and any(
        r in appliances.addresses or (module_call and r.startswith(module_call + "."))
        for r in references)


def _membership(c: Change, verb: str, appliances: Appliances) -> ResourceAction | None:
    """A network interface joining or leaving the appliances' group: a membership change.
    Joining is not a finding (the member gets the appliances' rules, which is what the group
    is for); leaving is, as a removed association is. None: not a membership of theirs."""
    if c.type not in MEMBERSHIP or c.after.get("attachment"):
        return None  # a network interface that attaches itself to a machine is more
    before = bool(c.before) and _names_appliances(c, c.before, appliances)
    after = c.actions != ("delete",) and _names_appliances(c, c.after, appliances)
    if after:
        return ResourceAction(c.address, verb, False, _changed(c), (
            f"Membership: the plan {verb} {c.address}, which puts a network interface into "
            "the appliances' group: every rule of the appliances applies to it, and it is a "
            "peer wherever a rule names their group (R02)."), False)
    if before:
        return ResourceAction(c.address, verb, False, _changed(c), (
            f"Membership: the plan {verb} {c.address}, and a network interface leaves the "
            "appliances' group: their rules no longer apply to it."), True)
    return None


def actions(changes: list[Change], intended: set[str],
            appliances: Appliances = Appliances()) -> tuple[list[ResourceAction], list[str]]:
    """What the plan does to resources other than rules, and the intended resources it lacks
    altogether; each unintended action and each lack is a finding, except a network
    interface that joins the appliances' group (`_membership`). `intended` holds the names
    of the CDK stack's resource block, which a module's resources map onto (`local_name`)."""
    out = []
    module = appliances.module
    for c in changes:
        if c.actions in QUIET:
            continue
        verb = _VERBS.get(c.actions, " and ".join(c.actions) or "touches")
        mine = local_name(c.address, module) in intended
        membership = None if mine else _membership(c, verb, appliances)
        if membership is not None:
            out.append(membership)
            continue
        if not mine:
            meaning = (f"The plan {verb} {c.address}, which no sxcloud file intends"
                       f"{_unguarded(c)}.")
        elif c.actions == ("delete",):
            meaning = f"The plan deletes {c.address}, which the files intend{_unguarded(c)}."
        else:
            meaning = f"The plan {verb} {c.address}, as the files intend."
        out.append(ResourceAction(c.address, verb, mine, _changed(c), meaning,
                                  not mine or c.actions == ("delete",)))
    present = {local_name(c.address, module) for c in changes}
    missing = [f"In the files, not in the plan: {module}{address}" for address in sorted(intended)
               if address not in present]
    return out, missing


def verbs(data: dict[str, Any]) -> dict[str, str]:
    """Each resource's action in the plan, as the report says it ("creates", ...)."""
    out = {}
    for raw in data.get("resource_changes") or []:
        actions = _dict(raw).get("change", {}).get("actions") if isinstance(raw, dict) else None
        if isinstance(raw, dict) and isinstance(raw.get("address"), str) and isinstance(
                actions, list) and all(isinstance(a, str) for a in actions):
            out[raw["address"]] = _VERBS.get(tuple(actions), " and ".join(actions) or "touches")
    return out


@dataclass(frozen=True)
class OtherRule:
    """A rule of another security group or NSG that a plan adds (or removes)."""

    address: str
    group: tuple[str, ...]  # the names the group is known by; the first is shown
    noun: str  # "security group" or "NSG"
    opens: str  # what it lets through, in words
    added: bool  # False: the plan removes it
    verb: str  # what the plan does to the resource that holds it


def other_rules(rules: list[OtherRule], policy: Policy = NONE) -> list[ResourceAction]:
    """The rules of other groups as report lines: a rule the plan adds is a finding unless
    the review policy file names its group (the appliances may be members of it, or it may
    name theirs as its peer); one it removes opens nothing."""
    out = []
    for r in rules:
        where = f"{r.address}, a rule of {r.noun} {r.group[0]} (not the appliances')"
        if not r.added:
            out.append(ResourceAction(r.address, r.verb, False, (), f"The plan {r.verb} "
                                      f"{where}: it no longer allows {r.opens}.", False))
            continue
        entry = policy.group(r.group)
        said = f"The plan {r.verb} {where}: {r.opens}."
        if entry is not None:
            out.append(ResourceAction(r.address, r.verb, False, (), f"{said} {policy.source} "
                                      f"names that group: {entry.reason}.", False))
        else:
            out.append(ResourceAction(r.address, r.verb, False, (), f"{said} The appliances "
                                      f"may be members of that {r.noun} too, and its rules "
                                      "may name theirs; no review policy file names it.",
                                      True))
    return out
