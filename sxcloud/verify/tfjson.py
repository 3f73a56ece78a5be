"""Terraform JSON, read as Terraform sees it: a synthesized `cdk.tf.json`, or the JSON of a
plan or of state (`terraform show -json`).

Each reader yields the same shape: the document's managed resources, with their attribute
values. A reference to another resource's attribute stays a `Ref` wherever its value is not
known yet (`${aws_security_group.appliance.id}` in cdk.tf.json; an unknown value in a plan,
resolved through the plan's configuration); state holds only known values. Evaluators then
compare a value with a resource either way (`refers_to`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import InputError

CDKTF = "cdk.tf.json"
PLAN = "plan"
STATE = "state"


@dataclass(frozen=True)
class Ref:
    """A reference to an attribute of another resource, e.g. aws_security_group.appliance.id."""

    address: str
    attribute: str

    def __str__(self) -> str:
        return f"{self.address}.{self.attribute}"


@dataclass(frozen=True)
class Unknown:
    """A value Terraform does not know yet and whose source cannot be read from the document."""

    expression: str = ""

    def __str__(self) -> str:
        return f"(unknown: {self.expression})" if self.expression else "(known after apply)"


@dataclass
class Resource:
    type: str
    name: str
    address: str
    values: dict[str, Any]


@dataclass
class Document:
    path: str
    kind: str  # CDKTF, PLAN or STATE
    resources: list[Resource] = field(default_factory=list)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]


# A whole-string interpolation of one resource attribute, as cdktf writes references.
_TOKEN = re.compile(r"^\$\{([A-Za-z0-9_-]+)\.([^.}\s]+)\.([A-Za-z0-9_]+)\}$")


def refers_to(value: Any, resource: Resource, attribute: str) -> bool:
    """Whether a value is (a reference to) `resource.attribute`."""
    if isinstance(value, Ref):
        return value.address == resource.address and value.attribute == attribute
    known = resource.values.get(attribute)
    if not isinstance(value, str) or not isinstance(known, str) or not known:
        return False
    return value.lower() == known.lower()  # ARM ids are case-insensitive; AWS ids lower-case


def read(path: Path, expect: str | None = None) -> Document:
    """Read a Terraform JSON file; `expect` (PLAN or STATE) is what the user said it is."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.one(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(path, "", f"cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError.one(path, "", f"is not JSON: {error}") from None
    return parse(data, str(path), expect)


def parse(data: Any, path: str, expect: str | None = None) -> Document:
    """Turn a parsed Terraform JSON document into a Document (kind detected from its keys)."""
    if not isinstance(data, dict):
        raise InputError.one(path, "", "is not a Terraform JSON document (not an object)")
    kind = kind_of(data)
    if kind is None:
        raise InputError.one(path, "", "is neither a synthesized cdk.tf.json (no 'resource') nor "
                             "the JSON of a plan or state ('terraform show -json')")
    if expect and kind != expect:
        raise InputError.one(path, "", f"is the JSON of a {_NOUNS[kind]}, not of a {_NOUNS[expect]}")
    reader = {CDKTF: _cdktf, PLAN: _plan, STATE: _state}[kind]
    return Document(path, kind, list(reader(data, path)))


_NOUNS = {CDKTF: "synthesized configuration (cdk.tf.json)",
          PLAN: "plan ('terraform show -json PLANFILE')",
          STATE: "state ('terraform show -json')"}


def kind_of(data: dict[str, Any]) -> str | None:
    if "planned_values" in data or "resource_changes" in data:
        return PLAN
    if "format_version" in data and "terraform_version" in data:
        return STATE  # an empty state has no "values" at all
    if "resource" in data or "terraform" in data or "provider" in data:
        return CDKTF
    return None


# --- cdk.tf.json ----------------------------------------------------------------------------

def _cdktf(data: dict[str, Any], path: str) -> Iterator[Resource]:
    blocks = data.get("resource", {})
    if not isinstance(blocks, dict):
        raise InputError.one(path, "resource", "must be an object of resource types")
    for rtype, named in blocks.items():
        if not isinstance(named, dict):
            raise InputError.one(path, f"resource.{rtype}", "must be an object of resources")
        for name, body in named.items():
            if not isinstance(body, dict):
                raise InputError.one(path, f"resource.{rtype}.{name}", "must be an object")
            values = {k: _tokens(v) for k, v in body.items() if k != "//"}
            yield Resource(rtype, name, f"{rtype}.{name}", values)


def _tokens(value: Any) -> Any:
    """Replace `${type.name.attr}` strings with Refs, and any other interpolation with Unknown."""
    if isinstance(value, str):
        match = _TOKEN.match(value)
        if match:
            return Ref(f"{match[1]}.{match[2]}", match[3])
        return Unknown(value) if "${" in value else value
    if isinstance(value, list):
        return [_tokens(v) for v in value]
    if isinstance(value, dict):
        return {k: _tokens(v) for k, v in value.items()}
    return value


# --- terraform show -json: shared -----------------------------------------------------------

def _module_resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Managed resources of a module and its child modules (data sources are not rules)."""
    for resource in module.get("resources", []) or []:
        if resource.get("mode", "managed") == "managed":
            yield resource
    for child in module.get("child_modules", []) or []:
        yield from _module_resources(child)


def _resource(raw: dict[str, Any], values: dict[str, Any], path: str) -> Resource:
    try:
        return Resource(raw["type"], raw["name"], raw["address"], values)
    except KeyError as missing:
        raise InputError.one(path, str(raw.get("address", "")),
                             f"resource without {missing}") from None


# --- state ----------------------------------------------------------------------------------

def _state(data: dict[str, Any], path: str) -> Iterator[Resource]:
    root = (data.get("values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        yield _resource(raw, dict(raw.get("values") or {}), path)


# --- plan -----------------------------------------------------------------------------------

def _plan(data: dict[str, Any], path: str) -> Iterator[Resource]:
    """Planned values; what is unknown until apply is taken from the configuration's
    expressions (the references Terraform recorded), so that `security_group_id` of a new
    rule still says which group it belongs to."""
    unknown = {c["address"]: (c.get("change") or {}).get("after_unknown") or {}
               for c in data.get("resource_changes", []) or [] if "address" in c}
    expressions = {r["address"]: r.get("expressions") or {}
                   for r in _config_resources((data.get("configuration") or {}).get("root_module") or {})}
    root = (data.get("planned_values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        address = raw.get("address", "")
        values = dict(raw.get("values") or {})
        for attribute, flag in unknown.get(address, {}).items():
            if _has_unknown(flag):
                values[attribute] = _resolve(values.get(attribute), flag,
                                             expressions.get(address, {}).get(attribute))
        yield _resource(raw, values, path)


def _config_resources(module: dict[str, Any], prefix: str = "") -> Iterator[dict[str, Any]]:
    for resource in module.get("resources", []) or []:
        yield {**resource, "address": prefix + resource.get("address", "")}
    for name, call in (module.get("module_calls") or {}).items():
        yield from _config_resources(call.get("module") or {}, f"{prefix}module.{name}.")


def _has_unknown(flag: Any) -> bool:
    if flag is True:
        return True
    if isinstance(flag, list):
        return any(_has_unknown(f) for f in flag)
    if isinstance(flag, dict):
        return any(_has_unknown(f) for f in flag.values())
    return False


def _resolve(value: Any, flag: Any, expression: dict[str, Any] | None) -> Any:
    """An unknown planned value, from the configuration expression that produces it."""
    if not expression:
        return Unknown()
    if "constant_value" in expression:  # JSON configuration: the template strings themselves
        return _tokens(expression["constant_value"])
    refs = [Ref(".".join(r.split(".")[:-1]), r.split(".")[-1])
            for r in expression.get("references", []) if r.count(".") >= 2]
    if flag is True:
        return refs[0] if len(refs) == 1 else Unknown(", ".join(expression.get("references", [])))
    if isinstance(flag, list):
        known = list(value) if isinstance(value, list) else []
        known += [None] * (len(flag) - len(known))
        holes = [i for i, f in enumerate(flag) if f is True]
        if len(refs) == len(holes):  # references are listed in the order they appear
            out = list(known)
            for i, ref in zip(holes, refs):
                out[i] = ref
            return out
        return [Unknown() if f is True else v for f, v in zip(flag, known)]
    return Unknown(", ".join(expression.get("references", [])))
