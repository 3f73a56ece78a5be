"""`sxcloud audit azure FILE`: the live NSG of a deployment against what its file intends.

The reading is sxcloud.azure.audit, the comparison sxcloud.azure.drift against
sxcloud.azure.plan.plan (the rule set synth renders); this module is the command around
them: options, where the token may go (sxcloud.commands.audit.trust), and the report as a
table or JSON. Exit 0 no drift, 1 drift, 2 bad input or
when the NSG cannot be read.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from ... import escape, tables
from ...azure import drift
from ...azure.audit import (ARM_AUDIENCE_HOSTS, ARM_HOSTS, DEFAULT_ENDPOINT, PERMISSION,
                            RETRIES, TIMEOUT, Target, read)
from ...azure.plan import plan
from ...errors import InputError
from ..common import add_json, load, print_json, print_text, progress, warn
from . import trust

SUBSCRIPTION_ENV = "AZURE_SUBSCRIPTION_ID"
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
    add_connection(parser)
    add_json(parser)
    return parser


def add_connection(parser: argparse.ArgumentParser,
                   subscription: str = f"the subscription id (default: ${SUBSCRIPTION_ENV})") -> None:
    """The options that say where and as whom to read Azure (audit azure, adopt azure);
    `subscription` is the help of --subscription."""
    parser.add_argument("--subscription", metavar="ID", help=subscription)
    parser.add_argument("--arm-endpoint", metavar="URL", default=DEFAULT_ENDPOINT,
                        help="the Resource Manager endpoint, for sovereign clouds and Azure "
                             f"Stack Hub (default: {DEFAULT_ENDPOINT})")
    parser.add_argument("--arm-audience", metavar="URL",
                        help="the token audience of that endpoint, where it differs from the "
                             "endpoint itself (Azure Stack Hub); the scope is AUDIENCE/.default")
    parser.add_argument("--trust-arm-endpoint", action="store_true",
                        help="send the token to --arm-endpoint although it is not the Resource "
                             "Manager of a known Azure cloud (public, US Government, China) "
                             "nor this machine: for Azure Stack Hub, a token in "
                             "SXCLOUD_AZURE_TOKEN and an endpoint you run")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, metavar="SECONDS",
                        help="wait at most this long to connect and for each answer; a request "
                             f"is tried {RETRIES + 1} times (default: {TIMEOUT:g})")
    parser.add_argument("--api-version", metavar="VERSION",
                        help="the Microsoft.Network API version to ask for (default: the "
                             "SDK's; Azure Stack Hub supports older ones)")


def run(args: argparse.Namespace) -> int:
    deployment, = load([args.file] if args.file else [])
    if deployment.azure is None:
        raise InputError.one(deployment.path, "azure", "is missing: the file deploys no NSG, "
                             "so there is nothing to audit on Azure")
    intended = plan(deployment)
    endpoint, audience = connection(args)
    target = Target(deployment.path, f"{deployment.name}-azure", _subscription(args),
                    deployment.azure.resource_group, intended.nsg_name, endpoint.url)
    from ...azure import credentials  # the Azure SDK: only now

    credential, credential_name = credentials.choose()
    progress(f"reading {target.describe()} from {target.endpoint} ...")
    try:
        nsg = read(target, credential, credential_name, f"{audience.url}/.default",
                   args.api_version, args.timeout)
    except InputError as error:
        raise trust.redacted(error, credential.tokens) from None
    finally:
        credential.close()
    try:
        report = drift.audit(intended, nsg, subscription=target.subscription,
                             resource_group=target.resource_group,
                             location=deployment.azure.location)
    except (AttributeError, TypeError, ValueError, KeyError) as error:  # JSON, but no NSG
        raise trust.redacted(InputError.one(target.file, "azure", (
            f"the answer of {target.endpoint} is not a network security group as ARM "
            f"describes it ({type(error).__name__}: {error})")), credential.tokens) from None
    warn(list(report.notes))
    if args.json:
        print_json(_data(target, report))
    else:
        print_text(_text(target, report))
    return 1 if report.drift else 0


def connection(args: argparse.Namespace) -> tuple[trust.Endpoint, trust.Endpoint]:
    """The Resource Manager endpoint and the token audience the options name, once the
    timeout and where the token may go are checked (InputError else)."""
    trust.check_timeout(args.timeout, "command line")
    endpoint = _endpoint(args.arm_endpoint, "--arm-endpoint")
    audience = _endpoint(args.arm_audience, "--arm-audience") if args.arm_audience else endpoint
    if not args.trust_arm_endpoint:
        _keep_tokens_home(endpoint, audience)
    return endpoint, audience


def _subscription(args: argparse.Namespace) -> str:
    given, key = ((args.subscription, "--subscription") if args.subscription
                  else (os.environ.get(SUBSCRIPTION_ENV, ""), SUBSCRIPTION_ENV))
    given = given.strip()
    if not given:
        raise InputError.one("command line", "--subscription",
                             f"is required: name the subscription with --subscription or "
                             f"{SUBSCRIPTION_ENV}")
    if not _GUID.match(given):
        raise InputError.one("command line", key, f"'{escape.excerpt(given)}' is not a "
                             "subscription id (a GUID such as "
                             "00000000-0000-0000-0000-000000000000)")
    return given


def _endpoint(url: str, option: str) -> trust.Endpoint:
    # https only: azure-core itself refuses to send a bearer token over plain http.
    return trust.parse(url, "command line", option, ("https",))


def _keep_tokens_home(endpoint: trust.Endpoint, audience: trust.Endpoint) -> None:
    """Refuse to send a token that opens a known Azure cloud to another host.

    That is the static token in SXCLOUD_AZURE_TOKEN (sxcloud cannot tell what it opens), and
    a token DefaultAzureCredential gets for a known cloud's audience (--arm-audience). The
    endpoint may be a known cloud's Resource Manager, or this machine; any other host needs
    --trust-arm-endpoint.
    """
    from ...azure.credentials import TOKEN_ENV, static_token_set

    if endpoint.host.rstrip(".") in ARM_HOSTS or endpoint.loopback:
        return
    if static_token_set():
        token = f"the static token in {TOKEN_ENV}"
    elif audience.host.rstrip(".") in ARM_AUDIENCE_HOSTS:
        token = f"a token for {audience.host} (--arm-audience), which opens that Azure cloud,"
    else:
        return  # a token for this endpoint's own audience: it opens nothing else
    raise InputError.one("command line", "--arm-endpoint", (
        f"{escape.excerpt(endpoint.host)} is not the Resource Manager of a known Azure cloud "
        f"({', '.join(ARM_HOSTS)}) nor this machine, and {token} would be sent there; pass "
        "--trust-arm-endpoint if that host is yours (Azure Stack Hub)"))


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
                    "expired": report.count(drift.EXPIRED),
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
        elif f.kind == drift.EXPIRED:
            rows.append((f.kind, f.rule, f.direction, f.priority, "exception", f.message))
        else:
            rule = f.live or f.intended
            assert rule is not None
            rows.append((f.kind, f.rule, f.direction, f.priority, "rule", _summary(rule)))
    counts = ", ".join(f"{report.count(k)} {k}" for k in (drift.MISSING, drift.UNEXPECTED,
                                                            drift.CHANGED, drift.EXPIRED)
                       if k != drift.EXPIRED or report.count(k))
    return "\n".join([head, tables.render(("FINDING", "RULE", "DIRECTION", "PRIORITY", "FIELD",
                                           "DETAIL"), rows, "  "),
                      f"  drift: {counts}"])
