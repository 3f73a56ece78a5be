"""Synthesized stacks hold exactly the vendor's flows for each example, and nothing else.

The expectations below are written out by hand from spec/rules.md and each example's
options; they do not come from the planner under test.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from conftest import EXAMPLES, example_data

SG = "${aws_security_group.appliance.id}"
ASG = "${azurerm_application_security_group.appliance_asg.id}"
EXCHANGE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mail/"
            "providers/Microsoft.Network/applicationSecurityGroups/asg-exchange")
ANY4, ANY6 = "0.0.0.0/0", "::/0"


def aws_rules(stack):
    """(direction, protocol, port, peer) for every rule resource of the stack."""
    out = []
    for kind, direction in (("aws_vpc_security_group_ingress_rule", "in"),
                            ("aws_vpc_security_group_egress_rule", "out")):
        for body in stack["resource"].get(kind, {}).values():
            assert body["security_group_id"] == SG
            peers = [body[k] for k in ("cidr_ipv4", "cidr_ipv6", "prefix_list_id",
                                       "referenced_security_group_id") if k in body]
            assert len(peers) == 1, body  # one peer per rule
            ports = (body.get("from_port"), body.get("to_port"))  # a site exception's range,
            port = ports[0] if ports[0] == ports[1] else ports  # or ICMP type and code
            out.append((direction, body["ip_protocol"], port, peers[0]))
    assert len(out) == len(set(out)), "a rule is duplicated"
    return set(out)


def azure_rules(stack):
    """(direction, access, protocol, ports, source, destination) for every NSG rule."""
    out = []
    for body in stack["resource"]["azurerm_network_security_rule"].values():
        assert body["network_security_group_name"] == "${azurerm_network_security_group.appliance_nsg.name}"
        assert body["source_port_range"] == "*"
        ports = tuple(body.get("destination_port_ranges") or [body["destination_port_range"]])
        out.append((body["direction"], body["access"], body["protocol"], ports,
                    _side(body, "source"), _side(body, "destination")))
    assert len(out) == len(set(out))
    return set(out)


def _side(body, side):
    for key in (f"{side}_address_prefix", f"{side}_address_prefixes",
                f"{side}_application_security_group_ids"):
        if key in body:
            value = body[key]
            return value if isinstance(value, str) else tuple(value)
    raise AssertionError(f"no {side} in {body}")


def dns(peers, direction="out"):
    return {(direction, proto, 53, p) for p in peers for proto in ("tcp", "udp")}


def internet(*services, v6=False):
    return {(d, proto, port, net) for d, proto, port in services
            for net in ((ANY4, ANY6) if v6 else (ANY4,))}


AWS_EXPECTED = {
    "mail-aws-single-aws": (
        {("in", "tcp", 25, "10.10.1.25/32"), ("out", "tcp", 25, "10.10.1.25/32"),
         ("in", "tcp", 8443, "10.10.99.0/24")}
        | dns(["9.9.9.9/32", "149.112.112.112/32"])
        | internet(("out", "tcp", 22), ("in", "tcp", 25), ("out", "tcp", 25), ("out", "tcp", 80),
                   ("in", "tcp", 443), ("out", "udp", 6277), ("out", "udp", 123))),
    "mail-aws-cluster-aws": (
        {("in", "tcp", 22, SG), ("out", "tcp", 22, SG),
         ("in", "tcp", 25, "sg-0aaaabbbbccccdddd"), ("out", "tcp", 25, "sg-0aaaabbbbccccdddd"),
         ("in", "tcp", 8443, "pl-0123456789abcdef0")}
        | dns(["10.30.0.2/32", "fd00:30::53/128"])
        | internet(("out", "tcp", 22), ("in", "tcp", 25), ("out", "tcp", 25), ("out", "tcp", 80),
                   ("in", "tcp", 443), ("out", "udp", 24441), ("out", "udp", 123),
                   ("out", "tcp", 5061), v6=True)),
    "mail-simple-aws": (
        {("in", "tcp", 25, "10.50.1.25/32"), ("in", "-1", None, "10.50.0.0/16"),
         ("out", "-1", None, "10.50.0.0/16")}
        | internet(("out", "tcp", 22), ("in", "tcp", 25), ("out", "tcp", 25), ("out", "tcp", 80),
                   ("in", "tcp", 443))),
    "mailcrypt-example-aws": (
        {("in", "tcp", 25, "10.20.1.10/32"), ("out", "tcp", 25, "10.20.1.10/32"),
         ("in", "tcp", 8443, "10.20.99.0/24")}
        | dns(["9.9.9.9/32", "149.112.112.112/32"])
        | internet(("out", "tcp", 22), ("in", "tcp", 25), ("out", "tcp", 25), ("out", "tcp", 80),
                   ("in", "tcp", 443), ("out", "udp", 123))),
    "mail-exceptions-aws": (  # the vendor rows as the built-in example's, then the exceptions
        {("in", "tcp", 25, "10.0.1.10/32"), ("out", "tcp", 25, "10.0.1.10/32"),
         ("in", "tcp", 8443, "10.0.99.0/24")}
        | dns(["9.9.9.9/32"])
        | internet(("out", "tcp", 22), ("in", "tcp", 25), ("out", "tcp", 25), ("out", "tcp", 80),
                   ("in", "tcp", 443), ("out", "udp", 123))
        | {("in", "udp", 161, "10.0.50.10/32"), ("out", "tcp", 6514, "10.0.60.0/28"),
           ("in", "tcp", 2525, "198.51.100.0/24"), ("in", "tcp", 2525, "2001:db8:100::/48"),
           ("in", "tcp", (10025, 10030), "198.51.100.0/24"),
           ("in", "tcp", (10025, 10030), "2001:db8:100::/48"),
           ("in", "icmp", (8, -1), "10.0.50.10/32"),  # echo request, any code
           ("in", "tcp", 22, "10.0.99.0/24"), ("out", "50", None, "10.0.70.1/32")}),
}

_LB = ("Inbound", "Allow", "*", ("*",), "AzureLoadBalancer", (ASG,))
_DENY_IN = ("Inbound", "Deny", "*", ("*",), "*", (ASG,))
_DENY_OUT = ("Outbound", "Deny", "*", ("*",), (ASG,), "*")


def allow_in(protocol, ports, source):
    return ("Inbound", "Allow", protocol, tuple(map(str, ports)), source, (ASG,))


def allow_out(protocol, ports, destination):
    return ("Outbound", "Allow", protocol, tuple(map(str, ports)), (ASG,), destination)


AZURE_EXPECTED = {
    "mail-azure-cluster-azure": {
        allow_in("Tcp", [25, 443], "Internet"), allow_in("Tcp", [25], (EXCHANGE,)),
        allow_in("Tcp", [8080, 8443], ("10.40.99.0/24", "10.41.5.0/24")),
        allow_in("Tcp", [22], (ASG,)), _LB, _DENY_IN,
        allow_out("Tcp", [22, 25, 53, 80], "Internet"), allow_out("Udp", [53, 123, 6277], "Internet"),
        allow_out("Tcp", [25], (EXCHANGE,)), allow_out("Tcp", [22], (ASG,)), _DENY_OUT,
    },
    "mail-simple-azure": {
        allow_in("Tcp", [25, 443], "Internet"), allow_in("Tcp", [25], ("10.50.1.25/32",)),
        allow_in("*", ["*"], ("10.50.0.0/16",)), _LB, _DENY_IN,
        allow_out("Tcp", [22, 25, 80], "Internet"), allow_out("*", ["*"], ("10.50.0.0/16",)),
        _DENY_OUT,
    },
    "mailcrypt-example-azure": {
        allow_in("Tcp", [25, 443], "Internet"), allow_in("Tcp", [25], ("10.20.1.10/32",)),
        allow_in("Tcp", [8443], ("10.20.99.0/24",)), _LB, _DENY_IN,
        allow_out("Tcp", [22, 25, 80], "Internet"), allow_out("Udp", [123], "Internet"),
        allow_out("Tcp", [25], ("10.20.1.10/32",)),
        allow_out("Tcp", [53], ("9.9.9.9/32", "149.112.112.112/32")),
        allow_out("Udp", [53], ("9.9.9.9/32", "149.112.112.112/32")), _DENY_OUT,
    },
    "mail-exceptions-azure": {  # no X-noc-ping: its ICMP type is AWS only
        allow_in("Tcp", [25, 443], "Internet"), allow_in("Tcp", [25], ("10.0.1.10/32",)),
        allow_in("Tcp", [8443], ("10.0.99.0/24",)), _LB, _DENY_IN,
        allow_out("Tcp", [22, 25, 80], "Internet"), allow_out("Udp", [123], "Internet"),
        allow_out("Tcp", [25], ("10.0.1.10/32",)),
        allow_out("Tcp", [53], ("9.9.9.9/32",)), allow_out("Udp", [53], ("9.9.9.9/32",)),
        allow_in("Udp", [161], ("10.0.50.10/32",)), allow_out("Tcp", [6514], ("10.0.60.0/28",)),
        allow_in("Tcp", [2525, "10025-10030"], ("198.51.100.0/24",)),
        allow_in("Tcp", [2525, "10025-10030"], ("2001:db8:100::/48",)),
        allow_in("Tcp", [22], ("10.0.99.0/24",)), allow_out("Tcp", [443], "AzureMonitor"),
        allow_out("Esp", ["*"], ("10.0.70.1/32",)), _DENY_OUT,
    },
}

EXAMPLE_STACKS = {f"{example_data(p)['name']}-{cloud}"
                  for p in EXAMPLES for cloud in ("aws", "azure") if cloud in example_data(p)}


def test_every_example_stack_has_expectations():
    assert EXAMPLE_STACKS == set(AWS_EXPECTED) | set(AZURE_EXPECTED)


@pytest.mark.parametrize("name", sorted(AWS_EXPECTED))
def test_aws_stack_holds_exactly_the_expected_rules(synthesized, name):
    stack = synthesized.stack(name)
    assert aws_rules(stack) == AWS_EXPECTED[name]
    assert set(stack["resource"]) == {"aws_security_group", "aws_vpc_security_group_ingress_rule",
                                      "aws_vpc_security_group_egress_rule"}
    assert list(stack["resource"]["aws_security_group"]) == ["appliance"]
    assert stack["output"]["security_group_id"]["value"] == SG
    assert stack["terraform"]["required_providers"]["aws"] == {
        "source": "hashicorp/aws", "version": ">= 5.0, < 7.0"}


@pytest.mark.parametrize("name", sorted(AZURE_EXPECTED))
def test_azure_stack_holds_exactly_the_expected_rules(synthesized, name):
    stack = synthesized.stack(name)
    assert azure_rules(stack) == AZURE_EXPECTED[name]
    resources = stack["resource"]
    assert list(resources["azurerm_application_security_group"]) == ["appliance_asg"]
    assert list(resources["azurerm_network_security_group"]) == ["appliance_nsg"]
    assert stack["output"]["network_security_group_id"]["value"] == "${azurerm_network_security_group.appliance_nsg.id}"
    assert stack["output"]["application_security_group_id"]["value"] == ASG


def test_azure_denies_follow_every_allow_and_priorities_are_unique(synthesized):
    for name in AZURE_EXPECTED:
        rules = synthesized.stack(name)["resource"]["azurerm_network_security_rule"].values()
        for direction in ("Inbound", "Outbound"):
            mine = [r for r in rules if r["direction"] == direction]
            priorities = [r["priority"] for r in mine]
            assert len(set(priorities)) == len(priorities)
            assert all(100 <= p <= 4096 for p in priorities)
            deny = max(mine, key=lambda r: r["priority"])
            assert (deny["access"], deny["priority"], deny["protocol"]) == ("Deny", 4096, "*")
            assert all(r["access"] == "Allow" for r in mine if r is not deny)


def test_azure_associations(synthesized):
    cluster = synthesized.stack("mail-azure-cluster-azure")["resource"]
    (subnet,) = cluster["azurerm_subnet_network_security_group_association"].values()
    assert subnet["subnet_id"].endswith("/virtualNetworks/vnet-mail/subnets/snet-dmz")
    assert subnet["network_security_group_id"] == "${azurerm_network_security_group.appliance_nsg.id}"
    simple = synthesized.stack("mail-simple-azure")["resource"]
    (nic,) = simple["azurerm_network_interface_security_group_association"].values()
    (member,) = simple["azurerm_network_interface_application_security_group_association"].values()
    assert nic["network_interface_id"] == member["network_interface_id"]
    assert member["application_security_group_id"] == ASG
    assert "azurerm_subnet_network_security_group_association" not in simple


def test_names_and_descriptions_fit_the_clouds(synthesized):
    aws_text = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{1,255}$")
    azure_name = re.compile(r"^[A-Za-z0-9][\w.-]{0,78}\w$")
    for name in EXAMPLE_STACKS:
        resources = synthesized.stack(name)["resource"]
        for kind in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
            for body in resources.get(kind, {}).values():
                assert aws_text.match(body["description"]), body["description"]
        for body in resources.get("azurerm_network_security_rule", {}).values():
            assert azure_name.match(body["name"]) and len(body["description"]) <= 140


def test_backends(synthesized):
    single = synthesized.stack("mail-aws-single-aws")["terraform"]["backend"]
    assert single == {"s3": {"bucket": "tf-state-mail", "key": "mail-aws-single/aws.tfstate",
                             "region": "eu-central-1", "use_lockfile": True}}
    cluster = synthesized.stack("mail-azure-cluster-azure")["terraform"]["backend"]
    assert list(cluster) == ["azurerm"] and cluster["azurerm"]["container_name"] == "tfstate"
    default = synthesized.stack("mailcrypt-example-aws")["terraform"]["backend"]
    assert default == {"local": {"path": "terraform.tfstate"}}


def test_output_holds_no_absolute_path_of_this_machine(synthesized):
    for stack_dir in (synthesized.out / "stacks").iterdir():
        text = (stack_dir / "cdk.tf.json").read_text()
        for path in {str(synthesized.out), str(Path.cwd()), str(Path.home()),
                     str(Path(__file__).resolve().parent.parent), os.environ.get("TMPDIR", "/tmp")}:
            assert path not in text, (stack_dir.name, path)


# --- stability: toggling an option touches only that option's rules ---------------------

ROWS_OF_OPTION = {
    "features.vspp_updates": {"R10"}, "features.vspp_dcc": {"R12"},
    "features.vspp_pyzor": {"R13"}, "features.ntp": {"R14"}, "features.admin_http": {"R15"},
    "features.admin_https": {"R16"}, "features.sms": {"R17"}, "cluster": {"R02"}, "ipv6": set(),
}


def _normalised(synthesized, stack_name, deployment_name, base_name):
    """The stack's resources by address, with a variant's deployment name put back to the
    example's (names, tags and descriptions derive from it)."""
    text = (synthesized.stack_dir(stack_name) / "cdk.tf.json").read_text()
    resources = json.loads(text.replace(deployment_name, base_name))["resource"]
    return {f"{kind}.{key}": {k: v for k, v in body.items() if k != "//"}
            for kind, items in resources.items() for key, body in items.items()}


def test_toggling_an_option_changes_only_its_own_rules(synthesized):
    checked = 0
    for variant in synthesized.variants:
        rows = ROWS_OF_OPTION[variant.option]
        for cloud in ("aws", "azure"):
            base_stack, new_stack = f"{variant.base}-{cloud}", f"{variant.name}-{cloud}"
            if not (synthesized.stack_dir(base_stack)).exists():
                continue
            before = _normalised(synthesized, base_stack, variant.base, variant.base)
            after = _normalised(synthesized, new_stack, variant.name, variant.base)
            for key in set(before) ^ set(after):  # added or removed resources
                body = before.get(key) or after[key]
                assert _belongs(key, body, rows, variant.option), (variant, key)
            for key in set(before) & set(after):
                if before[key] != after[key]:  # changed in place: only an Azure rule's ports
                    assert key.startswith("azurerm_network_security_rule."), (variant, key)
                    assert before[key]["priority"] == after[key]["priority"]
                    assert before[key]["name"] == after[key]["name"]
                    assert any(_belongs(key, b[key], rows, variant.option) for b in (before, after))
            checked += 1
    assert checked >= 30


def _belongs(key, body, rows, option):
    if option == "ipv6":
        return body.get("cidr_ipv6") == "::/0"
    if key.startswith("aws_vpc_security_group"):
        return key.split(".", 1)[1][:3] in rows
    return any(row in body.get("description", "") for row in rows)
