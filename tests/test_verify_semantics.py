"""Each cloud's rule semantics as verify evaluates them, on small edits of a generated stack.

The stacks come from the attribute functions (what synthesis writes, without the CDK); each
test edits them the way a hand or a bug might and checks what verify makes of it.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from pathlib import Path

import pytest

from conftest import deployment
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from sxcloud.policy import INBOUND, OUTBOUND
from sxcloud.verify import azure as azure_semantics
from sxcloud.verify.intent import BEYOND_VNET
from sxcloud.verify.model import INVALID, MISSING, OPAQUE, UNEXPECTED
from sxcloud.verify.netindex import NetIndex
from verifying import NSG_RULE, intended, kinds, run

DATA = {
    "version": 1, "name": "sem",
    "appliance": {"dns": "external"},
    "roles": {"internal_network": ["10.70.0.0/16"], "internal_mail_server": ["10.70.1.25/32"],
              "external_nameserver": ["9.9.9.9/32"], "admin_pc": ["10.70.99.0/24"]},
    "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0",
            "bindings": {"admin_pc": {"prefix_list_ids": ["pl-0123456789abcdef0"]}}},
    "azure": {"location": "westeurope", "resource_group": "rg-sem"},
}
SG = aws_attributes.GROUP_ID
INGRESS, EGRESS = aws_attributes.INGRESS_TYPE, aws_attributes.EGRESS_TYPE
DATA_DIR = Path(__file__).parent / "data"


@pytest.fixture
def d():
    return deployment(DATA, "sem.yaml")


@pytest.fixture
def aws_stack(d):
    return {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}


@pytest.fixture
def azure_stack(d):
    return {"resource": azure_attributes.resources(azure_plan.plan(d), location="westeurope",
                                                   resource_group="rg-sem")}


def _rule(stack, rtype, prefix):
    (name,) = [n for n in stack["resource"][rtype] if n.startswith(prefix)]
    return stack["resource"][rtype][name]


# --- AWS ------------------------------------------------------------------------------------

def test_aws_baseline_is_clean(d, aws_stack):
    result = run(d, "aws", aws_stack)
    assert result.ok, [f.message for f in result.findings]
    assert any("prefix list pl-0123456789abcdef0 stands for admin_pc" in n for n in result.notes)


def test_aws_protocol_numbers_mean_the_same(d, aws_stack):
    _rule(aws_stack, INGRESS, "R03_in_tcp25")["ip_protocol"] = "6"
    assert run(d, "aws", aws_stack).ok


def test_aws_protocol_minus_one_is_all_traffic(d, aws_stack):
    rule = _rule(aws_stack, INGRESS, "R03_in_tcp25")
    rule["ip_protocol"] = "-1"
    del rule["from_port"], rule["to_port"]
    result = run(d, "aws", aws_stack)
    assert kinds(result) == {UNEXPECTED}
    assert {f.region.addresses() for f in result.findings} == {"10.70.1.25/32"}
    # every protocol is open, TCP but port 25 (which is intended)
    covered = set().union(*(f.region.protocols for f in result.findings))
    assert covered == set(range(256))
    tcp = sorted(f.region.ports for f in result.findings
                 if 6 in f.region.protocols and not f.region.member)  # hosts of no group
    assert tcp == [(0, 24), (26, 442), (444, 65535)]  # 25 and 443: the Internet flows


def test_aws_cidr_families_do_not_mix(d, aws_stack):
    """An IPv6 rule admits no IPv4 host: R04 from ::/0 instead of 0.0.0.0/0."""
    rule = _rule(aws_stack, INGRESS, "R04_in_tcp25")
    rule["cidr_ipv6"] = "::/0"
    del rule["cidr_ipv4"]
    result = run(d, "aws", aws_stack)
    missing = [f.region for f in result.findings
               if f.kind == MISSING and f.intended == "R04 inbound TCP 25 from internet"]
    assert missing and all(r.first.version == 4 and r.ports == (25, 25) for r in missing)
    assert any(f.kind == UNEXPECTED and f.region.addresses() == "::/0"
               and f.region.ports == (25, 25) for f in result.findings)


def test_aws_legacy_rules_and_inline_blocks_count(d, aws_stack):
    aws_stack["resource"]["aws_security_group_rule"] = {"pg": {
        "type": "ingress", "security_group_id": SG, "protocol": "tcp", "from_port": 5432,
        "to_port": 5432, "cidr_blocks": ["10.0.0.0/8"]}}
    aws_stack["resource"]["aws_security_group"]["appliance"]["egress"] = [{
        "protocol": "udp", "from_port": 500, "to_port": 501, "cidr_blocks": [],
        "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": True}]
    result = run(d, "aws", aws_stack)
    found = {(f.direction, f.protocol, f.region.ports, f.decided_by) for f in result.findings}
    assert (INBOUND, "TCP", (5432, 5432), "aws_security_group_rule.pg") in found
    # `self` is the cluster peers: members of the appliance group
    assert (OUTBOUND, "UDP", (500, 501), "aws_security_group.appliance.egress[0]") in found
    assert {f.region.member for f in result.findings if f.direction == OUTBOUND} == {"self"}
    assert all(f.kind == UNEXPECTED for f in result.findings)


def test_aws_rule_of_another_group_is_only_a_note(d, aws_stack):
    aws_stack["resource"][INGRESS]["other"] = {
        "security_group_id": "sg-0fffffffffffffff0", "ip_protocol": "tcp", "from_port": 3389,
        "to_port": 3389, "cidr_ipv4": "0.0.0.0/0"}
    result = run(d, "aws", aws_stack)
    assert result.ok
    assert any("other belongs to another security group" in n for n in result.notes)


def test_aws_unbound_peers_are_opaque(d, aws_stack):
    aws_stack["resource"][INGRESS]["mystery"] = {
        "security_group_id": SG, "ip_protocol": "tcp", "from_port": 22, "to_port": 22,
        "prefix_list_id": "pl-0aaaaaaaaaaaaaaaa"}
    aws_stack["resource"][EGRESS]["token"] = {
        "security_group_id": SG, "ip_protocol": "tcp", "from_port": 22, "to_port": 22,
        "cidr_ipv4": "${var.somewhere}"}
    result = run(d, "aws", aws_stack)
    assert [f.kind for f in result.findings] == [INVALID, OPAQUE, OPAQUE]
    # The template is also a finding of its own: Terraform would evaluate it (tfjson).
    assert result.findings[0].message.startswith(
        f'resource.{EGRESS}.token.cidr_ipv4: this value is evaluated by Terraform: ')


def test_aws_bound_prefix_list_stands_for_its_role(d, aws_stack):
    """Removing the rule for the bound prefix list loses the admin flow at its member."""
    (name,) = [n for n in aws_stack["resource"][INGRESS] if n.startswith("R16")]
    del aws_stack["resource"][INGRESS][name]
    result = run(d, "aws", aws_stack)
    assert intended(result) == {"R16 inbound TCP 8443 from admin_pc"}
    assert {f.region.member for f in result.findings} == {"pl-0123456789abcdef0"}
    assert {f.region.ports for f in result.findings} == {(8443, 8443)}


def test_aws_group_must_be_found_by_its_tag(d, aws_stack):
    aws_stack["resource"]["aws_security_group"]["appliance"]["tags"] = {}
    result = run(d, "aws", aws_stack)
    assert INVALID in kinds(result)


# --- Azure ----------------------------------------------------------------------------------

def test_azure_default_rules_are_azures():
    body = json.loads((DATA_DIR / "NetworkSecurityGroupGet.json").read_text())
    defaults = body["responses"]["200"]["body"]["properties"]["defaultSecurityRules"]
    ours = {r.name: r for r in azure_semantics.DEFAULT_RULES}
    assert sorted(ours) == sorted(r["name"] for r in defaults)
    for rule in defaults:
        p = rule["properties"]
        mine = ours[rule["name"]]
        assert (mine.priority, mine.direction, mine.allow, mine.protocol) == (
            p["priority"], p["direction"].lower(), p["access"] == "Allow", "all")
        for side, spec in (("source", mine.source), ("destination", mine.destination)):
            prefix = p[f"{side}AddressPrefix"]
            assert spec == ((("any", "*"),) if prefix == "*" else (("tag", prefix),))


def test_azure_baseline_is_clean_and_states_the_ipv6_fact(d, azure_stack):
    result = run(d, "azure", azure_stack)
    assert result.ok, [f.message for f in result.findings]
    assert any("covers IPv6 as well" in n for n in result.notes)


def test_azure_first_match_decides(d, azure_stack):
    """A deny ahead of the allows for TCP 25 wins; later allows do not matter."""
    rules = azure_stack["resource"][NSG_RULE]
    rules["allow-in-internet-tcp"]["priority"] = 103
    rules["no-smtp"] = {**rules["deny-in-all"], "name": "no-smtp", "priority": 100,
                        "protocol": "Tcp", "destination_port_range": "25"}
    result = run(d, "azure", azure_stack)
    assert intended(result) == {"R03 inbound TCP 25 from internal_mail_server",
                                "R04 inbound TCP 25 from internet",
                                "platform: Azure load balancer health probes reach the appliances"}
    assert {(f.port, f.decided_by) for f in result.findings} == {
        (25, "azurerm_network_security_rule.no-smtp (priority 100, Deny)")}


def test_azure_port_ranges(d, azure_stack):
    rule = azure_stack["resource"][NSG_RULE]["allow-in-internet-tcp"]
    rule["destination_port_ranges"] = ["20-30", "443"]
    result = run(d, "azure", azure_stack)
    ranges = {f.region.ports for f in result.findings if f.kind == UNEXPECTED}
    assert ranges == {(20, 24), (26, 30)}


def test_azure_source_port_restriction_is_honoured(d, azure_stack):
    """Probes come from an ephemeral port; a rule for source port 25 does not match them."""
    azure_stack["resource"][NSG_RULE]["allow-in-internet-tcp"]["source_port_range"] = "25"
    result = run(d, "azure", azure_stack)
    assert "R04 inbound TCP 25 from internet" in intended(result)


def test_azure_opaque_peers(d, azure_stack):
    rules = azure_stack["resource"][NSG_RULE]
    rules["storage"] = {**rules["allow-out-internet-tcp"], "name": "storage", "priority": 300,
                        "destination_address_prefix": "Storage"}
    rules["foreign"] = {**rules["allow-in-admin-pc-v4-tcp"], "name": "foreign", "priority": 301,
                        "source_application_security_group_ids": ["/subscriptions/x/resourceGroups/y/"
                                                                  "providers/Microsoft.Network/applicationSecurityGroups/z"]}
    del rules["foreign"]["source_address_prefixes"]
    result = run(d, "azure", azure_stack)
    assert kinds(result) == {OPAQUE}
    assert len(result.findings) == 2


def test_azure_mixed_sides_and_missing_priority_are_invalid(d, azure_stack):
    rules = azure_stack["resource"][NSG_RULE]
    rules["allow-in-admin-pc-v4-tcp"]["source_application_security_group_ids"] = [
        azure_attributes.ASG_ID]
    rules["deny-out-all"]["priority"] = "${var.priority}"
    result = run(d, "azure", azure_stack)
    messages = [f.message for f in result.findings if f.kind == INVALID]
    assert any("mixes address prefixes and application security groups" in m for m in messages)
    assert any("deny-out-all" in m and "rule not evaluated" in m for m in messages)


def test_azure_virtual_network_beyond_internal_network_is_probed(d, azure_stack):
    """Without the deny, AllowVnetInBound admits peered and on-premises hosts too."""
    del azure_stack["resource"][NSG_RULE]["deny-in-all"]
    result = run(d, "azure", azure_stack)
    assert any(f.region.member == BEYOND_VNET and f.kind == UNEXPECTED
               for f in result.findings)


def test_azure_inline_rules_of_the_nsg_count(d, azure_stack):
    rules = azure_stack["resource"][NSG_RULE]
    inline = copy.deepcopy(rules["allow-in-internet-tcp"])
    inline.update(name="inline-rdp", priority=500, destination_port_ranges=["3389"])
    azure_stack["resource"]["azurerm_network_security_group"]["appliance_nsg"]["security_rule"] = [inline]
    result = run(d, "azure", azure_stack)
    assert {(f.kind, f.port, f.decided_by) for f in result.findings} == {
        (UNEXPECTED, 3389, "azurerm_network_security_group.appliance_nsg.security_rule[0] "
                           "(priority 500, Allow)")}


# --- many ranges per role -------------------------------------------------------------------

def test_netindex_holds_and_covers():
    nets = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "10.1.2.0/24", "fd00::/48")]
    index = NetIndex.of(nets)
    assert sorted(map(str, index.holding(ipaddress.ip_address("10.1.2.3")))) == [
        "10.0.0.0/8", "10.1.2.0/24"]
    assert index.holds(ipaddress.ip_address("fd00::1"))
    assert not index.holds(ipaddress.ip_address("11.0.0.1"))
    assert not index.holds(ipaddress.ip_address("::ffff:10.0.0.1"))  # IPv6, not IPv4
    assert index.covers(ipaddress.ip_network("10.9.0.0/16"))
    assert not index.covers(ipaddress.ip_network("10.0.0.0/7"))


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_one_range_lost_among_many_is_named(cloud):
    """With 40 mail servers, removing one of them from the rules is reported for that one
    only (probes of alike rules share an evaluation; findings still name their own)."""
    data = copy.deepcopy(DATA)
    data["roles"]["internal_mail_server"] = [f"10.70.1.{i}/32" for i in range(10, 50)]
    data["aws"]["rule_quota"] = 200
    d = deployment(data, "many.yaml")
    if cloud == "aws":
        stack = {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}
        assert run(d, cloud, stack).ok
        del stack["resource"][INGRESS]["R03_in_tcp25_cidr_10-70-1-33_32"]
    else:
        stack = {"resource": azure_attributes.resources(azure_plan.plan(d), location="westeurope",
                                                        resource_group="rg-sem")}
        assert run(d, cloud, stack).ok
        rule = stack["resource"][NSG_RULE]["allow-in-internal-mail-server-v4-tcp"]
        rule["source_address_prefixes"].remove("10.70.1.33/32")
    result = run(d, cloud, stack)
    assert intended(result) == {"R03 inbound TCP 25 from internal_mail_server"}
    assert {f.region.addresses() for f in result.findings} == {"10.70.1.33/32"}


# --- roles that leave no address outside them -------------------------------------------------

@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_an_internal_role_covering_the_internet_is_verified_not_crashed(cloud):
    """`admin_pc: [0.0.0.0/1, 128.0.0.0/1]` leaves no Internet address outside the roles
    (issue 9, item 4). Loading refuses such a role; verify must still never crash on one, so
    the deployment is built past the loader."""
    import dataclasses
    base = deployment(DATA, "wide.yaml")
    halves = (ipaddress.ip_network("0.0.0.0/1"), ipaddress.ip_network("128.0.0.0/1"),
              ipaddress.ip_network("::/1"), ipaddress.ip_network("8000::/1"))
    d = dataclasses.replace(base, roles={**base.roles, "admin_pc": halves},
                            aws=dataclasses.replace(base.aws, bindings={}))
    if cloud == "aws":
        stack = {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}
    else:
        stack = {"resource": azure_attributes.resources(azure_plan.plan(d), location="westeurope",
                                                        resource_group="rg-sem")}
    result = run(d, cloud, stack)
    assert result.ok, [f.message for f in result.findings[:5]]
    assert result.peer_ranges > 0
