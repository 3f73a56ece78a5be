"""`sxcloud verify` on the synthesized examples: clean, through the library and the command
line, without the CDK when a synth folder is given."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import EXAMPLES, ROOT
from sxcloud.cli import main
from verifying import run, stacks


def test_every_synthesized_stack_verifies_clean(synthesized):
    """The examples and every toggled variant, each exactly as its file intends."""
    checked = 0
    for d, cloud in stacks(synthesized):
        result = run(d, cloud, synthesized.stack(f"{d.name}-{cloud}"))
        assert result.ok, [f.message for f in result.findings[:5]]
        assert result.cells > 100 and result.peer_ranges > 10
        checked += 1
    assert checked == len(list((synthesized.out / "stacks").iterdir()))


def test_command_line_exits_0_on_the_examples(synthesized, capsys):
    status = main(["verify", *map(str, EXAMPLES), "--synth-dir", str(synthesized.out)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.strip().endswith("9 stacks verified, no findings")
    assert "also reach internal addresses" in out  # the AWS fact, stated as a note


def test_json_output(synthesized, capsys):
    status = main(["verify", *map(str, EXAMPLES), "--synth-dir", str(synthesized.out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["ok"] and data["findings"] == 0 and data["skipped"] == []
    variants = {v.name for v in synthesized.variants + synthesized.changes}
    assert sorted(s["stack"] for s in data["stacks"]) == sorted(
        p.name for p in (synthesized.out / "stacks").iterdir()
        if p.name.rsplit("-", 1)[0] not in variants)
    for stack in data["stacks"]:
        assert stack["kind"] == "cdk.tf.json" and stack["findings"] == []
        assert stack["intended_flows"] > 0 and stack["notes"]


def test_verify_with_a_synth_dir_starts_no_cdk(synthesized):
    """Reading a synth folder must not import the CDK runtime (which starts Node.js)."""
    code = ("import sys; from sxcloud.cli import main; "
            f"status = main(['verify', {str(EXAMPLES[0])!r}, '--synth-dir', {str(synthesized.out)!r}]); "
            "loaded = [m for m in ('jsii', 'cdktn', 'cdktf', 'constructs') if m in sys.modules]; "
            "print('LOADED', loaded); sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


def test_verify_synthesizes_on_the_fly(tmp_path):
    example = ROOT / "examples" / "aws-single.yaml"
    result = subprocess.run([sys.executable, "-m", "sxcloud", "verify", str(example)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "synthesizing" in result.stderr
    assert "mail-aws-single-aws (cdk.tf.json: synthesized on the fly" in result.stdout
    assert not list(tmp_path.iterdir())  # nothing left behind


@pytest.mark.parametrize("case", ["no-folder", "missing-stack", "not-json"])
def test_bad_input_exits_2_naming_the_file(case, synthesized, tmp_path, capsys):
    example = EXAMPLES[0]
    if case == "no-folder":
        args, named = ["--synth-dir", str(tmp_path / "nowhere")], str(tmp_path / "nowhere")
    elif case == "missing-stack":
        (tmp_path / "stacks").mkdir()
        args, named = ["--synth-dir", str(tmp_path)], "cdk.tf.json"
    else:
        out = tmp_path / "out"
        shutil.copytree(synthesized.out, out)
        stack = next((out / "stacks").glob("mail-aws-cluster-aws"))
        (stack / "cdk.tf.json").write_text("{not json")
        args, named = ["--synth-dir", str(out)], str(stack / "cdk.tf.json")
    status = main(["verify", str(example), *args])
    err = capsys.readouterr().err
    assert status == 2
    assert named in err
