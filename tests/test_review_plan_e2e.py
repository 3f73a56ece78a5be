"""`sxcloud review --plan` on a real Terraform plan: moto's EC2 server, the real aws provider.

The base deployment is applied; then someone opens RDP in the console (a rule Terraform does
not manage); then the head (SMS on, plain-HTTP admin off) is planned. The review must show
what apply changes (R17 added, R15 removed) and flag the console rule as not intended; verify
must flag it too, and not R15, which the group's ingress list still holds in the plan.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import aws_sites
import terraform
import terraform_live
from moto_server import MotoServer
from sxcloud.app import plan_all, synth
from sxcloud.cli import main
from sxcloud.config import load

DATA = Path(__file__).parent / "data" / "review"
REGION = "eu-central-1"


def _aws_only(source: Path, target: Path, vpc_id: str, url: str) -> Path:
    data = yaml.safe_load(source.read_text())
    data.pop("azure")
    data["aws"]["vpc_id"] = vpc_id
    data["aws"]["endpoints"] = {"ec2": url, "sts": url}
    target.write_text(yaml.safe_dump(data))
    return target


def _synth_into(deployment_file: Path, stack_dir: Path, scratch: Path) -> None:
    out = scratch / "cdktf.out"
    synth(plan_all([load(deployment_file)]), out)
    stack_dir.mkdir(exist_ok=True)
    shutil.copy(out / "stacks" / "mail-review-aws" / "cdk.tf.json", stack_dir / "cdk.tf.json")


def test_review_of_a_real_plan_shows_the_change_and_a_console_rule(
        moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    moto_url = moto_server.url
    ec2 = aws_sites.ec2(moto_url, REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    base = _aws_only(DATA / "base.yaml", tmp_path / "base.yaml", vpc_id, moto_url)
    head = _aws_only(DATA / "head.yaml", tmp_path / "head.yaml", vpc_id, moto_url)
    stack = tmp_path / "stack"

    _synth_into(base, stack, tmp_path / "base-out")
    tf = terraform.init(stack, backend=True)
    terraform_live.apply(tf)

    group = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["mail-review-appliance"]}])["SecurityGroups"][0]
    ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "RDP while debugging"}]}])

    _synth_into(head, stack, tmp_path / "head-out")
    code, plan_doc = terraform_live.plan(tf)
    assert code == 2
    plan_json = tmp_path / "plan.json"
    plan_json.write_text(json.dumps(plan_doc))

    monkeypatch.chdir(tmp_path)
    code = main(["review", "head.yaml", "--plan", "plan.json", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1  # the console rule is a finding
    (s,) = report["stacks"]
    added = [(o["ports"], o["peer"], o["rule_ids"]) for o in s["change"]["added"]]
    removed = [(o["ports"], o["peer"], o["rule_ids"]) for o in s["change"]["removed"]]
    assert added == [("TCP 5061", "0.0.0.0/0", ["R17"])]
    assert removed == [("TCP 8080", "10.60.99.0/24", ["R15"])]
    assert s["change"]["changed"] == []
    # The exact change in packets agrees: SMS out to the Internet is new, plain HTTP from the
    # admin PCs is gone; the console rule is there before and after, so it is no change.
    packets = s["change"]["packets"]
    assert [(x["region"]["direction"], x["example"]["port"], x["region"]["first_address"],
             x["region"]["last_address"]) for x in packets["newly_allowed"]] == [
        ("outbound", 5061, "0.0.0.0", "255.255.255.255")], packets
    assert [(x["region"]["direction"], x["example"]["port"], x["region"]["first_address"],
             x["region"]["last_address"]) for x in packets["no_longer_allowed"]] == [
        ("inbound", 8080, "10.60.99.0", "10.60.99.255")], packets
    assert s["change"]["added_allowing_nothing_new"] == []
    assert s["change"]["removed_stopping_nothing"] == []
    assert len(s["findings"]) == 1 and "TCP 3389 from 0.0.0.0/0" in s["findings"][0]
    # The group itself is sxcloud's: the plan touches no other resource.
    assert all(r["intended"] and not r["finding"] for r in s["resources"]), s["resources"]
    console = [o for o in s["head"]["openings"] if o["ports"] == "TCP 3389"]
    assert console and console[0]["origin"] == "unintended"
    assert "no Terraform resource manages it" in console[0]["note"]
    # verify, reading the same plan, catches the console rule too, and only it: R15, which
    # the plan deletes, is still in the group's ingress list as the plan read it.
    assert s["verify"]["status"] == "failed"
    assert any(f.startswith("inbound TCP 3389") for f in s["verify"]["findings"])
    assert all("TCP 3389" in f for f in s["verify"]["findings"]), s["verify"]["findings"]
    assert main(["verify", "head.yaml", "--plan-json", "plan.json", "--json"]) == 1
    (verified,) = json.loads(capsys.readouterr().out)["stacks"]
    assert {(f["kind"], f["port"]) for f in verified["findings"]} == {("unexpected", 3389)}
    (console_rule,) = {f["decided_by"] for f in verified["findings"]}
    assert console_rule.startswith("aws_security_group.appliance.ingress[")
    assert any(n.startswith(console_rule + ":") and "no Terraform resource manages" in n
               for n in verified["notes"])

    monkeypatch.chdir(tmp_path)
    assert main(["review", "head.yaml", "--plan", "plan.json"]) == 1
    markdown = capsys.readouterr().out
    assert "| out | TCP 5061 | 0.0.0.0/0 (internet) | R17 sms |" in markdown
    assert "In the plan, not in the files: inbound TCP 3389" in markdown
    assert str(tmp_path) not in markdown
