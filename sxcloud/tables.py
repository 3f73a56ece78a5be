"""Plain-text tables for the terminal. Every cell passes through `escape.terminal`: cells
hold values from input (CIDRs, ids, names), which must not drive the terminal."""

from __future__ import annotations

from typing import Sequence

from . import escape


def render(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[escape.terminal(c) for c in row] for row in (headers, *rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1]
        lines.append(indent + line.rstrip())
        if index == 0:
            lines.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(lines)
