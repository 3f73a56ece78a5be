"""Without the provider mirror or moto, the tests that need them fail; they never skip.

These check the helpers' own failure paths, so that a CI image without the mirror or
without moto cannot turn the end-to-end tests into a silent pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import moto_server
import terraform


def test_a_missing_provider_mirror_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(terraform.MIRROR_ENV, str(tmp_path))
    with pytest.raises(AssertionError, match="no hashicorp/aws provider in the Terraform "
                                             "provider mirror"):
        terraform.mirror()


def test_a_missing_moto_fails() -> None:
    with pytest.raises(AssertionError, match="moto.no_such_server is not importable"):
        moto_server.start("moto.no_such_server")


def test_a_server_that_exits_fails() -> None:
    # json.tool exists but is no server: it rejects the options and exits at once.
    with pytest.raises(AssertionError, match="moto's server exited with 2"):
        moto_server.start("json.tool")
