"""`sxcloud adopt azure`: a hand-made NSG and ASG, served over HTTPS by the ARM endpoint the
tests run (tests/arm_endpoint.py) to the real azure-mgmt-network client, taken over in place.

The proof that the first apply changes no imported rule's flow: the adopted stack is
synthesized, rendered the way azurerm maps it onto ARM (tests/arm_render.py), and every
imported rule compared with the live rule it imports. No azurerm provider exists here, so
the resources and import blocks are checked against the azurerm schema through the prebuilt
cdktn-provider-azurerm classes instead of `terraform plan` (docs/adopt-azure.md).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from arm_endpoint import ArmEndpoint
from arm_render import default_rules, nsg_from_stack
from azure.mgmt.network.models import SecurityRule

from sxcloud import config
from sxcloud.app import plan_all, synth
from sxcloud.azure import drift
from sxcloud.cli import main

SUB = "6f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
TOKEN = "test-arm-token"
RG = "rg-mail"
PROVIDERS = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"
NSG_ID = f"{PROVIDERS}/networkSecurityGroups/nsg-mailgw"
ASG_ID = f"{PROVIDERS}/applicationSecurityGroups/asg-mailgw"
TODAY = "2026-12-01"  # conftest's SXCLOUD_TODAY
EXPIRES = "2026-12-31"

FILE = """\
# The mail gateway, adopted from the hand-made NSG.
version: 1
name: mail-adopted   # stack mail-adopted-azure

roles:
  internal_network: [10.40.0.0/16]
  internal_mail_server: [10.40.1.25/32]
  external_nameserver: [9.9.9.9/32]
  admin_pc: [10.40.99.0/24]

azure:
  location: westeurope
  resource_group: rg-mail   # where the NSG lives
"""

ASG = {"asg": ASG_ID}


def rule(name: str, direction: str, priority: int, protocol: str, ports: list[str],
         source: Any, destination: Any, access: str = "Allow",
         description: str = "made by hand") -> dict[str, Any]:
    """A security rule in the shape of NetworkSecurityGroups_Get (the REST API's example)."""
    props: dict[str, Any] = {"provisioningState": "Succeeded", "protocol": protocol,
                             "sourcePortRange": "*", "access": access, "priority": priority,
                             "direction": direction, "description": description,
                             "sourcePortRanges": [], "destinationPortRanges": [],
                             "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}
    if len(ports) == 1:
        props["destinationPortRange"] = ports[0]
    else:
        props["destinationPortRanges"] = ports
    for side, value in (("source", source), ("destination", destination)):
        if isinstance(value, dict):
            props[f"{side}ApplicationSecurityGroups"] = [{"id": value["asg"]}]
        elif isinstance(value, list):
            props[f"{side}AddressPrefixes"] = value
        else:
            props[f"{side}AddressPrefix"] = value
    return {"name": name, "id": f"{NSG_ID}/securityRules/{name}", "etag": 'W/"1"',
            "type": "Microsoft.Network/networkSecurityGroups/securityRules", "properties": props}


def hand_made_rules() -> list[dict[str, Any]]:
    return [
        # sxcloud's own rule (name, priority and content), another description: taken over.
        rule("allow-in-internet-tcp", "Inbound", 100, "Tcp", ["25", "443"], "Internet", ASG,
             description="SMTP and webmail"),
        # Beyond the vendor table, each stated exactly by an exception: drafts.
        rule("Allow-SNMP-NOC", "Inbound", 300, "Udp", ["161"], "10.0.50.10", ASG),
        rule("syslog-to-siem", "Outbound", 310, "Udp", ["514"], ASG, "10.1.2.3/32"),
        rule("cluster-any", "Inbound", 320, "*", ["*"], ASG, ASG),
        rule("Monitor-Tag", "Outbound", 340, "Tcp", ["443"], ASG, "AzureMonitor"),
        # No exception states these exactly: kept unmanaged.
        rule("RDP-Admins", "Inbound", 200, "Tcp", ["3389"], "10.40.99.0/24", "*"),
        rule("Deny-Bad-Range", "Inbound", 150, "*", ["*"], "203.0.113.0/24", "*", access="Deny"),
        rule("Mixed-Families", "Inbound", 330, "Tcp", ["22"], ["10.0.60.0/24", "fd00:60::/64"], ASG),
    ]


def hand_made_nsg(rules: list[dict[str, Any]] | None = None, location: str = "westeurope",
                  name: str = "nsg-mailgw", group: str = RG) -> dict[str, Any]:
    nsg_id = f"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Network/networkSecurityGroups/{name}"
    return {"name": name, "id": nsg_id, "etag": 'W/"1"', "location": location,
            "type": "Microsoft.Network/networkSecurityGroups", "tags": {"owner": "net-team"},
            "properties": {"provisioningState": "Succeeded", "resourceGuid": "1",
                           "securityRules": hand_made_rules() if rules is None else rules,
                           "defaultSecurityRules": default_rules(nsg_id)}}


@pytest.fixture
def arm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEndpoint]:
    endpoint = ArmEndpoint(token=TOKEN)
    with endpoint.serve(tmp_path):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.ca_file))
        monkeypatch.setenv("SXCLOUD_AZURE_TOKEN", TOKEN)
        monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
        endpoint.put_nsg(SUB, RG, hand_made_nsg())
        endpoint.put_asg(SUB, RG, "asg-mailgw", "westeurope")
        yield endpoint
    assert endpoint.writes == [], "adopt tried to write to Azure"


@pytest.fixture
def deployment_file(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "sxcloud.yaml"
    path.parent.mkdir()
    path.write_text(FILE)
    return path


def adopt(arm: ArmEndpoint, path: Path, *extra: str, nsg: str = NSG_ID,
          asg: str | None = ASG_ID) -> list[str]:
    return ["adopt", "azure", str(path), "--nsg-id", nsg, *(["--asg-id", asg] if asg else []),
            "--arm-endpoint", arm.url, *extra]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def adopted(arm: ArmEndpoint, path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, err = run(adopt(arm, path, "--write", "--json"), capsys)
    assert code == 0, err
    return json.loads(out)


def synthesized_stack(path: Path, out: Path) -> dict[str, Any]:
    deployment = config.load(path)
    synth(plan_all([deployment]), out)
    return json.loads((out / "stacks" / f"{deployment.name}-azure" / "cdk.tf.json").read_text())


def view(rule_json: dict[str, Any]) -> drift.RuleView:
    """A rule of ARM's JSON as the SDK reads it, normalised as the audit compares it."""
    return drift.live_view(SecurityRule(rule_json))


# --- the report ---------------------------------------------------------------------------------

def test_report_without_write_changes_nothing(arm, deployment_file, capsys):
    code, out, err = run(adopt(arm, deployment_file, "--json"), capsys)
    assert code == 0, err
    assert deployment_file.read_text() == FILE
    report = json.loads(out)
    outcomes = {r["live_id"]: r["outcome"] for r in report["rules"] if r["live_id"]}
    assert outcomes == {
        "allow-in-internet-tcp (100)": "taken over",
        "Allow-SNMP-NOC (300)": "draft exception", "syslog-to-siem (310)": "draft exception",
        "cluster-any (320)": "draft exception", "Monitor-Tag (340)": "draft exception",
        "RDP-Admins (200)": "kept unmanaged", "Deny-Bad-Range (150)": "kept unmanaged",
        "Mixed-Families (330)": "kept unmanaged",
        # What the default rules let through today, kept after sxcloud's denies.
        "AllowVnetInBound (65000)": "draft exception", "AllowVnetOutBound (65000)": "draft exception",
        "AllowInternetOutBound (65001)": "draft exception"}
    created = sorted(r["rule"] for r in report["rules"] if r["outcome"] == "to be created")
    assert created == sorted([
        "allow-in-internal-mail-server-v4-tcp (128)", "allow-in-admin-pc-v4-tcp (188)",
        "allow-in-azure-load-balancer (4000)", "deny-in-all (4096)",
        "allow-out-internet-tcp (100)", "allow-out-internet-udp (101)",
        "allow-out-internal-mail-server-v4-tcp (128)",
        "allow-out-external-nameserver-v4-tcp (168)",
        "allow-out-external-nameserver-v4-udp (169)", "deny-out-all (4096)"])
    assert report["adopt"] == {
        "network_security_group_id": NSG_ID, "application_security_group_id": ASG_ID,
        "rules": ["allow-in-internet-tcp", "Allow-SNMP-NOC", "syslog-to-siem", "cluster-any",
                  "Monitor-Tag"]}
    notes = {r["live_id"]: r["note"] for r in report["rules"] if r["live_id"]}
    assert notes["allow-in-internet-tcp (100)"] == "description updated in place"
    assert "Deny rule" in notes["Deny-Bad-Range (150)"]
    assert "destination is *" in notes["RDP-Admins (200)"]
    assert "IPv4 and IPv6" in notes["Mixed-Families (330)"]
    assert "3 live rules stay unmanaged" in err and "7 rules beyond the vendor table" in err
    # The only requests: one GET of the NSG and one of the ASG.
    assert [(r.method, r.path) for r in arm.requests] == [("GET", NSG_ID), ("GET", ASG_ID)]


def test_draft_exceptions_keep_the_live_identity(arm, deployment_file, capsys):
    drafts = {e["azure"]["name"]: e for e in adopted(arm, deployment_file, capsys)["exceptions"]
              if "name" in e["azure"]}
    reason = f"on nsg-mailgw when adopted on {TODAY}; confirm or remove"
    common = {"reason": reason, "owner": "unassigned", "expires": EXPIRES, "clouds": ["azure"]}
    assert drafts == {
        "Allow-SNMP-NOC": {"id": "allow-snmp-noc", "direction": "inbound", "protocol": "udp",
                           "ports": [161], "peer": {"cidrs": ["10.0.50.10/32"]}, **common,
                           "azure": {"name": "Allow-SNMP-NOC", "priority": 300}},
        "syslog-to-siem": {"id": "syslog-to-siem", "direction": "outbound", "protocol": "udp",
                           "ports": [514], "peer": {"cidrs": ["10.1.2.3/32"]}, **common,
                           "azure": {"name": "syslog-to-siem", "priority": 310}},
        "cluster-any": {"id": "cluster-any", "direction": "inbound", "protocol": "all",
                        "peer": {"role": "appliance_peers"}, **common,
                        "azure": {"name": "cluster-any", "priority": 320}},
        "Monitor-Tag": {"id": "monitor-tag", "direction": "outbound", "protocol": "tcp",
                        "ports": [443], "peer": {"azure": {"service_tags": ["AzureMonitor"]}},
                        **common, "azure": {"name": "Monitor-Tag", "priority": 340}},
    }


def test_default_rules_are_kept_after_every_live_rule(arm, deployment_file, capsys):
    """The denies at 4096 end what AllowVnetInBound, AllowVnetOutBound and
    AllowInternetOutBound let through for the appliances; drafts keep it, each after every
    live rule of its direction (so the live rules still decide first, as over the
    defaults), with a derived name, not imported."""
    report = adopted(arm, deployment_file, capsys)
    defaults = {e["id"]: e for e in report["exceptions"] if e["id"].startswith("default-")}
    reason = f"on nsg-mailgw when adopted on {TODAY}; confirm or remove"
    common = {"protocol": "all", "reason": reason, "owner": "unassigned", "expires": EXPIRES,
              "clouds": ["azure"]}
    vnet = {"azure": {"service_tags": ["VirtualNetwork"]}}
    assert defaults == {
        "default-vnet-in": {"id": "default-vnet-in", "direction": "inbound", **common,
                            "peer": vnet, "azure": {"priority": 331}},
        "default-vnet-out": {"id": "default-vnet-out", "direction": "outbound", **common,
                             "peer": vnet, "azure": {"priority": 341}},
        "default-internet-out": {"id": "default-internet-out", "direction": "outbound",
                                 **common, "peer": {"internet": True},
                                 "azure": {"priority": 342}}}
    assert not any(name.startswith("X-default") for name in report["adopt"]["rules"])


def test_a_live_deny_of_everything_needs_no_default_draft(arm, deployment_file, capsys):
    rules = hand_made_rules() + [rule("Deny-All-In", "Inbound", 4000 - 1, "*", ["*"], "*", "*",
                                      access="Deny")]
    arm.put_nsg(SUB, RG, hand_made_nsg(rules))
    ids = {e["id"] for e in adopted(arm, deployment_file, capsys)["exceptions"]}
    assert "default-vnet-in" not in ids
    assert {"default-vnet-out", "default-internet-out"} <= ids


def test_table_report_and_snippet(arm, deployment_file, capsys):
    code, out, err = run(adopt(arm, deployment_file), capsys)
    assert code == 0, err
    assert "1 live rules taken over by sxcloud's rules, 7 kept as draft exceptions, " \
           "3 kept unmanaged, 10 to be created" in out
    assert "azure:\n  adopt:\n    network_security_group_id: " + NSG_ID in out
    assert "  azure:\n    name: Allow-SNMP-NOC\n    priority: 300\n" in out


# --- --write, and what synth makes of it ---------------------------------------------------------

def test_write_keeps_the_file_and_reads_back(arm, deployment_file, capsys):
    adopted(arm, deployment_file, capsys)
    text = deployment_file.read_text()
    assert text.startswith(FILE.split("azure:")[0])  # comments and order kept
    assert "resource_group: rg-mail   # where the NSG lives" in text
    deployment = config.load(deployment_file)
    adopt_ = deployment.azure.adopt
    assert adopt_.network_security_group.id == NSG_ID
    assert adopt_.application_security_group.id == ASG_ID
    assert [e.id for e in deployment.exceptions] == [
        "allow-snmp-noc", "syslog-to-siem", "cluster-any", "monitor-tag", "default-vnet-in",
        "default-vnet-out", "default-internet-out"]
    # Again: nothing new (the drafts are rules of the plan now, taken over by name).
    before = deployment_file.read_text()
    report = adopted(arm, deployment_file, capsys)
    assert deployment_file.read_text() == before
    assert report["exceptions"] == []
    assert {r["outcome"] for r in report["rules"] if r["live_id"]} == {"taken over",
                                                                         "kept unmanaged"}


@pytest.fixture
def adopted_stack(arm, deployment_file, capsys, tmp_path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The synthesized stack of the adopted file, and the live NSG it adopts."""
    adopted(arm, deployment_file, capsys)
    return synthesized_stack(deployment_file, tmp_path / "out"), hand_made_nsg()


def test_synth_keeps_names_and_imports_every_live_rule_it_manages(adopted_stack):
    stack, live = adopted_stack
    resources = stack["resource"]
    nsg = resources["azurerm_network_security_group"]["appliance_nsg"]
    asg = resources["azurerm_application_security_group"]["appliance_asg"]
    assert (nsg["name"], nsg["resource_group_name"], nsg["location"]) == ("nsg-mailgw", RG, "westeurope")
    assert (asg["name"], asg["resource_group_name"], asg["location"]) == ("asg-mailgw", RG, "westeurope")
    imports = {i["to"]: i["id"] for i in stack["import"]}
    managed = ["allow-in-internet-tcp", "Allow-SNMP-NOC", "syslog-to-siem", "cluster-any", "Monitor-Tag"]
    assert imports == {
        "azurerm_network_security_group.appliance_nsg": NSG_ID,
        "azurerm_application_security_group.appliance_asg": ASG_ID,
        **{f"azurerm_network_security_rule.{n}": f"{NSG_ID}/securityRules/{n}" for n in managed}}
    rules = resources["azurerm_network_security_rule"]
    for unmanaged in ("RDP-Admins", "Deny-Bad-Range", "Mixed-Families"):
        assert unmanaged not in rules  # Terraform leaves it as it is
    # No rule to be created takes a priority a live rule has (Azure would refuse it).
    live_slots = {(r["properties"]["direction"], r["properties"]["priority"]): r["name"]
                  for r in live["properties"]["securityRules"]}
    for name, body in rules.items():
        other = live_slots.get((body["direction"], body["priority"]))
        assert other in (None, name), (name, other)


def test_imported_rules_are_the_live_rules_after_apply(adopted_stack):
    """What azurerm writes for each imported rule equals the live rule in every field but
    the description: the first apply opens and closes nothing through them."""
    stack, live = adopted_stack
    _, rendered = nsg_from_stack(stack, SUB)
    after = {r["name"]: view(r) for r in rendered["properties"]["securityRules"]}
    before = {r["name"]: view(r) for r in live["properties"]["securityRules"]}
    imported = [i["to"].split(".", 1)[1] for i in stack["import"]
                if i["to"].startswith("azurerm_network_security_rule.")]
    assert len(imported) == 5
    for name in imported:
        changed = [f for f in drift.FIELDS if after[name].key(f) != before[name].key(f)]
        assert changed == ["description"], (name, changed)


def test_denies_come_after_every_allow(adopted_stack):
    stack, _ = adopted_stack
    rules = stack["resource"]["azurerm_network_security_rule"]
    allows = sorted(f"azurerm_network_security_rule.{n}" for n, b in rules.items()
                    if b["access"] == "Allow")
    for name in ("deny-in-all", "deny-out-all"):
        assert sorted(rules[name]["depends_on"]) == allows
    assert all("depends_on" not in b for b in rules.values() if b["access"] == "Allow")


def test_terraform_reads_the_import_blocks_and_depends_on(adopted_stack, tmp_path):
    """No azurerm provider here, so Terraform itself checks the stack's meta-arguments on a
    copy whose resources are `terraform_data` (built into Terraform) under the same names:
    every `import` block and `depends_on` list exactly as synthesized, but for the type in
    the addresses. (`"${type.name}"` in depends_on, the CDK's usual spelling, is an
    "Invalid expression" to Terraform; the test fails on it.)"""
    stack, _ = adopted_stack
    document = validate_meta_arguments(stack, tmp_path)
    assert sum("depends_on" in r for r in document["resource"]["terraform_data"].values()) == 2
    assert len(document["import"]) == 7


def validate_meta_arguments(stack: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """`terraform validate` of the stack's import blocks and depends_on, its resources
    replaced by terraform_data under the same names; returns the document validated."""
    import terraform

    def retyped(address: str) -> str:
        return "terraform_data." + address.split(".", 1)[1]

    resources = {}
    for items in stack["resource"].values():
        for name, body in items.items():
            resources[name] = {"input": name}
            if "depends_on" in body:
                resources[name]["depends_on"] = [retyped(d) for d in body["depends_on"]]
    document = {"resource": {"terraform_data": resources},
                "import": [{**block, "to": retyped(block["to"])} for block in stack["import"]]}
    folder = tmp_path / "shape"
    folder.mkdir()
    (folder / "main.tf.json").write_text(json.dumps(document))
    terraform.validate(folder)
    return document


SUBNET = f"/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-mail/subnets/snet-dmz"
NIC = f"{PROVIDERS}/networkInterfaces/nic-mailgw-1"


def test_live_associations_are_imported_not_created(arm, deployment_file, capsys, tmp_path):
    """The hand-made NSG guards a subnet and an appliance's interface already; the file
    declares both associations: creating them would fail (Azure has them), so adopt records
    them and synth imports each, with the ids azurerm documents (the subnet's id; the
    interface's and the NSG's joined by '|'). An association the NSG lacks is created."""
    other = NIC.replace("nic-mailgw-1", "nic-mailgw-2")
    deployment_file.write_text(FILE + "  associate:\n"
                               f"    subnet_ids: [{SUBNET}]\n"
                               f"    network_interface_ids: [{NIC}, {other}]\n")
    body = hand_made_nsg()
    body["properties"]["subnets"] = [{"id": SUBNET.upper()}]  # ARM's case may differ
    body["properties"]["networkInterfaces"] = [{"id": NIC}]
    arm.put_nsg(SUB, RG, body)
    report = adopted(arm, deployment_file, capsys)
    assert report["adopt"]["associations"] == [SUBNET, NIC]
    stack = synthesized_stack(deployment_file, tmp_path / "out")
    imports = {i["to"].split(".")[0]: i["id"] for i in stack["import"]
               if "association" in i["to"]}
    assert imports == {"azurerm_subnet_network_security_group_association": SUBNET,
                       "azurerm_network_interface_security_group_association": f"{NIC}|{NSG_ID}"}
    nic_associations = stack["resource"]["azurerm_network_interface_security_group_association"]
    assert len(nic_associations) == 2  # the second interface's is created
    from test_schema_equivalence import prebuilt_stacks

    prebuilt = prebuilt_stacks({"adopted": stack}, tmp_path / "prebuilt")["adopted"]
    assert sorted(prebuilt["import"], key=str) == sorted(stack["import"], key=str)
    validate_meta_arguments(stack, tmp_path)


def test_a_stack_that_adopts_nothing_has_no_imports_and_no_ordering(synthesized):
    stack = synthesized.stack("mail-azure-cluster-azure")
    assert "import" not in stack
    assert all("depends_on" not in b for b in stack["resource"]["azurerm_network_security_rule"].values())


def test_audit_after_apply_reports_only_the_unmanaged_rules(adopted_stack, arm, deployment_file,
                                                            capsys):
    """The audit reads the adopted NSG by its kept name; after the apply it finds sxcloud's
    rules as intended and the rules kept unmanaged as unexpected, nothing else."""
    stack, live = adopted_stack
    group, after = nsg_from_stack(stack, SUB)
    unmanaged = [r for r in live["properties"]["securityRules"]
                 if r["name"] in ("RDP-Admins", "Deny-Bad-Range", "Mixed-Families")]
    after["properties"]["securityRules"] += unmanaged
    arm.put_nsg(SUB, group, after)
    code, out, err = run(["audit", "azure", str(deployment_file), "--subscription", SUB,
                          "--arm-endpoint", arm.url, "--json"], capsys)
    report = json.loads(out)
    assert code == 1, err
    assert {(f["kind"], f["rule"]) for f in report["findings"]} == {
        ("unexpected", "RDP-Admins"), ("unexpected", "Deny-Bad-Range"),
        ("unexpected", "Mixed-Families")}
    assert report["network_security_group"]["id"] == NSG_ID


# --- refusals: exit 2, nothing written ------------------------------------------------------------

def refused(arm, path, capsys, *args, **kwargs) -> str:
    before = path.read_text() if path.exists() and not path.is_symlink() else None
    code, out, err = run(adopt(arm, path, "--write", *args, **kwargs), capsys)
    assert code == 2, (out, err)
    assert out == ""
    if before is not None:
        assert path.read_text() == before
    assert "Traceback" not in err
    return err


def test_an_nsg_that_does_not_exist_is_refused(arm, deployment_file, capsys):
    err = refused(arm, deployment_file, capsys, nsg=f"{PROVIDERS}/networkSecurityGroups/nsg-nope")
    assert "--nsg-id: the network security group nsg-nope" in err and "does not exist" in err


def test_an_asg_that_does_not_exist_is_refused(arm, deployment_file, capsys):
    err = refused(arm, deployment_file, capsys, asg=f"{PROVIDERS}/applicationSecurityGroups/asg-nope")
    assert "--asg-id: the application security group asg-nope" in err


def test_a_file_that_adopts_another_nsg_is_refused(arm, deployment_file, capsys):
    other = f"{PROVIDERS}/networkSecurityGroups/nsg-other"
    deployment_file.write_text(FILE + f"  adopt:\n    network_security_group_id: {other}\n")
    err = refused(arm, deployment_file, capsys)
    assert f"azure.adopt.network_security_group_id: already adopts {other}" in err


def test_a_file_that_adopts_an_asg_needs_it_named_again(arm, deployment_file, capsys):
    adopted(arm, deployment_file, capsys)
    err = refused(arm, deployment_file, capsys, asg=None)
    assert f"azure.adopt.application_security_group_id: already adopts {ASG_ID}; pass it as --asg-id" in err


def test_another_resource_group_is_refused(arm, deployment_file, capsys):
    arm.put_nsg(SUB, "rg-other", hand_made_nsg(group="rg-other"))
    err = refused(arm, deployment_file, capsys, asg=None,
                  nsg=f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Network/networkSecurityGroups/nsg-mailgw")
    assert "--nsg-id: names resource group rg-other" in err and "azure.resource_group rg-mail" in err


def test_another_location_is_refused(arm, deployment_file, capsys):
    arm.put_nsg(SUB, RG, hand_made_nsg(location="northeurope"))
    err = refused(arm, deployment_file, capsys)
    assert "--nsg-id: is in location northeurope" in err and "azure.location westeurope" in err


def test_an_answer_for_another_nsg_is_refused(arm, deployment_file, capsys):
    """The id written into the file is the one asked for, whatever an endpoint answers."""
    body = hand_made_nsg()
    body["id"] = f"{PROVIDERS}/networkSecurityGroups/nsg-elsewhere"
    arm.put_nsg(SUB, RG, body)
    err = refused(arm, deployment_file, capsys)
    assert "--nsg-id: the answer is the resource" in err and "nsg-elsewhere" in err


def test_a_read_only_or_linked_file_is_refused_before_any_request(arm, deployment_file, capsys):
    deployment_file.chmod(0o444)
    try:
        err = refused(arm, deployment_file, capsys)
    finally:
        deployment_file.chmod(0o644)
    assert "is read-only" in err
    link = deployment_file.parent / "link.yaml"
    link.symlink_to(deployment_file)
    err = refused(arm, link, capsys)
    assert "is a symbolic link" in err
    assert arm.requests == []
    assert deployment_file.read_text() == FILE


def test_a_live_rule_with_an_sxcloud_name_and_other_content_is_refused(arm, deployment_file, capsys):
    rules = hand_made_rules()
    rules[0]["properties"]["destinationPortRanges"] = ["25", "443", "3389"]
    arm.put_nsg(SUB, RG, hand_made_nsg(rules))
    err = refused(arm, deployment_file, capsys)
    assert "live rule allow-in-internet-tcp has the name of sxcloud's rule" in err
    assert "differs in destination_ports" in err


def test_a_live_rule_at_an_sxcloud_priority_is_refused(arm, deployment_file, capsys):
    rules = hand_made_rules() + [rule("Old-DNS", "Outbound", 168, "Udp", ["53"], ASG, "8.8.8.8/32")]
    arm.put_nsg(SUB, RG, hand_made_nsg(rules))
    err = refused(arm, deployment_file, capsys)
    assert ("live rule Old-DNS (Outbound, priority 168) has the priority of sxcloud's rule "
            "allow-out-external-nameserver-v4-tcp") in err
    assert re.search(r"e\.g\. \d+ \(an update in place", err)


@pytest.mark.parametrize("option, value, message", [
    ("--nsg-id", f"{PROVIDERS}/applicationSecurityGroups/asg-mailgw", "is not the id of a NSG"),
    ("--nsg-id", "nsg-mailgw", "is not the id of a NSG"),
    ("--asg-id", NSG_ID, "is not the id of an application security group"),
    ("--subscription", "00000000-0000-0000-0000-000000000000", "is not the subscription of --nsg-id"),
])
def test_bad_options_are_refused_before_any_request(arm, deployment_file, capsys, option, value,
                                                    message):
    args = adopt(arm, deployment_file, "--write")
    if option == "--subscription":
        args += [option, value]
    else:
        args[args.index(option) + 1] = value
    code, out, err = run(args, capsys)
    assert code == 2 and out == ""
    assert f"command line: {option}: " in err and message in err
    assert arm.requests == []
    assert deployment_file.read_text() == FILE


def test_a_token_goes_nowhere_else(arm, deployment_file, capsys):
    code, _, err = run(["adopt", "azure", str(deployment_file), "--nsg-id", NSG_ID,
                        "--arm-endpoint", "https://arm.example.net"], capsys)
    assert code == 2 and "--trust-arm-endpoint" in err
    assert arm.requests == []


# --- the loader and the planner ---------------------------------------------------------------

def load(tmp_path: Path, adopt_yaml: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(FILE + "  adopt:\n" + adopt_yaml)
    with pytest.raises(config.InputError) as raised:
        from sxcloud.azure.plan import plan
        plan(config.load(path))
    return str(raised.value)


@pytest.mark.parametrize("adopt_yaml, key, message", [
    (f"    network_security_group_id: {ASG_ID}\n", "azure.adopt.network_security_group_id",
     "the id of a network security group"),
    (f"    network_security_group_id: {NSG_ID}\n    application_security_group_id: {NSG_ID}\n",
     "azure.adopt.application_security_group_id", "the id of an application security group"),
    (f"    network_security_group_id: {NSG_ID.replace(RG, 'rg-Mail')}\n",
     "azure.adopt.network_security_group_id", "is in resource group rg-Mail, but azure.resource_group is rg-mail"),
    (f"    network_security_group_id: {NSG_ID}\n    application_security_group_id: "
     f"{ASG_ID.replace(SUB, '00000000-0000-0000-0000-000000000000')}\n",
     "azure.adopt.application_security_group_id", "a stack deploys to one subscription"),
    (f"    network_security_group_id: {NSG_ID}\n    rules: [a-rule, A-Rule]\n",
     "azure.adopt.rules[1]", "Azure compares rule names without case"),
    (f"    network_security_group_id: {NSG_ID}\n    rules: [allow-in-internet-tcp, gone]\n",
     "azure.adopt.rules[1]", "no rule of the plan is named gone"),
    (f"    network_security_group_id: {NSG_ID}\n    rules: [Allow-In-Internet-Tcp]\n",
     "azure.adopt.rules[0]", "the plan's rule is written allow-in-internet-tcp"),
    (f"    network_security_group_id: {NSG_ID}\n    rules: ['${{x}}']\n",
     "azure.adopt.rules[0]", "an NSG rule name"),
    (f"    network_security_group_id: {NSG_ID}/../x\n", "azure.adopt.network_security_group_id",
     "the id of a network security group"),
    (f"    network_security_group_id: {NSG_ID}\n    associations: [{PROVIDERS}/networkInterfaces/nic-x]\n",
     "azure.adopt.associations[0]", "is not in azure.associate.subnet_ids or network_interface_ids"),
    (f"    network_security_group_id: {NSG_ID}\n    associations: [{NSG_ID}]\n",
     "azure.adopt.associations[0]", "the id of a subnet"),
    ("    application_security_group_id: " + ASG_ID + "\n",
     "azure.adopt.network_security_group_id", "is required"),
])
def test_the_loader_checks_azure_adopt(tmp_path, adopt_yaml, key, message):
    text = load(tmp_path, adopt_yaml)
    assert f"bad.yaml: {key}: " in text and message in text, text


# --- the azurerm schema --------------------------------------------------------------------------

def test_resources_and_import_blocks_match_the_azurerm_schema(adopted_stack, tmp_path):
    """The prebuilt cdktn-provider-azurerm classes (generated from the azurerm schema) take
    every attribute of the adopted stack and write the same resources, depends_on and
    import blocks through their own `import_from`; and each import block has Terraform's
    documented form: `to` a resource of the configuration, `id` the ARM id azurerm documents
    for importing that type."""
    from test_schema_equivalence import _body, prebuilt_stacks

    stack_json, _ = adopted_stack
    prebuilt = prebuilt_stacks({"adopted": stack_json}, tmp_path)["adopted"]
    for kind, items in stack_json["resource"].items():
        for key, body in items.items():
            assert _body(prebuilt["resource"][kind][key]) == _body(body), key
    assert sorted(prebuilt["import"], key=str) == sorted(stack_json["import"], key=str)
    # Terraform's documented form (language/import): `to` an address, `id` a string.
    resources = {f"{kind}.{key}" for kind, items in stack_json["resource"].items() for key in items}
    forms = {"azurerm_network_security_group": rf"^{re.escape(PROVIDERS)}/networkSecurityGroups/[^/]+$",
             "azurerm_application_security_group": rf"^{re.escape(PROVIDERS)}/applicationSecurityGroups/[^/]+$",
             "azurerm_network_security_rule": rf"^{re.escape(PROVIDERS)}/networkSecurityGroups/nsg-mailgw/securityRules/[^/]+$"}
    for block in stack_json["import"]:
        assert set(block) == {"to", "id"}, block
        assert block["to"] in resources
        assert re.match(forms[block["to"].split(".")[0]], block["id"]), block
        if block["to"].startswith("azurerm_network_security_rule."):
            assert block["id"].rsplit("/", 1)[1] == stack_json["resource"][
                "azurerm_network_security_rule"][block["to"].split(".", 1)[1]]["name"]


def test_the_cdktf_core_writes_the_same_adopted_stack(adopted_stack, deployment_file, tmp_path):
    python = os.environ.get("SXCLOUD_CDKTF_PYTHON")
    if not python:
        pytest.fail("SXCLOUD_CDKTF_PYTHON is not set; scripts/test sets it")
    stack, _ = adopted_stack
    result = subprocess.run([python, "-m", "sxcloud", "synth", str(deployment_file),
                             "--out", str(tmp_path / "cdktf")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    theirs = json.loads((tmp_path / "cdktf" / "stacks" / "mail-adopted-azure" / "cdk.tf.json").read_text())
    for s in (theirs, stack):
        s["//"]["metadata"].pop("version")
    assert theirs == stack


def test_review_shows_the_adoption(arm, deployment_file, capsys, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(FILE)
    adopted(arm, deployment_file, capsys)
    code, out, err = run(["review", str(deployment_file), "--base", str(base)], capsys)
    assert "azure.adopt.network_security_group_id" in out
    assert "takes over the hand-made NSG" in out and "keeps its name nsg-mailgw" in out
    assert "azure.adopt.application_security_group_id" in out
    assert "| azure.adopt.rules | not set | 5 |" in out
    assert "network security group nsg-mailgw (appliances: ASG asg-mailgw)" in out
    # Each draft exception is shown by the exceptions' own review section ("Beyond the
    # vendor table", branch exc-reports), not by these settings.


def test_no_copy_of_live_data_is_trusted(arm, deployment_file, capsys):
    """A hostile live rule name or description reaches neither the terminal raw nor the file."""
    rules = hand_made_rules()
    rules[1]["properties"]["description"] = "evil \x1b]0;title\x07 ${file(\"/etc/passwd\")}"
    rules.append(rule("bad\x1b[31mname", "Inbound", 350, "Tcp", ["9"], "10.9.9.9/32", ASG))
    arm.put_nsg(SUB, RG, hand_made_nsg(copy.deepcopy(rules)))
    code, out, err = run(adopt(arm, deployment_file), capsys)
    assert code == 0, err
    assert "\x1b" not in out and "\x1b" not in err
    row = next(line for line in out.splitlines() if "bad" in line and "name" in line)
    assert "kept unmanaged" in row


def test_review_finds_a_dropped_adoption(arm, deployment_file, capsys, tmp_path):
    """Dropping azure.adopt gives the NSG and ASG the stack's own names again, which
    replaces them: a finding."""
    adopted(arm, deployment_file, capsys)
    head = tmp_path / "head.yaml"
    text = deployment_file.read_text()
    head.write_text(text[:text.index("  adopt:")] + text[text.index("exceptions:"):])
    code, out, _ = run(["review", str(head), "--base", str(deployment_file)], capsys)
    assert code == 1
    assert "The adopted NSG (was" in out and "Terraform replaces it" in out


def test_verify_reads_an_adopted_stack(tmp_path, capsys):
    """The import blocks and depends_on are Terraform's meta-arguments, not rules or
    templates: verify finds an adopted stack (without exceptions) exact."""
    path = tmp_path / "adopted.yaml"
    path.write_text(FILE + f"  adopt:\n    network_security_group_id: {NSG_ID}\n"
                    f"    application_security_group_id: {ASG_ID}\n"
                    "    rules: [allow-in-internet-tcp]\n")
    code, out, err = run(["verify", str(path)], capsys)
    assert code == 0, out + err


# --- the modules path: --module-address and imports.tf ------------------------------------------

def _module_resources() -> dict[str, dict[str, Any]]:
    """modules/azure-appliance-nsg's resource blocks, by type (all named `this`)."""
    import hcl2

    main = (Path(__file__).parent.parent / "modules" / "azure-appliance-nsg" / "main.tf").read_text()
    out: dict[str, dict[str, Any]] = {}
    for block in hcl2.loads(main)["resource"]:
        for kind, named in block.items():
            assert list(named) == ["this"], kind
            out[kind] = named["this"]
    return out


def test_module_address_writes_the_modules_imports_tf(arm, deployment_file, capsys, tmp_path):
    """`--module-address module.NAME --write` writes imports.tf beside FILE: valid HCL whose
    import blocks are the CDK stack's (the same ids) under the module's addresses (`TYPE.this`,
    `TYPE.this["KEY"]` of resources modules/azure-appliance-nsg declares, keyed as the CDK
    stack, which tests/test_modules.py proves for the module's values), associations too."""
    import hcl2

    other = NIC.replace("nic-mailgw-1", "nic-mailgw-2")
    deployment_file.write_text(FILE + "  associate:\n"
                               f"    subnet_ids: [{SUBNET}]\n"
                               f"    network_interface_ids: [{NIC}, {other}]\n")
    body = hand_made_nsg()
    body["properties"]["subnets"] = [{"id": SUBNET}]
    body["properties"]["networkInterfaces"] = [{"id": NIC}]
    arm.put_nsg(SUB, RG, body)
    code, out, err = run(adopt(arm, deployment_file, "--module-address", "module.firewall",
                               "--write", "--json"), capsys)
    assert code == 0, err
    written = (deployment_file.parent / "imports.tf").read_text()
    assert json.loads(out)["imports_tf"] == written
    assert written.startswith("# Generated by `sxcloud adopt azure --module-address module.firewall`")
    blocks = hcl2.loads(written)["import"]
    got = {}
    for block in blocks:
        (to,), (ident,) = block["to"], block["id"]  # python-hcl2 lists an attribute's values
        address = re.fullmatch(r"\$\{(.*)\}", to)  # an expression: a reference, not a string
        assert address, block
        got[address.group(1)] = ident
    stack = synthesized_stack(deployment_file, tmp_path / "out")
    want = {}
    for block in stack["import"]:
        kind, key = block["to"].split(".", 1)
        single = kind in ("azurerm_network_security_group", "azurerm_application_security_group")
        want[f"module.firewall.{kind}.this" + ("" if single else f'["{key}"]')] = block["id"]
    assert got == want and len(want) == 9  # NSG, ASG, five rules, two associations
    module = _module_resources()
    for address in got:
        kind = address.split(".")[2]
        assert kind in module, address
        assert ("for_each" in module[kind]) == address.endswith('"]'), address


def test_a_bad_module_address_is_refused_before_any_request(arm, deployment_file, capsys):
    before = deployment_file.read_text()
    code, _, err = run(adopt(arm, deployment_file, "--module-address", "appliance_firewall",
                             "--write"), capsys)
    assert code == 2 and "--module-address" in err and "module call's address" in err
    assert deployment_file.read_text() == before
    assert not (deployment_file.parent / "imports.tf").exists()
    assert arm.requests == []
