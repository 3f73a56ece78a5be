"""`sxcloud adopt aws FILE --group-id ID`: take over a hand-made security group in place.

The mapping is sxcloud.aws.adopt; the reading is the audit's (sxcloud.aws.live through
sxcloud.commands.audit.aws: Describe calls only, the same rules for where credentials may
go). This module is the command around them: options, the report (commands.adopt.report)
and, with --write, the edit of FILE (commands.adopt.yamledit). Exit 0; 2 on bad input, a
group that cannot be read, or a FILE that cannot be written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ... import escape
from ...aws import adopt as adopt_
from ...aws import drift as drift_
from ...aws import live
from ...config import load_text
from ...errors import InputError
from ...exceptions import PREFIX, today
from ...aws.plan import plan
from ..audit import trust
from ..audit.aws import GROUP_ID, add_connection, ec2_endpoint, read_live
from ..common import progress
from . import add_module_address, add_output, conclude, module_imports_path, read_file, report

def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "aws", help="take over a hand-made AWS security group in place",
        description="Read the security group --group-id and its rules (DescribeSecurityGroups "
                    "and DescribeSecurityGroupRules only) and map each live rule: to the "
                    "planned sxcloud rule with the same direction, protocol, ports and peer "
                    "(a description difference is updated in place), or else to a draft site "
                    "exception with its real flow (AWS only, expiring in "
                    f"{adopt_.DRAFT_DAYS} days, owner {adopt_.DRAFT_OWNER}). Lists the planned "
                    "rules to be created. Prints the aws.adopt and exceptions entries to add; "
                    "--write adds them to FILE in place. Credentials come from the standard "
                    "AWS chain, as for `sxcloud audit aws`.")
    parser.add_argument("file", type=Path, metavar="FILE", help="the deployment file")
    parser.add_argument("--group-id", metavar="SG", required=True,
                        help="the hand-made security group to take over")
    add_connection(parser)
    add_module_address(parser, "aws-appliance-sg", "group and rules")
    add_output(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    imports_tf = module_imports_path(args)
    data, deployment = read_file(args, "aws")
    assert deployment.aws is not None  # read_file refuses a file without it
    if not GROUP_ID.match(args.group_id):
        raise InputError.one(path, "--group-id", f"'{escape.excerpt(args.group_id)}' is not a "
                             "security group id (sg- and 8 or 17 hex digits)")
    plan(deployment)  # refuse a file synth would refuse, before any AWS call
    trust.check_timeout(args.timeout, path)
    region = args.region or deployment.aws.region
    endpoint = ec2_endpoint(args, path, deployment.aws.endpoints.get("ec2"))
    progress(f"reading {args.group_id} in {region}"
             + (f" through {escape.excerpt(endpoint)}" if endpoint else "") + " ...")
    group, rules = read_live(args, path, region, endpoint, lambda c: _read(c, args.group_id))
    adoption = adopt_.adopt(data, path, group, rules, today())
    module = (imports_tf, adopt_.module_imports(adoption.plan, args.module_address)) \
        if imports_tf else None
    return conclude(args, adoption.adopt, list(adoption.exceptions),
                    lambda text: _check(text, path, adoption),
                    lambda written: _report(adoption, path, written=written), module)


def _read(client: Any, group_id: str) -> tuple[live.Group, list[drift_.LiveRule]]:
    group = live.get_group(client, group_id)
    try:
        rules = [drift_.live_rule(item) for item in live.read_rules(client, group.id)]
    except (KeyError, TypeError, ValueError) as error:  # an answer EC2 itself never gives
        raise live.LookupProblem(f"the EC2 endpoint returned a rule of {group.id} that cannot "
                                 f"be read ({type(error).__name__})") from None
    return group, rules


def _check(text: str, path: Path, adoption: adopt_.Adoption) -> None:
    """The edited file, read back by sxcloud's loader, plans the adoption it was given."""
    written = plan(load_text(text, path))
    if written.adoption is None or written.imports() != adoption.adopt["rules"] or \
            written.adoption.group_id != adoption.group.id:
        raise AssertionError("the edited file does not read back as the adoption")


def _peer(p: drift_.Permission, group_id: str) -> str:
    return "this group" if p.peer == group_id else p.peer


def _report(adoption: adopt_.Adoption, path: Path, written: bool) -> report.Report:
    group = adoption.group
    rows = []
    for taken in adoption.taken:
        p = taken.live.permission
        exception = taken.rule.exception
        note = "description updated in place" if taken.description_changes else ""
        if exception is not None:
            note = "; ".join(filter(None, (f"{PREFIX}{exception.id} until {exception.expires}",
                                           note)))
        rows.append(report.Row(report.DRAFT if taken.draft else report.TAKEN,
                               taken.live.rule_id, p.direction, p.ports, _peer(p, group.id),
                               taken.rule.key, note))
    for rule in adoption.to_create:
        p = drift_.intended_permission(rule, group.id)
        rows.append(report.Row(report.CREATE, "", p.direction, p.ports, _peer(p, group.id),
                               rule.key))
    warnings = [f"aws: {group.id} has {len(adoption.exceptions)} rules beyond the vendor table; "
                f"each is a draft exception until {adoption.exceptions[0]['expires']}: confirm "
                "it (owner, reason, ticket, expires) or remove it"] if adoption.exceptions else []
    return report.Report("aws", path, {"group": f"{group.id} ({group.name})"}, tuple(rows),
                         adoption.adopt, adoption.exceptions, written, tuple(warnings))
