"""`sxcloud review --plan`: reading Terraform plans of both clouds, and what they contradict.

Plans here are written by tests/tfshow.py from the session's synthesized stacks (there
is no azurerm provider to plan with); test_review_plan_e2e reads a real AWS plan.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sxcloud.config import load
from sxcloud.errors import InputError
from sxcloud.review import build, markdown, mermaid, tfplan
from sxcloud.review.openings import UNINTENDED

from conftest import EXAMPLES, Synthesized
from tfshow import applied, aws_group_lists, copy_rule, plan_document, refresh_planned_values

STACKS = [(path, cloud) for path in EXAMPLES for cloud in ("aws", "azure")
          if cloud in load(path).targets]


def _stack_name(path: Path, cloud: str) -> str:
    return f"{load(path).name}-{cloud}"


def _review(path: Path, plan: dict[str, Any], tmp_path: Path) -> build.StackReview:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(refresh_planned_values(plan)))
    review = build.from_plans([load(path)], [plan_file])
    (stack,) = review.stacks
    return stack


def _plan(synthesized: Synthesized, path: Path, cloud: str) -> dict[str, Any]:
    return plan_document(synthesized.stack(_stack_name(path, cloud)))


@pytest.mark.parametrize("path,cloud", STACKS, ids=lambda v: getattr(v, "name", v))
def test_a_plan_that_creates_the_stack_adds_exactly_what_the_files_intend(
        synthesized: Synthesized, path: Path, cloud: str, tmp_path: Path) -> None:
    stack = _review(path, _plan(synthesized, path, cloud), tmp_path)
    intended = build.from_files([load(path)]).stacks
    (intent,) = [s.head for s in intended if s.cloud == cloud]
    assert stack.all_findings == []
    assert stack.resources and all(r.intended and r.action == "creates" for r in stack.resources)
    assert stack.change is not None and stack.change.removed == ()
    assert {o.key for o in stack.change.added} == {o.key for o in intent.openings}
    assert {(o.key, o.rows) for o in stack.head.openings} == {
        (o.key, o.rows) for o in intent.openings}
    assert stack.head.guards == intent.guards
    assert stack.verify is not None and stack.verify.status == "passed", stack.verify


@pytest.mark.parametrize("path,cloud", STACKS, ids=lambda v: getattr(v, "name", v))
def test_a_plan_of_an_applied_stack_changes_nothing(
        synthesized: Synthesized, path: Path, cloud: str, tmp_path: Path) -> None:
    ids = {"aws_security_group.appliance": "sg-0123456789abcdef0",
           "azurerm_application_security_group.appliance_asg": "/subscriptions/0/resourceGroups/"
           "rg/providers/Microsoft.Network/applicationSecurityGroups/asg-appliance"}
    stack = _review(path, applied(_plan(synthesized, path, cloud), ids), tmp_path)
    assert stack.findings == []
    assert stack.change is not None and stack.change.empty


AZURE = EXAMPLES[[p.name for p in EXAMPLES].index("azure-cluster.yaml")]
AWS = EXAMPLES[[p.name for p in EXAMPLES].index("aws-single.yaml")]


def _extra_azure_rule(plan: dict[str, Any], name: str, priority: int, port: str) -> None:
    after = {"name": name, "priority": priority, "direction": "Inbound", "access": "Allow",
             "protocol": "Tcp", "source_port_range": "*", "destination_port_range": port,
             "source_address_prefix": "Internet", "resource_group_name": "rg-mail",
             "network_security_group_name": "nsg-mail-azure-cluster-appliance"}
    address = f"azurerm_network_security_rule.{name}"
    plan["resource_changes"].append({
        "address": address, "mode": "managed", "type": "azurerm_network_security_rule",
        "name": name, "change": {"actions": ["create"], "before": None, "after": after,
                                 "after_unknown": {"id": True,
                                                   "destination_application_security_group_ids":
                                                       True}}})
    plan["configuration"]["root_module"]["resources"].append({
        "address": address, "mode": "managed", "type": "azurerm_network_security_rule",
        "name": name, "expressions": {"destination_application_security_group_ids": {
            "constant_value": ["${azurerm_application_security_group.appliance_asg.id}"],
            "references": ["azurerm_application_security_group.appliance_asg.id",
                           "azurerm_application_security_group.appliance_asg"]}}})


def test_an_azure_rule_outside_the_files_is_a_finding_and_wider_than_the_table(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    _extra_azure_rule(plan, "debug-rdp", 300, "3389")
    stack = _review(AZURE, plan, tmp_path)
    (finding,) = stack.findings
    assert "inbound TCP 3389 from Internet (internet)" in finding and "debug-rdp (300)" in finding
    assert any("Wider than the vendor table: inbound TCP 3389" in w for w in stack.warnings)
    assert [o.origin for o in stack.change.added if o.ports.low == 3389] == [UNINTENDED]
    assert stack.verify is not None and stack.verify.failed  # verify reads the same plan


def test_an_azure_allow_rule_behind_the_deny_all_opens_nothing(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    _extra_azure_rule(plan, "late-rdp", 4097, "3389")
    stack = _review(AZURE, plan, tmp_path)
    assert stack.findings == []
    assert any("late-rdp (4097) comes after deny-in-all (4096)" in n for n in stack.notes)


def test_a_missing_deny_rule_is_a_finding(synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    plan["resource_changes"] = [c for c in plan["resource_changes"]
                                if c["address"] != "azurerm_network_security_rule.deny-out-all"]
    stack = _review(AZURE, plan, tmp_path)
    assert stack.findings == ["In the files, not in the plan: the deny rule deny-out-all (4096): "
                              "the appliances open nothing else"]


def test_an_nsg_rule_no_terraform_resource_manages_stays_after_apply(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = applied(_plan(synthesized, AZURE, "azure"), {})
    nsg = next(c for c in plan["resource_changes"]
               if c["address"] == "azurerm_network_security_group.appliance_nsg")
    managed = [dict(c["change"]["before"]) for c in plan["resource_changes"]
               if c["type"] == "azurerm_network_security_rule"]
    console = {"name": "console-ssh", "priority": 200, "direction": "Inbound",
               "access": "Allow", "protocol": "Tcp", "destination_port_range": "22",
               "source_address_prefix": "203.0.113.0/24",
               "destination_address_prefix": "*"}
    for side in ("before", "after"):
        nsg["change"][side]["security_rule"] = managed + [console]
    stack = _review(AZURE, plan, tmp_path)
    assert stack.change is not None and stack.change.empty  # apply leaves it where it is
    (finding,) = stack.findings
    assert "inbound TCP 22 from 203.0.113.0/24" in finding
    (opening,) = [o for o in stack.head.openings if o.origin == UNINTENDED]
    assert "no Terraform resource manages it" in opening.note
    assert "not only to the appliances' ASG" in opening.note  # destination '*'


def _as_hcl(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as an HCL configuration writes it: expressions with references have no
    constant_value (JSON configuration's templates)."""
    for resource in plan["configuration"]["root_module"]["resources"]:
        for expression in resource["expressions"].values():
            if expression.get("references"):
                expression.pop("constant_value", None)
    return plan


@pytest.mark.parametrize("path", [AZURE, AWS], ids=lambda p: p.name)
def test_a_plan_of_an_hcl_configuration_is_reviewed_and_verified(
        synthesized: Synthesized, path: Path, tmp_path: Path) -> None:
    """Lists holding a reference are unknown as a whole (`true`); verify reads them from
    the configuration's references (it crashed on them)."""
    cloud = "azure" if path == AZURE else "aws"
    plan = _as_hcl(_plan(synthesized, path, cloud))
    if cloud == "azure":
        assert any(c["change"]["after_unknown"].get("destination_application_security_group_ids")
                   is True for c in plan["resource_changes"])
    stack = _review(path, plan, tmp_path)
    assert stack.findings == []
    assert stack.verify is not None and stack.verify.status == "passed", stack.verify


def test_aws_lists_are_inline_rules_only_where_the_configuration_sets_them(
        synthesized: Synthesized, tmp_path: Path) -> None:
    """The configuration sets `egress` (inline rules), not `ingress`: the ingress list is what
    the group has in the cloud, its copies of the rule resources are not rules twice, and a
    console rule in it is one no Terraform resource manages. Verify reads it the same way."""
    plan = applied(_plan(synthesized, AWS, "aws"), {})
    group = next(c for c in plan["resource_changes"]
                 if c["address"] == "aws_security_group.appliance")
    rules = [(c["type"], c["change"]["before"]) for c in plan["resource_changes"]
             if c["type"].startswith("aws_vpc_security_group_")]
    lists = aws_group_lists(rules, group["change"]["before"]["id"])
    console = {**lists["ingress"][0], "cidr_blocks": ["203.0.113.0/24"], "from_port": 3389,
               "to_port": 3389, "description": "RDP while debugging"}
    for side in ("before", "after"):
        group["change"][side].update(ingress=lists["ingress"] + [console], egress=[])
    config = next(r for r in plan["configuration"]["root_module"]["resources"]
                  if r["address"] == "aws_security_group.appliance")
    config["expressions"]["egress"] = {"constant_value": []}
    stack = _review(AWS, plan, tmp_path)
    assert stack.change is not None and stack.change.empty
    (finding,) = stack.findings
    assert "inbound TCP 3389 from 203.0.113.0/24" in finding
    (opening,) = [o for o in stack.head.openings if o.origin == UNINTENDED]
    assert "no Terraform resource manages it" in opening.note
    assert not any(o.resource.startswith("aws_security_group.appliance.ingress")
                   for o in stack.head.openings if o is not opening)
    assert stack.verify is not None and stack.verify.failed
    assert all("TCP 3389" in f for f in stack.verify.findings)


def test_an_aws_rule_edited_in_the_plan_is_removed_and_added(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = applied(_plan(synthesized, AWS, "aws"), {})
    rule = next(c for c in plan["resource_changes"] if c["name"].startswith("R16_"))
    rule["change"]["actions"] = ["update"]
    rule["change"]["after"].update(from_port=8000, to_port=8999)
    stack = _review(AWS, plan, tmp_path)
    assert [str(o.ports) for o in stack.change.added] == ["TCP 8000-8999"]
    assert [(str(o.ports), o.rows) for o in stack.change.removed] == [("TCP 8443", ("R16",))]
    assert any("not in the files: inbound TCP 8000-8999" in f for f in stack.findings)
    assert any("not in the plan: inbound TCP 8443" in f for f in stack.findings)
    # The edited rule still claims R16, but a port range is not what R16 is.
    (edited,) = stack.change.added
    assert edited.rows == () and edited.origin == UNINTENDED


def test_an_aws_security_group_rule_resource_is_read(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    after = {"type": "ingress", "protocol": "-1", "from_port": 0, "to_port": 0,
             "cidr_blocks": ["10.10.99.0/24"], "description": "R15 admin-http: really"}
    plan["resource_changes"].append({
        "address": "aws_security_group_rule.extra", "mode": "managed",
        "type": "aws_security_group_rule", "name": "extra",
        "change": {"actions": ["create"], "before": None, "after": after,
                   "after_unknown": {"security_group_id": True}}})
    plan["configuration"]["root_module"]["resources"].append({
        "address": "aws_security_group_rule.extra", "expressions": {"security_group_id": {
            "references": ["aws_security_group.appliance.id", "aws_security_group.appliance"]}}})
    stack = _review(AWS, plan, tmp_path)
    (extra,) = [o for o in stack.head.openings if o.origin == UNINTENDED]
    assert str(extra.ports) == "all traffic" and extra.role == "admin_pc"
    assert extra.rows == ()  # all traffic is not R15, whatever the description says
    assert "aws_security_group_rule" in extra.note


def test_a_rule_of_another_group_is_not_the_appliances(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    rule = copy.deepcopy(next(c for c in plan["resource_changes"] if c["name"].startswith("R04")))
    rule["address"] = rule["name"] = "aws_vpc_security_group_ingress_rule.other"
    rule["change"]["after"].update(from_port=3389, to_port=3389, security_group_id="sg-0other")
    rule["change"]["after_unknown"] = {}
    plan["resource_changes"].append(rule)
    assert _review(AWS, plan, tmp_path).findings == []


@pytest.mark.parametrize("text,message", [
    ("not json", "is not JSON"),
    (json.dumps({"format_version": "1.0", "values": {}}), "this is a state, not a plan"),
    (json.dumps({"resource_changes": []}), "format_version: is missing"),
    (json.dumps({"format_version": "1.2", "resource_changes": []}), "holds no sxcloud firewall"),
    (json.dumps({"format_version": "1.2", "errored": True, "resource_changes": []}),
     "could not finish"),
    (json.dumps({"format_version": "1.2", "resource_changes": [{"change": 3}]}),
     "resource_changes[0].change: must be an object"),
])
def test_bad_plans_are_refused_naming_the_file(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        tfplan.load(path)
    assert message in str(error.value) and str(path) in str(error.value)


def test_a_plan_of_another_deployment_is_refused(synthesized: Synthesized,
                                                 tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(refresh_planned_values(_plan(synthesized, AZURE, "azure"))))
    with pytest.raises(InputError, match="deployment 'mail-azure-cluster'"):
        build.from_plans([load(AWS)], [plan_file])


def test_every_tcp_port_from_the_internet_is_flagged_not_a_crash(
        synthesized: Synthesized, tmp_path: Path) -> None:
    """Issue 9: `review --plan` crashed sorting 'TCP all ports' among single ports."""
    plan = _plan(synthesized, AWS, "aws")
    copy_rule(plan, "wide_open", from_port=0, to_port=65535, ip_protocol="tcp",
              cidr_ipv4="0.0.0.0/0", description="temporary")
    stack = _review(AWS, plan, tmp_path)
    assert any("inbound TCP all ports from 0.0.0.0/0" in f for f in stack.findings)
    assert any("Wider than the vendor table: inbound TCP all ports" in w for w in stack.warnings)
    assert stack.verify is not None and stack.verify.failed  # verify reads the same plan
    assert "TCP all ports" in mermaid.flowchart(stack.head, stack.change)
    assert "TCP all ports" in "\n".join(markdown.stack_section(stack, None, True))


def test_icmp_and_gre_rules_added_in_a_plan_are_openings_named_in_words(
        synthesized: Synthesized, tmp_path: Path) -> None:
    """Issue 14: the openings a plan adds are read as verify's engine reads the rules, so an
    ICMP echo rule is ICMP type 8 (not every ICMP type), GRE is protocol 47 (GRE)."""
    plan = _plan(synthesized, AWS, "aws")
    copy_rule(plan, "ping", from_port=8, to_port=-1, ip_protocol="icmp",
              cidr_ipv4="0.0.0.0/0", description="ping")
    copy_rule(plan, "gre", from_port=-1, to_port=-1, ip_protocol="47",
              cidr_ipv4="0.0.0.0/0", description="gre")
    stack = _review(AWS, plan, tmp_path)
    assert sorted(str(o.ports) for o in stack.change.added if o.origin == UNINTENDED) == [
        "ICMP type 8", "protocol 47 (GRE)"]
    assert any("inbound ICMP type 8 from 0.0.0.0/0" in f for f in stack.findings)
    assert any("inbound protocol 47 (GRE) from 0.0.0.0/0" in f for f in stack.findings)
    chart = mermaid.flowchart(stack.head, stack.change)
    assert "ICMP type 8" in chart and "protocol 47 (GRE)" in chart


def test_an_azure_esp_rule_added_in_a_plan_is_named_in_words(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    _extra_azure_rule(plan, "vpn-esp", 300, "*")
    plan["resource_changes"][-1]["change"]["after"]["protocol"] = "Esp"
    stack = _review(AZURE, plan, tmp_path)
    assert [str(o.ports) for o in stack.change.added if o.origin == UNINTENDED] == [
        "protocol 50 (ESP)"]
    assert any("inbound protocol 50 (ESP) from Internet" in f for f in stack.findings)


# --- other resources ------------------------------------------------------------------------

def test_a_resource_no_file_intends_is_a_finding(synthesized: Synthesized,
                                                 tmp_path: Path) -> None:
    plan = _plan(synthesized, AWS, "aws")
    plan["resource_changes"].append({
        "address": "aws_instance.miner", "mode": "managed", "type": "aws_instance",
        "name": "miner", "change": {"actions": ["create"], "before": None,
                                    "after": {"ami": "ami-0123"}, "after_unknown": {"id": True}}})
    stack = _review(AWS, plan, tmp_path)
    (other,) = [r for r in stack.resources if not r.intended]
    assert other.address == "aws_instance.miner" and other.finding
    assert other.meaning == ("The plan creates aws_instance.miner, which no sxcloud file "
                             "intends.")
    assert stack.all_findings == [other.meaning]
    text = "\n".join(markdown.stack_section(stack, None, True))
    assert "#### Other resources in the plan" in text and "aws\\_instance.miner" not in text
    assert "| aws_instance.miner | creates | no | none | :x: **The plan creates" in text


def test_an_update_lists_the_attributes_it_changes_not_their_values(
        synthesized: Synthesized, tmp_path: Path) -> None:
    plan = applied(_plan(synthesized, AWS, "aws"), {})
    group = next(c for c in plan["resource_changes"]
                 if c["address"] == "aws_security_group.appliance")
    group["change"]["actions"] = ["update"]
    group["change"]["after"] = {**group["change"]["before"], "description": "sekrit-value"}
    stack = _review(AWS, plan, tmp_path)
    (action,) = stack.resources
    assert (action.action, action.attributes, action.finding) == ("updates", ("description",),
                                                                  False)
    assert "sekrit-value" not in "\n".join(markdown.stack_section(stack, None, True))


def _association(plan: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in plan["resource_changes"]
                if c["type"] == "azurerm_subnet_network_security_group_association")


def test_a_plan_that_deletes_an_association_is_a_finding(synthesized: Synthesized,
                                                         tmp_path: Path) -> None:
    plan = applied(_plan(synthesized, AZURE, "azure"), {})
    association = _association(plan)
    association["change"].update(actions=["delete"], after=None)
    stack = _review(AZURE, plan, tmp_path)
    (action,) = [r for r in stack.resources if r.address == association["address"]]
    assert action.finding and action.action == "deletes"
    assert "the NSG no longer guards subnet /subscriptions/" in action.meaning


def test_an_association_missing_from_the_plan_is_a_finding(synthesized: Synthesized,
                                                           tmp_path: Path) -> None:
    plan = _plan(synthesized, AZURE, "azure")
    address = _association(plan)["address"]
    plan["resource_changes"] = [c for c in plan["resource_changes"] if c["address"] != address]
    stack = _review(AZURE, plan, tmp_path)
    assert stack.findings == [f"In the files, not in the plan: {address}"]
