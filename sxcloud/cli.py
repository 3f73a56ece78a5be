"""The `sxcloud` command line (spec/cli.md).

Each command lives in its own module under sxcloud.commands with `register(subparsers)`
and `run(args) -> int`. Exit status: 0 success, 1 a finding, 2 bad input (nothing written).
Results go to stdout; progress, warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import InputError

COMMANDS = ("synth", "plan", "verify", "review", "catalog", "schema", "audit")

DESCRIPTION = """\
Turn the SX-MailCrypt vendor firewall table into AWS security groups and Azure NSGs.

A deployment file (sxcloud.yaml) says which of the vendor's rules apply and where each role
lives; sxcloud emits exactly those flows as CDK-for-Terraform stacks, one per cloud.
Commands that read deployment files take one or more paths; without any they read
./sxcloud.yaml, or else the built-in example (named on stderr).
"""

EPILOG = """\
exit status: 0 success, 1 a finding (drift, a verification mismatch), 2 bad input
(nothing is written). Run 'sxcloud COMMAND --help' for a command's options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sxcloud", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sxcloud {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        command = module.register(sub)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        for line in error.lines():
            print(f"sxcloud: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sxcloud: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
