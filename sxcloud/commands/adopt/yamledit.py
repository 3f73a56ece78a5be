"""Writing an adoption into a deployment file in place, for every cloud (`adopt ... --write`).

Cloud-neutral, shared by `sxcloud adopt aws` and `sxcloud adopt azure`:

- `edited(path, cloud, adopt, exceptions)` returns the file's new text: `<cloud>.adopt` set
  (replaced if present, else added as the last key of the cloud section) and the draft
  `exceptions` appended (the list is created as the file's last key if absent). Everything
  else stays as the user wrote it: comments, key order, quotes, flow lists, and the
  indentation of the file (detected; ruamel.yaml round-trip).
- `check_target(path)` refuses, before anything is read from a cloud, a FILE that
  `replace` would not write safely: a symbolic link (the edit would land elsewhere or
  replace the link by a file), not a regular file, or not writable.
- `replace(path, text)` writes a temporary file in the same folder and moves it over the
  file (or to a new file's place) with os.replace, so that a reader sees the old file or the new one, never half.

The caller parses the new text with sxcloud's own loader before it writes it (nothing that
sxcloud would refuse is written).
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Any

from ...errors import InputError

#: How the written entries' short lists look: on one line, as the spec's examples write them.
_FLOW_KEYS = ("ports", "cidrs", "clouds", "security_group_ids", "prefix_list_ids",
              "application_security_group_ids", "service_tags")


def check_target(path: Path) -> None:
    """Refuse a FILE that --write cannot replace safely (InputError, exit 2)."""
    if path.is_symlink():
        raise InputError.one(path, "--write", "is a symbolic link; sxcloud writes only the "
                             "file itself: name the file the link points to")
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise InputError.one(path, "--write", f"cannot be read: {os.strerror(error.errno or 0)}")
    if not stat.S_ISREG(mode):
        raise InputError.one(path, "--write", "is not a regular file")
    if not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise InputError.one(path, "--write", "is read-only; make it writable, or drop --write "
                             "and add the printed entries yourself")
    if not os.access(path.parent, os.W_OK):
        raise InputError.one(path, "--write", "its folder is not writable, so it cannot be "
                             "replaced atomically")


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML  # only --write and the printed snippet need it

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's long lines
    mapping, sequence, offset = _indentation(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _indentation(text: str) -> tuple[int, int, int]:
    """The file's mapping indent, and its block lists' indent and dash offset (ruamel's
    terms), from the first nested key and the first block list; ruamel's defaults else."""
    mapping, offset = 2, 0
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if indent and not line.lstrip().startswith("- "):
            mapping = indent
            break
    for before, line in zip(lines, lines[1:]):
        key = re.match(r"^( *)[^ -][^:]*:\s*$", before)
        dash = re.match(r"^( *)- ", line)
        if key and dash:
            offset = max(0, len(dash.group(1)) - len(key.group(1)))
            break
    return mapping, offset + 2, offset


def _node(value: Any, key: str = "") -> Any:
    """Plain data as ruamel nodes, the short lists of an exception written on one line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _node(v, k)
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_node(v) for v in value)
        if key in _FLOW_KEYS:
            seq.fa.set_flow_style()
        return seq
    return value


def edited(path: Path, cloud: str, adopt: dict[str, Any], exceptions: list[dict[str, Any]]) -> str:
    """The text of `path` with `<cloud>.adopt` set and `exceptions` appended."""
    text = path.read_text(encoding="utf-8")
    yaml = _yaml(text)
    document = yaml.load(text)
    section = document[cloud]
    section["adopt"] = _node(adopt)
    if exceptions:
        if document.get("exceptions") is None:
            document["exceptions"] = _node([])
        for entry in exceptions:
            document["exceptions"].append(_node(entry))
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically: a temporary file beside it, then os.replace. A
    file keeps its permission bits; a new one gets 0644 (generated files, imports.tf)."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def snippet(cloud: str, adopt: dict[str, Any], exceptions: list[dict[str, Any]]) -> str:
    """The entries to add, as YAML for people to paste (what --write would add)."""
    document: dict[str, Any] = {cloud: {"adopt": adopt}}
    if exceptions:
        document["exceptions"] = exceptions
    yaml = _yaml("")
    out = io.StringIO()
    yaml.dump(_node(document), out)
    return out.getvalue()
