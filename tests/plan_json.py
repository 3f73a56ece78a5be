"""Plans in the shape of `terraform show -json`, made from a synthesized cdk.tf.json.

For Azure there is no provider binary here, so a plan cannot come from Terraform itself.
This writes what Terraform writes for a stack created from nothing (format 1.2: every
resource `create`, `before` null; an attribute that refers to another resource's computed
attribute is unknown, listed in `after_unknown` (a list holding such a reference as a whole:
`true`) and, with its references, in `configuration`; `planned_values` holds the known
values after apply), the shape of the real AWS plan that test_review_plan_e2e reads.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


def _resolve(value: Any, resources: dict[str, dict[str, Any]]) -> tuple[Any, Any, list[str]]:
    """(known value or None, unknown marker, references) of one attribute value."""
    if isinstance(value, str):
        match = _REF.match(value)
        if not match:
            return value, False, []
        kind, name, attribute = match.groups()
        address = f"{kind}.{name}"
        refs = [f"{address}.{attribute}", address]
        literal = resources.get(address, {}).get(attribute)
        if isinstance(literal, str) and not _REF.match(literal):
            return literal, False, refs  # e.g. an NSG's name: known at plan time
        return None, True, refs
    if isinstance(value, list):
        parts = [_resolve(v, resources) for v in value]
        refs = [r for _, _, rs in parts for r in rs]
        if any(u for _, u, _ in parts):
            # The providers (plugin SDK) plan a list or set with an unknown element as
            # unknown as a whole, and Terraform writes `true` (test_verify_terraform).
            return None, True, refs
        return [v for v, _, _ in parts], False, refs
    return value, False, []


def create_plan(stack: dict[str, Any]) -> dict[str, Any]:
    """The plan that creates every resource of a synthesized stack."""
    resources = {f"{kind}.{name}": body for kind, named in stack.get("resource", {}).items()
                 for name, body in named.items()}
    changes, config = [], []
    for address, body in resources.items():
        kind, name = address.split(".", 1)
        after, unknown, expressions = {}, {"id": True}, {}
        for key, value in body.items():
            if key in ("//", "depends_on", "lifecycle", "provider"):
                continue
            known, is_unknown, refs = _resolve(value, resources)
            if is_unknown:
                unknown[key] = is_unknown
            else:
                after[key] = known
            # A JSON configuration's expression is the template itself (as Terraform writes
            # it), plus the references it makes.
            expressions[key] = {"constant_value": value, **({"references": refs} if refs else {})}
        changes.append({"address": address, "mode": "managed", "type": kind, "name": name,
                        "change": {"actions": ["create"], "before": None, "after": after,
                                   "after_unknown": unknown}})
        config.append({"address": address, "mode": "managed", "type": kind, "name": name,
                       "expressions": expressions})
    return _with_planned_values({
        "format_version": "1.2", "terraform_version": "1.15.5", "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}}, "complete": True,
        "errored": False})


def _with_planned_values(plan: dict[str, Any]) -> dict[str, Any]:
    """`planned_values`: every resource that exists after apply, with its known values."""
    plan["planned_values"] = {"root_module": {"resources": [
        {"address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
         "values": copy.deepcopy(c["change"]["after"])}
        for c in plan["resource_changes"] if c["change"]["after"] is not None]}}
    return plan


def applied(plan: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The same plan once applied and planned again unchanged: every resource `no-op`, with
    the given ids (address -> id) filled in wherever they were unknown."""
    out = copy.deepcopy(plan)
    config = {r["address"]: r["expressions"] for r in out["configuration"]["root_module"]["resources"]}
    ids = {c["address"]: ids.get(c["address"], f"id-{c['name']}") for c in out["resource_changes"]}
    ids.update({f"{address}.id": value for address, value in ids.items()})
    for change in out["resource_changes"]:
        c = change["change"]
        values = dict(c["after"])
        values["id"] = ids[change["address"]]
        for key, marker in c["after_unknown"].items():
            if key == "id":
                continue
            expression = config[change["address"]].get(key, {})
            targets = [ids[r] for r in expression.get("references", [])
                       if r.endswith(".id") and r in ids]
            listed = isinstance(expression.get("constant_value"), list)
            values[key] = targets if listed else (targets[0] if targets else None)
        c.update(actions=["no-op"], before=values, after=copy.deepcopy(values), after_unknown={})
    return _with_planned_values(out)


def refresh_planned_values(plan: dict[str, Any]) -> dict[str, Any]:
    """After a test edits resource_changes, planned_values must say the same (Terraform
    writes both from one plan)."""
    return _with_planned_values(plan)
