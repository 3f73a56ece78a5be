"""Site exceptions on the read-back paths: verify intends them, audit expects them, and both
report an expired one (naming X-<id>) once SXCLOUD_TODAY is after its date. The stacks are
conftest.synthesized; review is covered by
its goldens (test_review_golden.py) and test_review_exceptions.py."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from arm_endpoint import ArmEndpoint
from test_aws_audit import described, drift_of
from test_azure_audit import SUB, arm, audit_json, deploy  # noqa: F401 (arm: a fixture)
from verifying import intended, kinds, run

import conftest
import tfshow
from sxcloud import config
from sxcloud.aws.plan import plan as aws_plan
from sxcloud.cli import main
from sxcloud.verify.model import EXPIRED, MISSING, UNEXPECTED

EXAMPLE = conftest.EXCEPTIONS_EXAMPLE
NAME = conftest.example_data(EXAMPLE)["name"]
EXPIRED_ONE = "2027-03-01"  # X-admin-ssh ended on 2027-02-28; the others end later
SG_IN = "aws_vpc_security_group_ingress_rule"
NSG_RULE = "azurerm_network_security_rule"


def document(stacks: conftest.Synthesized, cloud: str) -> dict[str, Any]:
    return json.loads((stacks.stack_dir(f"{NAME}-{cloud}") / "cdk.tf.json").read_text())


def verified(stacks: conftest.Synthesized, cloud: str, change=None):  # type: ignore[no-untyped-def]
    doc = document(stacks, cloud)
    if change:
        change(doc["resource"])
    return run(config.load(EXAMPLE), cloud, doc)


# --- verify ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_a_stack_with_exceptions_is_exact(synthesized, cloud):
    result = verified(synthesized, cloud)
    assert result.findings == [], [f.message for f in result.findings]
    d = config.load(EXAMPLE)
    assert result.intended_flows > len([e for e in d.exceptions if cloud in e.clouds])


def test_a_dropped_exception_rule_is_missing_on_aws(synthesized):
    def drop(resources):
        del resources[SG_IN]["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"]
    result = verified(synthesized, "aws", drop)
    assert kinds(result) == {MISSING}
    assert all("X-noc-snmp" in text for text in intended(result))
    assert {(f.protocol, f.port) for f in result.findings} == {("UDP", 161)}
    assert {str(f.region) for f in result.findings} == {"inbound UDP 161 from 10.0.50.10/32"}


def test_a_dropped_exception_rule_is_missing_on_azure(synthesized):
    def drop(resources):
        del resources[NSG_RULE]["X-siem-syslog-out-v4"]
    result = verified(synthesized, "azure", drop)
    assert kinds(result) == {MISSING}
    assert all("X-siem-syslog" in text for text in intended(result))


def test_an_exception_rule_widened_to_more_addresses_is_unexpected(synthesized):
    def widen(resources):
        resources[SG_IN]["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"]["cidr_ipv4"] = "10.0.50.0/24"
    result = verified(synthesized, "aws", widen)
    # Unexpected at the new addresses; and the exception's own flow is granted only by a
    # rule wider than its peer, as a role's would be.
    assert kinds(result) == {UNEXPECTED, MISSING}
    assert {f.decided_by for f in result.findings} == {
        f"{SG_IN}.X-noc-snmp_in_udp161_cidr_10-0-50-10_32"}
    assert all(f.allowed for f in result.findings)
    assert {(str(f.region.first), str(f.region.last)) for f in result.findings
            if f.kind == UNEXPECTED} == {("10.0.50.0", "10.0.50.9"), ("10.0.50.11", "10.0.50.255")}


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_an_exception_rule_widened_to_more_ports_is_unexpected(synthesized, cloud):
    def widen(resources):
        if cloud == "aws":
            resources[SG_IN]["X-partner-relay_in_tcp10025-10030_cidr_198-51-100-0_24"][
                "to_port"] = 10040
        else:
            resources[NSG_RULE]["X-partner-relay-in-v4"]["destination_port_ranges"] = [
                "2525", "10025-10040"]
    result = verified(synthesized, cloud, widen)
    assert kinds(result) == {UNEXPECTED}
    assert {f.region.ports for f in result.findings} == {(10031, 10040)}


def test_a_rule_for_the_exception_peer_on_another_port_is_unexpected(synthesized):
    """The exception's peer is not a role: nothing else is intended with it."""
    def other_port(resources):
        resources[SG_IN]["X-noc-snmp_in_udp161_cidr_10-0-50-10_32"].update(
            from_port=162, to_port=162)
    result = verified(synthesized, "aws", other_port)
    assert kinds(result) == {MISSING, UNEXPECTED}


def test_an_icmp_exception_is_verified_exactly_on_aws(synthesized):
    """X-noc-ping (ICMP type 8 from the NOC): dropped, its ICMP is missing; widened to every
    type, the other types are unexpected, named in words."""
    key = "X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"

    def drop(resources):
        del resources[SG_IN][key]
    result = verified(synthesized, "aws", drop)
    assert kinds(result) == {MISSING}
    assert {str(f.region) for f in result.findings} == {"inbound ICMP type 8 from 10.0.50.10/32"}
    (reason,) = intended(result)
    assert reason.startswith("X-noc-ping")

    def every_type(resources):
        resources[SG_IN][key]["from_port"] = -1
    result = verified(synthesized, "aws", every_type)
    assert kinds(result) == {UNEXPECTED}
    assert {f.protocol for f in result.findings} == {"ICMP"}
    assert {f.region.ports for f in result.findings} == {(0, 8 * 256 - 1), (9 * 256, 65535)}


@pytest.mark.parametrize("protocol,exact", [("icmpv6", True), ("icmp", False)])
def test_an_aws_icmp_exception_is_icmpv6_for_an_ipv6_peer(synthesized, protocol,
                                                          exact):
    """As the AWS planner writes it (aws.plan), an ICMP exception is ICMPv6 for its IPv6
    CIDRs: the rule for such a CIDR must be icmpv6, an icmp one is the wrong protocol."""
    data = conftest.example_data(EXAMPLE)
    (ping,) = [e for e in data["exceptions"] if e["id"] == "noc-ping"]
    ping["peer"]["cidrs"].append("2001:db8:50::10/128")
    doc = document(synthesized, "aws")
    rules = doc["resource"][SG_IN]
    v6 = {k: v for k, v in rules["X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"].items()
          if k != "cidr_ipv4"}
    rules["X-noc-ping_v6"] = {**v6, "cidr_ipv6": "2001:db8:50::10/128", "ip_protocol": protocol}
    result = run(conftest.deployment(data, EXAMPLE), "aws", doc)
    if exact:
        assert result.findings == [], [f.message for f in result.findings]
        return
    assert {(f.kind, str(f.region)) for f in result.findings} == {
        (MISSING, "inbound ICMPv6 type 8 from 2001:db8:50::10/128"),
        (UNEXPECTED, "inbound ICMP type 8 from 2001:db8:50::10/128")}


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_an_esp_exception_is_verified_exactly(synthesized, cloud):
    """X-vpn-esp (protocol 50 to one address): dropped, it is missing; widened to every
    protocol, the rest is unexpected."""
    def drop(resources):
        rules = resources[NSG_RULE if cloud == "azure" else "aws_vpc_security_group_egress_rule"]
        (key,) = [k for k in rules if k.startswith("X-vpn-esp")]
        del rules[key]
    result = verified(synthesized, cloud, drop)
    assert kinds(result) == {MISSING}
    assert {str(f.region) for f in result.findings} == {
        "outbound protocol 50 (ESP) to 10.0.70.1/32"}

    def every_protocol(resources):
        rules = resources[NSG_RULE if cloud == "azure" else "aws_vpc_security_group_egress_rule"]
        (key,) = [k for k in rules if k.startswith("X-vpn-esp")]
        if cloud == "azure":
            rules[key]["protocol"] = "*"
        else:
            rules[key]["ip_protocol"] = "-1"
    result = verified(synthesized, cloud, every_protocol)
    # (On Azure the widened rule also comes first for a member of X-azure-monitor's tag at
    # that address, and is no rule scoped to the tag: findings about that member too.)
    unexpected = [f.region for f in result.findings if f.kind == UNEXPECTED]
    assert unexpected and all(str(r.first) == str(r.last) == "10.0.70.1" for r in unexpected)
    assert set().union(*(r.protocols for r in unexpected)) == set(range(256)) - {50}


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_an_expired_exception_is_a_finding_naming_it(synthesized, cloud, monkeypatch):
    monkeypatch.setenv("SXCLOUD_TODAY", EXPIRED_ONE)
    result = verified(synthesized, cloud)
    assert kinds(result) == {EXPIRED}
    (finding,) = result.findings
    assert finding.message.startswith("X-admin-ssh (owner mail-team) expired on 2027-02-28 "
                                      "(expired 1 day ago")


def test_verify_command_exits_1_naming_the_expired_exception(synthesized, capsys, monkeypatch):
    assert main(["verify", str(EXAMPLE), "--synth-dir", str(synthesized.out)]) == 0
    capsys.readouterr()
    monkeypatch.setenv("SXCLOUD_TODAY", EXPIRED_ONE)
    assert main(["verify", str(EXAMPLE), "--synth-dir", str(synthesized.out)]) == 1
    out = capsys.readouterr().out
    assert "expired    X-admin-ssh (owner mail-team) expired on 2027-02-28" in out


def test_before_the_date_an_exception_is_no_finding(synthesized, monkeypatch):
    monkeypatch.setenv("SXCLOUD_TODAY", "2027-02-28")  # the last day X-admin-ssh is granted
    assert verified(synthesized, "aws").findings == []


# --- audit ----------------------------------------------------------------------------------

def test_aws_live_exception_rules_are_expected_and_expired_ones_named():
    p = aws_plan(config.load(EXAMPLE))
    items = described(p)
    assert not drift_of(p, items).found
    later = drift_of(p, items, date.fromisoformat(EXPIRED_ONE))
    assert later.found and not (later.missing or later.unexpected or later.changed)
    assert [x.rule.key for x in later.expired] == ["X-admin-ssh_in_tcp22_cidr_10-0-99-0_24"]
    assert all(x.live.permission.direction for x in later.expired)


def test_aws_an_expired_exception_whose_rules_are_gone_is_missing_not_expired():
    p = aws_plan(config.load(EXAMPLE))
    items = [i for r, i in zip(p.rules, described(p)) if not (
        r.exception and r.exception.id == "admin-ssh")]
    later = drift_of(p, items, date.fromisoformat(EXPIRED_ONE))
    assert [r.key for r in later.missing] == ["X-admin-ssh_in_tcp22_cidr_10-0-99-0_24"]
    assert later.expired == ()


def test_azure_audit_expects_exception_rules_and_names_expired_ones(
        arm: ArmEndpoint, synthesized, capsys, monkeypatch):
    deploy(arm, synthesized, EXAMPLE)
    code, report = audit_json(arm, capsys, EXAMPLE)
    assert code == 0 and report["findings"] == [], report
    monkeypatch.setenv("SXCLOUD_TODAY", EXPIRED_ONE)
    code, report = audit_json(arm, capsys, EXAMPLE)
    assert code == 1
    assert report["summary"]["expired"] == 1
    (finding,) = report["findings"]
    assert (finding["kind"], finding["rule"]) == ("expired", "X-admin-ssh-in-v4")
    assert finding["message"].startswith("X-admin-ssh (owner mail-team) expired")
    assert main(["audit", "azure", str(EXAMPLE), "--subscription", SUB, "--arm-endpoint",
                 arm.url]) == 1
    out = capsys.readouterr().out
    assert "X-admin-ssh (owner mail-team) expired on 2027-02-28 (expired 1 day ago)" in out


def test_a_malformed_today_is_bad_input(synthesized, capsys, monkeypatch):
    """A malformed SXCLOUD_TODAY is bad input (exit 2), never silently today."""
    monkeypatch.setenv("SXCLOUD_TODAY", "2027-13-01")
    assert main(["verify", str(EXAMPLE), "--synth-dir", str(synthesized.out)]) == 2
    assert "SXCLOUD_TODAY" in capsys.readouterr().err


@pytest.mark.parametrize("cloud", ["aws", "azure"])
@pytest.mark.parametrize("kind", ["plan", "state"])
def test_plan_and_state_documents_with_exceptions_are_exact(synthesized, cloud,
                                                            kind, tmp_path, capsys):
    """`verify --plan-json / --state-json` (documents shaped as `terraform show -json`
    writes them, tests/tfshow.py): exact; and a dropped exception rule is missing there too."""
    stack = document(synthesized, cloud)
    computed = tfshow.aws_ids() if cloud == "aws" else tfshow.azure_ids()
    shown = (tfshow.refresh_planned_values(tfshow.plan_document(stack)) if kind == "plan"
             else tfshow.state_document(stack, computed))
    path = tmp_path / "shown.json"
    path.write_text(json.dumps(shown))
    option = f"--{kind}-json"
    assert main(["verify", str(EXAMPLE), option, str(path)]) == 0, capsys.readouterr().out
    capsys.readouterr()
    victim = ("X-noc-snmp_in_udp161_cidr_10-0-50-10_32" if cloud == "aws"
              else "X-noc-snmp-in-v4")
    del stack["resource"][SG_IN if cloud == "aws" else NSG_RULE][victim]
    shown = (tfshow.refresh_planned_values(tfshow.plan_document(stack)) if kind == "plan"
             else tfshow.state_document(stack, computed))
    path.write_text(json.dumps(shown))
    assert main(["verify", str(EXAMPLE), option, str(path)]) == 1
    assert "missing    X-noc-snmp inbound" in capsys.readouterr().out
