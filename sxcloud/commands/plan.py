"""`sxcloud plan`: the rules each cloud will get, without the CDK."""

from __future__ import annotations

import argparse

from .. import render
from ..app import plan_all
from .common import add_files, add_json, load, print_json, print_text, warn


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "plan", help="show the rules each cloud will get (no CDK, no Node.js)",
        description="Show, per stack, the rules sxcloud will emit: direction, protocol/port, "
                    "peer, vendor rule id and rationale, with the use of each cloud's rule "
                    "quota. Warnings go to stderr. Starts no CDK and no Node.js.")
    add_files(parser)
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    planned = plan_all(load(args.files))
    warn(render.warnings(planned))
    if args.json:
        print_json({"deployments": render.plan_data(planned)})
    else:
        print_text(render.plan_text(planned))
    return 0
