"""`review --plan`: rules of other groups and NSGs (issue 15, case 3).

Plans are written by tests/tfshow.py from the session's synthesized stacks, with a rule
added on another group the way Terraform writes one. On main, a rule that allows everything
on `sg-0aaaabbbbccccdddd` appeared nowhere in the report, and the review exited 0.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, Synthesized
from sxcloud.cli import main
from sxcloud.config import load
from sxcloud.review import build
from sxcloud.review.policyfile import Policy, Trusted
from tfshow import plan_document, refresh_planned_values

AWS = EXAMPLES[[p.name for p in EXAMPLES].index("aws-single.yaml")]
AZURE = EXAMPLES[[p.name for p in EXAMPLES].index("azure-cluster.yaml")]
OTHER_SG = "sg-0aaaabbbbccccdddd"


def _plan(synthesized: Synthesized, path: Path, cloud: str) -> dict[str, Any]:
    return plan_document(synthesized.stack(f"{load(path).name}-{cloud}"))


def _review(path: Path, plan: dict[str, Any], tmp_path: Path,
            policy: Policy | None = None) -> build.StackReview:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(refresh_planned_values(plan)))
    (stack,) = build.from_plans([load(path)], [plan_file],
                                **({"policy": policy} if policy else {})).stacks
    return stack


def _add(plan: dict[str, Any], rtype: str, name: str, after: dict[str, Any],
         expressions: dict[str, Any] | None = None, unknown: dict[str, Any] | None = None) -> str:
    address = f"{rtype}.{name}"
    plan["resource_changes"].append({
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "change": {"actions": ["create"], "before": None, "after": after,
                   "after_unknown": {"id": True, **(unknown or {})}}})
    plan["configuration"]["root_module"]["resources"].append({
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "expressions": expressions or {}})
    return address


def _everything_on_other_group(plan: dict[str, Any]) -> str:
    return _add(plan, "aws_vpc_security_group_ingress_rule", "platform_all", {
        "security_group_id": OTHER_SG, "ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0",
        "description": "temporary"})


def _other(stack: build.StackReview) -> list[Any]:
    return [r for r in stack.resources or [] if "not the appliances'" in r.meaning]


def test_a_rule_on_another_security_group_is_listed_and_a_finding(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    address = _everything_on_other_group(plan)
    stack = _review(AWS, plan, tmp_path)
    (line,) = _other(stack)
    assert line.address == address and line.finding and line.action == "creates"
    assert f"security group {OTHER_SG}" in line.meaning
    assert "inbound all traffic from 0.0.0.0/0" in line.meaning
    assert line.meaning in stack.all_findings


def test_a_rule_naming_the_appliance_group_as_its_peer_is_listed(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    _add(plan, "aws_security_group_rule", "db_from_appliances", {
        "security_group_id": "sg-0db0000000000000d", "type": "ingress", "protocol": "tcp",
        "from_port": 5432, "to_port": 5432},
        expressions={"source_security_group_id": {
            "references": ["aws_security_group.appliance.id", "aws_security_group.appliance"]}},
        unknown={"source_security_group_id": True})
    (line,) = _other(_review(AWS, plan, tmp_path))
    assert line.finding
    assert "inbound TCP 5432 from the appliances' security group" in line.meaning


def test_inline_rules_of_another_group_are_read(synthesized: Synthesized,
                                                 tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    block = {"cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 22,
             "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp",
             "security_groups": [], "self": False, "to_port": 22}
    _add(plan, "aws_security_group", "bastion", {
        "name": "bastion", "description": "b", "vpc_id": "vpc-0123456789abcdef0",
        "ingress": [block], "egress": []},
        expressions={"ingress": [{}], "name": {"constant_value": "bastion"}})
    (line,) = _other(_review(AWS, plan, tmp_path))
    assert line.address == "aws_security_group.bastion.ingress[0]" and line.finding
    assert "inbound TCP 22 from 0.0.0.0/0" in line.meaning


def test_a_rule_on_another_nsg_is_listed_and_a_finding(synthesized: Synthesized,
                                                        tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    _add(plan, "azurerm_network_security_rule", "platform_rdp", {
        "name": "rdp", "priority": 100, "direction": "Inbound", "access": "Allow",
        "protocol": "Tcp", "source_port_range": "*", "destination_port_range": "3389",
        "source_address_prefix": "*", "destination_address_prefix": "*",
        "resource_group_name": "rg-platform", "network_security_group_name": "nsg-platform"})
    stack = _review(AZURE, plan, tmp_path)
    (line,) = _other(stack)
    assert line.finding and "NSG nsg-platform" in line.meaning
    assert "inbound allow TCP 3389 from * to * (priority 100)" in line.meaning
    policy = Policy(groups=(Trusted("rg-platform/nsg-platform", "the platform's NSG"),),
                    source="origin/main:.sxcloud/review.yaml")
    (named,) = _other(_review(AZURE, plan, tmp_path, policy))
    assert not named.finding and "the platform's NSG" in named.meaning


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_a_group_the_base_policy_names_is_listed_but_no_finding(
        synthesized: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`--policy-ref` reads the policy file at the ref; the head's copy is never read."""
    plan = _plan(synthesized, AWS, "aws")
    _everything_on_other_group(plan)
    repo = tmp_path / "repo"
    (repo / ".sxcloud").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "sxcloud.yaml").write_text(AWS.read_text())
    policy = {"version": 1, "other_groups": [{"group": OTHER_SG,
                                              "reason": "the platform root's group"}]}
    (repo / ".sxcloud" / "review.yaml").write_text(yaml.safe_dump(policy))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    (repo / "plan.json").write_text(json.dumps(refresh_planned_values(copy.deepcopy(plan))))
    monkeypatch.chdir(repo)
    assert main(["review", "sxcloud.yaml", "--plan", "plan.json", "--policy-ref", "HEAD",
                 "--json"]) == 0
    (stack,) = json.loads(capsys.readouterr().out)["stacks"]
    (line,) = [r for r in stack["resources"] if "not the appliances'" in r["meaning"]]
    assert not line["finding"] and "the platform root's group" in line["meaning"]
    # a head-only edit of the policy file changes nothing; without --policy-ref, no policy
    (repo / ".sxcloud" / "review.yaml").write_text(yaml.safe_dump({"version": 1}))
    assert main(["review", "sxcloud.yaml", "--plan", "plan.json", "--policy-ref", "HEAD"]) == 0
    assert main(["review", "sxcloud.yaml", "--plan", "plan.json"]) == 1
