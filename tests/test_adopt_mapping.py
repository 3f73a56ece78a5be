"""sxcloud.aws.adopt without a cloud: live rules (as DescribeSecurityGroupRules gives them)
against the file's plan. The end to end against moto is tests/test_adopt_aws.py."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from sxcloud import config
from sxcloud.aws import adopt, drift
from sxcloud.aws.live import Group
from sxcloud.aws.plan import plan
from sxcloud.errors import InputError

PATH = Path("site.yaml")
DATA = yaml.safe_load((ROOT / "examples" / "aws-single.yaml").read_text())
GROUP = Group("sg-0123456789abcdef0", "mailgw-sg", DATA["aws"]["vpc_id"], {}, "Mail gateway")
DAY = datetime.date(2026, 12, 1)


def live(n: int, egress: bool, protocol: str, low: int | None, high: int | None, **peer: str) -> drift.LiveRule:
    item = {"SecurityGroupRuleId": f"sgr-{n:017x}", "IsEgress": egress, "IpProtocol": protocol,
            "FromPort": low, "ToPort": high, **peer}
    return drift.live_rule(item)


def test_every_kind_of_peer_and_protocol_becomes_its_exact_exception() -> None:
    rules = [live(1, False, "icmp", 8, -1, CidrIpv4="10.30.0.0/16"),
             live(2, False, "tcp", 22, 22, ReferencedGroupInfo={"GroupId": GROUP.id}),
             live(3, True, "udp", 1000, 2000, PrefixListId="pl-0123456789abcdef0"),
             live(4, False, "50", None, None, ReferencedGroupInfo={"GroupId": "sg-00000000000000001"}),
             live(5, False, "tcp", 3389, 3389, CidrIpv4="10.20.0.0/16"),
             live(6, False, "tcp", 3389, 3389, CidrIpv4="10.20.0.0/17")]
    result = adopt.adopt(DATA, PATH, GROUP, rules, DAY)
    drafts = {e["id"]: e for e in result.exceptions}
    assert drafts["in-icmpt8-10-30-0-0-16"]["icmp_type"] == 8
    assert "icmp_code" not in drafts["in-icmpt8-10-30-0-0-16"]
    assert drafts["in-tcp22-self"]["peer"] == {"role": "appliance_peers"}
    assert drafts["out-udp1000-2000-pl-0123456789ab"]["ports"] == ["1000-2000"]
    assert drafts["in-p50-sg-00000000000000001"]["protocol"] == 50
    # Two flows that derive the same id: the second gets -2.
    assert {"in-tcp3389-10-20-0-0-16", "in-tcp3389-10-20-0-0-17"} <= set(drafts)
    assert all(e["expires"] == "2026-12-31" and e["clouds"] == ["aws"] for e in drafts.values())
    # Every live rule is mapped, and the file with the entries plans the same mapping.
    assert sorted(result.adopt["rules"].values()) == sorted(r.rule_id for r in rules)
    assert result.plan.imports() == result.adopt["rules"]


def test_ids_are_unique_against_the_files_own_exceptions() -> None:
    own = {"id": "in-tcp3389-10-20-0-0-16", "direction": "inbound", "protocol": "tcp",
           "ports": [3389], "peer": {"cidrs": ["10.21.0.0/16"]}, "reason": "jump hosts",
           "owner": "ops", "expires": "2027-01-31", "clouds": ["aws"]}
    data = {**DATA, "exceptions": [own]}
    rules = [live(1, False, "tcp", 3389, 3389, CidrIpv4="10.20.0.0/16"),
             live(2, False, "tcp", 3389, 3389, CidrIpv4="10.21.0.0/16"),
             live(3, False, "tcp", 3389, 3389, CidrIpv6="fd00:1234:5678:9abc::/64"),
             live(4, False, "tcp", 3389, 3389, CidrIpv6="fd00:1234:5678:9abc:1::/80")]
    result = adopt.adopt(data, PATH, GROUP, rules, DAY)
    ids = [e["id"] for e in result.exceptions]
    assert ids[0] == "in-tcp3389-10-20-0-0-16-2"  # the file's own exception keeps its id
    assert len(set(ids)) == 3 and all(len(i) <= adopt.ID_MAX for i in ids), ids
    taken = {t.live.rule_id: t for t in result.taken}
    assert taken[rules[1].rule_id].rule.exception.id == own["id"]  # the file's, taken over
    assert not taken[rules[1].rule_id].draft


def test_internet_rules_the_file_cannot_state_are_refused_by_name() -> None:
    v6 = live(7, True, "-1", None, None, CidrIpv6="::/0")
    with pytest.raises(InputError) as caught:
        adopt.adopt(DATA, PATH, GROUP, [v6], DAY)
    assert "opens the IPv6 Internet" in caught.value.problems[0][2]
    dual = {**DATA, "appliance": {**DATA["appliance"], "ipv6": True},
            "roles": {**DATA["roles"], "internal_network": [*DATA["roles"]["internal_network"],
                                                            "fd00:10::/48"]}}
    v4 = live(8, True, "-1", None, None, CidrIpv4="0.0.0.0/0")
    result = adopt.adopt(dual, PATH, GROUP, [v4, v6], DAY)
    assert [e["id"] for e in result.exceptions] == ["out-all-internet"]  # one for both twins
    assert result.to_create and not any(r.exception for r in result.to_create)
    with pytest.raises(InputError) as caught:
        adopt.adopt(dual, PATH, GROUP, [v4], DAY)
    assert "has no twin for ::/0" in caught.value.problems[0][2]


def test_rules_equal_to_planned_ones_are_taken_over_and_nothing_is_drafted() -> None:
    planned = plan(config.parse(DATA, PATH)).rules
    rules = [live(i, r.direction == "egress", r.ip_protocol, r.from_port, r.to_port,
                  CidrIpv4=r.peer.value) for i, r in enumerate(planned)]
    result = adopt.adopt(DATA, PATH, GROUP, rules, DAY)
    assert result.exceptions == () and result.to_create == ()
    assert all(not t.draft and t.description_changes for t in result.taken)
    assert set(result.adopt["rules"]) == {r.key for r in planned}
    assert (result.plan.group_name, result.plan.group_description) == ("mailgw-sg", "Mail gateway")
