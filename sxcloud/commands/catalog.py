"""`sxcloud catalog`: the vendor table as sxcloud holds it."""

from __future__ import annotations

import argparse

from .. import render
from .common import add_json, print_json


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "catalog", help="print the vendor firewall table (R01-R17) as sxcloud holds it",
        description="Print the vendor's firewall table as sxcloud holds it: id, ports, "
                    "source and target role, flags (* optional, ** dropped in a simple "
                    "installation), the option that enables the row, and why it exists.")
    add_json(parser)
    parser.add_argument("--markdown", action="store_true",
                        help="print which cloud exposure each row needs, as a Markdown table "
                             "(the one in the README)")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(render.catalog_markdown())
    elif args.json:
        print_json({"rows": render.catalog_rows()})
    else:
        print(render.catalog_text())
    return 0
