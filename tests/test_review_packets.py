"""The exact change in packets that review shows beside its openings (verify.delta,
review.packets).

Property test (hypothesis, fixed seed): two random rule sets on one generated stack, before
and after, are compared by the engine and by the brute-force evaluator of
test_verify_property on random packets: a packet is decided otherwise exactly when it lies
in a reported region (allowed now when the region says newly allowed), and every region's
example packet really is decided otherwise. Then the review: a rule added that another
already covers is listed as allowing nothing new, and the packets list names the protocol.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import test_verify_property as prop
from conftest import ROOT
from sxcloud import cli
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from sxcloud.policy import OUTBOUND
from sxcloud.review.packets import between
from sxcloud.verify.intent import BEYOND_VNET
from sxcloud.verify.tfjson import CDKTF, parse


def _stack(cloud: str, extra: list[dict[str, Any]]) -> dict[str, Any]:
    d = prop.D
    if cloud == "aws":
        stack = {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}
        for i, r in enumerate(extra):
            rtype = aws_attributes.EGRESS_TYPE if r["egress"] else aws_attributes.INGRESS_TYPE
            stack["resource"][rtype][f"random{i}"] = r["body"]
        return stack
    stack = {"resource": azure_attributes.resources(azure_plan.plan(d), location="westeurope",
                                                    resource_group="rg-prop")}
    for r in extra:
        stack["resource"][azure_attributes.RULE_TYPE][r["name"]] = r
    return stack


def _allowed(cloud: str, stack: dict[str, Any], packet: tuple[Any, ...]) -> bool:
    direction, protocol, port, address, member = packet
    if cloud == "aws":
        return bool(prop.aws_allowed(stack, direction, protocol, port, address))
    return prop.azure_decision(stack, direction, protocol, port, address, member)[0]


def check(cloud: str, before: list[dict[str, Any]], after: list[dict[str, Any]],
          sample: list[Any]) -> None:
    old, new = _stack(cloud, before), _stack(cloud, after)
    delta = between(cloud, (prop.D, parse(copy.deepcopy(old), "before", CDKTF)),
                    (prop.D, parse(copy.deepcopy(new), "after", CDKTF)))
    assert delta is not None
    if cloud == "aws":
        sample = [(*p[:4], "") for p in sample]  # no group memberships on AWS here

    def changed(packet: tuple[Any, ...]) -> bool:
        return _allowed(cloud, old, packet) != _allowed(cloud, new, packet)

    for shift in delta.shifts:
        e = shift.example
        example = (e.direction, e.protocol, prop._port(e), e.address, e.member)
        assert prop.in_region(shift.region, example), str(shift)
        if e.member in ("", BEYOND_VNET):
            assert changed(example) and _allowed(cloud, new, example) == shift.allowed, str(shift)
    for packet in sample:
        if packet[0] == OUTBOUND and packet[3] in prop.UNFILTERED[cloud]:
            continue  # the cloud does not filter it: neither side decides it
        hits = [s for s in delta.shifts if prop.in_region(s.region, packet)]
        if changed(packet) and not hits and packet[4]:
            # a member that fares as a host of no group is reported once, as that host
            plain = (*packet[:4], "")
            hits = [s for s in delta.shifts if prop.in_region(s.region, plain)]
        assert changed(packet) == bool(hits), (packet, [str(s) for s in delta.shifts])
        if hits:
            assert all(s.allowed == _allowed(cloud, new, packet) for s in hits), packet


@settings(max_examples=30, **prop.SETTINGS)
@given(prop.aws_rules(), prop.aws_rules(), st.lists(prop.packets(), min_size=200, max_size=200))
def test_aws_change_agrees_with_brute_force(before, after, sample):
    check("aws", before, after, sample)


@settings(max_examples=30, **prop.SETTINGS)
@given(prop.azure_rules(), prop.azure_rules(),
       st.lists(prop.packets(), min_size=200, max_size=200))
def test_azure_change_agrees_with_brute_force(before, after, sample):
    check("azure", before, after, sample)


def test_an_added_rule_that_others_cover_allows_nothing_new(tmp_path: Path, capsys) -> None:
    """A site exception for HTTPS from part of admin_pc, which R16 already lets in, and one
    for ICMP echo: the first adds no packet and is listed so; the second's packets are
    named."""
    data = yaml.safe_load((ROOT / "examples" / "aws-single.yaml").read_text())
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(data))
    common = {"owner": "noc@example.com", "reason": "test", "expires": "2027-01-31"}
    data["exceptions"] = [
        {"id": "https-part", "direction": "inbound", "protocol": "tcp", "ports": [8443],
         "peer": {"cidrs": ["10.10.99.0/25"]}, **common},
        {"id": "ping", "direction": "inbound", "protocol": "icmp", "icmp_type": 8,
         "peer": {"cidrs": ["10.10.50.0/24"]}, **common}]
    head = tmp_path / "head.yaml"
    head.write_text(yaml.safe_dump(data))
    assert cli.main(["review", str(head), "--base", str(base), "--json"]) == 0
    change = json.loads(capsys.readouterr().out)["stacks"][0]["change"]
    inert = [o["resource"] for o in change["added_allowing_nothing_new"]]
    assert inert and all(r.startswith("X-https-part") for r in inert), inert
    newly = change["packets"]["newly_allowed"]
    assert [(s["region"]["protocol_names"], s["example"].get("icmp_type")) for s in newly] == [
        ("ICMP", 8)], newly
    assert change["packets"]["no_longer_allowed"] == []

    assert cli.main(["review", str(head), "--base", str(base)]) == 0
    text = capsys.readouterr().out
    assert "**Added, allowing nothing new" in text
    assert "**Packets newly allowed by site exceptions**" in text
    assert "inbound ICMP type 8 from 10.10.50.0/24" in text
