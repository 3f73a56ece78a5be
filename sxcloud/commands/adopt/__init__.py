"""`sxcloud adopt CLOUD FILE`: take over a hand-made security group or NSG in place.

Each cloud's command, `sxcloud.commands.adopt.<cloud>`, provides `register(subparsers)` and
`run(args) -> int`, as the audit's do (commands.common.add_cloud_group); the mapping of live rules lives in `sxcloud.<cloud>`
and imports its cloud SDK only when it runs. What every cloud shares:

- `report`: the `Report` a cloud builds (one `Row` per live rule and per rule to be
  created), printed as a table (`text`) or JSON (`data`), with the YAML to add;
- `yamledit`: `check_target` (refuse a FILE --write cannot replace), `edited` (the file's
  text with `<cloud>.adopt` set and the draft exceptions appended, comments and order kept)
  and `replace` (atomic);
- `add_module_address` / `module_imports_path`: the modules path, whose imports.tf (written by
  sxcloud.moduleimports from the cloud's blocks) `conclude` writes beside FILE.

A cloud's `run` reads the live objects, builds the Report, parses the edited text with
sxcloud's loader (so nothing it would refuse is written) and, with --write, replaces FILE.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from ... import escape, yamlfile
from ...config import Deployment, parse
from ...errors import InputError
from ...moduleimports import MODULE_ADDRESS
from ..common import add_cloud_group, add_json, print_json, print_text, run_cloud, warn
from . import report, yamledit

#: The clouds with an adopt command (a module of this package each).
CLOUDS: tuple[str, ...] = ("aws", "azure")

#: The file of import blocks written beside FILE for the modules path (--module-address).
IMPORTS_FILE = "imports.tf"


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    return add_cloud_group(
        sub, "adopt", __name__, CLOUDS,
        help="take over a hand-made security group or NSG in place",
        description="Read a hand-made live firewall (read-only) and map each of its rules to "
                    "the sxcloud rule that takes it over, or to a draft site exception when "
                    "the vendor table has no such flow; list the rules to be created. Prints "
                    "the entries to add to the deployment file; --write adds them in place. "
                    "Exit 0; 2 on bad input or a firewall that cannot be read.")


def run(args: argparse.Namespace) -> int:
    return run_cloud(__name__, args)


def add_output(parser: argparse.ArgumentParser) -> None:
    """--write and --json, as every cloud's adopt command takes them."""
    parser.add_argument("--write", action="store_true",
                        help="add the entries to FILE in place (comments and key order kept; "
                             "replaced atomically)")
    add_json(parser)


def add_module_address(parser: argparse.ArgumentParser, module: str, what: str) -> None:
    """--module-address: the root calls `module` (a folder of modules/) at that address."""
    parser.add_argument("--module-address", metavar="module.NAME",
                        help=f"the root calls modules/{module} at this address (the "
                             "Terraform-modules path): also print, or with --write write, "
                             f"{IMPORTS_FILE} beside FILE, whose import blocks hand the live "
                             f"{what} to the module's resources")


def module_imports_path(args: argparse.Namespace) -> Path | None:
    """Where --module-address writes imports.tf (None without it), after checking the
    address and, with --write, that the file can be replaced: before any request."""
    if not args.module_address:
        return None
    path: Path = args.file
    if not MODULE_ADDRESS.match(args.module_address):
        raise InputError.one(path, "--module-address", f"'{escape.excerpt(args.module_address)}' "
                             "is not a module call's address such as module.appliance_firewall")
    imports_tf = path.parent / IMPORTS_FILE
    if args.write and (imports_tf.exists() or imports_tf.is_symlink()):
        yamledit.check_target(imports_tf)
    return imports_tf


def read_file(args: argparse.Namespace, cloud: str) -> tuple[Any, Deployment]:
    """FILE's data (as sxcloud.yamlfile reads it) and its Deployment, which must have the
    `cloud` section; with --write, FILE is first checked to be replaceable (before any
    request to a cloud)."""
    path: Path = args.file
    if args.write:
        yamledit.check_target(path)
    data = yamlfile.read(path)
    deployment = parse(data, path)
    if deployment.targets.get(cloud) is None:
        what = "security group" if cloud == "aws" else "NSG"
        raise InputError.one(path, cloud, f"is not in this file, so there is no {what} to "
                             "adopt into it; add the section first")
    return data, deployment


def conclude(args: argparse.Namespace, adopt: dict[str, Any], exceptions: list[dict[str, Any]],
             check: Callable[[str], None], build: Callable[[bool], report.Report],
             module: tuple[Path, str] | None = None) -> int:
    """With --write, FILE edited (`<cloud>.adopt` set, `exceptions` appended), read back by
    `check(text)` and replaced atomically, and `module`'s imports.tf (path, text) written;
    then the report `build(written)` printed, as a table or JSON (imports.tf after it).
    Exit 0."""
    text = yamledit.edited(args.file, args.cloud, adopt, exceptions) if args.write else None
    if text is not None:
        check(text)
        yamledit.replace(args.file, text)
        if module is not None:
            yamledit.replace(*module)
    result = build(text is not None)
    warn(list(result.warnings))
    if args.json:
        print_json({**report.data(result), **({"imports_tf": module[1]} if module else {})})
    else:
        print_text(report.text(result))
        if module is not None:
            print_text(f"\n{'written to' if text is not None else 'the root needs'} "
                       f"{module[0]}" + ("" if text is not None else f":\n\n{module[1]}"))
    return 0
