"""`sxcloud adopt azure FILE --nsg-id ID [--asg-id ID]`: take over a hand-made NSG in place.

The mapping is sxcloud.azure.adopt; the reading is the audit's (sxcloud.azure.audit.get,
GET requests only, through azure-mgmt-network, with the audit's rules for where the token
may go: sxcloud.commands.audit.azure.connection). This module is the command around them:
options, the report (commands.adopt.report) and, with --write, the edit of FILE
(commands.adopt.yamledit). Exit 0; 2 on bad input, an NSG or ASG that cannot be read, a
refusal (docs/adopt-azure.md), or a FILE that cannot be written.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from ... import escape
from ...azure import adopt as adopt_
from ...azure import drift
from ...azure.audit import PERMISSION, Resource, Target, get
from ...azure.plan import plan
from ...config import ArmId, load_text, schema
from ...errors import InputError
from ...exceptions import today
from ..audit import trust
from ..audit.azure import SUBSCRIPTION_ENV, add_connection, connection
from ..common import progress
from . import add_module_address, add_output, conclude, module_imports_path, read_file, report

ASG_PERMISSION = "Microsoft.Network/applicationSecurityGroups/read"


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "azure", help="take over a hand-made Azure NSG (and ASG) in place",
        description="Read the network security group --nsg-id (and the application security "
                    "group --asg-id) through azure-mgmt-network, GET requests only "
                    f"({PERMISSION}, {ASG_PERMISSION}), and decide for each live rule: taken "
                    "over by the sxcloud rule of the same name and content, kept as a draft "
                    "site exception with its live name and priority (azure only, expiring in "
                    f"{adopt_.DRAFT_DAYS} days, owner {adopt_.DRAFT_OWNER}), or kept "
                    "unmanaged (left as it is) where no exception states it exactly. Lists "
                    "the rules to be created. Prints the azure.adopt and exceptions entries; "
                    "--write adds them to FILE in place. Credentials as for `sxcloud audit "
                    "azure`. See docs/adopt-azure.md.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the deployment file")
    parser.add_argument("--nsg-id", metavar="ID", required=True,
                        help="the ARM id of the hand-made NSG to take over")
    parser.add_argument("--asg-id", metavar="ID",
                        help="the ARM id of the appliances' application security group, to "
                             "take over as well (default: the stack creates one)")
    add_connection(parser, "the subscription id, if given: it must be the one in --nsg-id "
                           f"(${SUBSCRIPTION_ENV} is not used)")
    add_module_address(parser, "azure-appliance-nsg", "NSG, ASG, rules and associations")
    add_output(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    imports_tf = module_imports_path(args)
    data, deployment = read_file(args, "azure")
    nsg_id = _arm_id(args.nsg_id, "--nsg-id", "networkSecurityGroupId")
    asg_id = _arm_id(args.asg_id, "--asg-id", "applicationSecurityGroupId") if args.asg_id else None
    _check_subscription(args, nsg_id)
    plan(deployment)  # refuse a file synth would refuse, before any Azure call
    endpoint, audience = connection(args)
    from ...azure import credentials  # the Azure SDK: only now

    credential, credential_name = credentials.choose()
    try:
        live = _read(args, path, nsg_id, asg_id, endpoint.url, credential, credential_name,
                     f"{audience.url}/.default")
        adoption = adopt_.adopt(data, path, nsg_id, asg_id, live, today())
    except InputError as error:
        raise trust.redacted(error, credential.tokens) from None
    except (AttributeError, TypeError, ValueError, KeyError) as error:  # JSON, but no NSG
        raise trust.redacted(InputError.one("command line", "--arm-endpoint", (
            f"the answer of {endpoint.url} is not a network security group as ARM describes "
            f"it ({type(error).__name__})")), credential.tokens) from None
    finally:
        credential.close()
    module = (imports_tf, adopt_.module_imports(adoption, args.module_address)) \
        if imports_tf else None
    return conclude(args, adoption.settings, adoption.drafts,
                    lambda text: _check(text, path, adoption),
                    lambda written: _report(adoption, path, written), module)


def _arm_id(given: str, option: str, kind: str) -> ArmId:
    """An id of the kind the schema defines for `azure.adopt` (the same pattern)."""
    text = given.strip()
    if not re.fullmatch(schema()["$defs"][kind]["pattern"], text):
        what = "networkSecurityGroups" if option == "--nsg-id" else "applicationSecurityGroups"
        raise InputError.one("command line", option, (
            f"'{escape.excerpt(text)}' is not the id of a{'n' * (option == '--asg-id')} "
            f"{'NSG' if option == '--nsg-id' else 'application security group'}: "
            f"/subscriptions/<GUID>/resourceGroups/<group>/providers/Microsoft.Network/{what}/<name>"))
    return ArmId.parse(text)


def _check_subscription(args: argparse.Namespace, nsg_id: ArmId) -> None:
    """The subscription is the NSG id's; --subscription, where given, must agree (the
    environment's AZURE_SUBSCRIPTION_ID is not consulted: the id says it)."""
    if args.subscription and args.subscription.strip().casefold() != nsg_id.subscription.casefold():
        raise InputError.one("command line", "--subscription", (
            f"'{escape.excerpt(args.subscription)}' is not the subscription of --nsg-id "
            f"({nsg_id.subscription}); leave it out, the id names the subscription "
            f"(${SUBSCRIPTION_ENV} is not used by adopt)"))


def _read(args: argparse.Namespace, path: Path, nsg_id: ArmId, asg_id: ArmId | None,
          endpoint: str, credential: Any, credential_name: str, scope: str) -> adopt_.Live:
    target = Target(path, "adopt", nsg_id.subscription, nsg_id.resource_group, nsg_id.name,
                    endpoint)
    progress(f"reading {target.describe()} from {endpoint} ...")
    nsg = get(target, credential, credential_name, scope, args.api_version, args.timeout,
              Resource(target.describe(), PERMISSION, ("command line", "--nsg-id"),
                       "Check --nsg-id; adopt takes over an NSG that exists."),
              lambda client, kwargs: client.network_security_groups.get(
                  nsg_id.resource_group, nsg_id.name, **kwargs))
    asg = None
    if asg_id:
        describe = (f"application security group {asg_id.name} in resource group "
                    f"{asg_id.resource_group} (subscription {asg_id.subscription})")
        asg = get(target, credential, credential_name, scope, args.api_version, args.timeout,
                  Resource(describe, ASG_PERMISSION, ("command line", "--asg-id"),
                           "Check --asg-id, or leave it out to have the stack create one."),
                  lambda client, kwargs: client.application_security_groups.get(
                      asg_id.resource_group, asg_id.name, **kwargs))
    return adopt_.Live(nsg, asg)


def _check(text: str, path: Path, adoption: adopt_.Adoption) -> None:
    """The edited file, read back by sxcloud's loader, plans the adoption it was given."""
    written = plan(load_text(text, path))
    if written.imports != adoption.plan.imports or written.rules != adoption.plan.rules:
        raise AssertionError("the edited file does not read back as the adoption")


def _service(view: drift.RuleView) -> str:
    return f"{view.protocol} {','.join(view.destination_ports)}"


def _peer(view: drift.RuleView) -> str:
    inbound = view.direction.casefold() == "inbound"
    prefixes, asgs = ((view.source_prefixes, view.source_asgs) if inbound
                      else (view.destination_prefixes, view.destination_asgs))
    return ", ".join([*prefixes, *(f"asg {a.rsplit('/', 1)[-1]}" for a in asgs)]) or "-"


_OUTCOMES = {adopt_.TAKEN_OVER: report.TAKEN, adopt_.DRAFT: report.DRAFT,
             adopt_.UNMANAGED: report.UNMANAGED}


def _report(adoption: adopt_.Adoption, path: Path, written: bool) -> report.Report:
    rows = []
    drafts = {f"X-{e['id']}": e for e in adoption.drafts}
    for rule in adoption.live:
        view = rule.view
        if rule.outcome == adopt_.TAKEN_OVER:
            planned = next(r for r in adoption.plan.rules if r.name == view.name)
            note = "description updated in place" if planned.description != view.description else ""
            name = view.name
        elif rule.default:
            entry = drafts[rule.detail]
            name = next(r.name for r in adoption.plan.rules if r.exception
                        and r.exception.exception.id == entry["id"])
            note = (f"{rule.detail} until {entry['expires']}: the default rule's traffic to "
                    f"and from the appliances, kept by a new rule at priority "
                    f"{entry['azure']['priority']}, after every live rule")
        elif rule.outcome == adopt_.DRAFT:
            entry = drafts[rule.detail]
            note = f"{rule.detail} until {entry['expires']}; keeps name and priority {view.priority}"
            name = view.name
        else:
            note, name = rule.detail, "-"
        rows.append(report.Row(_OUTCOMES[rule.outcome], f"{view.name} ({view.priority})",
                               view.direction, _service(view), _peer(view), name, note))
    planned = {r.name: r for r in adoption.plan.rules}
    for name in adoption.to_create:
        rule = planned[name]
        view = next(v for v in drift.intended_views(adoption.plan, adoption.nsg.subscription,
                                                    adoption.nsg.resource_group) if v.name == name)
        rows.append(report.Row(report.CREATE, "", view.direction, _service(view), _peer(view),
                               f"{name} ({rule.priority})"))
    warnings = []
    if adoption.drafts:
        warnings.append(f"azure: {adoption.nsg.name} has {len(adoption.drafts)} rules beyond "
                        f"the vendor table; each is a draft exception until "
                        f"{adoption.drafts[0]['expires']}: confirm it (owner, reason, ticket, "
                        "expires) or remove it")
    unmanaged = [r.view.name for r in adoption.live if r.outcome == adopt_.UNMANAGED]
    if unmanaged:
        warnings.append(f"azure: {len(unmanaged)} live rules stay unmanaged "
                        f"({', '.join(unmanaged)}): Terraform leaves them as they are, and "
                        "audit reports them as unexpected until a reviewed change removes "
                        "them in Azure (docs/adopt-azure.md)")
    adopted = {"nsg": f"{adoption.nsg.name} ({adoption.nsg.id})"}
    if adoption.asg:
        adopted["asg"] = f"{adoption.asg.name} ({adoption.asg.id})"
    return report.Report("azure", path, adopted, tuple(rows), adoption.settings,
                         tuple(adoption.drafts), written, tuple(warnings))
