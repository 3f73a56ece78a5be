"""`sxcloud audit aws` without a cloud: the comparison of intended and live rules (a pure
function over DescribeSecurityGroupRules items), and the refusal of bad input.

The live items here are written the way the EC2 API documents them (spec/clouds.md):
lower-case protocol names or protocol numbers, -1 as both ports of an all-traffic rule,
ReferencedGroupInfo with the owner's UserId. The end-to-end tests read them from moto.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, deployment, example_data
from sxcloud import cli
from sxcloud.aws.drift import compare, live_rule
from sxcloud.aws.plan import (CIDR_IPV4, CIDR_IPV6, EGRESS, PREFIX_LIST, SECURITY_GROUP, SELF,
                              SgPlan, SgRule, plan)

GROUP = "sg-0feedfacefeedface"


def planned(example: str) -> SgPlan:
    path = ROOT / "examples" / example
    return plan(deployment(example_data(path), path))


def as_described(rule: SgRule, number: int) -> dict[str, Any]:
    """The DescribeSecurityGroupRules item AWS would return for a planned rule."""
    item: dict[str, Any] = {
        "SecurityGroupRuleId": f"sgr-{number:017x}", "GroupId": GROUP,
        "GroupOwnerId": "123456789012", "IsEgress": rule.direction == EGRESS,
        "IpProtocol": rule.ip_protocol,
        "FromPort": -1 if rule.from_port is None else rule.from_port,
        "ToPort": -1 if rule.to_port is None else rule.to_port,
        "Description": rule.description,
    }
    value = GROUP if rule.peer.value == SELF else rule.peer.value
    item.update({CIDR_IPV4: {"CidrIpv4": value}, CIDR_IPV6: {"CidrIpv6": value},
                 PREFIX_LIST: {"PrefixListId": value},
                 SECURITY_GROUP: {"ReferencedGroupInfo": {"GroupId": value,
                                                          "UserId": "123456789012"}},
                 }[rule.peer.kind])
    return item


def described(p: SgPlan) -> list[dict[str, Any]]:
    return [as_described(r, n) for n, r in enumerate(p.rules)]


def drift_of(p: SgPlan, items: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return compare(p, GROUP, [live_rule(i) for i in items])


@pytest.mark.parametrize("example", ["aws-single.yaml", "aws-cluster-ipv6.yaml",
                                     "simple-both.yaml"])
def test_a_group_as_planned_has_no_drift(example: str) -> None:
    p = planned(example)
    d = drift_of(p, described(p))
    assert not d.found
    assert (d.intended, d.live) == (len(p.rules), len(p.rules))


def test_the_same_rule_written_differently_is_the_same_rule() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    v6 = next(i for i in items if i.get("CidrIpv6") == "fd00:30::53/128")
    v6["CidrIpv6"] = "FD00:0030:0000:0000:0000:0000:0000:0053/128"  # the long, upper-case form
    tcp = next(i for i in items if i["IpProtocol"] == "tcp")
    tcp["IpProtocol"] = "6"  # a protocol number
    for item in items:
        if not item["Description"]:
            del item["Description"]
    assert not drift_of(p, items).found
    simple = planned("simple-both.yaml")
    everything = [i for i in described(simple) if i["IpProtocol"] == "-1"]
    assert everything and all(i["FromPort"] == -1 for i in everything)  # AWS's way
    assert not drift_of(simple, described(simple)).found


def test_missing_unexpected_and_changed_are_told_apart() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    gone = next(r for r in p.rules if r.flow.row.id == "R04")
    moved = next(n for n, r in enumerate(p.rules) if r.flow.row.id == "R11")
    worded = next(n for n, r in enumerate(p.rules) if r.peer.value == SELF)
    items[moved] = {**items[moved], "FromPort": 444, "ToPort": 444}
    items[worded] = {**items[worded], "Description": "edited in the console"}
    items = [i for i, r in zip(items, p.rules) if r is not gone]
    items.append({"SecurityGroupRuleId": "sgr-0000000000000ffff", "GroupId": GROUP,
                  "IsEgress": False, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "CidrIpv4": "0.0.0.0/0"})
    d = drift_of(p, items)
    assert [r.key for r in d.missing] == [gone.key, p.rules[moved].key]
    assert [(u.rule_id, u.permission.ports, u.permission.peer) for u in d.unexpected] == [
        ("sgr-0000000000000ffff", "tcp/22", "0.0.0.0/0"),
        (as_described(p.rules[moved], moved)["SecurityGroupRuleId"], "tcp/444",
         p.rules[moved].peer.value)]
    assert [(c.rule.key, [(f.field, f.intended, f.live) for f in c.changes])
            for c in d.changed] == [(p.rules[worded].key, [
                ("description", p.rules[worded].description, "edited in the console")])]
    assert d.found


def test_self_means_this_group_and_no_other() -> None:
    p = planned("aws-cluster-ipv6.yaml")
    items = described(p)
    for item in items:
        if item.get("ReferencedGroupInfo", {}).get("GroupId") == GROUP:
            item["ReferencedGroupInfo"] = {"GroupId": "sg-0aaaaaaaaaaaaaaaa"}
    d = drift_of(p, items)
    selfish = [r.key for r in p.rules if r.peer.value == SELF]
    assert selfish and [r.key for r in d.missing] == selfish
    assert {u.permission.peer for u in d.unexpected} == {"sg-0aaaaaaaaaaaaaaaa"}


# --- bad input: exit 2, the file and the key named, nothing on stdout ------------------------

@pytest.mark.parametrize("args,message", [
    (["examples/azure-cluster.yaml"], "examples/azure-cluster.yaml: aws: is not in this file"),
    (["examples/aws-single.yaml", "--group-id", "sg-1"],
     "examples/aws-single.yaml: --group-id: 'sg-1' is not a security group id"),
    (["examples/no-such.yaml"], "examples/no-such.yaml: no such file"),
    (["examples/aws-single.yaml", "--endpoint-url", "not-a-url"],
     "examples/aws-single.yaml: --endpoint-url: Invalid endpoint: not-a-url"),
    (["examples/aws-single.yaml", "--profile", "sxcloud-no-such-profile"],
     "examples/aws-single.yaml: --profile: The config profile (sxcloud-no-such-profile) "
     "could not be found"),
])
def test_bad_input_exits_2(args: list[str], message: str, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # no user profiles
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    assert cli.main(["audit", "aws", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"sxcloud: error: {message}" in err
