"""The `sxcloud` command line (spec/cli.md).

Each command lives in its own module under sxcloud.commands with `register(subparsers)`
and `run(args) -> int`. Exit status: 0 success, 1 a finding, 2 bad input (nothing written).
Results go to stdout; progress, warnings and errors to stderr. `main` is the one place that
turns every exception into an exit status: an exception never means 1 (a finding), and no
traceback reaches the user unless SXCLOUD_DEBUG is set.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

from . import __version__, escape
from .errors import InputError

COMMANDS = ("synth", "plan", "verify", "review", "catalog", "schema", "audit", "adopt")

#: Set to print the traceback of an internal error (a bug) as well.
DEBUG_ENV = "SXCLOUD_DEBUG"

#: Write errors that are the disk's, not sxcloud's (a full disk, a quota, a size limit).
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

_PACKAGE = Path(__file__).resolve().parent

DESCRIPTION = """\
Turn the SX-MailCrypt vendor firewall table into AWS security groups and Azure NSGs.

A deployment file (sxcloud.yaml) says which of the vendor's rules apply and where each role
lives; sxcloud emits exactly those flows as CDK-for-Terraform stacks, one per cloud.
Commands that read deployment files take one or more paths; without any they read
./sxcloud.yaml, or else the built-in example (named on stderr).
"""

EPILOG = """\
exit status: 0 success, 1 a finding (drift, a verification mismatch), 2 bad input
(nothing is written), output that could not be written, or an internal error (a bug;
SXCLOUD_DEBUG=1 prints its traceback). Run 'sxcloud COMMAND --help' for a command's options.
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
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe or a full disk shows here, not at the exit
        return code
    except InputError as error:
        for line in error.lines():
            _error(line)
        return 2
    except KeyboardInterrupt:
        _error("interrupted", prefix="sxcloud: ")
        return 130
    except BrokenPipeError:
        _stdout_to_devnull()
        _error(f"{args.command}: the output was closed before all of it was written")
        return 2
    except OSError as error:
        if error.errno not in _NO_SPACE:
            return _internal(args.command, error)
        _stdout_to_devnull()
        _error(f"{args.command}: cannot write the output: {os.strerror(error.errno)}")
        return 2
    except Exception as error:  # a bug: one line, never a traceback that may hold input
        return _internal(args.command, error)


def _internal(command: str, error: BaseException) -> int:
    """Exit 2 for an unexpected exception, with one line naming the command and where in
    sxcloud it happened. The exception's text is left out: it may quote input or a secret."""
    if os.environ.get(DEBUG_ENV):
        traceback.print_exception(error)
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if Path(f.filename).resolve().is_relative_to(_PACKAGE)]
    where = (f" at {Path(frames[-1].filename).resolve().relative_to(_PACKAGE.parent)}:"
             f"{frames[-1].lineno}" if frames else "")
    _error(f"{command}: internal error ({type(error).__name__}{where}); this is a bug in "
           f"sxcloud, please report it with the command that caused it ({DEBUG_ENV}=1 "
           "prints the traceback)")
    return 2


def _error(message: str, prefix: str = "sxcloud: error: ") -> None:
    try:
        print(prefix + escape.terminal(message), file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr is gone too; the exit status still tells


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what is still
    buffered neither fails again nor prints "Exception ignored" at the exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
