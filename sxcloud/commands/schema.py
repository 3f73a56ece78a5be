"""`sxcloud schema`: the JSON Schema of the deployment file, for editors and CI."""

from __future__ import annotations

import argparse

from ..config import schema
from .common import print_json


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return sub.add_parser(
        "schema", help="print the JSON Schema of the deployment file",
        description="Print the JSON Schema of sxcloud.yaml (version 1). Point your editor's "
                    "YAML language server at it for completion and checks: "
                    "'# yaml-language-server: $schema=PATH' as the file's first line.")


def run(args: argparse.Namespace) -> int:
    print_json(schema())
    return 0
