"""AWS allows 60 inbound and 60 outbound rules per security group by default, counted
separately for IPv4 and IPv6 (spec/clouds.md). A deployment beyond that is refused before
anything is written: `synth` exits 2, names the quota, and creates no output folder."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, deployment, example_data
from sxcloud import cli
from sxcloud.aws.plan import INGRESS, plan

EXAMPLE = ROOT / "examples" / "aws-single.yaml"  # admin_https on, admin_pc as CIDRs
QUOTA = 60  # the AWS default, and the default of aws.rule_quota


def admins(count: int, version: int = 4) -> list[str]:
    """`count` distinct admin PC host routes."""
    base = ipaddress.ip_network("10.10.128.0/17" if version == 4 else "fd00:10::/64")
    hosts = base.hosts()
    return [f"{next(hosts)}/{base.max_prefixlen}" for _ in range(count)]


def data_with(admin_pc: list[str], **aws: object) -> dict:
    data = example_data(EXAMPLE)
    data["roles"]["admin_pc"] = admin_pc
    data["aws"].update(aws)
    return data


def write(tmp: Path, admin_pc: list[str], **aws: object) -> Path:
    path = tmp / "sxcloud.yaml"
    path.write_text(yaml.safe_dump(data_with(admin_pc, **aws), sort_keys=False))
    return path


def ingress_v4_without_admins() -> int:
    """IPv4 inbound rules of the example that are not R16 (one per admin CIDR)."""
    return sum(1 for r in plan(deployment(data_with(admins(1)))).rules
               if r.direction == INGRESS and r.peer.family == "IPv4" and r.flow.row.id != "R16")


def test_synth_refuses_70_admin_cidrs_and_writes_nothing(tmp_path: Path) -> None:
    file = write(tmp_path, admins(70))
    out = tmp_path / "cdktf.out"
    done = subprocess.run([sys.executable, "-m", "sxcloud", "synth", str(file), "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    count = 70 + ingress_v4_without_admins()
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert (f"{file}: aws: {count} IPv4 ingress rules exceed the quota of {QUOTA} per direction "
            "and IP family") in done.stderr
    assert "R16 admin_pc (70)" in done.stderr  # where the rules come from
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sxcloud.yaml"]  # no staging folder


def test_the_quota_is_per_direction_and_family_up_to_its_limit(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    at_limit = QUOTA - ingress_v4_without_admins()
    assert cli.main(["plan", str(write(tmp_path, admins(at_limit)))]) == 0
    capsys.readouterr()
    assert cli.main(["plan", str(write(tmp_path, admins(at_limit + 1)))]) == 2
    assert f"{QUOTA + 1} IPv4 ingress rules exceed the quota of {QUOTA}" in capsys.readouterr().err
    # IPv6 rules are counted on their own: 40 + 40 admin PCs stay below 60 in each family.
    assert cli.main(["plan", str(write(tmp_path, admins(40) + admins(40, 6)))]) == 0


def test_a_raised_quota_admits_more(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", str(write(tmp_path, admins(70), rule_quota=100))]) == 0
    assert "exceed" not in capsys.readouterr().err


def test_audit_refuses_what_synth_refuses(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """audit plans first, so a file over the quota is refused before any AWS call."""
    file = write(tmp_path, admins(70))
    assert cli.main(["audit", "aws", str(file), "--endpoint-url", "http://127.0.0.1:9"]) == 2
    assert f"{file}: aws: {70 + ingress_v4_without_admins()} IPv4 ingress rules exceed" \
        in capsys.readouterr().err
