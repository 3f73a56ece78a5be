"""Azure's NSG limits (sxcloud.azure.limits), checked before anything is synthesized.

Each limit is tested at its edge: the largest valid value passes, one more fails with a
problem that names the rule. Plans are built directly (NsgPlan objects) so that every limit
can be reached; the CLI tests reach the address limit from a deployment file.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from conftest import EXAMPLES, example_data

from sxcloud import config
from sxcloud.azure import limits
from sxcloud.azure.plan import (
    APPLIANCE_ASG,
    APPLIANCES,
    ASGS,
    TAG,
    V4,
    V6,
    Address,
    NsgPlan,
    NsgRule,
    plan,
)
from sxcloud.cli import main

INTERNET = Address(TAG, ("Internet",))


def asg(name: str) -> str:
    return ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
            f"Microsoft.Network/applicationSecurityGroups/{name}")


def rule(name: str = "allow-in-test", priority: int = 100, **changes: object) -> NsgRule:
    base = NsgRule(name=name, priority=priority, direction="Inbound", access="Allow",
                   protocol="Tcp", ports=("25",), source=INTERNET, destination=APPLIANCES,
                   description="sxcloud: test")
    return replace(base, **changes)


def nsg(*rules: NsgRule, nsg_name: str = "nsg-test-appliance",
        asg_name: str = "asg-test-appliance") -> NsgPlan:
    return NsgPlan(nsg_name, asg_name, {}, tuple(rules), ())


def problems(*rules: NsgRule, **names: str) -> list[tuple[str, str]]:
    return limits.problems(nsg(*rules, **names))


def hosts(count: int, network: str = "10.64.0.0/10") -> tuple[str, ...]:
    net = ipaddress.ip_network(network)
    return tuple(f"{net[i + 1]}/{net.max_prefixlen}" for i in range(count))


def test_every_example_plan_is_within_the_limits():
    for path in EXAMPLES:
        d = config.parse(example_data(path), path)
        if d.azure:
            assert limits.problems(plan(d)) == [], path


# --- one rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("priority, ok", [(99, False), (100, True), (4096, True), (4097, False)])
def test_priority_range(priority, ok):
    found = problems(rule(priority=priority))
    assert (found == []) is ok
    if not ok:
        assert found == [("rule allow-in-test", f"priority {priority} is outside 100-4096")]


def test_priorities_unique_per_direction():
    same = problems(rule("a", 200), rule("b", 200))
    assert same == [("rule b", "priority 200 (Inbound) is also the priority of a; Azure needs "
                              "unique priorities per direction")]
    assert problems(rule("a", 200), rule("b", 200, direction="Outbound")) == []


@pytest.mark.parametrize("name, ok", [
    ("a", True), ("r_", True), ("Allow.In-1_x", True), ("x" * 80, True),
    ("x" * 81, False), ("", False), ("-allow", False), ("allow-", False), ("allow.", False),
    ("allow in", False), ("allow/in", False), ("zulässig", False),
])
def test_rule_names(name, ok):
    found = problems(rule(name))
    assert (found == []) is ok, found
    if not ok:
        assert found[0][0] == f"rule {name}" and "name" in found[0][1]


def test_names_unique_without_case():
    assert problems(rule("Allow-A", 100), rule("allow-a", 101)) == [
        ("rule allow-a", "the name is also used by another rule (Allow-A); Azure compares "
                         "names without case")]


@pytest.mark.parametrize("which", ["nsg_name", "asg_name"])
def test_nsg_and_asg_names(which):
    found = problems(rule(), **{which: "n" * 81})
    assert len(found) == 1 and "81 characters long; Azure takes 1 to 80" in found[0][1]


@pytest.mark.parametrize("length, ok", [(140, True), (141, False)])
def test_description_length(length, ok):
    found = problems(rule(description="d" * length))
    assert found == ([] if ok else [("rule allow-in-test", "the description is 141 characters "
                                                            "long; Azure takes at most 140")])


@pytest.mark.parametrize("changes, message", [
    ({"protocol": "TCP"}, "protocol 'TCP' is not one of Tcp, Udp, Icmp, Esp, Ah, *"),
    ({"access": "Permit"}, "access 'Permit' is not one of Allow, Deny"),
    ({"direction": "In"}, "direction 'In' is not one of Inbound, Outbound"),
    ({"ports": ("65536",)}, "destination port '65536' is not a port"),
    ({"ports": ("90-80",)}, "destination port '90-80' is not a port"),
    ({"ports": ("*", "22")}, "destination port '*' cannot be listed with other ports"),
    ({"ports": ()}, "is missing: a rule needs at least one port"),
])
def test_rule_fields(changes, message):
    (found,) = problems(rule(**changes))
    assert found[0] == "rule allow-in-test" and message in found[1]


def test_valid_ports():
    assert problems(rule(ports=("0", "22", "8000-8080", "65535"))) == []


# --- the sides of a rule ----------------------------------------------------------------------

def test_service_tag_in_the_plural_prefix_list():
    (found,) = problems(rule(source=Address(V4, ("10.0.0.0/8", "Internet"))))
    assert found[0] == "rule allow-in-test"
    assert found[1].startswith("source: Internet in the list of address prefixes")


def test_prefixes_mixed_with_asgs():
    (found,) = problems(rule(destination=Address(ASGS, (asg("web"), "10.0.0.0/8"))))
    assert found[1].startswith("destination: 10.0.0.0/8 mixed with application security groups")


def test_several_tags_in_the_singular_field():
    (found,) = problems(rule(source=Address(TAG, ("Internet", "AzureLoadBalancer"))))
    assert "in the singular address field; Azure takes one there" in found[1]


def test_an_empty_side():
    (found,) = problems(rule(source=Address(V6, ())))
    assert found[1] == "source: no address, tag or application security group"


@pytest.mark.parametrize("count, ok", [(10, True), (11, False)])
def test_asgs_per_side(count, ok):
    groups = Address(ASGS, tuple(asg(f"g{i}") for i in range(count)))
    found = problems(rule(source=groups), rule("out", 100, direction="Outbound",
                                               source=APPLIANCES, destination=groups))
    assert (found == []) is ok
    if not ok:
        assert [(w, m.split(":")[0]) for w, m in found] == [("rule allow-in-test", "source"),
                                                             ("rule out", "destination")]
        assert "11 application security groups; Azure takes at most 10 per side" in found[0][1]


@pytest.mark.parametrize("count, ok", [(99, True), (100, False)])  # + the appliance ASG
def test_asgs_per_nsg(count, ok):
    rules = [rule(f"r{i}", 100 + i, source=Address(ASGS, (asg(f"g{i}"),))) for i in range(count)]
    found = problems(*rules)
    assert found == ([] if ok else [("nsg nsg-test-appliance", "its rules name 101 application "
                                     "security groups; Azure takes at most 100 per NSG")])


def test_the_appliance_side_takes_no_values():
    (found,) = problems(rule(destination=Address(APPLIANCE_ASG, ("x",))))
    assert "the appliance ASG side takes no further values" in found[1]


# --- the whole NSG ----------------------------------------------------------------------------

@pytest.mark.parametrize("count, ok", [(1000, True), (1001, False)])
def test_rules_per_nsg(count, ok):
    rules = [rule(f"r{i}", 100 + i // 2, direction=("Inbound", "Outbound")[i % 2])
             for i in range(count)]
    found = problems(*rules)
    assert found == ([] if ok else [("nsg nsg-test-appliance", "1001 rules; Azure takes at most "
                                                               "1000 per NSG")])


@pytest.mark.parametrize("extra, ok", [(0, True), (1, False)])
def test_source_addresses_per_nsg(extra, ok):
    """4000 source addresses in all; destinations are counted on their own."""
    addresses = hosts(4000 + extra)
    rules = [rule("a", 100, source=Address(V4, addresses[:2500])),
             rule("b", 101, source=Address(V4, addresses[2500:])),
             rule("c", 100, direction="Outbound", source=APPLIANCES,
                  destination=Address(V4, hosts(4000, "10.128.0.0/10")))]
    found = problems(*rules)
    if ok:
        assert found == []
    else:
        (what, message), = found
        assert what == "nsg nsg-test-appliance"
        assert message.startswith("4001 source addresses across its rules (a 2500, b 1501); "
                                  "Azure takes at most 4000 source IP addresses")


def test_destination_addresses_per_nsg():
    (found,) = problems(rule(direction="Outbound", source=APPLIANCES,
                             destination=Address(V6, hosts(4001, "fd00::/64"))))
    assert found[1].startswith("4001 destination addresses across its rules (allow-in-test 4001)")


# --- from a deployment file, through the command line -----------------------------------------

@pytest.fixture
def many_admins(tmp_path: Path) -> Path:
    """The built-in example with 4000 admin CIDRs: with its one mail server, 4001 sources."""
    data = example_data(config.builtin_example())
    del data["aws"]
    data["roles"]["admin_pc"] = list(hosts(4000, "10.20.128.0/17"))
    path = tmp_path / "many-admins.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def expect_address_error(err: str, path: Path) -> None:
    assert (f"sxcloud: error: {path}: azure: nsg nsg-mailcrypt-example-appliance: 4001 source "
            "addresses across its rules (allow-in-admin-pc-v4-tcp 4000, "
            "allow-in-internal-mail-server-v4-tcp 1)") in err


def test_plan_refuses_thousands_of_admin_cidrs(many_admins, capsys):
    assert main(["plan", str(many_admins)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    expect_address_error(err, many_admins)


def test_synth_refuses_before_writing(many_admins, tmp_path, capsys):
    out = tmp_path / "cdktf.out"
    assert main(["synth", str(many_admins), "--out", str(out)]) == 2
    expect_address_error(capsys.readouterr().err, many_admins)
    assert not out.exists()


def test_audit_refuses_before_reading(many_admins, capsys):
    """The audit compares with the same checked plan: no request is even attempted."""
    assert main(["audit", "azure", str(many_admins), "--subscription",
                 "00000000-0000-0000-0000-000000000001", "--arm-endpoint",
                 "https://127.0.0.1:9"]) == 2
    expect_address_error(capsys.readouterr().err, many_admins)


def test_3999_admin_cidrs_are_fine(many_admins, capsys):
    data = yaml.safe_load(many_admins.read_text())
    data["roles"]["admin_pc"] = data["roles"]["admin_pc"][:3999]
    many_admins.write_text(yaml.safe_dump(data))
    assert main(["plan", str(many_admins), "--json"]) == 0
