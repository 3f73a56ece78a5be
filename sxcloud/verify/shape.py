"""The shape of a Terraform JSON document, checked in one pass before anything reads it.

verify and review read three kinds of document: a synthesized `cdk.tf.json`, and the JSON
of a plan or of state (`terraform show -json`). Any of them may arrive from an untrusted
pull request, so the readers (`tfjson`, `rules`, review's `tfplan`) see a document only
after `check` has found it to have the shape Terraform writes: objects where Terraform
writes objects, lists where it writes lists, resource addresses that parse (`address`),
and, in the resources whose attributes verify reads, values of the attribute's type. The
first departure is one InputError naming the file and the JSON path to it
(`resource_changes[3].change.after.from_port`). The readers then index and iterate without
checks of their own.

The whole document is also walked for what `json` lets through but Terraform never writes
(`Refused`: Infinity, NaN, numbers of more digits than any Terraform number) and for
nesting deeper than `MAX_DEPTH`, which the readers' recursive helpers could not follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import InputError

#: Deeper nesting is refused. A plan nests about 8 levels for a resource's values, 3 more
#: per module level (configuration: module_calls, the call, its module); 100 leaves room for
#: some 25 levels of modules, and keeps the readers' recursion far below Python's limit.
MAX_DEPTH = 100

#: Integers of more digits are refused: Terraform's numbers in these documents are ports,
#: priorities, versions and serials (at most 20 digits as int64), and Python's int() refuses
#: strings of more than 4,300 digits anyway.
MAX_DIGITS = 40


@dataclass(frozen=True)
class Refused:
    """A number `json` parsed that Terraform never writes (Infinity, NaN, 1e999, a
    5,000-digit integer); the walk reports it with its path."""

    text: str


# --- resource addresses ---------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_KEY = r'\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\]'
_MODULE_STEP = re.compile(rf"module\.({_NAME})({_KEY})?\.")
_RESOURCE = re.compile(rf"(?:data\.)?({_NAME})\.({_NAME})({_KEY})?")


@dataclass(frozen=True)
class Address:
    """A resource instance address, `module.a["x"].module.b.TYPE.NAME[KEY]`, in its parts."""

    module: str  # the module instance path with its trailing dot ("" for the root module)
    resource: str  # TYPE.NAME[KEY] (data.TYPE.NAME[KEY] for a data source)

    @property
    def config(self) -> str:
        """The configuration address: the same without instance keys, as a plan's
        `configuration` names resources and module calls."""
        return re.sub(_KEY, "", self.module + self.resource)


def address(text: str) -> Address | None:
    """The parts of a resource instance address; None if `text` is not one."""
    position, module = 0, ""
    while match := _MODULE_STEP.match(text, position):
        module += match[0]
        position = match.end()
    resource = _RESOURCE.fullmatch(text, position)
    return Address(module, text[position:]) if resource else None


# --- shapes ---------------------------------------------------------------------------------

@dataclass
class Walk:
    """One pass over a document: the first problem found, as (JSON path, message)."""

    problem: tuple[str, str] | None = None

    def fail(self, where: str, message: str) -> None:
        if self.problem is None:
            self.problem = (where, message)


#: A shape checks a value found at a JSON path, and its children by their shapes, and
#: records the first problem in the walk.
Check = Callable[[Any, str, Walk], None]


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def join(where: str, key: str) -> str:
    """A JSON path one key further: `a.b`, or `a["odd key"]`."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{where}.{key}" if where else key
    shown = key if len(key) <= 60 else key[:59] + "…"
    return where + '["' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"]'


def obj(fields: dict[str, Check] | None = None, *, each: Check | None = None,
        required: tuple[str, ...] = ()) -> Check:
    """An object (null stands for an absent one): known fields have their shapes, every
    other value has `each`'s (anything, if None)."""
    def check(value: Any, where: str, walk: Walk) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            return walk.fail(where, f"must be an object, not {_kind(value)}")
        for key, item in value.items():
            shape = (fields or {}).get(key, each)
            if shape is not None:
                shape(item, join(where, key), walk)
                if walk.problem:
                    return
        for key in required:
            if value.get(key) is None:
                return walk.fail(join(where, key), "is missing")
    return check


def lst(item: Check | None = None) -> Check:
    """A list (or null) whose elements have the shape `item` (anything, if None)."""
    def check(value: Any, where: str, walk: Walk) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            return walk.fail(where, f"must be a list, not {_kind(value)}")
        for index, element in enumerate(value if item else ()):
            item(element, f"{where}[{index}]", walk)  # type: ignore[misc]
            if walk.problem:
                return
    return check


def either(expected: str, *alternatives: tuple[type | tuple[type, ...], Check]) -> Check:
    """The shape of the first alternative whose JSON type the value has."""
    def check(value: Any, where: str, walk: Walk) -> None:
        if value is None:
            return
        for types, shape in alternatives:
            if isinstance(value, types):
                return shape(value, where, walk)
        walk.fail(where, f"must be {expected}, not {_kind(value)}")
    return check


def SCALAR(value: Any, where: str, walk: Walk) -> None:
    """A string, number or boolean (or null): Terraform converts between them."""
    if isinstance(value, (dict, list)):
        walk.fail(where, f"must be a string, number or boolean, not {_kind(value)}")


def STRING(value: Any, where: str, walk: Walk) -> None:
    if value is not None and not isinstance(value, str):
        walk.fail(where, f"must be a string, not {_kind(value)}")


def _shown(value: Any) -> str:
    return repr(value)[:60] if isinstance(value, str) else _kind(value)


def ADDRESS(value: Any, where: str, walk: Walk) -> None:
    """A resource instance address."""
    if not isinstance(value, str) or address(value) is None:
        walk.fail(where, "must be a resource address (module.NAME[KEY].TYPE.NAME[KEY]), "
                  f"not {_shown(value)}")


def CONFIG_ADDRESS(value: Any, where: str, walk: Walk) -> None:
    """A resource address of a plan's configuration: no instance keys."""
    parsed = address(value) if isinstance(value, str) else None
    if parsed is None or parsed.config != value:
        walk.fail(where, f"must be a configuration address (module.NAME.TYPE.NAME), not "
                  f"{_shown(value)}")


def strings() -> Check:
    """A list of scalars, or a string: a whole list as one expression in cdk.tf.json."""
    return either("a list of strings", (list, lst(SCALAR)), (str, STRING))


def blocks(block: Check) -> Check:
    """A list of nested blocks, or a string: the whole list as one expression."""
    return either("a list of objects", (list, lst(block)), (str, STRING))


TAGS = obj(each=SCALAR)

# --- the attributes verify reads, per resource type (verify.rules) --------------------------

AWS_GROUP = "aws_security_group"
AWS_INGRESS = "aws_vpc_security_group_ingress_rule"
AWS_EGRESS = "aws_vpc_security_group_egress_rule"
AWS_LEGACY = "aws_security_group_rule"
AZ_NSG = "azurerm_network_security_group"
AZ_ASG = "azurerm_application_security_group"
AZ_RULE = "azurerm_network_security_rule"

_AWS_RULE = {name: SCALAR for name in (
    "security_group_id", "ip_protocol", "from_port", "to_port", "cidr_ipv4", "cidr_ipv6",
    "prefix_list_id", "referenced_security_group_id", "description", "id")}
_AWS_BLOCK = {**{name: SCALAR for name in ("protocol", "from_port", "to_port", "description",
                                           "self", "type", "security_group_id",
                                           "source_security_group_id")},
              **{name: strings() for name in ("cidr_blocks", "ipv6_cidr_blocks",
                                              "prefix_list_ids", "security_groups")}}
_AZ_RULE = {**{name: SCALAR for name in (
    "name", "priority", "direction", "access", "protocol", "source_port_range",
    "destination_port_range", "source_address_prefix", "destination_address_prefix",
    "description", "network_security_group_name", "resource_group_name", "id")},
    **{name: strings() for name in (
        "source_port_ranges", "destination_port_ranges", "source_address_prefixes",
        "destination_address_prefixes", "source_application_security_group_ids",
        "destination_application_security_group_ids")}}
_NAMED = {"name": SCALAR, "id": SCALAR, "resource_group_name": SCALAR, "tags": TAGS,
          "tags_all": TAGS}

#: Per resource type, the shape of its attribute values (other types: any object).
ATTRIBUTES: dict[str, Check] = {
    AWS_GROUP: obj({**_NAMED, "ingress": blocks(obj(_AWS_BLOCK)),
                    "egress": blocks(obj(_AWS_BLOCK))}),
    AWS_INGRESS: obj({**_AWS_RULE, "tags": TAGS}),
    AWS_EGRESS: obj({**_AWS_RULE, "tags": TAGS}),
    AWS_LEGACY: obj(_AWS_BLOCK),
    AZ_NSG: obj({**_NAMED, "security_rule": blocks(obj(_AZ_RULE))}),
    AZ_ASG: obj(_NAMED),
    AZ_RULE: obj(_AZ_RULE),
}
_OBJECT = obj()


def values_of(resource_type: Any) -> Check:
    """The shape of a resource's attribute values (any object, for a type verify does not
    read)."""
    return ATTRIBUTES.get(resource_type, _OBJECT) if isinstance(resource_type, str) else _OBJECT


_IDENTITY = {"address": ADDRESS, "type": STRING, "name": STRING, "mode": STRING,
             "index": SCALAR, "module_address": STRING}
_REQUIRED = ("address", "type", "name")


def _instance(value: Any, where: str, walk: Walk) -> None:
    """A resource of planned values or state, its `values` checked by its type."""
    obj({**_IDENTITY, "values": values_of(_type(value))}, required=_REQUIRED)(value, where, walk)


def _type(value: Any) -> Any:
    return value.get("type") if isinstance(value, dict) else None


def _module(value: Any, where: str, walk: Walk) -> None:
    """A module of planned values or state: resources and child modules."""
    obj({"resources": lst(_instance), "child_modules": lst(_module), "address": STRING})(
        value, where, walk)


#: An attribute's expression: an object (constant_value, references), or, for nested
#: blocks, a list of objects of expressions.
_EXPRESSION = either("an object or a list", (dict, obj({"references": lst(STRING)})),
                     (list, lst(obj())))
_CONFIG_RESOURCE = obj({**_IDENTITY, "address": CONFIG_ADDRESS,
                        "expressions": obj(each=_EXPRESSION)}, required=("address",))


def _config_module(value: Any, where: str, walk: Walk) -> None:
    """A module of a plan's configuration: resources, and module calls with their modules."""
    obj({"resources": lst(_CONFIG_RESOURCE),
         "module_calls": obj(each=obj({"module": _config_module, "source": STRING}))})(
        value, where, walk)


def _change(value: Any, where: str, walk: Walk) -> None:
    """A resource change (resource_changes, resource_drift): its before and after are the
    resource's values, checked by its type."""
    values = values_of(_type(value))
    change = obj({"actions": lst(STRING), "before": values, "after": values})
    obj({**_IDENTITY, "change": change}, required=(*_REQUIRED, "change"))(value, where, walk)


PLAN = obj({
    "format_version": STRING, "terraform_version": STRING,
    "planned_values": obj({"root_module": _module}),
    "resource_changes": lst(_change), "resource_drift": lst(_change),
    "configuration": obj({"root_module": _config_module}),
    "prior_state": obj({"values": obj({"root_module": _module})}),
})
STATE = obj({"format_version": STRING, "terraform_version": STRING,
             "values": obj({"root_module": _module})})


def _cdktf(value: Any, where: str, walk: Walk) -> None:
    """cdk.tf.json: `resource` holds types, each of named resources checked by the type."""
    types = obj(each=obj())
    obj({"resource": types})(value, where, walk)
    for rtype, named in (value.get("resource") or {}).items() if not walk.problem else ():
        obj(each=values_of(rtype))(named, join(join(where, "resource"), rtype), walk)
        if walk.problem:
            return


# --- the pass -------------------------------------------------------------------------------

def check(data: Any, path: str, kind: str) -> None:
    """Raise InputError (file and JSON path) unless the document has Terraform's shape for
    its kind ("cdk.tf.json", "plan", "state"), no refused number and no deeper nesting than
    MAX_DEPTH."""
    walk = Walk()
    _everything(data, walk)
    if walk.problem is None:
        {"plan": PLAN, "state": STATE}.get(kind, _cdktf)(data, "", walk)
    if walk.problem:
        where, message = walk.problem
        raise InputError.one(path, where or "(the document)", message)


def _everything(data: Any, walk: Walk) -> None:
    """Every value, iteratively: a refused number, or nesting deeper than MAX_DEPTH. Each
    entry keeps its trail of keys back to the root; the path is spelled only for a problem."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(data, 0, ())]
    while stack:
        value, depth, trail = stack.pop()
        if isinstance(value, Refused):
            shown = value.text if len(value.text) <= 20 else value.text[:19] + "…"
            return walk.fail(_spelled(trail), f"is {shown}, a number Terraform never writes")
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if depth >= MAX_DEPTH:
            return walk.fail(_spelled(trail), f"nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1, (key, trail)) for key, child in items)


def _spelled(trail: tuple[Any, ...]) -> str:
    keys = []
    while trail:
        key, trail = trail
        keys.append(key)
    where = ""
    for key in reversed(keys):
        where = f"{where}[{key}]" if isinstance(key, int) else join(where, key)
    return where
