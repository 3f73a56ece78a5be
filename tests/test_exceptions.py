"""Site exceptions (issue 16, spec/config.md "Site exceptions"): the loader's rules, the
calendar, and the plans of both clouds. Synthesized stacks are in test_exceptions_synth.py."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import subprocess
import sys
from datetime import date, datetime, timezone

import pytest
import yaml

import conftest
from sxcloud import config, exceptions
from sxcloud.app import plan_all
from sxcloud.cli import main
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import limits
from sxcloud.azure import plan as azure_plan
from sxcloud.errors import InputError
from sxcloud.exceptions import PortRange
from test_config import GOOD

ASG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
       "Microsoft.Network/applicationSecurityGroups/asg-{}")
SNMP = {
    "id": "noc-snmp", "direction": "inbound", "protocol": "udp", "ports": [161],
    "peer": {"cidrs": ["10.0.50.10/32"]}, "reason": "SNMP polling by the NOC monitoring",
    "owner": "noc-team", "ticket": "CHG-1234", "expires": "2027-06-30",
}


def exception(**changes):
    """SNMP with changes (a value None removes the key)."""
    out = copy.deepcopy(SNMP)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def with_exceptions(*items, **edits):
    data = conftest.edited(GOOD, **edits)
    data["exceptions"] = [copy.deepcopy(i) for i in items]
    return data


def load(data):
    return conftest.deployment(data)


def problems(data):
    """The problems of a file, from loading it and planning both clouds."""
    with pytest.raises(InputError) as caught:
        plan_all([load(data)])
    return [(key, message) for _, key, message in caught.value.problems]


def one_problem(data, key):
    found = problems(data)
    assert [k for k, _ in found] == [key], found
    return found[0][1]


# --- the loader -----------------------------------------------------------------------------

def test_an_exception_loads_with_its_defaults():
    d = load(with_exceptions(SNMP))
    (e,) = d.exceptions
    assert (e.id, e.label, e.key, e.direction) == ("noc-snmp", "X-noc-snmp", "exceptions[0]", "inbound")
    assert e.traffic == exceptions.Traffic("udp", (PortRange(161, 161),))
    assert [str(c) for c in e.peer.cidrs] == ["10.0.50.10/32"]
    assert (e.reason, e.owner, e.ticket, e.expires) == (
        SNMP["reason"], "noc-team", "CHG-1234", date(2027, 6, 30))
    assert e.clouds == ("aws", "azure") and e.azure == exceptions.AzureRuleIdentity()
    assert str(e) == "X-noc-snmp inbound UDP 161 from 10.0.50.10/32"


def test_no_exceptions_reads_no_calendar(monkeypatch):
    monkeypatch.setenv("SXCLOUD_TODAY", "not a date")
    assert load(GOOD).exceptions == ()


def test_ports_are_sorted_ranges_and_protocol_numbers_are_kept():
    d = load(with_exceptions(exception(ports=["10025-10030", 2525, 80]),
                             exception(id="esp", protocol=50, ports=None),
                             exception(id="any", protocol="all", ports=None)))
    assert d.exceptions[0].traffic.ports == (PortRange(80, 80), PortRange(2525, 2525),
                                             PortRange(10025, 10030))
    assert str(d.exceptions[0].traffic) == "UDP 80, 2525, 10025-10030"
    assert d.exceptions[1].traffic.protocol == "50" and d.exceptions[1].traffic.number == 50
    assert str(d.exceptions[2].traffic) == "all traffic" and d.exceptions[2].traffic.number is None


def _yaml_file(tmp_path, expires_line, name_line="name: dated"):
    text = yaml.safe_dump({k: v for k, v in GOOD.items() if k != "name"}, sort_keys=False)
    body = yaml.safe_dump([exception(expires="EXPIRES")], sort_keys=False)
    body = body.replace("expires: EXPIRES", expires_line)
    path = tmp_path / "dated.yaml"
    path.write_text(f"{name_line}\n{text}exceptions:\n{body}")
    return path


@pytest.mark.parametrize("line", ["expires: 2027-06-30", "expires: '2027-06-30'",
                                  'expires: "2027-06-30"'])
def test_expires_takes_a_plain_or_quoted_date(tmp_path, line):
    d = config.load(_yaml_file(tmp_path, line))
    assert d.exceptions[0].expires == date(2027, 6, 30)


def test_a_plain_date_anywhere_else_is_still_refused(tmp_path):
    with pytest.raises(InputError) as caught:
        config.load(_yaml_file(tmp_path, "expires: 2027-06-30", "name: 2027-06-30"))
    assert "is read as a date" in str(caught.value) and "name" in str(caught.value)
    path = _yaml_file(tmp_path, "expires: 2027-06-30")
    path.write_text(path.read_text().replace("reason:", "ticket_date: 2027-01-01\n  reason:"))
    with pytest.raises(InputError) as caught:
        config.load(path)
    assert "exceptions[0].ticket_date" in str(caught.value)


@pytest.mark.parametrize("value, why", [
    ("2027-02-30", "is not a date written YYYY-MM-DD"),
    ("30.06.2027", "a date written YYYY-MM-DD"),
    ("2027-06-30T00:00:00", "a date written YYYY-MM-DD"),
])
def test_expires_must_be_a_date(value, why):
    assert why in one_problem(with_exceptions(exception(expires=value)), "exceptions[0].expires")


def test_expires_at_most_366_days_ahead(monkeypatch):
    monkeypatch.setenv("SXCLOUD_TODAY", "2026-12-01")
    assert load(with_exceptions(exception(expires="2027-12-02"))).exceptions  # 366 days
    message = one_problem(with_exceptions(exception(expires="2027-12-03")), "exceptions[0].expires")
    assert "367 days after today (2026-12-01)" in message and "at most 366 days" in message
    assert load(with_exceptions(exception(expires="2020-01-01"))).exceptions  # past: still loads


def test_ids_are_unique_and_well_formed():
    found = problems(with_exceptions(SNMP, exception(ports=[162])))
    assert found == [("exceptions[1].id", "'noc-snmp' is also the id of exceptions[0]; ids "
                      "must be unique")]
    assert "1 to 32" in one_problem(with_exceptions(exception(id="Bad_Id")), "exceptions[0].id")
    assert "1 to 32" in one_problem(with_exceptions(exception(id="x" * 33)), "exceptions[0].id")


@pytest.mark.parametrize("protocol, key, words", [
    (6, "exceptions[0].protocol", "write 'tcp'"),
    (17, "exceptions[0].protocol", "write 'udp'"),
    (1, "exceptions[0].protocol", "write 'icmp'"),
    (58, "exceptions[0].protocol", "ICMPv6 for IPv6 peers"),
    (256, "exceptions[0].protocol", "tcp, udp, icmp, all, or a protocol number 0-255"),
    ("sctp", "exceptions[0].protocol", "tcp, udp, icmp, all, or a protocol number 0-255"),
])
def test_protocols(protocol, key, words):
    assert words in one_problem(with_exceptions(exception(protocol=protocol)), key)


@pytest.mark.parametrize("changes, key, words", [
    ({"protocol": "all"}, "exceptions[0].ports", "all protocols takes no ports"),
    ({"protocol": "icmp"}, "exceptions[0].ports", "takes no ports"),
    ({"protocol": 47, "clouds": ["aws"]}, "exceptions[0].ports", "protocol 47 takes no ports"),
    ({"ports": None}, "exceptions[0].ports", "is required for udp (write 0-65535"),
    ({"ports": []}, "exceptions[0].ports", "must not be empty"),
    ({"ports": ["200-100"]}, "exceptions[0].ports[0]", "0 <= low <= high <= 65535"),
    ({"ports": ["1-70000"]}, "exceptions[0].ports[0]", "0 <= low <= high <= 65535"),
    ({"ports": [70000]}, "exceptions[0].ports[0]", "a port 0-65535 or a range"),
    ({"ports": ["161"]}, "exceptions[0].ports[0]", "a port 0-65535 or a range"),
    ({"ports": [True]}, "exceptions[0].ports[0]", "a port 0-65535 or a range"),
    ({"ports": [100, "90-110"]}, "exceptions[0].ports[0]", "overlaps"),
    ({"ports": [161, 161]}, "exceptions[0].ports[1]", "161 is listed twice; list each port once"),
    ({"icmp_type": 8}, "exceptions[0].icmp_type", "is for icmp only, not udp"),
    ({"protocol": "icmp", "ports": None, "icmp_code": 0, "clouds": ["aws"]},
     "exceptions[0].icmp_code", "needs icmp_type"),
    ({"protocol": "icmp", "ports": None, "icmp_type": 256, "clouds": ["aws"]},
     "exceptions[0].icmp_type", "between 0 and 255"),
])
def test_traffic_refusals(changes, key, words):
    assert words in one_problem(with_exceptions(exception(**changes)), key)


@pytest.mark.parametrize("peer, key, words", [
    ({}, "exceptions[0].peer", "must not be empty"),
    ({"internet": True, "role": "admin_pc"}, "exceptions[0].peer",
     "exactly one of internet, role, or addresses"),
    ({"role": "admin_pc", "cidrs": ["10.0.0.0/24"]}, "exceptions[0].peer", "it has role and addresses"),
    ({"internet": False}, "exceptions[0].peer.internet", "must be True"),
    ({"role": "internet"}, "exceptions[0].peer.role", "is not one of"),
    ({"cidrs": ["0.0.0.0/0"]}, "exceptions[0].peer.cidrs[0]", "the Internet is `internet: true`"),
    ({"cidrs": ["::/0"]}, "exceptions[0].peer.cidrs[0]", "whole Internet"),
    ({"cidrs": ["16.0.0.0/4"]}, "exceptions[0].peer.cidrs[0]", "wider than /8"),
    ({"cidrs": ["10.0.0.1"]}, "exceptions[0].peer.cidrs[0]", "write 10.0.0.1/32"),
    ({"cidrs": ["10.0.0.1/24"]}, "exceptions[0].peer.cidrs[0]", "host bits set"),
    ({"cidrs": ["10.0.0.0/24", "10.0.0.0/24"]}, "exceptions[0].peer.cidrs[1]", "is listed twice"),
    ({"cidrs": [f"{n}.0.0.0/8" for n in range(1, 129)]}, "exceptions[0].peer.cidrs",
     "half or more of the IPv4 address space"),
    ({"azure": {"service_tags": ["Internet"]}}, "exceptions[0].peer.azure.service_tags[0]",
     "`internet: true`, not a service tag"),
    ({"azure": {"service_tags": ["*"]}}, "exceptions[0].peer.azure.service_tags[0]",
     "an Azure service tag"),
    ({"aws": {"security_group_ids": ["sg-1"]}}, "exceptions[0].peer.aws.security_group_ids[0]",
     "sg- and 8 or 17 hex digits"),
])
def test_peer_refusals(peer, key, words):
    assert words in one_problem(with_exceptions(exception(peer=peer)), key)


def test_a_role_peer_must_be_given_or_bound_on_each_cloud():
    data = with_exceptions(exception(peer={"role": "internal_nameserver"}))
    assert problems(data) == [("exceptions[0].peer.role", f"roles.internal_nameserver has no "
                               f"CIDRs and no {cloud}.bindings.internal_nameserver, so it names "
                               f"nothing on {cloud}") for cloud in ("aws", "azure")]
    data["aws"]["bindings"] = {"internal_nameserver": {"security_group_ids": ["sg-0123456789abcdef0"]}}
    assert "on azure" in one_problem(data, "exceptions[0].peer.role")
    data["exceptions"][0]["clouds"] = ["aws"]
    assert load(data).exceptions[0].peer.role == "internal_nameserver"


def test_a_role_only_an_exception_uses_is_not_warned_about():
    data = with_exceptions(exception(peer={"role": "internal_nameserver"}),
                           roles__internal_nameserver=["10.0.0.53/32"])
    assert not any("internal_nameserver" in w for w in load(data).warnings)
    assert any("internal_nameserver" in w for w in load(
        conftest.edited(GOOD, roles__internal_nameserver=["10.0.0.53/32"])).warnings)


def test_addresses_must_name_something_on_each_cloud():
    data = with_exceptions(exception(peer={"aws": {"prefix_list_ids": ["pl-0123456789abcdef0"]}}))
    assert "names nothing on azure" in one_problem(data, "exceptions[0].peer")
    data["exceptions"][0]["clouds"] = ["aws"]
    assert load(data).exceptions[0].peer.aws.prefix_list_ids == ("pl-0123456789abcdef0",)


@pytest.mark.parametrize("changes, key, words", [
    ({"protocol": 47, "ports": None}, "exceptions[0].protocol", "Azure knows only tcp, udp, icmp"),
    ({"protocol": "icmp", "ports": None, "icmp_type": 8}, "exceptions[0].icmp_type",
     "Azure cannot match an ICMP type"),
    ({"clouds": ["aws"], "peer": {"cidrs": ["10.0.0.0/24"], "azure": {"service_tags": ["AzureMonitor"]}}},
     "exceptions[0].peer.azure", "not on azure"),
    ({"clouds": ["azure"], "peer": {"cidrs": ["10.0.0.0/24"], "aws": {"prefix_list_ids": ["pl-0123456789abcdef0"]}}},
     "exceptions[0].peer.aws", "not on aws"),
    ({"clouds": ["aws"], "azure": {"priority": 300}}, "exceptions[0].azure", "not on azure"),
    ({"clouds": ["gcp"]}, "exceptions[0].clouds[0]", "is not one of"),
    ({"clouds": []}, "exceptions[0].clouds", "must not be empty"),
])
def test_what_a_cloud_cannot_express_is_refused_naming_the_key(changes, key, words):
    assert words in one_problem(with_exceptions(exception(**changes)), key)


def test_what_azure_cannot_express_is_fine_on_aws_alone():
    d = load(with_exceptions(exception(protocol=47, ports=None, clouds=["aws"]),
                             exception(id="ping", protocol="icmp", ports=None, icmp_type=3,
                                       icmp_code=4, clouds=["aws"]),
                             exception(id="esp", protocol=50, ports=None),
                             exception(id="ah", protocol=51, ports=None)))
    assert [e.clouds for e in d.exceptions] == [("aws",), ("aws",), ("aws", "azure"), ("aws", "azure")]


def test_clouds_must_be_sections_of_the_file():
    data = with_exceptions(exception(clouds=["azure"]))
    del data["azure"]
    assert "has no 'azure' section" in one_problem(data, "exceptions[0].clouds[0]")
    data["exceptions"][0].pop("clouds")
    assert load(data).exceptions[0].clouds == ("aws",)


@pytest.mark.parametrize("key, value, words", [
    ("reason", "Tom & Jerry", "no '&'"),
    ("reason", "x" * 121, "1-120 letters"),
    ("reason", " padded", "not starting or ending with a space"),
    ("reason", "Grüße", "1-120 letters"),
    ("reason", "quote \" here", "1-120 letters"),
    ("owner", "noc<team>", "1-64 letters"),
    ("owner", "o" * 65, "1-64 letters"),
    ("ticket", "CHG 1234", "1-64 letters, digits and ._:/+=@-"),
    ("ticket", "CHG#1", "1-64 letters, digits and ._:/+=@-"),
    ("reason", "", "1-120 letters"),
])
def test_text_fields_keep_to_what_the_clouds_accept(key, value, words):
    assert words in one_problem(with_exceptions(exception(**{key: value})), f"exceptions[0].{key}")


@pytest.mark.parametrize("key", ["reason", "owner", "ticket", "id"])
def test_control_characters_are_refused_in_every_text_field(key):
    found = problems(with_exceptions(exception(**{key: "a\x1b[31mb"})))
    assert found[0][0] == f"exceptions[0].{key}" and "control or format characters" in found[0][1]


def test_required_and_unknown_keys():
    found = dict(problems(with_exceptions(exception(reason=None, owner=None, expires=None,
                                                    peer=None, direction=None, protocol=None),
                                          exception(id="two", ports=[1], tciket="X"))))
    for key in ("reason", "owner", "expires", "peer", "direction", "protocol"):
        assert found[f"exceptions[0].{key}"] == "is required"
    assert found["exceptions[1].tciket"] == "unknown key; did you mean 'ticket'?"


def test_azure_identity_keys():
    d = load(with_exceptions(exception(azure={"name": "Allow_SNMP", "priority": 310})))
    assert d.exceptions[0].azure == exceptions.AzureRuleIdentity("Allow_SNMP", 310)
    assert "between 100 and 4095" in one_problem(
        with_exceptions(exception(azure={"priority": 4096})), "exceptions[0].azure.priority")
    assert "an NSG rule name" in one_problem(
        with_exceptions(exception(azure={"name": "-bad"})), "exceptions[0].azure.name")


def test_every_problem_is_one_line_naming_its_key():
    # The schema's problems (all of them) first; the rest once the keys' types are right.
    found = problems(with_exceptions(exception(ports=[70000], reason="a&b"),
                                     exception(id="two", owner="<x>")))
    assert [k for k, _ in found] == ["exceptions[0].ports[0]", "exceptions[0].reason",
                                     "exceptions[1].owner"]
    found += problems(with_exceptions(exception(ports=[100, "90-110"]),
                                      exception(expires="2099-01-01", clouds=["aws"],
                                                protocol="icmp", icmp_type=3, ports=None)))
    assert [k for k, _ in found[3:]] == ["exceptions[0].ports[0]", "exceptions[1].id",
                                         "exceptions[1].expires"]
    assert all("\n" not in message for _, message in found)


# --- the calendar ---------------------------------------------------------------------------

def test_today_is_the_utc_date_or_sxcloud_today(monkeypatch):
    monkeypatch.delenv("SXCLOUD_TODAY")
    assert exceptions.today() == datetime.now(timezone.utc).date()
    monkeypatch.setenv("SXCLOUD_TODAY", "2027-02-03")
    assert exceptions.today() == date(2027, 2, 3)


@pytest.mark.parametrize("value", ["", "tomorrow", "2027-2-3", "2027-02-30", "2027-02-03 ",
                                   "2027-02-03\x1b[2J"])
def test_a_malformed_sxcloud_today_is_an_input_error(monkeypatch, value):
    monkeypatch.setenv("SXCLOUD_TODAY", value)
    with pytest.raises(InputError) as caught:
        exceptions.today()
    (line,) = caught.value.lines()
    assert line.startswith("SXCLOUD_TODAY: '") and "is not a date written YYYY-MM-DD" in line
    assert "\x1b" not in line


@pytest.mark.parametrize("today, state, days, shown", [
    ("2027-05-30", exceptions.OK, 31, "expires in 31 days"),
    ("2027-05-31", exceptions.EXPIRING, 30, "expires in 30 days"),
    ("2027-06-29", exceptions.EXPIRING, 1, "expires in 1 day"),
    ("2027-06-30", exceptions.EXPIRING, 0, "expires today"),
    ("2027-07-01", exceptions.EXPIRED, -1, "expired 1 day ago"),
    ("2027-08-01", exceptions.EXPIRED, -32, "expired 32 days ago"),
])
def test_status(today, state, days, shown):
    e = load(with_exceptions(SNMP)).exceptions[0]  # expires 2027-06-30
    status = exceptions.status(e, date.fromisoformat(today))
    assert (status.state, status.days_left, str(status)) == (state, days, shown)


def test_expiry_warnings_before_within_and_after():
    d = load(with_exceptions(SNMP, exception(id="later", expires="2027-09-30")))
    assert exceptions.expiry_warnings(d, date(2027, 5, 1)) == []
    assert exceptions.expiry_warnings(d, date(2027, 6, 1)) == [
        "test.yaml: exceptions[0]: X-noc-snmp expires in 29 days (2027-06-30); renew it "
        "(a later `expires`) or remove it"]
    (expired,) = exceptions.expiry_warnings(d, date(2027, 7, 3))
    assert expired.startswith("test.yaml: exceptions[0]: X-noc-snmp expired on 2027-06-30 "
                              "(expired 3 days ago); it is still emitted")


def sxcloud(*args, env_today=None, cwd=None):
    import os
    env = dict(os.environ)
    if env_today is None:
        env.pop("SXCLOUD_TODAY", None)
    else:
        env["SXCLOUD_TODAY"] = env_today
    return subprocess.run([sys.executable, "-m", "sxcloud", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd)


def _file(tmp_path, data):
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("today, warned", [
    ("2027-05-30", None),
    ("2027-06-10", "X-noc-snmp expires in 20 days (2027-06-30)"),
    ("2027-07-02", "X-noc-snmp expired on 2027-06-30 (expired 2 days ago)"),
])
def test_plan_warns_on_stderr(tmp_path, today, warned):
    done = sxcloud("plan", _file(tmp_path, with_exceptions(SNMP)), env_today=today)
    assert done.returncode == 0, done.stderr
    expiry = [line for line in done.stderr.splitlines() if "X-noc-snmp" in line]
    assert expiry == ([] if warned is None else [expiry[0]])
    if warned:
        assert warned in expiry[0] and expiry[0].startswith("sxcloud: warning: ")


def test_a_malformed_sxcloud_today_exits_2(tmp_path):
    done = sxcloud("plan", _file(tmp_path, with_exceptions(SNMP)), env_today="31/12/2026")
    assert done.returncode == 2
    assert "SXCLOUD_TODAY: '31/12/2026' is not a date written YYYY-MM-DD" in done.stderr


def test_synth_refuses_a_bad_exception_and_writes_nothing(tmp_path):
    out = tmp_path / "cdktf.out"
    done = sxcloud("synth", _file(tmp_path, with_exceptions(exception(protocol="all"))),
                   "--out", out, env_today="2026-12-01")
    assert done.returncode == 2
    assert "x.yaml: exceptions[0].ports: all protocols takes no ports" in done.stderr
    assert not out.exists()


# --- AWS ------------------------------------------------------------------------------------

def aws_rules(data):
    p = aws_plan.plan(load(data))
    return {r.key: r for r in p.rules if r.exception}


def test_aws_rules_of_every_kind_of_exception():
    data = with_exceptions(
        exception(ports=[161, "10000-10010"], peer={"cidrs": ["10.0.50.10/32", "fd00:50::/64"]}),
        exception(id="ping", protocol="icmp", ports=None, icmp_type=8, clouds=["aws"],
                  peer={"cidrs": ["10.0.50.0/24", "fd00:50::/64"]}),
        exception(id="unreach", protocol="icmp", ports=None, icmp_type=3, icmp_code=4,
                  clouds=["aws"], direction="outbound", peer={"cidrs": ["10.0.50.0/24"]}),
        exception(id="any-icmp", protocol="icmp", ports=None, peer={"cidrs": ["10.0.50.0/24"]}),
        exception(id="esp", protocol=50, ports=None, ticket=None, peer={"aws": {
            "security_group_ids": ["sg-0123456789abcdef0"],
            "prefix_list_ids": ["pl-0123456789abcdef0"]}}, clouds=["aws"]),
        exception(id="everything", protocol="all", ports=None, peer={"internet": True},
                  direction="outbound"),
        exception(id="peers", protocol="tcp", ports=[7000], peer={"role": "appliance_peers"}),
        exception(id="admins", protocol="tcp", ports=[22], peer={"role": "admin_pc"}),
        appliance__ipv6=True)
    rules = aws_rules(data)
    shape = {k: (r.direction, r.ip_protocol, r.from_port, r.to_port, r.peer.kind, r.peer.value)
             for k, r in rules.items()}
    assert shape == {
        "X-noc-snmp_in_udp161_cidr_10-0-50-10_32": ("ingress", "udp", 161, 161, "cidr_ipv4", "10.0.50.10/32"),
        "X-noc-snmp_in_udp10000-10010_cidr_10-0-50-10_32": ("ingress", "udp", 10000, 10010, "cidr_ipv4", "10.0.50.10/32"),
        "X-noc-snmp_in_udp161_cidr_fd00-50--_64": ("ingress", "udp", 161, 161, "cidr_ipv6", "fd00:50::/64"),
        "X-noc-snmp_in_udp10000-10010_cidr_fd00-50--_64": ("ingress", "udp", 10000, 10010, "cidr_ipv6", "fd00:50::/64"),
        "X-ping_in_icmpt8_cidr_10-0-50-0_24": ("ingress", "icmp", 8, -1, "cidr_ipv4", "10.0.50.0/24"),
        "X-ping_in_icmpv6t8_cidr_fd00-50--_64": ("ingress", "icmpv6", 8, -1, "cidr_ipv6", "fd00:50::/64"),
        "X-unreach_out_icmpt3c4_cidr_10-0-50-0_24": ("egress", "icmp", 3, 4, "cidr_ipv4", "10.0.50.0/24"),
        "X-any-icmp_in_icmp_cidr_10-0-50-0_24": ("ingress", "icmp", -1, -1, "cidr_ipv4", "10.0.50.0/24"),
        "X-esp_in_p50_sg_0123456789abcdef0": ("ingress", "50", None, None, "referenced_security_group_id", "sg-0123456789abcdef0"),
        "X-esp_in_p50_pl_0123456789abcdef0": ("ingress", "50", None, None, "prefix_list_id", "pl-0123456789abcdef0"),
        "X-everything_out_all_cidr_0-0-0-0_0": ("egress", "-1", None, None, "cidr_ipv4", "0.0.0.0/0"),
        "X-everything_out_all_cidr_--_0": ("egress", "-1", None, None, "cidr_ipv6", "::/0"),
        "X-peers_in_tcp7000_sg_self": ("ingress", "tcp", 7000, 7000, "referenced_security_group_id", "self"),
        "X-admins_in_tcp22_cidr_10-0-99-0_24": ("ingress", "tcp", 22, 22, "cidr_ipv4", "10.0.99.0/24"),
    }
    snmp = rules["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"]
    assert snmp.description == "X-noc-snmp CHG-1234 until 2027-06-30: SNMP polling by the NOC monitoring"
    assert dict(snmp.tags) == {"sxcloud:exception": "noc-snmp", "sxcloud:owner": "noc-team",
                               "sxcloud:expires": "2027-06-30", "sxcloud:ticket": "CHG-1234"}
    esp = rules["X-esp_in_p50_sg_0123456789abcdef0"]
    assert esp.description == "X-esp until 2027-06-30: SNMP polling by the NOC monitoring"
    assert "sxcloud:ticket" not in dict(esp.tags)
    assert snmp.exception.id == "noc-snmp" and snmp.flow.origin == "X-noc-snmp"


def test_aws_role_peer_uses_the_roles_binding():
    data = with_exceptions(exception(peer={"role": "admin_pc"}, clouds=["aws"]),
                           aws__bindings={"admin_pc": {"prefix_list_ids": ["pl-0123456789abcdef0"]}})
    assert list(aws_rules(data)) == ["X-noc-snmp_in_udp161_pl_0123456789abcdef0"]


def test_aws_descriptions_of_the_longest_fields_fit():
    longest = exception(id="i" * 32, ticket="T" * 64, reason="r" * 120)
    (rule,) = aws_rules(with_exceptions(longest)).values()
    assert len(rule.description) == 238 and aws_plan._RULE_DESCRIPTION.match(rule.description)


def test_aws_an_exception_repeating_a_vendor_rule_is_refused():
    smtp = exception(id="smtp", protocol="tcp", ports=[25], peer={"internet": True})
    found = problems(with_exceptions(smtp))
    assert found == [("exceptions[0]", "X-smtp's rule X-smtp_in_tcp25_cidr_0-0-0-0_0 is the "
                      "same rule as R04_in_tcp25_cidr_0-0-0-0_0 (R04); EC2 refuses a duplicate "
                      "rule: drop the repeated peer or ports from X-smtp")]


def test_aws_two_exceptions_with_one_rule_are_refused():
    found = problems(with_exceptions(SNMP, exception(id="copy", ports=[160, 161])))
    assert found[0][0] == "exceptions[1]" and "same rule as X-noc-snmp_in_udp161" in found[0][1]


def test_aws_exceptions_count_against_the_quota():
    cidrs = [f"10.1.{i}.0/24" for i in range(56)]
    data = with_exceptions(exception(peer={"cidrs": cidrs}, clouds=["aws"]))
    p = aws_plan.plan(load(data))
    assert p.usage()[("ingress", "IPv4")] == 4 + 56  # R03, R04, R11, R16 and the exception's
    data["exceptions"][0]["peer"]["cidrs"].append("10.1.200.0/24")
    (found,) = problems(data)
    assert found[0] == "aws" and "61 IPv4 ingress rules exceed the quota of 60" in found[1]
    assert "X-noc-snmp (57)" in found[1]


# --- Azure ----------------------------------------------------------------------------------

def azure_rules(data):
    p = azure_plan.plan(load(data))
    return {r.name: r for r in p.rules if r.exception}


def test_azure_rules_of_every_kind_of_exception():
    data = with_exceptions(
        exception(ports=[161, "10000-10010"], peer={"cidrs": ["10.0.50.10/32", "fd00:50::/64"],
                                                     "azure": {"application_security_group_ids": [ASG.format("noc")],
                                                               "service_tags": ["AzureMonitor", "Storage.WestEurope"]}}),
        exception(id="esp", protocol=50, ports=None, direction="outbound", peer={"cidrs": ["10.0.70.1/32"]}),
        exception(id="ah", protocol=51, ports=None, peer={"cidrs": ["10.0.70.1/32"]}),
        exception(id="ping", protocol="icmp", ports=None, peer={"cidrs": ["10.0.70.1/32"]}),
        exception(id="everything", protocol="all", ports=None, peer={"internet": True}),
        exception(id="peers", protocol="tcp", ports=[7000], peer={"role": "appliance_peers"}),
        exception(id="admins", protocol="tcp", ports=[22], peer={"role": "admin_pc"},
                  direction="outbound"))
    rules = azure_rules(data)
    appliances = azure_plan.APPLIANCES
    expected = {
        "X-noc-snmp-in-v4": ("Inbound", "Udp", ("161", "10000-10010"), ("v4", ("10.0.50.10/32",)), appliances),
        "X-noc-snmp-in-v6": ("Inbound", "Udp", ("161", "10000-10010"), ("v6", ("fd00:50::/64",)), appliances),
        "X-noc-snmp-in-asg": ("Inbound", "Udp", ("161", "10000-10010"), ("asg", (ASG.format("noc"),)), appliances),
        "X-noc-snmp-in-tag-AzureMonitor": ("Inbound", "Udp", ("161", "10000-10010"), ("tag", ("AzureMonitor",)), appliances),
        "X-noc-snmp-in-tag-Storage.WestEurope": ("Inbound", "Udp", ("161", "10000-10010"), ("tag", ("Storage.WestEurope",)), appliances),
        "X-esp-out-v4": ("Outbound", "Esp", ("*",), appliances, ("v4", ("10.0.70.1/32",))),
        "X-ah-in-v4": ("Inbound", "Ah", ("*",), ("v4", ("10.0.70.1/32",)), appliances),
        "X-ping-in-v4": ("Inbound", "Icmp", ("*",), ("v4", ("10.0.70.1/32",)), appliances),
        "X-everything-in-internet": ("Inbound", "*", ("*",), ("tag", ("Internet",)), appliances),
        "X-peers-in-appliances": ("Inbound", "Tcp", ("7000",), appliances, appliances),
        "X-admins-out-v4": ("Outbound", "Tcp", ("22",), appliances, ("v4", ("10.0.99.0/24",))),
    }

    def side(address):
        return address if address.kind == "appliance" else (address.kind, address.values)

    assert {n: (r.direction, r.protocol, r.ports, side(r.source), side(r.destination))
            for n, r in rules.items()} == expected
    for name, rule in rules.items():
        digest = int.from_bytes(hashlib.sha256(name.casefold().encode()).digest()[:8], "big")
        assert rule.priority == 240 + digest % 3760, name
        assert rule.access == "Allow"
    assert rules["X-esp-out-v4"].description == "X-esp CHG-1234 until 2027-06-30: SNMP polling by the NOC monitoring"


def test_azure_descriptions_are_cut_to_140_characters():
    longest = exception(id="i" * 32, ticket="T" * 64, reason="r" * 120)
    (rule,) = azure_rules(with_exceptions(longest)).values()
    assert len(rule.description) == limits.DESCRIPTION_MAX and rule.description.endswith("r...")
    assert rule.description.startswith(f"X-{'i' * 32} {'T' * 64} until 2027-06-30: r")


def test_azure_explicit_name_and_priority():
    data = with_exceptions(exception(azure={"name": "Allow_SNMP_From_NOC", "priority": 555}))
    (rule,) = azure_rules(data).values()
    assert (rule.name, rule.priority) == ("Allow_SNMP_From_NOC", 555)
    data["exceptions"][0]["peer"]["cidrs"].append("fd00::/64")
    assert "needs 2 on Azure (one per kind of address: v4, v6)" in one_problem(data, "exceptions[0].azure")


def _colliding_ids(direction_word="in"):
    """Two ids whose first rules hash to one priority (found by search, deterministically)."""
    seen = {}
    for n in itertools.count():
        ident = f"c{n}"
        priority = azure_plan.exception_priority(f"X-{ident}-{direction_word}-v4")
        if priority in seen:
            return seen[priority], ident, priority
        seen[priority] = ident


def test_azure_a_priority_collision_is_refused_naming_both_and_a_way_out():
    first, second, priority = _colliding_ids()
    data = with_exceptions(exception(id=first, clouds=["azure"]),
                           exception(id=second, clouds=["azure"]))
    (found,) = problems(data)
    assert found[0] == "exceptions[1]"
    assert found[1].startswith(f"X-{second}'s rule X-{second}-in-v4 takes priority {priority} "
                               f"(Inbound), which X-{first}'s rule X-{first}-in-v4 has")
    free = int(found[1].rsplit(": ", 1)[1])
    data["exceptions"][1]["azure"] = {"priority": free}
    rules = azure_rules(data)
    assert rules[f"X-{second}-in-v4"].priority == free and rules[f"X-{first}-in-v4"].priority == priority
    # The other direction has its own priorities: no collision there.
    data["exceptions"][1] = exception(id=second, direction="outbound", clouds=["azure"])
    assert len(azure_rules(data)) == 2


def test_azure_an_explicit_priority_or_name_of_a_vendor_rule_is_refused():
    found = problems(with_exceptions(exception(azure={"priority": 100})))
    assert found == [("exceptions[0]", "X-noc-snmp's rule X-noc-snmp-in-v4 takes priority 100 "
                      "(Inbound), which sxcloud's own rule allow-in-internet-tcp has; Azure "
                      "needs unique priorities per direction. Give one of them a free "
                      "priority, e.g. exceptions[0].azure.priority: 240")]
    found = problems(with_exceptions(exception(azure={"name": "Deny-In-All"})))
    assert found == [("exceptions[0]", "X-noc-snmp's rule name Deny-In-All is also the name of "
                      "sxcloud's own rule deny-in-all (Azure compares names without case); set "
                      "exceptions[0].azure.name to another name")]


def test_azure_exceptions_count_against_the_limits():
    cidrs = [f"10.{i // 250}.{i % 250}.0/24" for i in range(4001)]
    (found,) = problems(with_exceptions(exception(peer={"cidrs": cidrs}, clouds=["azure"])))
    assert found[0] == "azure: nsg nsg-cfg-test-appliance"
    assert "4003 source addresses" in found[1] and "X-noc-snmp-in-v4 4001" in found[1]


def test_azure_rule_names_from_long_service_tags_are_checked():
    tag = "A" * 40 + ".B" + "b" * 29
    (found,) = problems(with_exceptions(exception(id="i" * 32, peer={"azure": {"service_tags": [tag]}},
                                                  clouds=["azure"])))
    assert found[0].startswith("azure: rule X-") and "Azure takes 1 to 80" in found[1]


# --- stability: one exception added, removed or edited moves nothing else -------------------

def _aws_view(data):
    return {r.key: (r.description, r.tags, r.ip_protocol, r.from_port, r.to_port, r.peer)
            for r in aws_plan.plan(load(data)).rules}


def _azure_view(data):
    return {r.name: (r.priority, r.description, r.protocol, r.ports, r.source, r.destination)
            for r in azure_plan.plan(load(data)).rules}


@pytest.mark.parametrize("view", [_aws_view, _azure_view])
def test_one_exception_added_removed_or_edited_changes_nothing_else(view):
    base = conftest.example_data(conftest.EXCEPTIONS_EXAMPLE)
    before = view(base)
    for change, data in conftest.exception_variants(base).items():
        after = view(data)
        touched = {"inserted": "inserted", "removed": base["exceptions"][0]["id"],
                   "edited": base["exceptions"][1]["id"]}[change]
        mine = (f"X-{touched}_", f"X-{touched}-")
        kept = {k: v for k, v in before.items() if not k.startswith(mine)}
        assert {k: v for k, v in after.items() if not k.startswith(mine)} == kept, change
        assert any(k.startswith(mine) for k in {*before, *after} - set(kept)), change


# --- `sxcloud plan` -------------------------------------------------------------------------

EXAMPLE = conftest.EXCEPTIONS_EXAMPLE


def test_plan_text_lists_exceptions_apart_from_the_vendor_rows(capsys):
    assert main(["plan", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    aws, azure = out.split("\n\n")
    vendor, extra = aws.split("site exceptions, beyond the vendor table: 9 rules (counted in the quota)")
    assert "X-" not in vendor and "R04" in vendor
    assert ("X-noc-snmp       ingress    UDP 161          10.0.50.10/32      noc-team      "
            "2027-06-30 (expires in 211 days)") in extra
    assert "X-noc-ping       ingress    ICMP type 8" in extra
    assert "X-vpn-esp        egress     protocol 50" in extra
    assert "quota: ingress IPv4 9/60, ingress IPv6 2/60, egress IPv4 9/60" in extra
    vendor, extra = azure.split("site exceptions, beyond the vendor table: 7 rules (counted in the limits)")
    assert "X-" not in vendor
    assert "X-azure-monitor" in extra and "AzureMonitor" in extra and "platform-team" in extra
    assert "quota: 18/1000 rules" in extra


def test_plan_json_lists_exceptions_apart_with_owner_and_expiry(capsys):
    assert main(["plan", "--json", str(EXAMPLE)]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["deployments"]
    aws, azure = entry["aws"], entry["azure"]
    assert not any(r["key"].startswith("X-") for r in aws["rules"])
    assert not any(r["name"].startswith("X-") for r in azure["rules"])
    assert [e["id"] for e in aws["exceptions"]] == [
        "X-noc-snmp", "X-siem-syslog", "X-partner-relay", "X-noc-ping", "X-admin-ssh", "X-vpn-esp"]
    assert [e["id"] for e in azure["exceptions"]] == [
        "X-noc-snmp", "X-siem-syslog", "X-partner-relay", "X-admin-ssh", "X-azure-monitor", "X-vpn-esp"]
    snmp = aws["exceptions"][0]
    assert {k: v for k, v in snmp.items() if k != "rules"} == {
        "id": "X-noc-snmp", "direction": "inbound", "traffic": "UDP 161", "peer": "10.0.50.10/32",
        "reason": "SNMP polling by the NOC monitoring", "owner": "noc-team", "ticket": "CHG-1234",
        "expires": "2027-06-30", "status": "ok", "days_left": 211}
    assert snmp["rules"] == [{
        "key": "X-noc-snmp_in_udp161_cidr_10-0-50-10_32", "direction": "ingress",
        "protocol": "udp", "from_port": 161, "to_port": 161, "peer_kind": "cidr_ipv4",
        "peer": "10.0.50.10/32",
        "description": "X-noc-snmp CHG-1234 until 2027-06-30: SNMP polling by the NOC monitoring"}]
    relay = next(e for e in azure["exceptions"] if e["id"] == "X-partner-relay")
    assert [r["name"] for r in relay["rules"]] == ["X-partner-relay-in-v4", "X-partner-relay-in-v6"]
    assert relay["ticket"] is None


def test_plan_json_of_a_file_without_exceptions_has_empty_lists(capsys):
    assert main(["plan", "--json", str(conftest.EXAMPLES[0])]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["deployments"]
    assert all(entry[c]["exceptions"] == [] for c in ("aws", "azure") if c in entry)


def test_synth_warns_of_an_expiring_exception(tmp_path):
    data = with_exceptions(SNMP, azure=None)
    out = tmp_path / "cdktf.out"
    done = sxcloud("synth", _file(tmp_path, data), "--out", out, env_today="2027-06-20")
    assert done.returncode == 0, done.stderr
    assert "x.yaml: exceptions[0]: X-noc-snmp expires in 10 days (2027-06-30)" in done.stderr
    assert (out / "stacks" / "cfg-test-aws" / "cdk.tf.json").exists()


def test_schema_command_describes_every_key_of_an_exception(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["exceptions"]["items"] == {"$ref": "#/$defs/exception"}
    exception = schema["$defs"]["exception"]
    assert set(exception["properties"]) == {
        "id", "direction", "protocol", "ports", "icmp_type", "icmp_code", "peer", "reason",
        "owner", "ticket", "expires", "clouds", "azure"}
    assert set(exception["properties"]["peer"]["properties"]) == {
        "internet", "role", "cidrs", "aws", "azure"}
    assert all(p.get("description") for p in exception["properties"].values())
