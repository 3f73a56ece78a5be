"""Site exceptions in the synthesized stacks (conftest.synthesized, once per session): the
exact resources on both clouds, `terraform validate` of a variant with the real aws provider,
and that one exception added, removed or edited changes no other resource. The example's
stacks go through every test of the examples as well (the prebuilt provider classes in
test_schema_equivalence.py, the cdktf core in test_runtime_cdktf.py, and so on)."""

from __future__ import annotations

import json
import shutil

import pytest

import conftest
import terraform

BASE = conftest.example_data(conftest.EXCEPTIONS_EXAMPLE)
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


def test_aws_stack_holds_exactly_the_exception_rules(synthesized):
    found = {k: v for k, v in resources(synthesized, f"{NAME}-aws").items() if ".X-" in k}
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


def test_azure_stack_holds_exactly_the_exception_rules(synthesized):
    rules = {k.split(".", 1)[1]: v for k, v in resources(synthesized, f"{NAME}-azure").items()
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
    denies = [r for k, r in resources(synthesized, f"{NAME}-azure").items() if ".deny-" in k]
    assert all(r["priority"] > max(x["priority"] for x in rules.values()) for r in denies)


@pytest.mark.parametrize("change, touched", [
    ("inserted", "inserted"),
    ("removed", BASE["exceptions"][0]["id"]),
    ("edited", BASE["exceptions"][1]["id"]),
])
@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_one_exception_changes_no_other_resource(synthesized, change, touched, cloud):
    before = resources(synthesized, f"{NAME}-{cloud}")
    after = resources(synthesized, f"{NAME}-{change}-{cloud}", f"{NAME}-{change}")
    mine = (f".X-{touched}_", f".X-{touched}-")
    kept = {k: v for k, v in before.items() if not any(m in k for m in mine)}
    assert {k: v for k, v in after.items() if not any(m in k for m in mine)} == kept
    assert {k for k in {*before, *after} if any(m in k for m in mine)}  # it did change


def test_aws_stack_with_an_exception_inserted_validates(synthesized, tmp_path):
    """(The example's own stack is validated with the others, test_terraform_validate.py.)"""
    name = f"{NAME}-inserted-aws"
    stack_dir = tmp_path / name
    shutil.copytree(synthesized.stack_dir(name), stack_dir)
    terraform.validate(stack_dir)
