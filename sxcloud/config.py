"""The deployment file (spec/config.md): load, validate, and turn into a Deployment.

The JSON Schema beside this module (deployment.schema.json) is the one description of the
keys, their types and their defaults; this module applies it and then checks what a schema
cannot say (CIDRs, keys required by other keys, names shared by two files). Every problem is
reported with the file and the key it concerns, all at once, as an InputError.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Union

import yaml

from . import catalog
from .errors import InputError

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Problems = list[tuple[Path, str, str]]

BUILTIN_EXAMPLE = "example.yaml"


@dataclass(frozen=True)
class Backend:
    """A Terraform backend: its type (s3, azurerm, ...) and its settings, as Terraform names them."""

    type: str
    settings: dict[str, Any]


DEFAULT_BACKEND = Backend("local", {"path": "terraform.tfstate"})


@dataclass(frozen=True)
class AwsBinding:
    security_group_ids: tuple[str, ...] = ()
    prefix_list_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AwsTarget:
    region: str
    vpc_id: str
    bindings: dict[str, AwsBinding]
    endpoints: dict[str, str]
    backend: Backend
    rule_quota: int


@dataclass(frozen=True)
class AzureTarget:
    location: str
    resource_group: str
    bindings: dict[str, tuple[str, ...]]  # role -> application security group ids
    subnet_ids: tuple[str, ...]
    network_interface_ids: tuple[str, ...]
    backend: Backend


@dataclass(frozen=True)
class Appliance:
    cluster: bool
    internal_firewall: bool
    dns: str
    ipv6: bool
    features: frozenset[str]  # the enabled optional features


@dataclass(frozen=True)
class Deployment:
    path: Path
    name: str
    appliance: Appliance
    roles: dict[str, tuple[IPNetwork, ...]]
    aws: AwsTarget | None
    azure: AzureTarget | None
    warnings: tuple[str, ...] = field(default=())

    @property
    def targets(self) -> dict[str, AwsTarget | AzureTarget]:
        """The cloud sections present, by cloud name."""
        return {cloud: t for cloud, t in (("aws", self.aws), ("azure", self.azure)) if t}


@cache
def schema() -> dict[str, Any]:
    """The published JSON Schema of the deployment file."""
    text = resources.files(__package__).joinpath("deployment.schema.json").read_text()
    return json.loads(text)


def builtin_example() -> Path:
    """The example that commands use when no file is named and none is in the folder."""
    return Path(str(resources.files(__package__).joinpath(BUILTIN_EXAMPLE)))


def load_all(paths: Iterable[Path]) -> list[Deployment]:
    """Load several deployment files; every problem in any of them is reported together."""
    deployments: list[Deployment] = []
    problems: Problems = []
    for path in paths:
        try:
            deployments.append(load(path))
        except InputError as error:
            problems.extend(error.problems)
    seen: dict[str, Path] = {}
    for d in deployments:
        if d.name in seen:
            problems.append((d.path, "name", f"'{d.name}' is also the name in {seen[d.name]}; "
                             "stack names must be unique"))
        seen.setdefault(d.name, d.path)
    if problems:
        raise InputError(problems)
    return deployments


def load(path: Path) -> Deployment:
    """Read and validate one deployment file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError.one(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError.one(path, "", f"cannot be read: {error}") from None
    return load_text(text, path)


def load_text(text: str, path: Path) -> Deployment:
    """Validate a deployment file's text; `path` names it in messages (it need not exist,
    e.g. `origin/main:sxcloud.yaml` for a version read from git)."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        raise InputError.one(path, "", f"is not valid YAML: {error}") from None
    return parse(data, path)


def parse(data: Any, path: Path) -> Deployment:
    """Validate a parsed deployment document and build the Deployment."""
    problems = _schema_problems(data, path)
    # CIDRs are checked even when the schema found problems, so one run reports both.
    given_roles = data.get("roles") if isinstance(data, dict) else None
    roles = _roles({role: entries for role, entries in given_roles.items()
                    if isinstance(entries, list)} if isinstance(given_roles, dict) else {},
                   path, problems)
    if problems:
        raise InputError(problems)
    data = _with_defaults(data, schema())
    appliance = _appliance(data["appliance"])
    aws = _aws(data["aws"], path, problems) if "aws" in data else None
    azure = _azure(data["azure"], path, problems) if "azure" in data else None
    deployment = Deployment(path, data["name"], appliance, roles, aws, azure)
    given = {role for role, entries in data["roles"].items() if entries}
    _check_required_roles(deployment, given, problems)
    if not deployment.targets:
        problems.append((path, "", "has neither an 'aws' nor an 'azure' section, so there is "
                         "nothing to synthesize"))
    if problems:
        raise InputError(problems)
    return Deployment(**{**deployment.__dict__, "warnings": tuple(_warnings(deployment))})


# --- YAML -----------------------------------------------------------------------------------

class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears twice", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


# --- schema ---------------------------------------------------------------------------------

def _key(path: Iterable[Any]) -> str:
    """'roles', 'admin_pc', 1 -> 'roles.admin_pc[1]'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _schema_problems(data: Any, path: Path) -> Problems:
    from jsonschema import Draft202012Validator  # imported here: only loading needs it

    if not isinstance(data, dict):
        return [(path, "", "must be a mapping of keys (version, name, roles, ...)")]
    validator = Draft202012Validator(schema())
    problems: Problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend((path, key, message) for key, message in _explain(error))
    return problems


def _explain(error: Any) -> list[tuple[str, str]]:
    """A jsonschema error in the words of a deployment file."""
    where = list(error.absolute_path)
    key = _key(where)
    kind, value, schema_ = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema_.get("properties", {}))
        out = []
        for extra in sorted(set(value) - set(known)):
            hint = difflib.get_close_matches(str(extra), known, n=1)
            tip = f"; did you mean '{hint[0]}'?" if hint else (
                f"; known keys: {', '.join(known)}" if known else "")
            out.append((_key([*where, extra]), f"unknown key{tip}"))
        if out:
            return out
        if "type" in schema_.get("additionalProperties", {}):
            bad = [k for k, v in value.items() if not isinstance(v, dict)]
            return [(_key([*where, k]), "must be a mapping of settings") for k in bad]
    if kind == "required":
        missing = error.message.split("'")[1]
        return [(_key([*where, missing]), "is required")]
    if kind == "propertyNames":
        allowed = schema_["propertyNames"].get("enum")
        what = f"one of {', '.join(allowed)}" if allowed else "lower-case letters and digits"
        return [(key, f"'{error.instance}' is not a valid key here; use {what}")]
    if kind == "enum":
        return [(key, f"'{value}' is not one of: {', '.join(map(str, error.validator_value))}")]
    if kind == "const":
        return [(key, f"must be {error.validator_value}, not {value!r}")]
    if kind == "type":
        return [(key, f"must be {_type_name(error.validator_value)}, not {_type_name_of(value)}")]
    if kind == "pattern":
        return [(key, f"'{value}' is not valid here ({_pattern_hint(where)})")]
    if kind in ("minItems", "minProperties"):
        return [(key, "must not be empty")]
    if kind in ("maxItems", "maxProperties"):
        limit = error.validator_value
        return [(key, f"takes at most {limit} {'entry' if limit == 1 else 'entries'}")]
    if kind == "uniqueItems":
        return [(key, "lists an entry twice")]
    if kind in ("minimum", "maximum"):
        return [(key, f"must be between {schema_.get('minimum')} and {schema_.get('maximum')}")]
    return [(key, error.message)]


def _type_name(name: Any) -> str:
    return {"object": "a mapping", "array": "a list", "string": "a string", "boolean":
            "true or false", "integer": "a whole number"}.get(str(name), str(name))


def _type_name_of(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"),
                       (int, "integer")):
        if isinstance(value, kind):
            return _type_name(name)
    return "empty" if value is None else type(value).__name__


_PATTERN_HINTS = {
    "name": "lower-case letters, digits and '-', 1 to 40 characters",
    "region": "an AWS region such as eu-central-1",
    "vpc_id": "vpc- and 8 or 17 hex digits",
    "security_group_ids": "sg- and 8 or 17 hex digits",
    "prefix_list_ids": "pl- and 8 or 17 hex digits",
    "endpoints": "an http:// or https:// URL",
    "location": "an Azure location such as westeurope",
    "resource_group": "an Azure resource group name",
}


def _pattern_hint(where: list[Any]) -> str:
    for part in reversed(where):
        if isinstance(part, str) and part in _PATTERN_HINTS:
            return _PATTERN_HINTS[part]
        if isinstance(part, str) and part.endswith("_ids"):
            return "an Azure resource id: /subscriptions/.../providers/Microsoft.Network/..."
    if len(where) >= 2 and where[-2] == "endpoints":
        return _PATTERN_HINTS["endpoints"]
    return "see the JSON Schema"


def _with_defaults(data: Any, node: dict[str, Any]) -> Any:
    """Fill in the schema's defaults for absent keys (objects only; lists stay as given)."""
    if not isinstance(data, dict) or "properties" not in node:
        return data
    out = dict(data)
    for key, sub in node["properties"].items():
        if key not in out and "default" in sub:
            out[key] = sub["default"]
        if key in out:
            out[key] = _with_defaults(out[key], sub)
    return out


# --- sections -------------------------------------------------------------------------------

def _appliance(section: dict[str, Any]) -> Appliance:
    features = frozenset(name for name, on in section["features"].items() if on)
    return Appliance(section["cluster"], section["internal_firewall"], section["dns"],
                     section["ipv6"], features)


def _roles(section: dict[str, Any], path: Path, problems: Problems) -> dict[str, tuple[IPNetwork, ...]]:
    roles: dict[str, tuple[IPNetwork, ...]] = {role: () for role in catalog.CONFIGURED_ROLES}
    for role, entries in section.items():
        networks: dict[IPNetwork, None] = {}  # ordered, and O(1) lookups for long lists
        for index, entry in enumerate(entries):
            key = f"roles.{role}[{index}]"
            network = _network(entry, path, key, problems)
            if network is None:
                continue
            if network in networks:
                problems.append((path, key, f"{network} is listed twice"))
            elif network.prefixlen == 0:
                problems.append((path, key, f"{network} is the whole Internet; a role must name "
                                 "its own hosts or networks (the Internet is built in)"))
            else:
                networks[network] = None
        roles[role] = tuple(networks)
    return roles


def _network(entry: Any, path: Path, key: str, problems: Problems) -> IPNetwork | None:
    if not isinstance(entry, str):
        problems.append((path, key, f"must be a CIDR string such as 10.0.0.0/16, not {entry!r}"))
        return None
    text = entry.strip()
    if "/" not in text:
        try:
            host = ipaddress.ip_address(text)
        except ValueError:
            problems.append((path, key, f"'{entry}' is not a CIDR block (such as 10.0.0.0/16)"))
        else:
            problems.append((path, key, f"'{entry}' is a host address without a prefix length; "
                             f"write {host}/{host.max_prefixlen}"))
        return None
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as error:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            problems.append((path, key, f"'{entry}' is not a valid CIDR block: {error}"))
        else:
            problems.append((path, key, f"'{entry}' has host bits set; the network is {loose}"))
        return None


def _backend(section: dict[str, Any] | None) -> Backend:
    if not section:
        return DEFAULT_BACKEND
    (kind, settings), = section.items()
    return Backend(kind, dict(settings))


def _aws(section: dict[str, Any], path: Path, problems: Problems) -> AwsTarget:
    bindings = {
        role: AwsBinding(tuple(b.get("security_group_ids", ())), tuple(b.get("prefix_list_ids", ())))
        for role, b in section.get("bindings", {}).items()
    }
    return AwsTarget(section["region"], section["vpc_id"], bindings,
                     dict(section.get("endpoints", {})), _backend(section.get("backend")),
                     section["rule_quota"])


_ARM_KINDS = {
    "application_security_group_ids": "/providers/microsoft.network/applicationsecuritygroups/",
    "subnet_ids": "/subnets/",
    "network_interface_ids": "/providers/microsoft.network/networkinterfaces/",
}


def _arm_ids(ids: list[str], key: str, kind: str, path: Path, problems: Problems) -> tuple[str, ...]:
    for index, arm_id in enumerate(ids):
        if _ARM_KINDS[kind] not in arm_id.lower():
            noun = kind.removesuffix("_ids").replace("_", " ")
            problems.append((path, f"{key}[{index}]", f"'{arm_id}' is not the id of a {noun}"))
    return tuple(ids)


def _azure(section: dict[str, Any], path: Path, problems: Problems) -> AzureTarget:
    kind = "application_security_group_ids"
    bindings = {
        role: _arm_ids(b[kind], f"azure.bindings.{role}.{kind}", kind, path, problems)
        for role, b in section.get("bindings", {}).items()
    }
    associate = section.get("associate", {})
    subnets, nics = (
        _arm_ids(associate.get(k, []), f"azure.associate.{k}", k, path, problems)
        for k in ("subnet_ids", "network_interface_ids"))
    return AzureTarget(section["location"], section["resource_group"], bindings, subnets, nics,
                       _backend(section.get("backend")))


# --- cross-key rules ------------------------------------------------------------------------

def needed_roles(appliance: Appliance) -> dict[str, str]:
    """Configured roles the enabled rows need, each with the reason (for messages)."""
    needed = {catalog.INTERNAL_NETWORK: "always", catalog.INTERNAL_MAIL_SERVER: "R03 always applies"}
    if appliance.dns == "internal":
        needed[catalog.INTERNAL_NAMESERVER] = "appliance.dns is internal"
    if appliance.dns == "external":
        needed[catalog.EXTERNAL_NAMESERVER] = "appliance.dns is external"
    admin = sorted(appliance.features & {"admin_https", "admin_http"})
    if admin:
        needed[catalog.ADMIN_PC] = f"appliance.features.{admin[0]} is on"
    return needed


def _check_required_roles(d: Deployment, given: set[str], problems: Problems) -> None:
    """Each needed role has CIDRs in the file (their own errors are reported apart), or a
    binding in every cloud section present."""
    for role, reason in needed_roles(d.appliance).items():
        if role in given:
            continue  # internal_network is always here: the schema requires it
        unbound = [cloud for cloud, target in d.targets.items() if role not in target.bindings]
        if unbound:
            verb = "has" if len(unbound) == 1 else "have"
            problems.append((d.path, f"roles.{role}", f"is required: {reason}, and "
                             f"{' and '.join(unbound)} {verb} no binding for it"))


def _warnings(d: Deployment) -> list[str]:
    out = []
    needed = needed_roles(d.appliance)
    for role in d.roles:
        if role not in needed and d.roles[role]:
            out.append(f"{d.path}: roles.{role} is not used with these options")
    for cloud, target in d.targets.items():
        for role in target.bindings:
            if role not in needed:
                out.append(f"{d.path}: {cloud}.bindings.{role} is not used with these options")
    if "admin_http" in d.appliance.features:
        out.append(f"{d.path}: appliance.features.admin_http opens plain-HTTP administration "
                   "(R15, TCP 8080); the vendor recommends admin_https (R16, TCP 8443) only")
    if not d.appliance.internal_firewall:
        internal = d.roles[catalog.INTERNAL_NETWORK]
        for role in (catalog.INTERNAL_MAIL_SERVER, catalog.INTERNAL_NAMESERVER, catalog.ADMIN_PC):
            for net in d.roles.get(role, ()):
                if role in needed and not any(_within(net, i) for i in internal):
                    out.append(f"{d.path}: roles.{role} {net} lies outside roles.internal_network; "
                               "a simple installation drops the ** rows that would reach it")
    return out


def _within(inner: IPNetwork, outer: IPNetwork) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]
