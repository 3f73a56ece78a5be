"""The output folder of `sxcloud synth`: a folder sxcloud owns, replaced as a whole.

sxcloud replaces its output folder, so it must never take one that holds anything else:
`--out .` or `--out ~`, or a committed symlink `cdktf.out -> ..`, would otherwise delete a
checkout or a home folder. The rules (README, "synth --out"):

- `--out` is never a symbolic link, and no link is followed in its last name;
- the folder replaced does not exist, is empty, or holds sxcloud's marker: the
  `manifest.json` sxcloud writes, with the key `sxcloud`;
- never `/`, the home folder, the working folder or one of its ancestors, nor a folder that
  holds an input file;
- a refusal is an InputError (exit 2), and nothing is created: missing parent folders are
  made only when synthesis starts, and removed again if it fails.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from . import __version__
from .errors import InputError
from .escape import excerpt

MANIFEST = "manifest.json"
#: The key sxcloud adds to the CDK's manifest.json: what makes a folder sxcloud's own.
MARKER = "sxcloud"

_KEY = "--out"
_MANIFEST_LIMIT = 1 << 20  # bytes; a manifest is a few hundred


def check(out: Path, inputs: Iterable[Path] = ()) -> Path:
    """The absolute folder `out` names, if sxcloud may replace it; else an InputError.

    Creates nothing. `inputs` are the files the command reads (their folders are refused).
    """
    def refuse(message: str) -> InputError:
        return InputError.one(excerpt(out, 80), _KEY, message)

    text = os.fspath(out)
    if "\0" in text:
        raise refuse("holds a NUL character")
    absolute = Path(os.path.abspath(text))
    _check_names(absolute, refuse)
    try:
        mode = os.lstat(text).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise refuse(_reason(error)) from None
    if mode is not None and stat.S_ISLNK(mode):
        raise refuse("is a symbolic link; sxcloud never writes its output through one")
    if mode is not None and not stat.S_ISDIR(mode):
        raise refuse("exists and is not a folder")
    target = Path(os.path.realpath(text))  # the last name is no link: this resolves its parents
    _check_place(target, inputs, refuse)
    if mode is None:
        _check_parents(target, refuse)
    elif not owned(target):
        raise refuse(f"is not empty and holds no {MANIFEST} written by sxcloud synth; "
                     "remove it or name another folder")
    return target


def owned(folder: Path) -> bool:
    """True if `folder` is empty or holds sxcloud's marker (links are not followed)."""
    try:
        if not any(os.scandir(folder)):
            return True
        manifest = folder / MANIFEST
        if not stat.S_ISREG(os.lstat(manifest).st_mode):
            return False
        with open(manifest, "rb") as f:
            data = json.loads(f.read(_MANIFEST_LIMIT + 1)[:_MANIFEST_LIMIT])
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get(MARKER), dict)


def replace(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(staging)` to fill a new folder beside `target`, mark it as sxcloud's, and
    put it in place of `target` in one rename. On any failure, everything this created
    (staging folder, missing parents) is removed and `target` is left as it was."""
    target = Path(os.path.abspath(target))
    if os.path.lexists(target) and (os.path.islink(target) or not owned(target)):
        raise InputError.one(target, _KEY, "is not a folder sxcloud synth wrote; not replaced")
    created: list[Path] = []
    staging: Path | None = None
    try:
        try:
            for parent in reversed([p for p in target.parents if not os.path.lexists(p)]):
                os.mkdir(parent)
                created.append(parent)
            staging = Path(tempfile.mkdtemp(prefix=".sxcloud-synth-", dir=target.parent))
        except OSError as error:
            raise InputError.one(target, _KEY, f"cannot be created: {_reason(error)}") from None
        write(staging)
        _mark(staging)
        if os.path.lexists(target):
            old = staging.with_name(staging.name + ".old")
            os.replace(target, old)
            os.replace(staging, target)
            shutil.rmtree(old)
        else:
            os.replace(staging, target)
        staging = None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for folder in reversed(created):
            try:
                os.rmdir(folder)
            except OSError:
                break
        raise


def _mark(folder: Path) -> None:
    """Add sxcloud's marker to the manifest the CDK wrote."""
    path = folder / MANIFEST
    data = json.loads(path.read_text())
    data[MARKER] = {"version": __version__}
    path.write_text(json.dumps(data, indent=2) + "\n")


def _check_names(path: Path, refuse: Callable[[str], InputError]) -> None:
    existing = next((p for p in (path, *path.parents) if os.path.isdir(p)), Path("/"))
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if max(len(os.fsencode(part)) for part in path.parts) > name_max:
        raise refuse(f"a name in the path is longer than {name_max} bytes")


def _check_place(target: Path, inputs: Iterable[Path],
                 refuse: Callable[[str], InputError]) -> None:
    cwd = Path.cwd().resolve()
    if target == Path(target.anchor):
        raise refuse("is the root folder")
    if target == Path.home().resolve():
        raise refuse("is the home folder")
    if target == cwd:
        raise refuse("is the working folder")
    if target in cwd.parents:
        raise refuse("holds the working folder")
    for path in inputs:
        for candidate in {Path(os.path.abspath(path)), Path(os.path.realpath(path))}:
            if target in candidate.parents:
                raise refuse(f"holds the input file {path}")


def _check_parents(target: Path, refuse: Callable[[str], InputError]) -> None:
    """The nearest existing ancestor must be a folder (not /dev/null, not a file)."""
    for parent in target.parents:
        if os.path.lexists(parent):
            if not os.path.isdir(parent):
                raise refuse(f"lies below {parent}, which is not a folder")
            return


def _reason(error: OSError) -> str:
    if error.errno == errno.ENOTDIR:
        return "lies below something that is not a folder"
    if error.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return error.strerror or type(error).__name__
