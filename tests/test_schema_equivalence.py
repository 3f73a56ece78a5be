"""The typed layer writes what the prebuilt provider bindings write.

The prebuilt cdktn-provider-aws / cdktn-provider-azurerm classes are generated from the
providers' schemas. Given the attributes our typed layer synthesized, as keyword arguments,
they must accept every one (an unknown attribute or a wrong type is an error in jsii) and
synthesize the same body. For azurerm this is the only schema check available here: no
azurerm provider binary exists on this machine for `terraform validate`.
"""

from __future__ import annotations

import json

import pytest
from cdktn_provider_aws import provider as aws_provider
from cdktn_provider_aws import security_group, vpc_security_group_egress_rule, vpc_security_group_ingress_rule
from cdktn_provider_azurerm import (
    application_security_group,
    network_interface_application_security_group_association,
    network_interface_security_group_association,
    network_security_group,
    network_security_rule,
)
from cdktn_provider_azurerm import provider as azurerm_provider
from cdktn_provider_azurerm import subnet_network_security_group_association

from conftest import deployment, example_data
from sxcloud import config
from sxcloud.app import add_stacks, plan_all
from sxcloud.cdk import core

PREBUILT = {
    "aws_security_group": security_group.SecurityGroup,
    "aws_vpc_security_group_ingress_rule": vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule,
    "aws_vpc_security_group_egress_rule": vpc_security_group_egress_rule.VpcSecurityGroupEgressRule,
    "azurerm_application_security_group": application_security_group.ApplicationSecurityGroup,
    "azurerm_network_security_group": network_security_group.NetworkSecurityGroup,
    "azurerm_network_security_rule": network_security_rule.NetworkSecurityRule,
    "azurerm_subnet_network_security_group_association":
        subnet_network_security_group_association.SubnetNetworkSecurityGroupAssociation,
    "azurerm_network_interface_security_group_association":
        network_interface_security_group_association.NetworkInterfaceSecurityGroupAssociation,
    "azurerm_network_interface_application_security_group_association":
        network_interface_application_security_group_association.NetworkInterfaceApplicationSecurityGroupAssociation,
}
PROVIDERS = {"aws": aws_provider.AwsProvider, "azurerm": azurerm_provider.AzurermProvider}


def _body(body):
    return {k: v for k, v in body.items() if k not in ("//", "provider")}


@pytest.fixture(scope="module")
def stacks(synthesized, tmp_path_factory):
    """Our stacks (the session's, plus one with custom endpoints) and, in a second app, the
    same attributes given to the prebuilt classes."""
    data = example_data(config.builtin_example())
    data.update(name="schema-endpoints", aws={
        "region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0",
        "endpoints": {"ec2": "http://127.0.0.1:5000", "sts": "http://127.0.0.1:5000"}})
    data.pop("azure", None)
    ours_dir = tmp_path_factory.mktemp("ours")
    app = core.App(outdir=str(ours_dir))
    add_stacks(app, plan_all([deployment(data)]))
    app.synth()
    ours = {d.name: json.loads((d / "cdk.tf.json").read_text())
            for d in (synthesized.out / "stacks").iterdir()}
    ours["schema-endpoints-aws"] = json.loads(
        (ours_dir / "stacks" / "schema-endpoints-aws" / "cdk.tf.json").read_text())

    return ours, prebuilt_stacks(ours, tmp_path_factory.mktemp("prebuilt"))


def prebuilt_stacks(ours: dict, outdir) -> dict:
    """Our stacks (name -> cdk.tf.json) given to the prebuilt classes in one app, as they
    synthesize them."""
    app = core.App(outdir=str(outdir))
    for name, stack_json in ours.items():
        stack = core.TerraformStack(app, name)
        for provider, blocks in stack_json["provider"].items():
            PROVIDERS[provider](stack, provider, **blocks[0])
        for kind, items in stack_json["resource"].items():
            for key, body in items.items():
                PREBUILT[kind](stack, key, **_body(body)).override_logical_id(key)
    app.synth()
    return {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text())
            for name in ours}


def test_every_resource_type_and_provider_is_covered(stacks):
    ours, _ = stacks
    kinds = {kind for s in ours.values() for kind in s["resource"]}
    assert kinds == set(PREBUILT)
    assert {p for s in ours.values() for p in s["provider"]} == set(PROVIDERS)


def test_resource_bodies_are_identical(stacks):
    ours, prebuilt = stacks
    compared = 0
    for name, stack_json in ours.items():
        for kind, items in stack_json["resource"].items():
            for key, body in items.items():
                assert _body(prebuilt[name]["resource"][kind][key]) == _body(body), (name, key)
                compared += 1
    assert compared > 100


def test_provider_blocks_are_identical(stacks):
    ours, prebuilt = stacks
    for name, stack_json in ours.items():
        assert prebuilt[name]["provider"] == stack_json["provider"], name
    endpoints = ours["schema-endpoints-aws"]["provider"]["aws"][0]
    assert endpoints["endpoints"] == [{"ec2": "http://127.0.0.1:5000", "sts": "http://127.0.0.1:5000"}]
    assert endpoints["skip_credentials_validation"] is True
