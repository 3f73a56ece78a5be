"""The Terraform modules and their example roots, without a cloud: `terraform fmt`, the AWS
module's `terraform test` files (aws provider mocked, from the mirror), and for Azure, where
no azurerm provider exists here, what can be checked without one:
- each attribute the module sets is one the azurerm schema has (the prebuilt
  cdktn-provider-azurerm classes are generated from it), and every required one is set;
- the module's values (locals.tf, which references none of its resources) evaluated by
  Terraform equal the CDK stack's resource block, for every example with an azure section.

The AWS module against a live API: tests/test_modules_aws_e2e.py.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2  # python-hcl2 (Bridgecrew's build, which checkov of the dev extra brings)
import pytest
import yaml

import terraform
from conftest import EXAMPLES, EXCEPTIONS_EXAMPLE, ROOT, TODAY, deployment, example_data
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from tools import readmes

MODULES = ROOT / "modules"
AZURE = MODULES / "azure-appliance-nsg"
#: Arguments every resource block takes that are Terraform's, not the provider's.
META = {"for_each", "count", "depends_on", "lifecycle", "provider"}
#: The module gets the tests' today (SXCLOUD_TODAY), for the examples' site exceptions.
AZURE_EXAMPLES = [p for p in EXAMPLES if "azure" in example_data(p)]
#: The example of site exceptions as `sxcloud adopt azure --write` leaves it: the live NSG
#: and ASG (names other than sxcloud's), two live rules and a draft exception keeping a live
#: rule's name and priority.
ADOPTED_EXAMPLE = "exceptions-both-adopted.yaml"
_ARM = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mail-exceptions/providers/Microsoft.Network/"


def adopted_data() -> dict[str, Any]:
    data = example_data(EXCEPTIONS_EXAMPLE)
    data["exceptions"].append({
        "id": "allow-snmp-noc", "direction": "inbound", "protocol": "udp", "ports": [161],
        "peer": {"cidrs": ["10.0.50.10/32"]}, "owner": "unassigned", "expires": "2026-12-31",
        "reason": "on nsg-mailgw when adopted on 2026-12-01; confirm or remove",
        "clouds": ["azure"], "azure": {"name": "Allow-SNMP-NOC", "priority": 300}})
    data["azure"]["adopt"] = {
        "network_security_group_id": _ARM + "networkSecurityGroups/nsg-mailgw",
        "application_security_group_id": _ARM + "applicationSecurityGroups/asg-mailgw",
        "rules": ["allow-in-azure-load-balancer", "Allow-SNMP-NOC"]}
    return data


def _terraform(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["terraform", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "CHECKPOINT_DISABLE": "1"})


def test_fmt_check() -> None:
    done = _terraform("fmt", "-check", "-recursive", "-diff", "modules", "examples/terraform",
                      cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """modules/ and the examples beside each other, as in the repository: the test files read
    ../../examples/*.yaml, and init writes into the module folder."""
    tmp = tmp_path_factory.mktemp("modules")
    shutil.copytree(MODULES, tmp / "modules",
                    ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    shutil.copytree(ROOT / "examples", tmp / "examples", ignore=shutil.ignore_patterns("ci"))
    return tmp


def test_module_readmes_are_generated_from_the_modules() -> None:
    """scripts/generate renders each README's marked region from the module's .tf files and
    its example root; a stale README fails here."""
    for path, render in readmes.GENERATED.items():
        assert (ROOT / path).read_text() == render(), f"{path} is stale: run scripts/generate"


def test_aws_module_terraform_test(copied: Path) -> None:
    module = copied / "modules" / "aws-appliance-sg"
    terraform.init(module)  # the mock needs the aws provider installed: from the mirror
    done = _terraform("test", "-no-color", cwd=module)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 failed" in done.stdout and " 0 passed" not in done.stdout, done.stdout


# --- Azure: the schema --------------------------------------------------------------------------

def _resources(module: Path) -> dict[str, dict[str, Any]]:
    """resource type -> the arguments its block in the module sets."""
    out: dict[str, dict[str, Any]] = {}
    for tf in module.glob("*.tf"):
        for block in hcl2.load(tf.open()).get("resource", []):
            for kind, named in block.items():
                (body,) = named.values()
                out[kind] = {k: v for k, v in body.items()
                             if k not in META and not k.startswith("__")}
    return out


def _prebuilt_config(kind: str) -> type:
    """The prebuilt cdktn-provider-azurerm config class of a resource type."""
    import importlib
    name = kind.removeprefix("azurerm_")
    module = importlib.import_module(f"cdktn_provider_azurerm.{name}")
    return getattr(module, _camel(name) + "Config")


def _check_against_schema(where: str, config: type, body: dict[str, Any]) -> None:
    """The arguments of a block are the schema's, its required ones all there; nested blocks
    (python-hcl2 reads them as lists of objects) against their own struct."""
    parameters = inspect.signature(config.__init__).parameters
    schema = {n for n in parameters if n != "self" and n not in META | {"connection", "provisioners"}}
    required = {n for n in schema if parameters[n].default is inspect.Parameter.empty}
    assert set(body) <= schema, (where, set(body) - schema)
    assert required <= set(body), (where, required - set(body))
    for name, value in body.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            struct = getattr(inspect.getmodule(config),
                             config.__name__.removesuffix("Config") + _camel(name))
            for nested in value:
                _check_against_schema(f"{where}.{name}", struct, nested)


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def test_azure_module_sets_only_schema_attributes_and_every_required_one() -> None:
    resources = _resources(AZURE)
    cdk_types = {azure_attributes.ASG_TYPE, azure_attributes.NSG_TYPE, azure_attributes.RULE_TYPE,
                 azure_attributes.SUBNET_NSG_TYPE, azure_attributes.NIC_NSG_TYPE,
                 azure_attributes.NIC_ASG_TYPE}
    assert set(resources) == cdk_types  # the CDK stack's resource types, no more
    example = _resources(ROOT / "examples" / "terraform" / "azure")
    assert set(example) == {"azurerm_network_interface"}
    for kind, body in {**resources, **example}.items():
        _check_against_schema(kind, _prebuilt_config(kind), body)


# --- Azure: the values ----------------------------------------------------------------------------

EVAL_OUTPUTS = """
output "asg" { value = local.asg }
output "nsg" { value = local.nsg }
output "rules" { value = local.rules }
output "subnet_associations" { value = local.subnet_associations }
output "nic_associations" { value = local.nic_associations }
output "nic_asg_associations" { value = local.nic_asg_associations }
"""


@pytest.fixture(scope="module")
def azure_values(copied: Path) -> dict[str, dict[str, Any]]:
    """The Azure module's locals for every example with an azure section, in one plan: a
    provider-free copy of the module (variables.tf, locals.tf) called once per example."""
    evaluated = copied / "modules" / "azure-eval"
    evaluated.mkdir()
    for name in ("variables.tf", "locals.tf"):
        shutil.copyfile(AZURE / name, evaluated / name)
    (evaluated / "outputs.tf").write_text(EVAL_OUTPUTS)
    root = copied / "azure-root"
    root.mkdir()
    adopted = copied / "examples" / ADOPTED_EXAMPLE
    adopted.write_text(yaml.safe_dump(adopted_data()))
    calls = []
    for index, path in enumerate([*AZURE_EXAMPLES, adopted]):
        calls.append(f'module "e{index}" {{\n  source = "../modules/azure-eval"\n'
                     f'  deployment = yamldecode(file("{path.as_posix()}"))\n'
                     f'  today = "{TODAY}"\n'
                     f'  network_interface_ids = {{ extra = "/subscriptions/0/resourceGroups/rg/'
                     f'providers/Microsoft.Network/networkInterfaces/extra" }}\n}}\n'
                     f'output "e{index}" {{ value = module.e{index} }}\n')
    (root / "main.tf").write_text("\n".join(calls))
    tf = terraform.init(root)
    result = tf.plan(out="eval.tfplan")
    assert result.retcode in (0, 2), result.error
    shown = tf.show("eval.tfplan")
    outputs = shown.value["planned_values"]["outputs"]
    return {path.name: outputs[f"e{index}"]["value"]
            for index, path in enumerate([*AZURE_EXAMPLES, adopted])}


@pytest.mark.parametrize("path", AZURE_EXAMPLES, ids=lambda p: p.name)
def test_azure_module_values_are_the_cdk_stacks(azure_values: dict[str, Any], path: Path) -> None:
    _assert_cdk_values(azure_values[path.name], deployment(example_data(path), path))


def test_adopted_azure_module_keeps_the_live_names(azure_values: dict[str, Any]) -> None:
    """An adopted file: the module's NSG and ASG are the live ones, by name (the CDK stack's
    values), not `nsg-<name>-appliance` beside them; the draft keeps its live name."""
    d = deployment(adopted_data(), ADOPTED_EXAMPLE)
    got = azure_values[ADOPTED_EXAMPLE]
    assert (got["nsg"]["name"], got["asg"]["name"]) == ("nsg-mailgw", "asg-mailgw")
    assert got["rules"]["Allow-SNMP-NOC"]["priority"] == 300
    _assert_cdk_values(got, d)


def _assert_cdk_values(got: dict[str, Any], d: Any) -> None:
    """The module's evaluated locals equal the CDK stack's resource blocks for `d`."""
    assert d.azure is not None
    az = d.azure
    block = azure_attributes.resources(azure_plan.plan(d), location=az.location,
                                       resource_group=az.resource_group,
                                       subnet_ids=az.subnet_ids,
                                       network_interface_ids=az.network_interface_ids)
    assert got["asg"] == block[azure_attributes.ASG_TYPE][azure_attributes.ASG_NAME]
    assert got["nsg"] == block[azure_attributes.NSG_TYPE][azure_attributes.NSG_NAME]
    rules = block[azure_attributes.RULE_TYPE]
    assert set(got["rules"]) == set(rules)
    for key, body in rules.items():
        assert _as_cdk(got["rules"][key]) == body, key
    extra = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/extra"
    assert got["subnet_associations"] == {
        k: v["subnet_id"] for k, v in block.get(azure_attributes.SUBNET_NSG_TYPE, {}).items()}
    assert got["nic_associations"] == {
        **{k: v["network_interface_id"] for k, v in block.get(azure_attributes.NIC_NSG_TYPE, {}).items()},
        "nic_extra": extra}
    assert got["nic_asg_associations"] == {
        **{k: v["network_interface_id"] for k, v in block.get(azure_attributes.NIC_ASG_TYPE, {}).items()},
        "nic_asg_extra": extra}


def _as_cdk(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule of locals.tf written as main.tf writes its resource, with the references as
    the CDK stack writes them."""
    out = {k: v for k, v in rule.items()
           if v is not None and k not in ("source_asg", "source_asg_ids", "destination_asg",
                                          "destination_asg_ids")}
    out["network_security_group_name"] = azure_attributes.NSG_NAME_REF
    for side in ("source", "destination"):
        ids = ([azure_attributes.ASG_ID] if rule[f"{side}_asg"] else []) + (rule[f"{side}_asg_ids"] or [])
        if rule[f"{side}_asg"] or rule[f"{side}_asg_ids"] is not None:
            out[f"{side}_application_security_group_ids"] = ids
    return out


def test_main_tf_reads_every_evaluated_field(azure_values: dict[str, Any]) -> None:
    """main.tf's rule resource reads every field locals.tf gives a rule, so the values
    evaluated above are all the ones the resources get."""
    text = json.dumps(_resources(AZURE)[azure_attributes.RULE_TYPE])
    fields = {f for values in azure_values.values() for rule in values["rules"].values()
              for f in rule}
    assert fields and all(f"each.value.{f}" in text for f in fields)


def test_main_readme_shows_the_example_roots_module_call() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readmes.example(ROOT / "examples" / "terraform" / "aws" / "main.tf") in readme
