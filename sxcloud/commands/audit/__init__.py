"""`sxcloud audit CLOUD FILE`: live rules against the rules the deployment intends (read-only).

Each cloud's command, `sxcloud.commands.audit.<cloud>`, provides `register(subparsers)` and
`run(args) -> int`; the audit itself lives in `sxcloud.<cloud>` and imports its cloud SDK
only when it runs.
"""

from __future__ import annotations

import argparse

from ..common import add_cloud_group, run_cloud

CLOUDS: tuple[str, ...] = ("aws", "azure")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return add_cloud_group(
        sub, "audit", __name__, CLOUDS,
        help="compare a deployment's live firewall with what its file intends",
        description="Read the live security group (aws) or NSG (azure) of a deployment and "
                    "report drift from the rules its file intends: missing, unexpected and "
                    "changed rules. Read-only. Exit 1 on drift, 2 on bad input or when the "
                    "firewall cannot be found.")


def run(args: argparse.Namespace) -> int:
    return run_cloud(__name__, args)
