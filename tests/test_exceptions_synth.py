"""Site exceptions in the synthesized stacks (conftest.synthesized_exceptions, once per
session): the exact resources on both clouds, `terraform validate` with the real aws
provider, the azurerm (and aws) attributes against the prebuilt cdktn-provider classes, as
test_schema_equivalence.py checks the other stacks, and that one exception added, removed
or edited changes no other resource."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

import conftest
import terraform

BASE = conftest.example_data(conftest.EXCEPTION_EXAMPLES[0])
NAME = BASE["name"]
GROUP = "${aws_security_group.appliance.id}"
ASG = "${azurerm_application_security_group.appliance_asg.id}"
NSG = "${azurerm_network_security_group.appliance_nsg.name}"


def resources(synthesized, stack, name=NAME):
    """The stack's resources by address, with a variant's deployment name put back."""
    text = (synthesized.stack_dir(stack) / "cdk.tf.json").read_text()
    found = json.loads(text.replace(name, NAME))["resource"]
    return {f"{kind}.{key}": {k: v for k, v in body.items() if k != "//"}
            for kind, items in found.items() for key, body in items.items()}


def test_aws_stack_holds_exactly_the_exception_rules(synthesized_exceptions):
    found = {k: v for k, v in resources(synthesized_exceptions, f"{NAME}-aws").items() if ".X-" in k}
    assert sorted(found) == sorted([
        "aws_vpc_security_group_ingress_rule.X-noc-snmp_in_udp161_cidr_10-0-50-10_32",
        "aws_vpc_security_group_egress_rule.X-siem-syslog_out_tcp6514_cidr_10-0-60-0_28",
        "aws_vpc_security_group_ingress_rule.X-partner-relay_in_tcp2525_cidr_198-51-100-0_24",
        "aws_vpc_security_group_ingress_rule.X-partner-relay_in_tcp10025-10030_cidr_198-51-100-0_24",
        "aws_vpc_security_group_ingress_rule.X-partner-relay_in_tcp2525_cidr_2001-db8-100--_48",
        "aws_vpc_security_group_ingress_rule.X-partner-relay_in_tcp10025-10030_cidr_2001-db8-100--_48",
        "aws_vpc_security_group_ingress_rule.X-noc-ping_in_icmpt8_cidr_10-0-50-10_32",
        "aws_vpc_security_group_ingress_rule.X-admin-ssh_in_tcp22_cidr_10-0-99-0_24",
        "aws_vpc_security_group_egress_rule.X-vpn-esp_out_p50_cidr_10-0-70-1_32",
    ])
    assert found["aws_vpc_security_group_ingress_rule.X-noc-snmp_in_udp161_cidr_10-0-50-10_32"] == {
        "security_group_id": GROUP, "ip_protocol": "udp", "from_port": 161, "to_port": 161,
        "cidr_ipv4": "10.0.50.10/32",
        "description": "X-noc-snmp CHG-1234 until 2027-06-30: SNMP polling by the NOC monitoring",
        "tags": {"sxcloud:exception": "noc-snmp", "sxcloud:owner": "noc-team",
                 "sxcloud:expires": "2027-06-30", "sxcloud:ticket": "CHG-1234"}}
    assert found["aws_vpc_security_group_ingress_rule.X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"][
        "ip_protocol"] == "icmp"
    ping = found["aws_vpc_security_group_ingress_rule.X-noc-ping_in_icmpt8_cidr_10-0-50-10_32"]
    assert (ping["from_port"], ping["to_port"]) == (8, -1)
    esp = found["aws_vpc_security_group_egress_rule.X-vpn-esp_out_p50_cidr_10-0-70-1_32"]
    assert esp["ip_protocol"] == "50" and "from_port" not in esp and "to_port" not in esp
    relay = found["aws_vpc_security_group_ingress_rule.X-partner-relay_in_tcp10025-10030_cidr_2001-db8-100--_48"]
    assert (relay["cidr_ipv6"], relay["from_port"], relay["to_port"]) == ("2001:db8:100::/48", 10025, 10030)
    assert relay["tags"] == {"sxcloud:exception": "partner-relay", "sxcloud:owner": "mail-team",
                             "sxcloud:expires": "2027-05-15"}


def test_azure_stack_holds_exactly_the_exception_rules(synthesized_exceptions):
    rules = {k.split(".", 1)[1]: v for k, v in resources(synthesized_exceptions, f"{NAME}-azure").items()
             if k.startswith("azurerm_network_security_rule.X-")}
    assert {name: (r["priority"], r["direction"], r["protocol"]) for name, r in rules.items()} == {
        "X-noc-snmp-in-v4": (1590, "Inbound", "Udp"),
        "X-siem-syslog-out-v4": (265, "Outbound", "Tcp"),
        "X-partner-relay-in-v4": (1523, "Inbound", "Tcp"),
        "X-partner-relay-in-v6": (3588, "Inbound", "Tcp"),
        "X-admin-ssh-in-v4": (1877, "Inbound", "Tcp"),
        "X-azure-monitor-out-tag-AzureMonitor": (3813, "Outbound", "Tcp"),
        "X-vpn-esp-out-v4": (2154, "Outbound", "Esp"),
    }
    assert rules["X-noc-snmp-in-v4"] == {
        "name": "X-noc-snmp-in-v4", "priority": 1590, "direction": "Inbound", "access": "Allow",
        "protocol": "Udp", "resource_group_name": "rg-mail-exceptions",
        "network_security_group_name": NSG,
        "description": "X-noc-snmp CHG-1234 until 2027-06-30: SNMP polling by the NOC monitoring",
        "source_port_range": "*", "destination_port_ranges": ["161"],
        "source_address_prefixes": ["10.0.50.10/32"],
        "destination_application_security_group_ids": [ASG]}
    monitor = rules["X-azure-monitor-out-tag-AzureMonitor"]
    assert (monitor["source_application_security_group_ids"], monitor["destination_address_prefix"],
            monitor["destination_port_ranges"]) == ([ASG], "AzureMonitor", ["443"])
    assert rules["X-vpn-esp-out-v4"]["destination_port_range"] == "*"
    assert rules["X-partner-relay-in-v4"]["destination_port_ranges"] == ["2525", "10025-10030"]
    denies = [r for k, r in resources(synthesized_exceptions, f"{NAME}-azure").items() if ".deny-" in k]
    assert all(r["priority"] > max(x["priority"] for x in rules.values()) for r in denies)


@pytest.mark.parametrize("change, touched", [
    ("inserted", "inserted"),
    ("removed", BASE["exceptions"][0]["id"]),
    ("edited", BASE["exceptions"][1]["id"]),
])
@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_one_exception_changes_no_other_resource(synthesized_exceptions, change, touched, cloud):
    before = resources(synthesized_exceptions, f"{NAME}-{cloud}")
    after = resources(synthesized_exceptions, f"{NAME}-{change}-{cloud}", f"{NAME}-{change}")
    mine = (f".X-{touched}_", f".X-{touched}-")
    kept = {k: v for k, v in before.items() if not any(m in k for m in mine)}
    assert {k: v for k, v in after.items() if not any(m in k for m in mine)} == kept
    assert {k for k in {*before, *after} if any(m in k for m in mine)}  # it did change


@pytest.mark.parametrize("change", ["", "-inserted"])
def test_aws_stack_with_exceptions_validates(synthesized_exceptions, tmp_path, change):
    name = f"{NAME}{change}-aws"
    stack_dir = tmp_path / name
    shutil.copytree(synthesized_exceptions.stack_dir(name), stack_dir)
    terraform.validate(stack_dir)


def test_prebuilt_provider_classes_write_the_same(synthesized_exceptions, tmp_path):
    """The typed layer's exception rules (tags on AWS rules, Esp and port ranges on Azure)
    are what the prebuilt classes, generated from the providers' schemas, accept and write:
    the only schema check for azurerm here."""
    from test_schema_equivalence import _body, prebuilt_stacks

    ours = {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in (synthesized_exceptions.out / "stacks").iterdir()}
    compared = 0
    for name, prebuilt in prebuilt_stacks(ours, tmp_path).items():
        stack_json = ours[name]
        for kind, items in stack_json["resource"].items():
            for key, body in items.items():
                assert _body(prebuilt["resource"][kind][key]) == _body(body), (name, key)
                compared += key.startswith("X-")
    assert compared >= 4 * (9 + 7)  # four stacks of each cloud's exception rules, at least


def test_cdktf_core_synthesizes_the_same_exception_stacks(synthesized_exceptions, tmp_path):
    """As test_runtime_cdktf.py for the other examples: the cdktf 0.21 core writes the same."""
    from test_runtime_cdktf import _strip

    python = os.environ.get("SXCLOUD_CDKTF_PYTHON")
    assert python, "SXCLOUD_CDKTF_PYTHON is not set; scripts/test sets it"
    result = subprocess.run([python, "-m", "sxcloud", "synth", *map(str, conftest.EXCEPTION_EXAMPLES),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for cloud in ("aws", "azure"):
        name = f"{NAME}-{cloud}"
        ours = json.loads((tmp_path / "out" / "stacks" / name / "cdk.tf.json").read_text())
        assert _strip(ours) == _strip(json.loads(
            (synthesized_exceptions.stack_dir(name) / "cdk.tf.json").read_text())), name
