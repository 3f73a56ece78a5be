"""The deployment file (spec/config.md): load, validate, and turn into a Deployment.

The file is read by sxcloud.yamlfile (bounded, JSON-like data only). The JSON Schema beside
this module (deployment.schema.json) is the one description of the keys, their types and
their defaults; this module applies it, and sxcloud.validation checks what a schema cannot
say (CIDRs, roles that are the Internet, endpoint URLs). Keys required by other keys and
names shared by two files are checked here. Every problem is reported with the file and the
key it concerns, all at once, as an InputError.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from . import catalog, exceptions, validation, yamlfile
from .errors import InputError
from .exceptions import AwsObjects, SiteException
from .escape import excerpt
from .validation import IPNetwork, Problems, key_name

BUILTIN_EXAMPLE = "example.yaml"


@dataclass(frozen=True)
class Backend:
    """A Terraform backend: its type (s3, azurerm, ...) and its settings, as Terraform names them."""

    type: str
    settings: dict[str, Any]


DEFAULT_BACKEND = Backend("local", {"path": "terraform.tfstate"})


#: The AWS objects that stand for a role (`aws.bindings.<role>`): the shape of an exception
#: peer's `aws` objects, one class for both.
AwsBinding = AwsObjects


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
    exceptions: tuple[SiteException, ...] = field(default=())  # the file's, in its order

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
    return parse(yamlfile.read(path), path)


def load_text(text: str, path: Path) -> Deployment:
    """Validate a deployment file's text; `path` names it in messages (it need not exist,
    e.g. `origin/main:sxcloud.yaml` for a version read from git)."""
    return parse(yamlfile.parse(text, path), path)


def parse(data: Any, path: Path) -> Deployment:
    """Validate a parsed deployment document and build the Deployment."""
    # Data that is not JSON-like (or holds control characters) is refused before anything
    # else looks at it: the schema's messages would quote it.
    problems = validation.data_problems(data, path)
    if problems:
        raise InputError(problems)
    problems = _schema_problems(data, path)
    # CIDRs are checked even when the schema found problems, so one run reports both.
    given_roles = data.get("roles") if isinstance(data, dict) else None
    roles = _roles({role: entries for role, entries in given_roles.items()
                    if isinstance(entries, list)} if isinstance(given_roles, dict) else {},
                   path, problems)
    _url_problems(data, path, problems)
    if problems:
        raise InputError(problems)
    data = _with_defaults(data, schema())
    appliance = _appliance(data["appliance"])
    aws = _aws(data["aws"]) if "aws" in data else None
    azure = _azure(data["azure"]) if "azure" in data else None
    deployment = Deployment(path, data["name"], appliance, roles, aws, azure)
    given = {role for role, entries in data["roles"].items() if entries}
    _check_required_roles(deployment, given, problems)
    bound = {cloud: set(target.bindings) for cloud, target in deployment.targets.items()}
    site = exceptions.parse(data.get("exceptions", []), roles, bound, path, problems)
    if not deployment.targets:
        problems.append((path, "", "has neither an 'aws' nor an 'azure' section, so there is "
                         "nothing to synthesize"))
    if problems:
        raise InputError(problems)
    deployment = Deployment(**{**deployment.__dict__, "exceptions": site})
    return Deployment(**{**deployment.__dict__, "warnings": tuple(_warnings(deployment))})


# --- schema ---------------------------------------------------------------------------------

def _schema_problems(data: Any, path: Path) -> Problems:
    if not isinstance(data, dict):
        return [(path, "", "must be a mapping of keys (version, name, roles, ...)")]
    validator = _validator_class()(schema())
    problems: Problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend((path, key, message) for key, message in _explain(error))
    return problems


@cache
def _validator_class() -> Any:
    """Draft 2020-12 with `pattern` as a full match.

    jsonschema applies a pattern with re.search, where `$` also matches before a trailing
    line break, so `^[a-z]+$` passed "abc\\n". Every pattern in the schema is anchored
    (`^...$`, a test checks it), so a full match is what an ECMA-262 validator such as an
    editor's does with it, and a trailing line break no longer slips through.
    """
    from jsonschema import Draft202012Validator, ValidationError, validators  # only loading needs it

    def full_pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Any:
        if validator.is_type(instance, "string") and not re.fullmatch(pattern, instance):
            yield ValidationError(f"{excerpt(instance)!r} does not match {pattern!r}")

    return validators.extend(Draft202012Validator, {"pattern": full_pattern})


def _explain(error: Any) -> list[tuple[str, str]]:
    """A jsonschema error in the words of a deployment file."""
    where = list(error.absolute_path)
    key = key_name(where)
    kind, value, schema_ = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema_.get("properties", {}))
        out = []
        for extra in sorted(set(value) - set(known), key=str):  # keys of any type, from parse()
            hint = difflib.get_close_matches(str(extra), known, n=1)
            tip = f"; did you mean '{hint[0]}'?" if hint else (
                f"; known keys: {', '.join(known)}" if 0 < len(known) <= 10 else
                "; `sxcloud schema` lists the known keys" if known else "")
            out.append((key_name([*where, extra]), f"unknown key{tip}"))
        if out:
            return out
    if kind == "required":
        missing = error.message.split("'")[1]
        return [(key_name([*where, missing]), "is required")]
    if kind == "enum":
        return [(key, f"'{excerpt(value)}' is not one of: {', '.join(map(str, error.validator_value))}")]
    if kind == "const":
        return [(key, f"must be {error.validator_value}, not {excerpt(repr(value))}")]
    if kind == "not":  # the schema's way of naming a setting sxcloud refuses: a credential
        return [(key, "is a credential; give it to Terraform in the environment or with "
                 "`terraform init -backend-config=...`, never in a deployment file")]
    if kind == "type":
        return [(key, f"must be {_type_name(error.validator_value)}, not {_type_name_of(value)}")]
    if kind == "pattern":
        return [(key, f"'{excerpt(value, 160)}' is not valid here ({_pattern_hint(where)})")]
    if kind in ("oneOf", "anyOf"):  # a value of one of several forms (protocol, ports)
        return [(key, f"'{excerpt(value)}' is not valid here ({_pattern_hint(where)})")]
    if kind in ("minItems", "minProperties"):
        return [(key, "must not be empty")]
    if kind in ("maxItems", "maxProperties"):
        limit = error.validator_value
        return [(key, f"takes at most {limit} {'entry' if limit == 1 else 'entries'}")]
    if kind == "uniqueItems":
        return [(key, "lists an entry twice")]
    if kind in ("minimum", "maximum"):
        return [(key, f"must be between {schema_.get('minimum')} and {schema_.get('maximum')}")]
    if kind == "maxLength":
        return [(key, f"is longer than {error.validator_value} characters")]
    return [(key, excerpt(error.message, 200))]


def _type_name(name: Any) -> str:
    return {"object": "a mapping", "array": "a list", "string": "a string", "boolean":
            "true or false", "integer": "a whole number"}.get(str(name), str(name))


def _type_name_of(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"),
                       (int, "integer")):
        if isinstance(value, kind):
            return _type_name(name)
    return "empty" if value is None else type(value).__name__


_ARM_ID = "/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.Network/"
_PATTERN_HINTS = {
    "name": "lower-case letters, digits and '-', 1 to 40 characters, not starting with 'sg-'",
    "region": "an AWS region such as eu-central-1",
    "vpc_id": "vpc- and 8 or 17 hex digits",
    "security_group_ids": "sg- and 8 or 17 hex digits",
    "prefix_list_ids": "pl- and 8 or 17 hex digits",
    "endpoints": "an http:// or https:// URL",
    "location": "an Azure location such as westeurope",
    "resource_group": "an Azure resource group name: 1-90 of A-Z a-z 0-9 - _ . ( ), "
                      "not ending in '.'",
    "application_security_group_ids": "the id of an application security group: "
                                      f"{_ARM_ID}applicationSecurityGroups/<name>",
    "subnet_ids": f"the id of a subnet: {_ARM_ID}virtualNetworks/<vnet>/subnets/<name>",
    "network_interface_ids": f"the id of a network interface: {_ARM_ID}networkInterfaces/<name>",
}


#: Hints for the keys of an exception (exceptions[N].KEY...), whose names repeat others'.
_EXCEPTION_HINTS = {
    "id": "lower-case letters, digits and '-', 1 to 32 characters",
    "protocol": "tcp, udp, icmp, all, or a protocol number 0-255",
    "ports": "a port 0-65535 or a range written \"low-high\", such as \"8000-8080\"",
    "reason": "1-120 letters, digits, spaces and ._-:/()#,@[]+=;{}!$*, not starting or "
              "ending with a space (an AWS rule description takes no '&')",
    "owner": "1-64 letters, digits, spaces and ._@+-, starting and ending with a letter or digit",
    "ticket": "1-64 letters, digits and ._:/+=@-, starting and ending with a letter or digit",
    "expires": "a date written YYYY-MM-DD",
    "service_tags": "an Azure service tag such as AzureMonitor or Storage.WestEurope",
    "name": "an NSG rule name: 1-80 letters, digits, '_', '.' and '-', starting with a letter "
            "or digit and ending with a letter, digit or '_'",
}


def _pattern_hint(where: list[Any]) -> str:
    hints = _EXCEPTION_HINTS if where[:1] == ["exceptions"] else {}
    for part in reversed(where):
        if isinstance(part, str) and part in hints:
            return hints[part]
        if isinstance(part, str) and part in _PATTERN_HINTS:
            return _PATTERN_HINTS[part]
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
    one_role_too_wide = False
    for role, entries in section.items():
        networks: dict[IPNetwork, None] = {}  # ordered, and O(1) lookups for long lists
        valid: list[IPNetwork] = []  # with the ranges refused as too wide, for the total
        for index, entry in enumerate(entries):
            key = f"roles.{role}[{index}]"
            network = validation.network(entry, path, key, problems)
            if network is None:
                continue
            if network.prefixlen:  # /0 says it alone; the total would repeat it
                valid.append(network)
            wide = validation.too_wide(network)
            if network in networks:
                problems.append((path, key, f"{network} is listed twice"))
            elif wide:
                problems.append((path, key, wide))
            else:
                networks[network] = None
        roles[role] = tuple(networks)
        # Narrow ranges can still add up to the Internet ([0.0.0.0/1, 128.0.0.0/1] did).
        wide = validation.coverage_problems(valid, "its ranges")
        problems.extend((path, f"roles.{role}", message) for message in wide)
        one_role_too_wide = one_role_too_wide or bool(wide)
    if not one_role_too_wide:  # else that role's problem says it already
        everything = [net for nets in roles.values() for net in nets]  # all within limits
        problems.extend((path, "roles", message) for message in
                        validation.coverage_problems(everything, "the roles' ranges"))
    return roles


def _backend(section: dict[str, Any] | None) -> Backend:
    if not section:
        return DEFAULT_BACKEND
    (kind, settings), = section.items()
    return Backend(kind, dict(settings))


def _aws(section: dict[str, Any]) -> AwsTarget:
    bindings = {
        role: AwsBinding(tuple(b.get("security_group_ids", ())), tuple(b.get("prefix_list_ids", ())))
        for role, b in section.get("bindings", {}).items()
    }
    return AwsTarget(section["region"], section["vpc_id"], bindings,
                     dict(section.get("endpoints", {})), _backend(section.get("backend")),
                     section["rule_quota"])


def _azure(section: dict[str, Any]) -> AzureTarget:
    # The ids' form (which resource type, which characters) is the schema's business.
    bindings = {role: tuple(b["application_security_group_ids"])
                for role, b in section.get("bindings", {}).items()}
    associate = section.get("associate", {})
    return AzureTarget(section["location"], section["resource_group"], bindings,
                       tuple(associate.get("subnet_ids", ())),
                       tuple(associate.get("network_interface_ids", ())),
                       _backend(section.get("backend")))


def _url_problems(data: Any, path: Path, problems: Problems) -> None:
    """URLs, run beside the schema (so only where the types are right): endpoint URLs parsed
    (`aws.endpoints` and an s3 backend's endpoints, which reach the AWS SDK and cdk.tf.json),
    and no URL with `user:password@` in any backend setting (an http backend's address, an
    s3 proxy): a credential, refused like the settings that name one."""
    for cloud in ("aws", "azure"):
        section = data.get(cloud) if isinstance(data, dict) else None
        if not isinstance(section, dict):
            continue
        if cloud == "aws":  # the schema refuses `endpoints` elsewhere
            for where, text in _strings(section.get("endpoints"), [cloud, "endpoints"]):
                _endpoint_problem(text, where, path, problems)
        for where, text in _strings(section.get("backend"), [cloud, "backend"]):
            if where[3:4] == ["endpoints"] and where[2] == "s3":
                _endpoint_problem(text, where, path, problems)
            elif validation.url_userinfo(text):
                problems.append((path, key_name(where), "holds a URL with a user name or "
                                 "password; give credentials to Terraform in the environment "
                                 "or with `terraform init -backend-config=...`"))


def _endpoint_problem(url: str, where: list[Any], path: Path, problems: Problems) -> None:
    problem = validation.endpoint_problem(url)
    if problem:
        problems.append((path, key_name(where), problem))


def _strings(node: Any, where: list[Any]) -> Iterable[tuple[list[Any], str]]:
    if isinstance(node, str):
        yield where, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, [*where, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, [*where, index])


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
    # A role that only an exception names is used all the same.
    needed = {**needed_roles(d.appliance), **{e.peer.role: e.label for e in d.exceptions if e.peer.role}}
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
