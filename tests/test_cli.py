"""The command line as a user runs it: subprocesses, exit codes, stdout/stderr, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import EXAMPLES, ROOT

CDK_MODULES = ("cdktn", "cdktf", "jsii", "constructs")


def sxcloud(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "sxcloud", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=300)


@pytest.mark.parametrize("command", [["plan", *EXAMPLES], ["catalog"], ["schema"],
                                     ["plan", "--json", *EXAMPLES]])
def test_commands_without_cdk_never_start_it(command):
    """plan, catalog and schema run with JSII_NODE pointing at nothing and import no CDK."""
    probe = ("import sys, runpy; sys.argv = ['sxcloud'] + sys.argv[1:]\n"
             "from sxcloud.cli import main\n"
             "code = main()\n"
             f"loaded = [m for m in {CDK_MODULES!r} if m in sys.modules]\n"
             "assert not loaded, loaded\n"
             "sys.exit(code)\n")
    result = subprocess.run([sys.executable, "-c", probe, *map(str, command)],
                            capture_output=True, text=True,
                            env={**os.environ, "JSII_NODE": "/nonexistent/node"})
    assert result.returncode == 0, result.stderr
    assert result.stdout


def test_synth_without_files_uses_the_builtin_example(tmp_path):
    result = sxcloud("synth", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "built-in example" in result.stderr
    stacks = sorted(p.parent.name for p in (tmp_path / "cdktf.out" / "stacks").glob("*/cdk.tf.json"))
    assert stacks == ["mailcrypt-example-aws", "mailcrypt-example-azure"]
    assert json.loads((tmp_path / "cdktf.out" / "manifest.json").read_text())["stacks"]
    assert result.stdout.split() == [f"cdktf.out/stacks/{s}/cdk.tf.json" for s in stacks]


def test_synth_prefers_sxcloud_yaml_in_the_folder(tmp_path):
    data = yaml.safe_load(EXAMPLES[-1].read_text())
    data["name"] = "from-cwd"
    (tmp_path / "sxcloud.yaml").write_text(yaml.safe_dump(data))
    result = sxcloud("plan", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [d["name"] for d in json.loads(result.stdout)["deployments"]] == ["from-cwd"]


def test_bad_input_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLES[-1].read_text().replace("10.20.99.0/24", "10.20.99.0"))
    result = sxcloud("synth", bad, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert f"{bad}: roles.admin_pc[0]:" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == [bad]  # no output folder, no staging folder


def test_bad_input_leaves_an_existing_output_untouched(tmp_path):
    out = tmp_path / "out"
    assert sxcloud("synth", EXAMPLES[0], "--out", out).returncode == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nroles: {internal_network: [10.0.0.0/8]}\nfoo: 1\n")
    result = sxcloud("synth", bad, "--out", out)
    assert result.returncode == 2 and "foo: unknown key" in result.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "out"]


def test_quota_overrun_is_refused_before_anything_is_written(tmp_path):
    data = yaml.safe_load(EXAMPLES[-1].read_text())
    data["roles"]["admin_pc"] = [f"10.20.{i}.0/24" for i in range(100, 170)]  # 70 networks
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data))
    result = sxcloud("synth", path, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "73 IPv4 ingress rules exceed the quota of 60" in result.stderr  # 70 + R03, R04, R11
    assert "R16 admin_pc (70)" in result.stderr
    assert not (tmp_path / "out").exists()


def test_plan_prints_rules_quota_and_warnings():
    example = ROOT / "examples" / "azure-cluster.yaml"
    result = sxcloud("plan", example)
    assert result.returncode == 0
    assert "R15" in result.stdout and "quota:" in result.stdout
    assert "warning:" in result.stderr and "plain-HTTP" in result.stderr
    data = json.loads(sxcloud("plan", "--json", example).stdout)
    (deployment,) = data["deployments"]
    assert "aws" not in deployment
    rules = {r["name"]: r for r in deployment["azure"]["rules"]}
    assert rules["allow-in-admin-pc-v4-tcp"]["ports"] == ["8080", "8443"]
    assert rules["allow-in-admin-pc-v4-tcp"]["rule_ids"] == ["R15", "R16"]


def test_catalog_lists_every_row():
    result = sxcloud("catalog", "--json")
    ids = [row["id"] for row in json.loads(result.stdout)["rows"]]
    assert ids == [f"R{i:02d}" for i in range(1, 18)] + ["X01"]


@pytest.mark.parametrize("command", [[], ["synth"], ["plan"], ["catalog"], ["schema"]])
def test_help(command):
    result = sxcloud(*command, "--help")
    assert result.returncode == 0 and "usage: sxcloud" in result.stdout


def test_cdk_app_entry_point_matches_sxcloud_synth(tmp_path, synthesized):
    """`python -m stacks`, as cdktn/cdktf synth runs it through cdktf.json."""
    files = os.pathsep.join(str(p) for p in EXAMPLES[:2])
    result = subprocess.run([sys.executable, "-m", "stacks"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "SXCLOUD_CONFIG": files,
                                            "CDKTF_OUTDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "stacks").iterdir())
    assert len(names) >= 2
    for name in names:
        assert json.loads((tmp_path / "stacks" / name / "cdk.tf.json").read_text()) == \
            synthesized.stack(name)
    assert json.loads((ROOT / "cdktf.json").read_text())["app"] == "python -m stacks"
