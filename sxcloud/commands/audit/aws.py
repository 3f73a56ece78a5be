"""`sxcloud audit aws FILE`: the live security group of a deployment against its file.

The audit itself is sxcloud.aws.audit; this module is the command around it: options,
which endpoint may receive the caller's credentials (sxcloud.commands.audit.trust), the
client, and the report as a table or JSON. Exit status: 0 no drift, 1 drift, 2 bad
input or no such group.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

from ... import escape, tables
from ...aws import drift as drift_
from ...aws import live
from ...aws.audit import Audit, audit
from ...aws.plan import SELF, SgRule
from ...config import load
from ...errors import InputError
from ..common import add_json, print_json, print_text, progress, resolve, warn
from . import trust

T = TypeVar("T")

GROUP_ID = re.compile(r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "aws", help="audit the live AWS security group of a deployment",
        description="Find the deployment's security group by its tag sxcloud:deployment=NAME "
                    "in aws.vpc_id (or take --group-id), read its rules with "
                    "DescribeSecurityGroupRules, and list the rules that are missing, "
                    "unexpected, or changed (same permission, other description) against "
                    "the rules the file intends. Only Describe calls are made. Credentials "
                    "come from the standard AWS chain (environment, shared files, --profile, "
                    "instance role).")
    parser.add_argument("file", nargs="?", type=Path, metavar="FILE",
                        help="deployment file (default: ./sxcloud.yaml, or else the built-in "
                             "example)")
    add_connection(parser)
    parser.add_argument("--group-id", metavar="SG",
                        help="audit this group instead of the one found by tag")
    add_json(parser)
    return parser


def add_connection(parser: argparse.ArgumentParser) -> None:
    """The options that say where and as whom to read EC2 (audit aws, adopt aws)."""
    parser.add_argument("--region", help="AWS region (default: the file's aws.region)")
    parser.add_argument("--profile", help="named profile from the AWS config files")
    parser.add_argument("--endpoint-url", metavar="URL",
                        help="EC2 endpoint (default: AWS's, or the file's aws.endpoints.ec2 "
                             "with --use-file-endpoints); plain http only to this machine")
    parser.add_argument("--use-file-endpoints", action="store_true",
                        help="send the requests, signed with your credentials, to the file's "
                             "aws.endpoints.ec2 (LocalStack, moto); without this flag the "
                             "file's endpoints are ignored")
    parser.add_argument("--timeout", type=float, default=live.TIMEOUT, metavar="SECONDS",
                        help=f"wait at most this long to connect and for each answer; each "
                             f"request is tried {live.ATTEMPTS} times (default: "
                             f"{live.TIMEOUT:g})")


def run(args: argparse.Namespace) -> int:
    path = resolve([args.file] if args.file else [])[0]
    deployment = load(path)
    if deployment.aws is None:
        raise InputError.one(path, "aws", "is not in this file, so there is no AWS security "
                             "group to audit")
    if args.group_id and not GROUP_ID.match(args.group_id):
        raise InputError.one(path, "--group-id", f"'{escape.excerpt(args.group_id)}' is not a "
                             "security group id (sg- and 8 or 17 hex digits)")
    trust.check_timeout(args.timeout, path)
    region = args.region or deployment.aws.region
    endpoint = ec2_endpoint(args, path, deployment.aws.endpoints.get("ec2"))
    progress(f"auditing {deployment.name} in {region}"
             + (f" through {escape.excerpt(endpoint)}" if endpoint else "") + " ...")
    result = read_live(args, path, region, endpoint,
                       lambda client: audit(client, deployment, args.group_id))
    warn(list(result.warnings))
    if args.json:
        print_json(audit_data(result, region))
    else:
        print_text(audit_text(result, region))
    return 1 if result.drift.found else 0


def read_live(args: argparse.Namespace, path: Path, region: str, endpoint: str | None,
              read: Callable[[Any], T]) -> T:
    """`read(client)` with a fenced EC2 client (Describe calls only) of the caller's
    credentials; a LookupProblem becomes an InputError naming the option to change, with
    the credentials taken out of its message."""
    session = None
    try:
        session = live.session(region, args.profile)
        client = live.client(session, endpoint_url=endpoint, timeout=args.timeout)
        return read(client)
    except live.LookupProblem as problem:
        secrets = live.secrets(session) if session is not None else []
        message = escape.excerpt(trust.redact(str(problem), secrets), trust.MESSAGE_MAX)
        raise InputError.one(path, problem.option or "aws", message) from None


def ec2_endpoint(args: argparse.Namespace, path: Path, in_file: str | None) -> str | None:
    """The EC2 endpoint to send credentials to: --endpoint-url, the file's only when asked
    (--use-file-endpoints), else None (AWS's own, from the region and the AWS config)."""
    if args.endpoint_url:
        given, key = args.endpoint_url, "--endpoint-url"
    elif in_file and args.use_file_endpoints:
        given, key = in_file, "aws.endpoints.ec2"
    else:
        if in_file:
            warn([f"{path}: aws.endpoints.ec2 is not used: the audit sends your credentials "
                  "to a file's endpoint only with --use-file-endpoints"])
        return None
    endpoint = trust.parse(given, path, key, ("http", "https"))
    refused = trust.plain_http_refused(endpoint)
    if refused:
        raise InputError.one(path, key, f"'{escape.excerpt(given)}' {refused}")
    return endpoint.url


def _peer(kind: str, value: str, group_id: str) -> str:
    return "this group" if kind == drift_.SECURITY_GROUP and value == group_id else value


def _intended_fields(rule: SgRule, group_id: str) -> dict[str, Any]:
    p = drift_.intended_permission(rule, group_id)
    e = rule.exception  # a site exception's rule names it, and has no vendor row or role
    return {"key": rule.key, "rule_id": rule.flow.origin, "direction": p.direction,
            "protocol": p.protocol, "from_port": p.from_port, "to_port": p.to_port,
            "peer_kind": p.peer_kind, "peer": p.peer, "self": rule.peer.value == SELF,
            "role": None if e else rule.flow.peer, "exception": e.id if e else None,
            "description": rule.description}


def _live_fields(rule: drift_.LiveRule) -> dict[str, Any]:
    p = rule.permission
    return {"security_group_rule_id": rule.rule_id, "direction": p.direction,
            "protocol": p.protocol, "from_port": p.from_port, "to_port": p.to_port,
            "peer_kind": p.peer_kind, "peer": p.peer, "description": rule.description}


def audit_data(result: Audit, region: str) -> dict[str, Any]:
    """The audit as JSON-ready data (the `--json` output)."""
    d, g = result.drift, result.group
    return {
        "deployment": result.deployment.name, "file": str(result.deployment.path),
        "region": region,
        "group": {"id": g.id, "name": g.name, "vpc_id": g.vpc_id},
        "intended": d.intended, "live": d.live, "drift": d.found,
        "missing": [_intended_fields(r, g.id) for r in d.missing],
        "unexpected": [_live_fields(r) for r in d.unexpected],
        "changed": [{**_intended_fields(c.rule, g.id),
                     "security_group_rule_id": c.live.rule_id,
                     "changes": [{"field": f.field, "intended": f.intended, "live": f.live}
                                 for f in c.changes]} for c in d.changed],
        "expired": [{**_intended_fields(x.rule, g.id), "security_group_rule_id": x.live.rule_id,
                     "expires": str(x.rule.exception.expires) if x.rule.exception else None,
                     "days_left": x.status.days_left, "message": x.message}
                    for x in d.expired],
        "warnings": list(result.warnings),
    }


def audit_text(result: Audit, region: str) -> str:
    """The audit as a table for people."""
    d, g = result.drift, result.group
    head = (f"{result.deployment.name}: security group {g.id} ({g.name}) in {g.vpc_id}, "
            f"{region}\n{d.intended} rules intended, {d.live} live: ")
    if not d.found:
        return head + "no drift"
    head += (f"{len(d.missing)} missing, {len(d.unexpected)} unexpected, "
             f"{len(d.changed)} changed" + (f", {len(d.expired)} expired" if d.expired else "")
             + "\n\n")
    rows = []
    for rule in d.missing:
        p = drift_.intended_permission(rule, g.id)
        rows.append(("missing", p.direction, p.ports, _peer(p.peer_kind, p.peer, g.id),
                     rule.key, rule.description))
    for live_rule in d.unexpected:
        p = live_rule.permission
        rows.append(("unexpected", p.direction, p.ports, _peer(p.peer_kind, p.peer, g.id),
                     live_rule.rule_id, live_rule.description or "(no description)"))
    for change in d.changed:
        p = change.live.permission
        detail = "; ".join(f"{f.field}: live {f.live!r}, intended {f.intended!r}"
                           for f in change.changes)
        rows.append(("changed", p.direction, p.ports, _peer(p.peer_kind, p.peer, g.id),
                     f"{change.rule.key} ({change.live.rule_id})", detail))
    for x in d.expired:
        p = x.live.permission
        rows.append(("expired", p.direction, p.ports, _peer(p.peer_kind, p.peer, g.id),
                     f"{x.rule.key} ({x.live.rule_id})", x.message))
    return head + tables.render(("DRIFT", "DIRECTION", "PORTS", "PEER", "RULE", "DETAIL"),
                                rows)
