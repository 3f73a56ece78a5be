"""Golden files of `sxcloud review`: every example, and a realistic base-to-head change.

Regenerate after an intended change of the report with
    SXCLOUD_REGEN_GOLDEN=1 .venv/bin/python -m pytest tests/test_review_golden.py
and read the diff of tests/golden/ before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sxcloud.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("SXCLOUD_REGEN_GOLDEN") == "1"

CASES = {
    f"review-{path.stem}.md": ["review", f"examples/{path.name}"]
    for path in sorted((ROOT / "examples").glob("*.yaml"))
}
CASES["review-change.md"] = ["review", "tests/data/review/head.yaml",
                             "--base", "tests/data/review/base.yaml"]
# Not one rule changes; the backend moves, an endpoint is added, a subnet loses its NSG.
CASES["review-moved.md"] = ["review", "tests/data/review/moved-head.yaml",
                            "--base", "tests/data/review/moved-base.yaml"]
# Site exceptions (today is conftest.TODAY): a change in which one is added, one widened to
# the Internet, one renewed, one narrowed, one removed, and one has expired.
CASES["review-exceptions-change.md"] = ["review", "tests/data/review/exceptions-head.yaml",
                                        "--base", "tests/data/review/exceptions-base.yaml"]
# findings: the review exits 1, the report is printed anyway
FAILING = {"review-moved.md", "review-exceptions-change.md"}


def run(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 0) -> str:
    assert main(argv) == code
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, capsys: pytest.CaptureFixture[str],
                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the report shows paths as given: relative to the checkout
    text = run(CASES[name], capsys, 1 if name in FAILING else 0)
    golden = GOLDEN / name
    if REGEN:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}; run with SXCLOUD_REGEN_GOLDEN=1"
    assert text == golden.read_text(), (
        f"{name} differs from its golden file; if the change is intended, regenerate with "
        "SXCLOUD_REGEN_GOLDEN=1 and review the diff")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_holds_no_machine_path(name: str) -> None:
    text = (GOLDEN / name).read_text()
    assert str(ROOT) not in text
    assert not re.search(r"(?<![\w.])/(home|tmp|work|root|usr|opt|var)/", text)


def test_every_example_has_a_golden() -> None:
    examples = {f"review-{p.stem}.md" for p in (ROOT / "examples").glob("*.yaml")}
    assert examples <= set(CASES) and examples <= {p.name for p in GOLDEN.glob("*.md")}
