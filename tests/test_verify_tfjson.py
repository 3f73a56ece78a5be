"""Reading Terraform JSON: cdk.tf.json, plan JSON and state JSON yield the same firewall.

The plan and state documents here are made by hand (tfshow.py) in Terraform's format, for
Azure, whose provider cannot run here; test_verify_terraform.py does the same with documents
real Terraform wrote for AWS.
"""

from __future__ import annotations

import copy
import json

import pytest

from conftest import EXAMPLES
from sxcloud.cli import main
from sxcloud.errors import InputError
from sxcloud.verify import verify
from sxcloud.verify.aws import SecurityGroup
from sxcloud.verify.azure import NetworkSecurityGroup
from sxcloud.verify.tfjson import CDKTF, PLAN, STATE, Ref, Unknown, parse, read
from tfshow import aws_ids, azure_ids, plan_document, state_document
from verifying import NSG_RULE, intended, stacks

AZURE_STACKS = ["mail-azure-cluster-azure", "mail-simple-azure", "mailcrypt-example-azure"]


def _firewall(d, cloud, document):
    return (SecurityGroup if cloud == "aws" else NetworkSecurityGroup)(d, document)


def _rules(firewall):
    """The evaluated rules, without the addresses (which differ for inline blocks)."""
    if isinstance(firewall, SecurityGroup):
        return sorted((r.address, r.direction, r.protocol, r.ports, r.peer, str(r.network),
                       r.member) for r in firewall.rules)
    return sorted((r.name, r.priority, r.direction, r.allow, r.protocol, r.ports, r.source_ports,
                   repr(r.source), repr(r.destination))
                  for rules in firewall.rules.values() for r in rules)


def _stack(synthesized, name):
    d, cloud = next((d, c) for d, c in stacks(synthesized) if f"{d.name}-{c}" == name)
    return d, cloud, synthesized.stack(name)


def test_cdktf_references_become_refs(synthesized):
    document = parse(synthesized.stack("mail-aws-cluster-aws"), "cdk.tf.json")
    assert document.kind == CDKTF
    rule = next(r for r in document.resources if r.name == "R02_in_tcp22_sg_self")
    assert rule.values["referenced_security_group_id"] == Ref("aws_security_group.appliance", "id")
    assert "//" not in rule.values
    other = parse({"resource": {"x": {"y": {"a": "${var.z}", "b": ["pre-${a.b.c}"]}}}}, "f")
    assert isinstance(other.resources[0].values["a"], Unknown)
    assert isinstance(other.resources[0].values["b"][0], Unknown)


@pytest.mark.parametrize("name", AZURE_STACKS)
@pytest.mark.parametrize("form", ["plan-json-config", "plan-hcl-config", "state", "state-inline"])
def test_azure_plan_and_state_read_as_the_synthesized_json(name, form, synthesized):
    d, cloud, stack = _stack(synthesized, name)
    if form.startswith("plan"):
        data = plan_document(stack, hcl=form == "plan-hcl-config")
    else:
        data = state_document(stack, azure_ids(), inline_rules=form == "state-inline")
    document = parse(data, f"{form}.json")
    assert document.kind == (PLAN if form.startswith("plan") else STATE)
    result = verify(d, cloud, document)
    assert result.ok, [f.message for f in result.findings[:5]]
    assert _rules(_firewall(d, cloud, document)) == _rules(
        _firewall(d, cloud, parse(stack, "cdk.tf.json")))


def test_aws_hand_made_state_reads_as_the_synthesized_json(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-aws-cluster-aws")
    document = parse(state_document(stack, aws_ids()), "state.json")
    assert verify(d, cloud, document).ok
    assert _rules(_firewall(d, cloud, document)) == _rules(
        _firewall(d, cloud, parse(stack, "cdk.tf.json")))


def test_a_deny_deleted_from_azure_state_is_caught(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-azure-cluster-azure")
    data = state_document(stack, azure_ids(), inline_rules=True)
    resources = data["values"]["root_module"]["resources"]
    resources[:] = [r for r in resources if r["address"] != f"{NSG_RULE}.deny-out-all"]
    nsg = next(r for r in resources if r["type"] == "azurerm_network_security_group")
    nsg["values"]["security_rule"] = [r for r in nsg["values"]["security_rule"]
                                      if r["name"] != "deny-out-all"]
    result = verify(d, cloud, parse(data, "state.json"))
    assert any("AllowInternetOutBound" in (f.decided_by or "") for f in result.findings)


def test_a_rule_removed_from_a_plan_is_caught(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-simple-azure")
    data = plan_document(stack)
    gone = f"{NSG_RULE}.allow-in-internal-mail-server-v4-tcp"
    data["resource_changes"] = [r for r in data["resource_changes"] if r["address"] != gone]
    data["planned_values"]["root_module"]["resources"] = [
        r for r in data["planned_values"]["root_module"]["resources"] if r["address"] != gone]
    result = verify(d, cloud, parse(data, "plan.json"))
    assert intended(result) == {"R03 inbound TCP 25 from internal_mail_server"}


def test_an_unresolvable_plan_value_is_opaque(synthesized):
    d, cloud, stack = _stack(synthesized, "mailcrypt-example-azure")
    data = plan_document(stack)
    for resource in data["configuration"]["root_module"]["resources"]:
        if resource["address"] == f"{NSG_RULE}.deny-in-all":
            del resource["expressions"]["network_security_group_name"]
    result = verify(d, cloud, parse(data, "plan.json"))
    assert any(f.kind == "opaque" and "deny-in-all" in f.message for f in result.findings)


@pytest.mark.parametrize("text, expect, message", [
    ("{not json", None, "is not JSON"),
    ("[]", None, "not an object"),
    ('{"hello": 1}', None, "is neither a synthesized cdk.tf.json"),
    ('{"format_version": "1.0", "terraform_version": "1.15.5"}', PLAN, "not of a plan"),
    ('{"format_version": "1.2", "terraform_version": "1.15.5", "planned_values": {}}', STATE,
     "not of a state"),
])
def test_unreadable_documents_are_input_errors(text, expect, message, tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        read(path, expect)
    assert str(path) in str(error.value) and message in str(error.value)


def test_command_line_reads_plan_and_state_json(synthesized, tmp_path, capsys):
    example = next(p for p in EXAMPLES if p.name == "simple-both.yaml")
    stack = synthesized.stack("mail-simple-azure")
    plan, state = tmp_path / "plan.json", tmp_path / "state.json"
    plan.write_text(json.dumps(plan_document(stack)))
    state.write_text(json.dumps(state_document(stack, azure_ids(), inline_rules=True)))
    status = main(["verify", str(example), "--plan-json", str(plan), "--state-json", str(state),
                   "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [(s["stack"], s["kind"]) for s in data["stacks"]] == [
        ("mail-simple-azure", "plan"), ("mail-simple-azure", "state")]
    assert data["skipped"] == ["mail-simple-aws"]


def test_command_line_refuses_a_document_of_no_given_stack(synthesized, tmp_path, capsys):
    example = next(p for p in EXAMPLES if p.name == "aws-single.yaml")
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_document(synthesized.stack("mail-simple-azure"), azure_ids())))
    assert main(["verify", str(example), "--state-json", str(state)]) == 2
    err = capsys.readouterr().err
    assert str(state) in err and "holds none of the stacks mail-aws-single-aws" in err


def test_a_state_file_passed_as_a_plan_is_refused(synthesized, tmp_path, capsys):
    example = next(p for p in EXAMPLES if p.name == "simple-both.yaml")
    state = tmp_path / "state.json"
    state.write_text(json.dumps(state_document(copy.deepcopy(
        synthesized.stack("mail-simple-azure")), azure_ids())))
    assert main(["verify", str(example), "--plan-json", str(state)]) == 2
    assert "is the JSON of a state" in capsys.readouterr().err
