"""`sxcloud audit CLOUD FILE`: live rules against the rules the deployment intends (read-only).

Each cloud's command, `sxcloud.commands.audit.<cloud>`, provides `register(subparsers)` and
`run(args) -> int`; the audit itself lives in `sxcloud.<cloud>` and imports its cloud SDK
only when it runs.
"""

from __future__ import annotations

import argparse
import importlib

CLOUDS: tuple[str, ...] = ("aws", "azure")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "audit", help="compare a deployment's live firewall with what its file intends",
        description="Read the live security group (aws) or NSG (azure) of a deployment and "
                    "report drift from the rules its file intends: missing, unexpected and "
                    "changed rules. Read-only. Exit 1 on drift, 2 on bad input or when the "
                    "firewall cannot be found.")
    clouds = parser.add_subparsers(dest="cloud", metavar="CLOUD", required=True)
    for cloud in CLOUDS:
        importlib.import_module(f"{__name__}.{cloud}").register(clouds)
    return parser


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(f"{__name__}.{args.cloud}").run(args)
