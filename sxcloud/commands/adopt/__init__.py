"""`sxcloud adopt CLOUD FILE`: take over a hand-made security group or NSG in place.

Each cloud's command, `sxcloud.commands.adopt.<cloud>`, provides `register(subparsers)` and
`run(args) -> int`, as the audit's do; the mapping of live rules lives in `sxcloud.<cloud>`
and imports its cloud SDK only when it runs. What every cloud shares:

- `report`: the `Report` a cloud builds (one `Row` per live rule and per rule to be
  created), printed as a table (`text`) or JSON (`data`), with the YAML to add;
- `yamledit`: `check_target` (refuse a FILE --write cannot replace), `edited` (the file's
  text with `<cloud>.adopt` set and the draft exceptions appended, comments and order kept)
  and `replace` (atomic).

A cloud's `run` reads the live objects, builds the Report, parses the edited text with
sxcloud's loader (so nothing it would refuse is written) and, with --write, replaces FILE.
"""

from __future__ import annotations

import argparse
import importlib

#: The clouds with an adopt command (a module of this package each).
CLOUDS: tuple[str, ...] = ("aws", "azure")


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "adopt", help="take over a hand-made security group or NSG in place",
        description="Read a hand-made live firewall (read-only) and map each of its rules to "
                    "the sxcloud rule that takes it over, or to a draft site exception when "
                    "the vendor table has no such flow; list the rules to be created. Prints "
                    "the entries to add to the deployment file; --write adds them in place. "
                    "Exit 0; 2 on bad input or a firewall that cannot be read.")
    clouds = parser.add_subparsers(dest="cloud", metavar="CLOUD", required=True)
    for cloud in CLOUDS:
        importlib.import_module(f"{__name__}.{cloud}").register(clouds)
    return parser


def run(args: argparse.Namespace) -> int:
    return importlib.import_module(f"{__name__}.{args.cloud}").run(args)
