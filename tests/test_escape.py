"""The escapers of sxcloud.escape: Terraform templates and the terminal."""

from __future__ import annotations

import pytest

from sxcloud import escape


@pytest.mark.parametrize("text", ["${file(\"/etc/passwd\")}", "%{ if true }x%{ endif }",
                                  "$${kept}", "$$${x}", "a$b%c{d}", "${", "%%{", ""])
def test_terraform_escape_is_inert_and_reversible(text: str) -> None:
    escaped = escape.terraform(text)
    assert not escape.has_template(escaped)
    assert escape.terraform_unescape(escaped) == text


@pytest.mark.parametrize("text, expected", [
    ("${x}", True), ("%{x}", True), ("$${x}", False), ("%%{x}", False), ("$$${x}", False),
    ("a $ { b", False), ("x${", True)])
def test_has_template_scans_as_terraform_does(text: str, expected: bool) -> None:
    assert escape.has_template(text) is expected


def test_terminal_shows_controls_and_bidi_as_escapes() -> None:
    shown = escape.terminal("a\x1b[2Kb\nc\r\u202ed\u2028\x7f")
    assert shown == "a\\x1b[2Kb\\nc\\r\\u202ed\\u2028\\x7f"
    assert shown.isprintable()


def test_excerpt_is_short_and_safe() -> None:
    assert len(escape.excerpt("x\n" * 500, limit=40)) == 40
    assert escape.excerpt("ok") == "ok"
