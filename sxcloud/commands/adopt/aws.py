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

from ... import escape, yamlfile
from ...aws import adopt as adopt_
from ...aws import drift as drift_
from ...aws import live
from ...config import load_text, parse
from ...errors import InputError
from ...exceptions import PREFIX, today
from ...aws.plan import plan
from ..audit import trust
from ..audit.aws import GROUP_ID, add_connection, ec2_endpoint, read_live
from ..common import add_json, print_json, print_text, progress, warn
from . import report, yamledit

#: The file of import blocks written beside FILE for the modules path (--module-address).
IMPORTS_FILE = "imports.tf"


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
    parser.add_argument("--module-address", metavar="module.NAME",
                        help="the root calls modules/aws-appliance-sg at this address (the "
                             "Terraform-modules path): also print, or with --write write, "
                             "imports.tf beside FILE, whose import blocks hand the live group "
                             "and rules to the module's resources")
    parser.add_argument("--write", action="store_true",
                        help="add the entries to FILE in place (comments and key order kept; "
                             "replaced atomically)")
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    imports_tf = path.parent / IMPORTS_FILE
    if args.module_address and not adopt_.MODULE_ADDRESS.match(args.module_address):
        raise InputError.one(path, "--module-address", f"'{escape.excerpt(args.module_address)}' "
                             "is not a module call's address such as module.appliance_firewall")
    if args.write:
        yamledit.check_target(path)
        if args.module_address and (imports_tf.exists() or imports_tf.is_symlink()):
            yamledit.check_target(imports_tf)
    data = yamlfile.read(path)
    deployment = parse(data, path)
    if deployment.aws is None:
        raise InputError.one(path, "aws", "is not in this file, so there is no security group "
                             "to adopt into it")
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
    text = yamledit.edited(path, "aws", adoption.adopt, list(adoption.exceptions)) \
        if args.write else None
    module = adopt_.module_imports(adoption.plan, args.module_address) \
        if args.module_address else None
    if text is not None:
        _check(text, path, adoption)
        yamledit.replace(path, text)
        if module is not None:
            yamledit.replace(imports_tf, module)
    result = _report(adoption, path, written=text is not None)
    warn(list(result.warnings))
    if args.json:
        print_json({**report.data(result), **({"imports_tf": module} if module else {})})
    else:
        print_text(report.text(result))
        if module is not None:
            print_text(f"\n{'written to' if text is not None else 'the root needs'} "
                       f"{imports_tf}" + ("" if text is not None else f":\n\n{module}"))
    return 0


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
