"""`sxcloud audit azure FILE`: the live NSG of a deployment against what its file intends.

One read, nothing written: `GET` of the NSG through azure-mgmt-network's
`network_security_groups.get`, which returns the security rules and the default rules in one
consistent answer and needs only `Microsoft.Network/networkSecurityGroups/read`. (Listing the
rules through `security_rules.list` would need a second permission and several pages.)
The comparison is `sxcloud.azure.drift` against `sxcloud.azure.plan.plan`, the rule set synth
renders. Exit 0 no drift, 1 drift, 2 bad input or when the NSG cannot be read.

The Azure SDK is imported inside `run`, so that other commands never load it.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import tables
from ..commands.common import add_json, load, print_json, progress, warn
from ..errors import InputError
from . import drift
from .plan import plan

SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
DEFAULT_ENDPOINT = "https://management.azure.com"
PERMISSION = "Microsoft.Network/networkSecurityGroups/read"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "azure", help="audit the live NSG of a deployment (read-only)",
        description="Read the deployment's network security group through azure-mgmt-network "
                    "(resource group from the file, NSG name as the stack gives it) and compare "
                    "its rules with the rules the file intends, the same rule set synth "
                    "renders. Reports missing, unexpected and changed rules by name, and notes "
                    "default rules that are not the six Azure documents. Read-only: it needs "
                    f"only {PERMISSION}. Credentials: DefaultAzureCredential, or the bearer "
                    "token in SXCLOUD_AZURE_TOKEN when set. TLS verification follows "
                    "REQUESTS_CA_BUNDLE. Exit 0 no drift, 1 drift, 2 bad input, a missing NSG "
                    "or no permission.")
    parser.add_argument("file", nargs="?", type=Path, metavar="FILE",
                        help="the deployment file (default: ./sxcloud.yaml, or else the "
                             "built-in example)")
    parser.add_argument("--subscription", metavar="ID",
                        help=f"the subscription id (default: ${SUBSCRIPTION_ENV})")
    parser.add_argument("--arm-endpoint", metavar="URL", default=DEFAULT_ENDPOINT,
                        help="the Resource Manager endpoint, for sovereign clouds and Azure "
                             f"Stack Hub (default: {DEFAULT_ENDPOINT})")
    parser.add_argument("--arm-audience", metavar="URL",
                        help="the token audience of that endpoint, where it differs from the "
                             "endpoint itself (Azure Stack Hub); the scope is AUDIENCE/.default")
    parser.add_argument("--api-version", metavar="VERSION",
                        help="the Microsoft.Network API version to ask for (default: the "
                             "SDK's; Azure Stack Hub supports older ones)")
    add_json(parser)
    return parser


@dataclass(frozen=True)
class Target:
    """Where the audited NSG lives, for the request and for every message."""

    file: Path
    stack: str
    subscription: str
    resource_group: str
    nsg_name: str
    endpoint: str

    @property
    def nsg_id(self) -> str:
        return drift.arm_id(self.subscription, self.resource_group, "networkSecurityGroups",
                            self.nsg_name)

    def describe(self) -> str:
        return (f"network security group {self.nsg_name} in resource group "
                f"{self.resource_group} (subscription {self.subscription})")


def run(args: argparse.Namespace) -> int:
    deployment, = load([args.file] if args.file else [])
    if deployment.azure is None:
        raise InputError.one(deployment.path, "azure", "is missing: the file deploys no NSG, "
                             "so there is nothing to audit on Azure")
    intended = plan(deployment)
    target = Target(deployment.path, f"{deployment.name}-azure", _subscription(args),
                    deployment.azure.resource_group, intended.nsg_name,
                    _endpoint(args.arm_endpoint, "--arm-endpoint"))
    audience = (_endpoint(args.arm_audience, "--arm-audience") if args.arm_audience
                else target.endpoint)
    progress(f"reading {target.describe()} from {target.endpoint} ...")
    nsg = _read(target, f"{audience}/.default", args.api_version)
    report = drift.audit(intended, nsg, subscription=target.subscription,
                         resource_group=target.resource_group,
                         location=deployment.azure.location)
    warn(list(report.notes))
    if args.json:
        print_json(_data(target, report))
    else:
        print(_text(target, report))
    return 1 if report.drift else 0


def _subscription(args: argparse.Namespace) -> str:
    given, key = ((args.subscription, "--subscription") if args.subscription
                  else (os.environ.get(SUBSCRIPTION_ENV, ""), SUBSCRIPTION_ENV))
    given = given.strip()
    if not given:
        raise InputError.one("command line", "--subscription",
                             f"is required: name the subscription with --subscription or "
                             f"{SUBSCRIPTION_ENV}")
    if not _GUID.match(given):
        raise InputError.one("command line", key, f"'{given}' is not a subscription id "
                             "(a GUID such as 00000000-0000-0000-0000-000000000000)")
    return given


def _endpoint(url: str, option: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise InputError.one("command line", option, f"'{url}' is not an https:// URL (bearer "
                             "tokens are only sent over TLS)")
    return url.strip().rstrip("/")


# --- reading ----------------------------------------------------------------------------------

def _read(target: Target, scope: str, api_version: str | None) -> Any:
    """The NSG as azure-mgmt-network returns it; every failure becomes an InputError."""
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError,
                                       ResourceNotFoundError, ServiceRequestError)
    from azure.mgmt.network import NetworkManagementClient

    from .credentials import choose

    # azure-identity logs each credential it tried as a warning; the error below says it once.
    logging.getLogger("azure").setLevel(logging.ERROR)
    credential, credential_name = choose()
    kwargs = {"api_version": api_version} if api_version else {}
    try:
        with NetworkManagementClient(credential, target.subscription, base_url=target.endpoint,
                                     credential_scopes=[scope]) as client:
            return client.network_security_groups.get(target.resource_group, target.nsg_name,
                                                      **kwargs)
    except ResourceNotFoundError as error:
        raise _not_found(target, error) from None
    except ClientAuthenticationError as error:
        if error.response is None:  # the credential could not get a token at all
            reason = _first_line(error.message).rstrip(".")
            raise _problem(target, f"{credential_name} could not get a token for {scope}: "
                           f"{reason}. Sign in (az login), run where a managed or workload "
                           "identity is available, or set SXCLOUD_AZURE_TOKEN") from None
        raise _problem(target, f"{target.endpoint} refused {credential_name} "
                       f"({_arm_error(error)}): use a valid, unexpired token for {scope} of "
                       f"an identity that holds {PERMISSION} on the {target.describe()}") from None
    except HttpResponseError as error:
        if error.status_code == 403:
            raise _problem(target, f"access denied ({_arm_error(error)}): the identity needs "
                           f"{PERMISSION} on the {target.describe()}, for example through the "
                           "Reader or Network Contributor role") from None
        raise _problem(target, f"{target.endpoint} answered {error.status_code} "
                       f"({_arm_error(error)}) when reading the {target.describe()}") from None
    except ServiceRequestError as error:
        raise InputError.one("command line", "--arm-endpoint", f"cannot reach {target.endpoint}: "
                             f"{_first_line(str(error))} (TLS certificates are verified "
                             "against REQUESTS_CA_BUNDLE when it is set)") from None
    finally:
        close = getattr(credential, "close", None)
        if close:
            close()


def _not_found(target: Target, error: Any) -> InputError:
    code = error.error.code if error.error else ""
    if code == "ResourceGroupNotFound":
        return InputError.one(target.file, "azure.resource_group",
                              f"resource group {target.resource_group} does not exist in "
                              f"subscription {target.subscription} ({_arm_error(error)})")
    if code == "SubscriptionNotFound":
        return InputError.one("command line", "--subscription",
                              f"subscription {target.subscription} was not found "
                              f"({_arm_error(error)})")
    return _problem(target, f"the {target.describe()} does not exist ({_arm_error(error)}). "
                    f"Has the stack {target.stack} been applied, to this subscription?")


def _problem(target: Target, message: str) -> InputError:
    return InputError.one(target.file, "azure", message)


def _arm_error(error: Any) -> str:
    """'403 AuthorizationFailed: message', from ARM's error body where there is one."""
    detail = error.error
    if detail is not None and detail.code:
        return f"{error.status_code} {detail.code}: {_first_line(detail.message or '')}"
    return f"{error.status_code} {_first_line(error.reason or '')}".strip()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# --- output -----------------------------------------------------------------------------------

def _data(target: Target, report: drift.Report) -> dict[str, Any]:
    return {
        "file": str(target.file), "stack": target.stack, "subscription": target.subscription,
        "resource_group": target.resource_group, "arm_endpoint": target.endpoint,
        "network_security_group": {"name": target.nsg_name, "id": target.nsg_id},
        "drift": report.drift,
        "summary": {"missing": report.count(drift.MISSING),
                    "unexpected": report.count(drift.UNEXPECTED),
                    "changed": report.count(drift.CHANGED),
                    "intended_rules": report.intended_rules, "live_rules": report.live_rules},
        "findings": [f.data() for f in report.findings],
        "notes": list(report.notes),
    }


def _side(prefixes: tuple[str, ...], asgs: tuple[str, ...]) -> str:
    names = [f"asg {a.rsplit('/', 1)[-1]}" for a in asgs]
    return ", ".join([*prefixes, *names]) or "-"


def _summary(rule: drift.RuleView) -> str:
    return (f"{rule.access} {rule.protocol} {','.join(rule.destination_ports)} from "
            f"{_side(rule.source_prefixes, rule.source_asgs)} to "
            f"{_side(rule.destination_prefixes, rule.destination_asgs)}")


def _text(target: Target, report: drift.Report) -> str:
    head = f"{target.stack}: {target.describe()}"
    if not report.drift:
        return (f"{head}\n  no drift: its {report.live_rules} rules are the "
                f"{report.intended_rules} the file intends")
    rows = []
    for f in report.findings:
        if f.kind == drift.CHANGED:
            rows += [(f.kind, f.rule, f.direction, f.priority, c.field,
                      f"{c.live} (intended: {c.intended})") for c in f.changes]
        else:
            rule = f.live or f.intended
            assert rule is not None
            rows.append((f.kind, f.rule, f.direction, f.priority, "rule", _summary(rule)))
    counts = ", ".join(f"{report.count(k)} {k}" for k in (drift.MISSING, drift.UNEXPECTED,
                                                            drift.CHANGED))
    return "\n".join([head, tables.render(("FINDING", "RULE", "DIRECTION", "PRIORITY", "FIELD",
                                           "DETAIL"), rows, "  "),
                      f"  drift: {counts}"])
