"""`review --plan` and `verify` of the shipped example roots (issue 15, case 4).

On main, a plan of examples/terraform/aws reported `module.appliance_firewall.aws_security_group
.appliance` as missing and `...aws_security_group.this` as unintended: a check that is always
red. The AWS plan here is real: the example root (module_roots), real Terraform and the aws
provider from the mirror, planned against moto. The Azure one is the synthesized stack's plan
(tfshow) as the shipped azure-appliance-nsg module addresses it, beside the example's network
interface (there is no azurerm provider here).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import aws_sites
import module_roots
import terraform
import terraform_live
from conftest import EXAMPLES, Synthesized
from moto_server import MotoServer
from sxcloud.cli import main
from sxcloud.config import load
from tfshow import as_shipped_module, plan_document, refresh_planned_values

AWS = EXAMPLES[[p.name for p in EXAMPLES].index("aws-single.yaml")]
AZURE = EXAMPLES[[p.name for p in EXAMPLES].index("azure-cluster.yaml")]
MODULE = "module.appliance_firewall"


@pytest.fixture(scope="module")
def aws_root(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example root for aws-single against moto, with the `show -json` of its first
    plan in plan.json."""
    tmp = tmp_path_factory.mktemp("module-root")
    module_roots.copy_modules(tmp)
    data = aws_sites.on_moto(AWS, moto_server.url)
    root = module_roots.example_root(tmp, data, moto_server.url)
    code, plan = terraform_live.plan(terraform.init(root, backend=True), "review.tfplan")
    assert code == 2, "the first plan of the root creates its resources"
    (root / "plan.json").write_text(json.dumps(plan))
    return root


def _run(root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         *args: str) -> tuple[int, str]:
    monkeypatch.chdir(root)
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def test_a_real_plan_of_the_aws_example_root_reviews_clean(
        aws_root: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(aws_root, capsys, monkeypatch, "review", "sxcloud.yaml", "--plan",
                     "plan.json", "--json")
    assert code == 0, out
    (stack,) = json.loads(out)["stacks"]
    assert stack["findings"] == [] and stack["verify"]["status"] == "passed"
    resources = {r["address"]: r for r in stack["resources"]}
    assert resources[f"{MODULE}.aws_security_group.this"]["intended"]
    nic = resources["aws_network_interface.appliance"]
    assert not nic["finding"] and nic["meaning"].startswith("Membership:")
    assert "into the appliances' group" in nic["meaning"]
    assert not [o for o in stack["head"]["openings"] if o["origin"] == "unintended"]


def test_verify_reads_the_real_plan_of_the_aws_example_root(
        aws_root: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(aws_root, capsys, monkeypatch, "verify", "sxcloud.yaml", "--plan-json",
                     "plan.json")
    assert code == 0 and "no findings" in out, out


def test_a_network_interface_leaving_the_appliance_group_is_a_finding(
        aws_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same plan, edited as a later plan would read: the interface exists with the
    group's id, and the plan deletes it."""
    plan = json.loads((aws_root / "plan.json").read_text())
    (nic,) = [c for c in plan["resource_changes"]
              if c["address"] == "aws_network_interface.appliance"]
    group = next(c for c in plan["resource_changes"]
                 if c["address"] == f"{MODULE}.aws_security_group.this")
    group["change"]["after"]["id"] = "sg-0123456789abcdef0"
    group["change"].update(actions=["no-op"], before=group["change"]["after"], after_unknown={})
    nic["change"].update(actions=["delete"], after=None, before={
        **nic["change"]["after"], "security_groups": ["sg-0123456789abcdef0"]})
    path = tmp_path / "leave.json"
    path.write_text(json.dumps(refresh_planned_values(plan)))
    code, out = _run(aws_root, capsys, monkeypatch, "review", "sxcloud.yaml", "--plan",
                     str(path), "--json")
    (stack,) = json.loads(out[:out.rindex("}") + 1])["stacks"]
    assert code == 1
    (finding,) = [f for f in stack["findings"] if "aws_network_interface" in f]
    assert "leaves the appliances' group" in finding


def _azure_example_plan(synthesized: Synthesized) -> dict[str, Any]:
    """The azure-cluster stack's plan as examples/terraform/azure plans it: the module's
    addresses, and the root's network interface, which the module puts into the NSG and ASG
    (`network_interface_ids = { appliance1 = azurerm_network_interface.appliance.id }`)."""
    plan = as_shipped_module(plan_document(synthesized.stack(f"{load(AZURE).name}-azure")))
    nic = "azurerm_network_interface.appliance"
    plan["resource_changes"].append({
        "address": nic, "mode": "managed", "type": "azurerm_network_interface",
        "name": "appliance", "change": {"actions": ["create"], "before": None, "after": {
            "name": "nic-mail-azure-cluster-1", "location": "westeurope",
            "resource_group_name": "rg-mail"}, "after_unknown": {"id": True}}})
    for rtype, key, attribute, target in (
            ("azurerm_network_interface_security_group_association", "nic_appliance1",
             "network_security_group_id", "azurerm_network_security_group.this"),
            ("azurerm_network_interface_application_security_group_association",
             "nic_asg_appliance1", "application_security_group_id",
             "azurerm_application_security_group.this")):
        plan["resource_changes"].append({
            "address": f'{MODULE}.{rtype}.this["{key}"]', "mode": "managed", "type": rtype,
            "name": "this", "index": key, "module_address": MODULE,
            "change": {"actions": ["create"], "before": None, "after": {},
                       "after_unknown": {"id": True, attribute: True,
                                         "network_interface_id": True}}})
        plan["configuration"]["root_module"]["module_calls"]["appliance_firewall"]["module"][
            "resources"].append({"address": f"{rtype}.this", "mode": "managed", "type": rtype,
                                 "name": "this", "expressions": {
                                     attribute: {"references": [f"{target}.id", target]},
                                     "network_interface_id": {"references": ["each.value"]}}})
    plan["configuration"]["root_module"]["module_calls"]["appliance_firewall"]["expressions"] = {
        "network_interface_ids": {"references": [f"{nic}.id", nic]}}
    plan["configuration"]["root_module"]["resources"] = [{
        "address": nic, "mode": "managed", "type": "azurerm_network_interface",
        "name": "appliance", "expressions": {}}]
    return refresh_planned_values(plan)


def test_a_plan_of_the_azure_example_root_reviews_clean(
        synthesized: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "azure.json"
    path.write_text(json.dumps(_azure_example_plan(synthesized)))
    monkeypatch.chdir(tmp_path)
    assert main(["review", str(AZURE), "--plan", str(path), "--json"]) == 0
    (stack,) = json.loads(capsys.readouterr().out)["stacks"]
    assert stack["findings"] == [] and stack["verify"]["status"] == "passed"
    resources = {r["address"]: r for r in stack["resources"]}
    assert resources[f"{MODULE}.azurerm_network_security_group.this"]["intended"]
    members = [r for r in resources.values() if r["meaning"].startswith("Membership:")]
    assert {r["address"] for r in members} == {
        "azurerm_network_interface.appliance",
        f'{MODULE}.azurerm_network_interface_security_group_association.this["nic_appliance1"]',
        f'{MODULE}.azurerm_network_interface_application_security_group_association'
        '.this["nic_asg_appliance1"]'}
    assert not any(r["finding"] for r in members)
    assert main(["verify", str(AZURE), "--plan-json", str(path)]) == 0


def test_an_interface_the_module_is_not_given_is_still_a_finding(
        synthesized: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    plan = copy.deepcopy(_azure_example_plan(synthesized))
    del plan["configuration"]["root_module"]["module_calls"]["appliance_firewall"]["expressions"]
    path = tmp_path / "azure.json"
    path.write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    assert main(["review", str(AZURE), "--plan", str(path), "--json"]) == 1
    (stack,) = json.loads(capsys.readouterr().out)["stacks"]
    (finding,) = stack["findings"]
    assert "azurerm_network_interface.appliance, which no sxcloud file intends" in finding
