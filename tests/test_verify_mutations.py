"""Mutations of synthesized stacks: verify must catch each one and name the flow.

Which flows a rule carries is taken from the planners' rule objects; they are the test's
oracle here, not verify's (verify reads only the JSON).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import shutil

import pytest

from conftest import EXAMPLES
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import plan as azure_plan
from sxcloud.cli import main
from sxcloud.verify.model import INVALID, MISSING, UNEXPECTED
from verifying import AWS_RULE_TYPES, NSG_RULE, intended, kinds, run, stacks

ASG = "${azurerm_application_security_group.appliance_asg.id}"
NSG = "${azurerm_network_security_group.appliance_nsg.name}"
SG = "${aws_security_group.appliance.id}"


def carried_flows(d, cloud) -> dict[str, list[str]]:
    """Rule resource name -> the flows it carries (str(flow), as verify names them)."""
    if cloud == "aws":
        return {r.key: [str(r.flow)] for r in aws_plan.plan(d).rules}
    return {r.name: [str(f) for f in (*r.flows, *([r.exception] if r.exception else []))]
            for r in azure_plan.plan(d).rules}


def rule_resources(stack, cloud):
    types = AWS_RULE_TYPES if cloud == "aws" else (NSG_RULE,)
    return [(t, name) for t in types for name in stack["resource"].get(t, {})]


def test_removing_any_generated_rule_is_caught_naming_its_flows(synthesized):
    removed = 0
    for d, cloud in stacks(synthesized):
        stack = synthesized.stack(f"{d.name}-{cloud}")
        flows = carried_flows(d, cloud)
        for rtype, name in rule_resources(stack, cloud):
            mutated = copy.deepcopy(stack)
            del mutated["resource"][rtype][name]
            result = run(d, cloud, mutated)
            assert not result.ok, f"{d.name}-{cloud}: removing {name} went unnoticed"
            if flows[name]:  # an allow rule: each of its flows is reported missing
                assert set(flows[name]) <= intended(result), (name, intended(result))
            elif name == "allow-in-azure-load-balancer":
                assert any(i.startswith("platform:") for i in intended(result))
            else:  # a deny rule: what it stopped is now open
                assert UNEXPECTED in kinds(result), name
            removed += 1
    assert removed > 500  # examples and their variants, every rule of each


def _widen(cidr: str) -> str:
    net = ipaddress.ip_network(cidr)
    return str(net.supernet())


def test_widening_any_cidr_by_one_bit_is_caught(synthesized):
    widened = 0
    for d, cloud in stacks(synthesized):
        stack = synthesized.stack(f"{d.name}-{cloud}")
        for rtype, name in rule_resources(stack, cloud):
            body = stack["resource"][rtype][name]
            keys = [k for k in ("cidr_ipv4", "cidr_ipv6") if k in body]
            keys += [k for k in ("source_address_prefixes", "destination_address_prefixes")
                     if k in body]
            for key in keys:
                values = body[key] if isinstance(body[key], list) else [body[key]]
                for index, cidr in enumerate(values):
                    if ipaddress.ip_network(cidr).prefixlen == 0:
                        continue
                    mutated = copy.deepcopy(stack)
                    target = mutated["resource"][rtype][name]
                    if isinstance(target[key], list):
                        target[key][index] = _widen(cidr)
                    else:
                        target[key] = _widen(cidr)
                    result = run(d, cloud, mutated)
                    # Either the wider rule opens a flow nobody intends, or (where another
                    # rule already opens the same to everyone, as R04 does for R03's TCP 25
                    # on AWS) the role's flow is no longer granted by a rule scoped to it.
                    assert any(name in (f.decided_by or "") and f.allowed
                               for f in result.findings), f"{name}: {cidr} widened went unnoticed"
                    widened += 1
    assert widened > 200


def test_all_traffic_on_any_egress_rule_is_caught(synthesized):
    changed = 0
    for d, cloud in stacks(synthesized):
        stack = synthesized.stack(f"{d.name}-{cloud}")
        for rtype, name in rule_resources(stack, cloud):
            body = stack["resource"][rtype][name]
            mutated = copy.deepcopy(stack)
            target = mutated["resource"][rtype][name]
            if cloud == "aws" and rtype == "aws_vpc_security_group_egress_rule":
                if body["ip_protocol"] == "-1":
                    continue  # already all traffic (a simple installation's internal rule)
                target["ip_protocol"] = "-1"
                target.pop("from_port", None)  # none for a protocol number (an exception's ESP)
                target.pop("to_port", None)
            elif (cloud == "azure" and body["direction"] == "Outbound"
                  and body["access"] == "Allow" and body["protocol"] != "*"):
                target["protocol"] = "*"
                target.pop("destination_port_ranges", None)  # an exception's ESP has "*" alone
                target["destination_port_range"] = "*"
            else:
                continue
            result = run(d, cloud, mutated)
            unexpected = [f for f in result.findings if f.kind == UNEXPECTED]
            assert unexpected, f"{name}: all traffic went unnoticed"
            assert all(f.direction == "outbound" for f in unexpected)
            changed += 1
    assert changed > 100


def _rdp_from_internet(cloud, stack):
    mutated = copy.deepcopy(stack)
    if cloud == "aws":
        mutated["resource"]["aws_vpc_security_group_ingress_rule"]["rdp"] = {
            "security_group_id": SG, "ip_protocol": "tcp", "from_port": 3389, "to_port": 3389,
            "cidr_ipv4": "0.0.0.0/0", "description": "remote desktop"}
    else:
        mutated["resource"][NSG_RULE]["rdp"] = {
            "name": "rdp", "priority": 300, "direction": "Inbound", "access": "Allow",
            "protocol": "Tcp", "source_port_range": "*", "destination_port_range": "3389",
            "source_address_prefix": "Internet",
            "destination_application_security_group_ids": [ASG],
            "resource_group_name": next(iter(mutated["resource"][NSG_RULE].values()))["resource_group_name"],
            "network_security_group_name": NSG, "description": "remote desktop"}
    return mutated


@pytest.mark.parametrize("stack_name", ["mail-aws-single-aws", "mail-aws-cluster-aws",
                                        "mail-azure-cluster-azure", "mail-simple-azure",
                                        "mailcrypt-example-azure"])
def test_rdp_from_the_internet_is_caught(stack_name, synthesized):
    d, cloud = next((d, c) for d, c in stacks(synthesized) if f"{d.name}-{c}" == stack_name)
    result = run(d, cloud, _rdp_from_internet(cloud, synthesized.stack(stack_name)))
    rdp = [f for f in result.findings if f.kind == UNEXPECTED]
    assert rdp and all(f.direction == "inbound" and f.region.ports == (3389, 3389)
                       and f.region.protocols == {6} and f.decided_by.startswith(
        ("aws_vpc_security_group_ingress_rule.rdp", "azurerm_network_security_rule.rdp"))
        for f in rdp)
    assert any(str(f.example.address) == "203.0.113.10" for f in rdp)


def test_rdp_added_to_an_augmented_azure_rule_is_caught(synthesized):
    d, cloud = next((d, c) for d, c in stacks(synthesized) if f"{d.name}-{c}" == "mail-azure-cluster-azure")
    stack = copy.deepcopy(synthesized.stack("mail-azure-cluster-azure"))
    stack["resource"][NSG_RULE]["allow-in-internet-tcp"]["destination_port_ranges"].append("3389")
    result = run(d, cloud, stack)
    assert {(f.kind, f.region.ports) for f in result.findings} == {(UNEXPECTED, (3389, 3389))}


def test_deleting_an_azure_deny_is_caught(synthesized):
    for d, cloud in stacks(synthesized):
        if cloud != "azure":
            continue
        for deny in ("deny-in-all", "deny-out-all"):
            stack = copy.deepcopy(synthesized.stack(f"{d.name}-{cloud}"))
            del stack["resource"][NSG_RULE][deny]
            result = run(d, cloud, stack)
            default = "AllowVnetInBound" if deny == "deny-in-all" else "AllowVnetOutBound"
            assert any(f.kind == UNEXPECTED and default in f.decided_by for f in result.findings)


def test_swapping_priorities_so_a_deny_shadows_an_allow_is_caught(synthesized):
    swapped = 0
    for d, cloud in stacks(synthesized):
        if cloud != "azure":
            continue
        stack = synthesized.stack(f"{d.name}-{cloud}")
        flows = carried_flows(d, cloud)
        rules = stack["resource"][NSG_RULE]
        for deny, direction in (("deny-in-all", "Inbound"), ("deny-out-all", "Outbound")):
            for name, body in rules.items():
                if body["direction"] != direction or body["access"] != "Allow":
                    continue
                mutated = copy.deepcopy(stack)
                m = mutated["resource"][NSG_RULE]
                m[deny]["priority"], m[name]["priority"] = body["priority"], rules[deny]["priority"]
                result = run(d, cloud, mutated)
                missing = [f for f in result.findings if f.kind == MISSING]
                # denied, or (where another role's allow comes first: a cluster's SSH rule
                # for the ASG before an exception's SSH) allowed only by that rule
                assert missing and all(deny in f.decided_by or f.allowed for f in missing), (
                    name, [f.message for f in missing if deny not in f.decided_by])
                assert any(deny in f.decided_by for f in missing), name
                if flows[name]:
                    assert set(flows[name]) <= intended(result)
                swapped += 1
    assert swapped > 30


def test_invalid_priorities_are_findings(synthesized):
    d, cloud = next((d, c) for d, c in stacks(synthesized) if f"{d.name}-{c}" == "mail-simple-azure")
    stack = copy.deepcopy(synthesized.stack("mail-simple-azure"))
    rules = stack["resource"][NSG_RULE]
    inbound = [n for n, b in rules.items() if b["direction"] == "Inbound" and b["access"] == "Allow"]
    rules[inbound[0]]["priority"] = rules[inbound[1]]["priority"]
    rules["deny-out-all"]["priority"] = 4097
    result = run(d, cloud, stack)
    messages = [f.message for f in result.findings if f.kind == INVALID]
    assert any("is used by 2 inbound rules" in m for m in messages)
    assert any("priority 4097 is outside 100-4096" in m for m in messages)


def test_command_line_exits_1_naming_the_flow(synthesized, tmp_path, capsys):
    out = tmp_path / "cdktf.out"
    shutil.copytree(synthesized.out, out)
    path = out / "stacks" / "mail-aws-single-aws" / "cdk.tf.json"
    stack = json.loads(path.read_text())
    del stack["resource"]["aws_vpc_security_group_ingress_rule"]["R03_in_tcp25_cidr_10-10-1-25_32"]
    path.write_text(json.dumps(stack))
    status = main(["verify", str(EXAMPLES[1]), "--synth-dir", str(out)])
    text = capsys.readouterr().out
    assert status == 1
    assert "missing    R03 inbound TCP 25 from internal_mail_server" in text
    assert "aws_vpc_security_group_ingress_rule.R04_in_tcp25_cidr_0-0-0-0_0" in text  # wider
    status = main(["verify", str(EXAMPLES[1]), "--synth-dir", str(out), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 1 and not data["ok"]
    assert {f["intended"] for f in data["stacks"][0]["findings"]} == {
        "R03 inbound TCP 25 from internal_mail_server"}
