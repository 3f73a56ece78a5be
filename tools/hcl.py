"""Python data -> HCL expressions, laid out the way `terraform fmt` leaves them."""

from __future__ import annotations

import re
from typing import Any

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def string(text: str) -> str:
    """An HCL quoted string: `"`, `\\`, line breaks and tabs escaped, every other control or
    non-ASCII character as \\uXXXX (\\UXXXXXXXX beyond U+FFFF; HCL has no \\b or \\f, nor
    JSON's surrogate pairs), and template sequences (`${`, `%{`) doubled so that they stay
    literal."""
    out = "".join(_ESCAPES.get(c) or (c if " " <= c <= "~" else
                                      f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
                  for c in text)
    return '"' + out.replace("${", "$${").replace("%{", "%%{") + '"'


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def key(name: str) -> str:
    return name if _IDENTIFIER.match(name) else string(name)


def value(data: Any, indent: int = 0, inline: bool = False) -> str:
    """An HCL expression for `data`: objects one attribute a line (unless `inline`), lists of
    scalars or flat objects on one line, other lists one element a line."""
    if data is None:
        return "null"
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, int):
        return str(data)
    if isinstance(data, str):
        return string(data)
    pad = "  " * (indent + 1)
    if isinstance(data, (list, tuple)):
        if not data:
            return "[]"
        if all(_flat(v) for v in data) or inline:
            return "[" + ", ".join(value(v, indent, inline=True) for v in data) + "]"
        items = [f"{pad}{value(v, indent + 1)}," for v in data]
        return "[\n" + "\n".join(items) + "\n" + "  " * indent + "]"
    if isinstance(data, dict):
        if not data:
            return "{}"
        if inline:
            return "{ " + ", ".join(f"{key(k)} = {value(v, indent, inline=True)}"
                                    for k, v in data.items()) + " }"
        lines = [(key(k), value(v, indent + 1)) for k, v in data.items()]
        return "{\n" + "\n".join(_aligned(lines, pad)) + "\n" + "  " * indent + "}"
    raise TypeError(f"no HCL for {type(data).__name__}")


def _flat(data: Any) -> bool:
    """A scalar, or a mapping of scalars (written on one line)."""
    if isinstance(data, dict):
        return all(not isinstance(v, (dict, list, tuple)) for v in data.values())
    return not isinstance(data, (list, tuple))


def _aligned(lines: list[tuple[str, str]], pad: str) -> list[str]:
    """`name = value` lines with '=' aligned within each run of single-line values, as fmt does."""
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        out.extend(f"{pad}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for k, v in lines:
        if "\n" in v:  # a multi-line value stands apart from the runs around it
            flush()
            out.append(f"{pad}{k} = {v}")
        else:
            run.append((k, v))
    flush()
    return out
