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
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import escape
from ..errors import InputError
from . import shape

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
    #: What the document itself does wrong, whichever stack it holds (cdk.tf.json: strings
    #: Terraform would evaluate that sxcloud never writes); each is a finding.
    problems: list[str] = field(default_factory=list)

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


#: Larger files are refused before they are read. `terraform show -json` of a plan writes
#: each resource up to four times (configuration, prior state, change, planned values), some
#: 2-10 KB per resource: 256 MiB is a plan of tens of thousands of resources, far beyond any
#: root module that holds a firewall, while json.loads of it still fits in a few GB of memory.
MAX_BYTES = 256 * 1024 * 1024


def load_json(path: Path, key: str = "", hint: str = "") -> Any:
    """A JSON file's data; bad input names the file (and the option `key` that gave it).
    Numbers Terraform never writes (NaN, Infinity, 1e999, integers of more digits than
    shape.MAX_DIGITS) are kept as `shape.Refused`, which `parse` reports with their path."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError.one(path, key, f"is {size:,} bytes, more than the {MAX_BYTES:,} "
                                 "bytes verify reads")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.one(path, key, "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(path, key, f"cannot be read: {escape.excerpt(error, 120)}") from None
    try:
        return json.loads(text, parse_constant=shape.Refused, parse_int=_int,
                          parse_float=_float)
    except json.JSONDecodeError as error:
        raise InputError.one(path, "", f"is not JSON: {error}{hint}") from None
    except RecursionError:
        line, column = _too_deep(text)
        raise InputError.one(path, "", f"line {line} column {column}: nests deeper than "
                             f"{shape.MAX_DEPTH} levels") from None


def _int(text: str) -> int | shape.Refused:
    return shape.Refused(text) if len(text.lstrip("-")) > shape.MAX_DIGITS else int(text)


def _float(text: str) -> float | shape.Refused:
    value = float(text)
    return value if math.isfinite(value) else shape.Refused(text)


_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: str) -> tuple[int, int]:
    """Where nesting first goes deeper than MAX_DEPTH (json's own recursion gave out)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        char = match[0]
        if char in "[{":
            depth += 1
            if depth > shape.MAX_DEPTH:
                line = text.count("\n", 0, match.start()) + 1
                return line, match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        elif char in "]}":
            depth -= 1
    return 1, 1


def read(path: Path, expect: str | None = None) -> Document:
    """Read a Terraform JSON file; `expect` (PLAN or STATE) is what the user said it is."""
    return parse(load_json(path), str(path), expect)


def parse(data: Any, path: str, expect: str | None = None, side: str = AFTER) -> Document:
    """Turn a parsed Terraform JSON document into a Document (kind detected from its keys);
    of a plan, its planned values, or with `side=BEFORE` its prior state. Its shape is
    checked first (`shape.check`): the readers below rely on it."""
    if not isinstance(data, dict):
        raise InputError.one(path, "", "is not a Terraform JSON document (not an object)")
    kind = kind_of(data)
    if kind is None:
        raise InputError.one(path, "", "is neither a synthesized cdk.tf.json (no 'resource') nor "
                             "the JSON of a plan or state ('terraform show -json')")
    if expect and kind != expect:
        raise InputError.one(path, "", f"is the JSON of a {_NOUNS[kind]}, not of a {_NOUNS[expect]}")
    shape.check(data, path, kind)
    if kind == CDKTF:
        return Document(path, kind, list(_cdktf(data)), problems=list(_templates(data)))
    if kind == STATE:
        return Document(path, kind, list(_state(data)))
    expressions = {address: r.get("expressions") or {} for address, r in _config_resources(
        (data.get("configuration") or {}).get("root_module") or {})}
    prior = list(_prior(data, expressions))
    if side == BEFORE:
        return Document(path, kind, prior)
    return Document(path, kind, list(_plan(data, expressions)), prior)


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

def _cdktf(data: dict[str, Any]) -> Iterator[Resource]:
    for rtype, named in (data.get("resource") or {}).items():
        for name, body in (named or {}).items():
            values = {k: _tokens(v) for k, v in (body or {}).items() if k != "//"}
            yield Resource(rtype, name, f"{rtype}.{name}", values, frozenset(values))


def _tokens(value: Any, module: str = "") -> Any:
    """A value of JSON configuration as Terraform reads it: `${type.name.attr}` is a Ref
    (to a resource of `module`), any other template an Unknown, and a literal string is
    unescaped (`$${` is a literal `${`, `%%{` a literal `%{`)."""
    if isinstance(value, str):
        match = _TOKEN.match(value)
        if match:
            return Ref(f"{module}{match[1]}.{match[2]}", match[3])
        return Unknown(value) if escape.has_template(value) else escape.terraform_unescape(value)
    if isinstance(value, list):
        return [_tokens(v, module) for v in value]
    if isinstance(value, dict):
        return {k: _tokens(v, module) for k, v in value.items()}
    return value


def _templates(data: dict[str, Any]) -> Iterator[str]:
    """Every string of a cdk.tf.json that Terraform evaluates, other than a reference to an
    attribute of one of its resources (which is how sxcloud writes references; it escapes
    every literal): a template there runs in the job that plans and applies the stack."""
    declared = {f"{t}.{n}" for t, named in (data.get("resource") or {}).items()
                for n in (named or {})}
    # Each value with its path as keys and indices; spelled out only for a finding.
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:  # the shape check bounded the depth; iterative all the same
        value, path = stack.pop()
        if isinstance(value, str):
            match = _TOKEN.match(value)
            if escape.has_template(value) and not (match and f"{match[1]}.{match[2]}" in declared):
                yield (f"{_path(path)}: this value is evaluated by Terraform: "
                       f"{escape.excerpt(value)!s}; sxcloud writes no such template")
        elif isinstance(value, dict):
            stack += [(v, (*path, k)) for k, v in reversed(value.items()) if k != "//"]
        elif isinstance(value, list):
            stack += [(v, (*path, i)) for i, v in reversed(list(enumerate(value)))]


def _path(parts: tuple[str | int, ...]) -> str:
    """A JSON path as messages spell it: `a.b[0]`, or `a["odd key"]`."""
    where = ""
    for part in parts:
        where = f"{where}[{part}]" if isinstance(part, int) else shape.join(where, part)
    return where


# --- terraform show -json: shared -----------------------------------------------------------

def _module_resources(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Managed resources of a module and its child modules (data sources are not rules)."""
    for resource in module.get("resources") or []:
        if resource.get("mode", "managed") == "managed":
            yield resource
    for child in module.get("child_modules") or []:
        yield from _module_resources(child)


def _resource(raw: dict[str, Any], values: dict[str, Any],
              configured: frozenset[str] | None = None) -> Resource:
    return Resource(raw["type"], raw["name"], raw["address"], values, configured)


def _expressions(expressions: dict[str, dict[str, Any]], address: str) -> dict[str, Any] | None:
    """The configuration's expressions of a resource instance (keyed by its configuration
    address, which has no instance keys), or None where the configuration does not say."""
    parsed = shape.address(address)
    return expressions.get(parsed.config) if parsed else None


# --- state ----------------------------------------------------------------------------------

def _state(data: dict[str, Any]) -> Iterator[Resource]:
    root = (data.get("values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        yield _resource(raw, dict(raw.get("values") or {}))


# --- plan -----------------------------------------------------------------------------------

def _plan(data: dict[str, Any], expressions: dict[str, dict[str, Any]]) -> Iterator[Resource]:
    """Planned values; what is unknown until apply is taken from the configuration's
    expressions (the references Terraform recorded), so that `security_group_id` of a new
    rule still says which group it belongs to."""
    unknown = {c["address"]: (c.get("change") or {}).get("after_unknown") or {}
               for c in data.get("resource_changes") or []}
    root = (data.get("planned_values") or {}).get("root_module") or {}
    for raw in _module_resources(root):
        address = raw["address"]
        values = dict(raw.get("values") or {})
        configured = _expressions(expressions, address)
        flags = unknown.get(address, {})
        module = shape.address(address).module  # type: ignore[union-attr]  (shape-checked)
        for attribute, flag in flags.items() if isinstance(flags, dict) else ():
            if _has_unknown(flag):
                values[attribute] = _resolve(values.get(attribute), flag,
                                             (configured or {}).get(attribute), module)
        yield _resource(raw, values, None if configured is None else frozenset(configured))


def _prior(data: dict[str, Any], expressions: dict[str, dict[str, Any]]) -> Iterator[Resource]:
    """Each managed resource as the plan found it (refreshed, unless planned with
    -refresh=false): the `before` of its change."""
    for change in data.get("resource_changes") or []:
        before = change["change"].get("before")
        if before is not None and change.get("mode", "managed") == "managed":
            configured = _expressions(expressions, change["address"])
            yield _resource(change, dict(before),
                            None if configured is None else frozenset(configured))


def _config_resources(module: dict[str, Any],
                      prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(configuration address, resource) of a configuration module and its module calls."""
    for resource in module.get("resources") or []:
        yield prefix + resource["address"], resource
    for name, call in (module.get("module_calls") or {}).items():
        yield from _config_resources((call or {}).get("module") or {}, f"{prefix}module.{name}.")


def _has_unknown(flag: Any) -> bool:
    if flag is True:
        return True
    if isinstance(flag, list):
        return any(_has_unknown(f) for f in flag)
    if isinstance(flag, dict):
        return any(_has_unknown(f) for f in flag.values())
    return False


#: References to an instance's own key and value (for_each, count). Terraform lists them
#: beside the resource a conditional picks (`each.value.self ? aws_security_group.this.id :
#: null`, as a module writes one rule resource for every kind of peer); they are taken as
#: known at plan time, which makes that resource the value's one unknown part. (A variable,
#: a local or a module output may be unknown, and stays a part.)
_PLAN_TIME = ("each.", "count.")


def _reference(text: str, module: str) -> Ref | None:
    """A reference to an attribute of a resource (`TYPE.NAME[KEY].ATTR...`), as a Ref to the
    resource instance in `module`; None for anything else."""
    if text.startswith(("module.", "data.", "var.", "local.", "path.", "terraform.",
                        *_PLAN_TIME)):
        return None
    head, dot, attribute = text.rpartition(".")
    parsed = shape.address(head) if dot else None
    if parsed is None or parsed.module or not re.fullmatch(r"[A-Za-z0-9_]+", attribute):
        return None
    return Ref(module + head, attribute)


def _resolve(value: Any, flag: Any, expression: Any, module: str = "") -> Any:
    """An unknown planned value, from the configuration expression that produces it.
    References in a module's configuration are relative to the module (`module`)."""
    if not isinstance(expression, dict) or not expression:
        return _unknowns(value, flag)  # no expression, or nested blocks' expressions
    if "constant_value" in expression:  # JSON configuration: the template strings themselves
        return _tokens(expression["constant_value"], module)
    references = [r for r in expression.get("references") or [] if isinstance(r, str)]
    refs = [ref for ref in (_reference(r, module) for r in references) if ref is not None]
    if flag is True:  # a value, or a whole list, not known: it is what its one reference names
        # Terraform lists `aws_security_group.g.id` and `aws_security_group.g` for one
        # reference; anything else it names (a variable, a second resource) is another part,
        # except the instance's own key and value (_PLAN_TIME).
        parts = [r for r in references if not r.startswith(_PLAN_TIME)
                 and not any(o.startswith((r + ".", r + "[")) for o in references)]
        if len(parts) == 1 and len(refs) == 1 and module + parts[0] == str(refs[0]):
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
