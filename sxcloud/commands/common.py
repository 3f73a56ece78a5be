"""What several commands share: the deployment-file arguments, warnings, JSON output."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from .. import escape
from ..config import Deployment, builtin_example, load_all

DEFAULT_FILE = Path("sxcloud.yaml")


def add_files(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="*", type=Path, metavar="FILE",
        help="deployment files (default: ./sxcloud.yaml, or else the built-in example)")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON on stdout instead of tables")


def resolve(files: list[Path]) -> list[Path]:
    """The files to read: those named, ./sxcloud.yaml, or the built-in example (said on stderr)."""
    if files:
        return files
    if DEFAULT_FILE.exists():
        return [DEFAULT_FILE]
    example = builtin_example()
    progress(f"no sxcloud.yaml here; using the built-in example {example}")
    return [example]


def load(files: list[Path]) -> list[Deployment]:
    return load_all(resolve(files))


def progress(message: str) -> None:
    """A progress line on stderr; input in it (paths, names) cannot drive the terminal."""
    print(f"sxcloud: {escape.terminal(message)}", file=sys.stderr, flush=True)


def warn(messages: list[str]) -> None:
    """One warning line each on stderr, terminal-safe."""
    for message in messages:
        print(f"sxcloud: warning: {escape.terminal(message)}", file=sys.stderr)


def print_text(text: str) -> None:
    """A human-readable result on stdout, each line terminal-safe: values from plans, state
    and live clouds (rule names, descriptions, group names) may hold anything."""
    print("\n".join(escape.terminal(line) for line in text.split("\n")))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2)
    sys.stdout.write("\n")


def add_cloud_group(sub: argparse._SubParsersAction, name: str, package: str,
                    clouds: tuple[str, ...], **options: str) -> argparse.ArgumentParser:
    """A command with one subcommand per cloud (audit, adopt): `package.<cloud>` provides
    `register(subparsers)` and `run(args)`; `options` are the command's help texts."""
    parser = sub.add_parser(name, **options)
    under = parser.add_subparsers(dest="cloud", metavar="CLOUD", required=True)
    for cloud in clouds:
        importlib.import_module(f"{package}.{cloud}").register(under)
    return parser


def run_cloud(package: str, args: argparse.Namespace) -> int:
    """Run the subcommand of the cloud a command line chose (see add_cloud_group)."""
    return importlib.import_module(f"{package}.{args.cloud}").run(args)
