"""The README's generated parts are current, and its code example runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT
from sxcloud import render

README = (ROOT / "README.md").read_text()


def _between(name: str) -> str:
    match = re.search(rf"<!-- begin {name}[^>]*-->\n(.*?)<!-- end {name} -->", README, re.S)
    assert match, f"README has no '{name}' section"
    return match.group(1)


def test_catalog_table_is_generated_from_the_catalog():
    assert _between("catalog").strip() == render.catalog_markdown()


def test_cdk_example_runs(tmp_path):
    code = re.search(r"```python\n(.*?)```", _between("cdk-example"), re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "CDKTF_OUTDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    stack = (tmp_path / "stacks" / "mail-gateway" / "cdk.tf.json").read_text()
    assert '"R04_in_tcp25_cidr_0-0-0-0_0"' in stack


def test_readme_commands():
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/sxcloud synth" in README
    assert "./scripts/test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci and ".venv/bin/sxcloud synth" in ci
