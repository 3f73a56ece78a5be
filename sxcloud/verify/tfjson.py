"""Terraform JSON, read as Terraform sees it: a synthesized `cdk.tf.json`, or the JSON of a
plan or of state (`terraform show -json`).

Each reader yields the same shape: the document's managed resources, with their attribute
values. A reference to another resource's attribute stays a `Ref` wherever its value is not
known yet (`${aws_security_group.appliance.id}` in cdk.tf.json; an unknown value in a plan,
resolved through the plan's configuration); state holds only known values. Evaluators then
compare a value with a resource either way (`refers_to`).

A list Terraform does not know as a whole (`after_unknown` is `true`, not `[true]`: what the
providers write for a list or set with an unknown element) is resolved like a single value,
so it may be a `Ref` or an `Unknown` instead of a list; evaluators read lists through
`items`. A resource also says which attributes its configuration sets (`configured`), and a
plan keeps each resource as it was before the plan (`prior`), so that evaluators can tell a
rule list the configuration writes from one the provider reads back from the cloud.

A plan read with `side=BEFORE` is the other side of the same plan: its resources are each
change's `before` (the refreshed state the plan starts from), so that review reads both
sides with the same rule semantics (`rules`).
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

AFTER = "after"  # a plan's planned values: what apply makes
BEFORE = "before"  # a plan's prior state: what the cloud holds now


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
    #: The attributes the configuration sets (cdk.tf.json: its keys; a plan: its
    #: configuration's expressions); None where the document does not say (state).
    configured: frozenset[str] | None = None


@dataclass
class Document:
    path: str
    kind: str  # CDKTF, PLAN or STATE
    resources: list[Resource] = field(default_factory=list)
    #: A plan's resources as Terraform read them before the plan (each change's `before`),
    #: including those the plan deletes; empty for other documents.
    prior: list[Resource] = field(default_factory=list)

    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]


# A whole-string interpolation of one resource attribute, as cdktf writes references.
_TOKEN = re.compile(r"^\$\{([A-Za-z0-9_-]+)\.([^.}\s]+)\.([A-Za-z0-9_]+)\}$")


def items(value: Any) -> list[Any]:
    """The elements of a list (or set) attribute. Absent is empty; a value that is not a list
    (a whole list not known until apply: a `Ref` or an `Unknown`) is one element, which the
    evaluators resolve or report like any element."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def refers_to(value: Any, resource: Resource, attribute: str) -> bool:
    """Whether a value is (a reference to) `resource.attribute`."""
    if isinstance(value, Ref):
        return value.address == resource.address and value.attribute == attribute
    known = resource.values.get(attribute)
    if not isinstance(value, str) or not isinstance(known, str) or not known:
        return False
    return value.lower() == known.lower()  # ARM ids are case-insensitive; AWS ids lower-case


def load_json(path: Path, key: str = "", hint: str = "") -> Any:
    """A JSON file's data; bad input names the file (and the option `key` that gave it)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError.one(path, key, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(path, key, f"cannot be read: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError.one(path, "", f"is not JSON: {error}{hint}") from None


def read(path: Path, expect: str | None = None) -> Document:
    """Read a Terraform JSON file; `expect` (PLAN or STATE) is what the user said it is."""
    return parse(load_json(path), str(path), expect)


def parse(data: Any, path: str, expect: str | None = None, side: str = AFTER) -> Document:
    """Turn a parsed Terraform JSON document into a Document (kind detected from its keys);
    of a plan, its planned values, or with `side=BEFORE` its prior state."""
    if not isinstance(data, dict):
        raise InputError.one(path, "", "is not a Terraform JSON document (not an object)")
    kind = kind_of(data)
    if kind is None:
        raise InputError.one(path, "", "is neither a synthesized cdk.tf.json (no 'resource') nor "
                             "the JSON of a plan or state ('terraform show -json')")
    if expect and kind != expect:
        raise InputError.one(path, "", f"is the JSON of a {_NOUNS[kind]}, not of a {_NOUNS[expect]}")
    if kind != PLAN:
        return Document(path, kind, list((_cdktf if kind == CDKTF else _state)(data, path)))
    expressions = {r["address"]: r.get("expressions") or {} for r in _config_resources(
        (data.get("configuration") or {}).get("root_module") or {})}
    prior = list(_prior(data, path, expressions))
    if side == BEFORE:
        return Document(path, kind, prior)
    return Document(path, kind, list(_plan(data, path, expressions)), prior)


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
            yield Resource(rtype, name, f"{rtype}.{name}", values, frozenset(values))


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


def _resource(raw: dict[str, Any], values: dict[str, Any], path: str,
              configured: frozenset[str] | None = None) -> Resource:
    try:
        return Resource(raw["type"], raw["name"], raw["address"], values, configured)
    except KeyError as missing:
        raise InputError.one(path, str(raw.get("address", "")),
                             f"resource without {missing}") from None


# --- state ----------------------------------------------------------------------------------

def _state(data: dict[str, Any], path: str) -> Iterator[Resource]:
    root = (data.get("values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        yield _resource(raw, dict(raw.get("values") or {}), path)


# --- plan -----------------------------------------------------------------------------------

def _plan(data: dict[str, Any], path: str,
          expressions: dict[str, dict[str, Any]]) -> Iterator[Resource]:
    """Planned values; what is unknown until apply is taken from the configuration's
    expressions (the references Terraform recorded), so that `security_group_id` of a new
    rule still says which group it belongs to."""
    unknown = {c["address"]: (c.get("change") or {}).get("after_unknown") or {}
               for c in data.get("resource_changes", []) or [] if "address" in c}
    root = (data.get("planned_values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        address = raw.get("address", "")
        values = dict(raw.get("values") or {})
        configured = expressions.get(address)
        flags = unknown.get(address, {})
        for attribute, flag in flags.items() if isinstance(flags, dict) else ():
            if _has_unknown(flag):
                values[attribute] = _resolve(values.get(attribute), flag,
                                             (configured or {}).get(attribute))
        yield _resource(raw, values, path, None if configured is None else frozenset(configured))


def _prior(data: dict[str, Any], path: str,
           expressions: dict[str, dict[str, Any]]) -> Iterator[Resource]:
    """Each managed resource as the plan found it (refreshed, unless planned with
    -refresh=false): the `before` of its change."""
    changes = data.get("resource_changes", []) or []
    if not isinstance(changes, list):
        raise InputError.one(path, "resource_changes", "must be a list")
    for index, change in enumerate(changes):
        if not isinstance(change, dict) or not isinstance(change.get("change"), dict):
            raise InputError.one(path, f"resource_changes[{index}]",
                                 "must be an object with a 'change'")
        before = change["change"].get("before")
        if before is not None and not isinstance(before, dict):
            raise InputError.one(path, f"resource_changes[{index}].change.before",
                                 "must be an object or null")
        if before is not None and change.get("mode", "managed") == "managed":
            configured = expressions.get(change.get("address", ""))
            yield _resource(change, dict(before), path,
                            None if configured is None else frozenset(configured))


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


def _resolve(value: Any, flag: Any, expression: Any) -> Any:
    """An unknown planned value, from the configuration expression that produces it."""
    if not isinstance(expression, dict) or not expression:
        return _unknowns(value, flag)  # no expression, or nested blocks' expressions
    if "constant_value" in expression:  # JSON configuration: the template strings themselves
        return _tokens(expression["constant_value"])
    references = [r for r in expression.get("references", []) or [] if isinstance(r, str)]
    refs = [Ref(".".join(r.split(".")[:-1]), r.split(".")[-1])
            for r in references if r.count(".") >= 2]
    if flag is True:  # a value, or a whole list, not known: it is what its one reference names
        # Terraform lists `aws_security_group.g.id` and `aws_security_group.g` for one
        # reference; anything else it names (a variable, a second resource) is another part.
        parts = [r for r in references if not any(o.startswith(r + ".") for o in references)]
        if len(parts) == 1 and len(refs) == 1 and parts[0] == str(refs[0]):
            return refs[0]
        return Unknown(", ".join(references))
    if isinstance(flag, list) and all(isinstance(f, bool) for f in flag):
        known = list(value) if isinstance(value, list) else []
        known += [None] * (len(flag) - len(known))
        holes = [i for i, f in enumerate(flag) if f is True]
        if len(refs) == len(holes):  # references are listed in the order they appear
            out = list(known)
            for i, ref in zip(holes, refs):
                out[i] = ref
            return out
    return _unknowns(value, flag)


def _unknowns(value: Any, flag: Any) -> Any:
    """The planned value with an Unknown wherever after_unknown marks one (nested too)."""
    if flag is True:
        return Unknown()
    if isinstance(flag, list):
        known = list(value) if isinstance(value, list) else []
        known += [None] * (len(flag) - len(known))
        return [_unknowns(v, f) for v, f in zip(known, flag)] + known[len(flag):]
    if isinstance(flag, dict):
        out = dict(value) if isinstance(value, dict) else {}
        for key, f in flag.items():
            if _has_unknown(f):
                out[key] = _unknowns(out.get(key), f)
        return out
    return value
