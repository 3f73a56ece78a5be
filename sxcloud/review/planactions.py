"""The resources a Terraform plan creates, updates or deletes besides the firewall rules.

Rules are read as openings (`tfplan`). Everything else a plan touches is listed here, and
compared with the resources the deployment files intend (the `resource` block synthesis
writes, `verification.planned_resources`): the appliances' group or NSG and ASG, and the
NSG's associations. A plan action on a resource that no sxcloud file intends is a finding:
a hand-written `.tf` file beside the stack can create anything (an instance, a bucket
policy, a `terraform_data` that runs a command) and the firewall report would not say so.

Only action names and changed attribute *names* are shown, never values: a plan holds the
values of every attribute in clear, sensitive ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
        out.append(Change(address, rtype, tuple(actions), _dict(change.get("before")),
                          _dict(change.get("after")),
                          frozenset(k for k, v in unknown.items() if isinstance(k, str) and v)))
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


def actions(changes: list[Change], intended: set[str]) -> tuple[list[ResourceAction], list[str]]:
    """What the plan does to resources other than rules, and the intended resources (full
    addresses) it lacks altogether; each unintended action and each lack is a finding."""
    out = []
    for c in changes:
        if c.actions in QUIET:
            continue
        verb = _VERBS.get(c.actions, " and ".join(c.actions) or "touches")
        mine = c.address in intended
        if not mine:
            meaning = (f"The plan {verb} {c.address}, which no sxcloud file intends"
                       f"{_unguarded(c)}.")
        elif c.actions == ("delete",):
            meaning = f"The plan deletes {c.address}, which the files intend{_unguarded(c)}."
        else:
            meaning = f"The plan {verb} {c.address}, as the files intend."
        out.append(ResourceAction(c.address, verb, mine, _changed(c), meaning,
                                  not mine or c.actions == ("delete",)))
    present = {c.address for c in changes}
    missing = [f"In the files, not in the plan: {address}" for address in sorted(intended)
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
