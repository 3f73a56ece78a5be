"""verify decides every packet: the protocol holes of issue 14, each caught and named on
synthesized JSON, a plan and a state; regions, example packets, the JSON report and the
notes on shadowed Azure rules."""

from __future__ import annotations

import copy
import json

import pytest

import tfshow
from conftest import deployment
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from sxcloud.cli import main
from sxcloud.verify import verify
from sxcloud.verify.model import UNEXPECTED
from sxcloud.verify.tfjson import PLAN, STATE, parse
from test_verify_semantics import DATA

INGRESS, EGRESS = aws_attributes.INGRESS_TYPE, aws_attributes.EGRESS_TYPE
NSG_RULE = "azurerm_network_security_rule"
EVERY_PORT = (0, 65535)


def aws_stack(d):
    return {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}


def azure_stack(d):
    return {"resource": azure_attributes.resources(azure_plan.plan(d), location="westeurope",
                                                   resource_group="rg-sem")}


def _aws(rtype, **values):
    return rtype, {"security_group_id": str(aws_attributes.GROUP_ID), "description": "hole", **values}


def _azure(direction, protocol, peer):
    inbound = direction == "Inbound"
    own = "destination" if inbound else "source"
    other = "source" if inbound else "destination"
    return NSG_RULE, {
        "name": "hole", "priority": 300, "direction": direction, "access": "Allow",
        "protocol": protocol, "source_port_range": "*", "destination_port_range": "*",
        f"{other}_address_prefix": peer,
        f"{own}_application_security_group_ids": [str(azure_attributes.ASG_ID)],
        "resource_group_name": "rg-sem",
        "network_security_group_name": str(azure_attributes.NSG_NAME_REF), "description": "hole"}


#: (case, cloud, rule, direction, protocols, second dimension, addresses, words in the report)
HOLES = [
    ("aws ICMP all", "aws", _aws(INGRESS, ip_protocol="icmp", from_port=-1, to_port=-1,
                                 cidr_ipv4="0.0.0.0/0"),
     "inbound", {1}, EVERY_PORT, "0.0.0.0/0", "inbound ICMP (all types) from 0.0.0.0/0"),
    ("aws ICMP echo", "aws", _aws(INGRESS, ip_protocol="icmp", from_port=8, to_port=0,
                                  cidr_ipv4="0.0.0.0/0"),
     "inbound", {1}, (2048, 2048), "0.0.0.0/0", "inbound ICMP type 8 code 0 from 0.0.0.0/0"),
    ("aws SCTP", "aws", _aws(INGRESS, ip_protocol="132", cidr_ipv4="0.0.0.0/0"),
     "inbound", {132}, EVERY_PORT, "0.0.0.0/0", "inbound protocol 132 (SCTP) from 0.0.0.0/0"),
    ("aws GRE egress", "aws", _aws(EGRESS, ip_protocol="47", cidr_ipv4="0.0.0.0/0"),
     "outbound", {47}, EVERY_PORT, "0.0.0.0/0", "outbound protocol 47 (GRE) to 0.0.0.0/0"),
    ("aws ESP from ::/0", "aws", _aws(INGRESS, ip_protocol="50", cidr_ipv6="::/0"),
     "inbound", {50}, EVERY_PORT, "::/0", "inbound protocol 50 (ESP) from ::/0"),
    ("azure Icmp in from Internet", "azure", _azure("Inbound", "Icmp", "Internet"),
     "inbound", {1, 58}, EVERY_PORT, None, "inbound ICMP, ICMPv6 (all types) from"),
    ("azure Esp out to Internet", "azure", _azure("Outbound", "Esp", "Internet"),
     "outbound", {50}, EVERY_PORT, None, "outbound protocol 50 (ESP) to"),
    ("azure Ah in from Internet", "azure", _azure("Inbound", "Ah", "Internet"),
     "inbound", {51}, EVERY_PORT, None, "inbound protocol 51 (AH) from"),
]


def _documents(cloud, stack):
    """The stack as cdk.tf.json, as a plan that creates it, and as the state after apply."""
    ids = tfshow.aws_ids() if cloud == "aws" else tfshow.azure_ids()
    return [(parse(copy.deepcopy(stack), "cdk.tf.json"), "cdk.tf.json"),
            (parse(tfshow.plan_document(stack), "plan.json", PLAN), "plan"),
            (parse(tfshow.state_document(stack, ids), "state.json", STATE), "state")]


@pytest.mark.parametrize("case", HOLES, ids=[h[0] for h in HOLES])
def test_each_protocol_hole_is_caught_and_named(case):
    _, cloud, (rtype, body), direction, protocols, ports, addresses, words = case
    d = deployment(DATA, "holes.yaml")
    stack = aws_stack(d) if cloud == "aws" else azure_stack(d)
    assert verify(d, cloud, parse(copy.deepcopy(stack), "clean")).ok
    stack["resource"].setdefault(rtype, {})["hole"] = body
    for document, kind in _documents(cloud, stack):
        result = verify(d, cloud, document)
        assert not result.ok, kind
        assert {f.kind for f in result.findings} == {UNEXPECTED}, (kind, result.findings)
        for f in result.findings:
            assert f.direction == direction and f.region.protocols <= protocols
            assert f.region.ports == ports and f.decided_by.startswith(f"{rtype}.hole")
            assert f.example.protocol in protocols  # the example is in the region
            assert f.region.first <= f.example.address <= f.region.last
        assert set().union(*(f.region.protocols for f in result.findings)) == protocols
        if addresses:
            assert {f.region.addresses() for f in result.findings} == {addresses}
        assert any(words in f.message for f in result.findings), (
            kind, [f.message for f in result.findings])


def test_azure_internet_regions_leave_out_the_internal_network():
    """The Internet tag is every address outside roles.internal_network (10.70.0.0/16)."""
    d = deployment(DATA, "holes.yaml")
    stack = azure_stack(d)
    stack["resource"][NSG_RULE]["hole"] = _azure("Inbound", "Ah", "Internet")[1]
    result = verify(d, "azure", parse(stack, "cdk.tf.json"))
    v4 = sorted(f.region.addresses() for f in result.findings if f.region.first.version == 4)
    # 168.63.129.16, the load balancer, is intended every inbound packet
    assert v4 == ["0.0.0.0-10.69.255.255", "10.71.0.0-168.63.129.15",
                  "168.63.129.17-255.255.255.255"]


def test_the_command_line_reports_regions_and_example_packets(tmp_path, capsys):
    """GRE egress in a plan: exit 1; the text names the protocol; --json has the region and
    an example packet."""
    d = deployment(DATA, "holes.yaml")
    (tmp_path / "sem.yaml").write_text(json.dumps(DATA))
    stack = aws_stack(d)
    stack["resource"][EGRESS]["hole"] = HOLES[3][2][1]
    (tmp_path / "plan.json").write_text(json.dumps(tfshow.plan_document(stack)))
    args = ["verify", str(tmp_path / "sem.yaml"), "--plan-json", str(tmp_path / "plan.json")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert ("unexpected outbound protocol 47 (GRE) to 0.0.0.0/0: allowed but not intended: "
            "allowed by aws_vpc_security_group_egress_rule.hole") in out
    assert "e.g. outbound protocol 47 (GRE) to 203.0.113.10" in out
    assert main([*args, "--json"]) == 1
    (found,) = json.loads(capsys.readouterr().out)["stacks"][0]["findings"]
    assert found["region"] == {
        "direction": "outbound", "protocols": [[47, 47]], "protocol_names": "protocol 47 (GRE)",
        "ports": [0, 65535], "first_address": "0.0.0.0", "last_address": "255.255.255.255",
        "member_of": None}
    assert found["example"] == {"direction": "outbound", "protocol": 47,
                                "protocol_name": "protocol 47 (GRE)",
                                "address": "203.0.113.10", "member_of": None}


def test_adjacent_regions_are_merged():
    """Two rules for TCP 1000-1999 and 2000-2999 make one region, 1000-2999."""
    d = deployment(DATA, "merge.yaml")
    stack = aws_stack(d)
    for name, low, high in (("a", 1000, 1999), ("b", 2000, 2999)):
        stack["resource"][INGRESS][name] = _aws(INGRESS, ip_protocol="tcp", from_port=low,
                                                to_port=high, cidr_ipv4="198.51.100.0/24")[1]
    result = verify(d, "aws", parse(stack, "cdk.tf.json"))
    assert [(f.region.ports, f.region.addresses()) for f in result.findings] == [
        ((1000, 2999), "198.51.100.0/24")]
    assert str(result.findings[0].example) == "inbound TCP 1000 from 198.51.100.1"


def test_a_shadowed_azure_rule_is_noted():
    """A rule that rules of higher priority cover whole is reached by no packet; the
    generated rules are all reached."""
    d = deployment(DATA, "shadow.yaml")
    stack = azure_stack(d)
    clean = verify(d, "azure", parse(copy.deepcopy(stack), "clean"))
    assert not [n for n in clean.notes if "shadowed" in n]
    hole = _azure("Inbound", "Tcp", "Internet")[1]
    stack["resource"][NSG_RULE]["hole"] = {**hole, "priority": 500, "destination_port_range": "25"}
    result = verify(d, "azure", parse(stack, "cdk.tf.json"))
    assert result.ok  # it allows nothing new: the earlier rule already decides TCP 25
    assert [n for n in result.notes if "shadowed" in n] == [
        "azurerm_network_security_rule.hole (priority 500, Allow) is reached by no packet: "
        "rules of higher priority decide everything it covers (shadowed)"]
