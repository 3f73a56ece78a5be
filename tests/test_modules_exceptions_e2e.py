"""Site exceptions on the plain-Terraform AWS path, end to end with real parts: a root calling
modules/aws-appliance-sg with examples/exceptions-both.yaml, real Terraform with the real
hashicorp/aws provider from the mirror, moto's EC2 server, and boto3 reading the live rules.

The module plans exactly the CDK stack's rule resources (sxcloud.aws.attributes, the stack's
block without the CDK), EC2 then holds each exception's rules with their tags, and removing
one exception from the file deletes exactly its rules and replaces nothing; `sxcloud audit`
finds the applied group clean, exceptions included. "Today" is fixed
for the module by an override file (`today`), as the tests' SXCLOUD_TODAY fixes it for sxcloud.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import aws_sites
import module_roots
import terraform
import terraform_live
from conftest import ROOT, TODAY, deployment
from moto_server import MotoServer
from sxcloud import cli
from sxcloud.aws import attributes
from sxcloud.aws.plan import plan

EXAMPLE = ROOT / "examples" / "exceptions-both.yaml"
MODULE = "module.fw"
RULE_TYPES = (attributes.INGRESS_TYPE, attributes.EGRESS_TYPE)


def _expected(data: dict[str, Any], file: Path) -> dict[str, dict[str, Any]]:
    """The CDK stack's rule resources, by the root's address of each."""
    d = deployment(data, file)
    block = attributes.resources(plan(d), d.aws.vpc_id)
    return {f'{MODULE}.{t}.this["{key}"]': body for t in RULE_TYPES for key, body in block.get(t, {}).items()}


def _planned(plan_doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The planned rule resources' values, by address."""
    resources = plan_doc["planned_values"]["root_module"]["child_modules"][0]["resources"]
    return {r["address"]: r["values"] for r in resources if r["type"] in RULE_TYPES}


@pytest.mark.exhaustive  # a long moto run (341 s here under load): the tier CI runs
def test_exceptions_through_the_module_on_moto(moto_server: MotoServer, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    module_roots.copy_modules(tmp_path)
    data = aws_sites.on_moto(EXAMPLE, moto_server.url)
    root = module_roots.minimal_root(tmp_path, data, moto_server.url)
    (root / "today_override.tf").write_text(f'module "fw" {{\n  today = "{TODAY}"\n}}\n')
    file = root / "sxcloud.yaml"
    tf = terraform.init(root, backend=True)

    # 1. The plan holds exactly the CDK stack's rules, exceptions with their tags and ports.
    code, fresh = terraform_live.plan(tf, "fresh.tfplan")
    assert code == 2
    expected = _expected(data, file)
    planned = _planned(fresh)
    assert set(planned) == set(expected)
    exception_rules = {a: body for a, body in expected.items() if '"X-' in a}
    # the example's exceptions on AWS, less vpn-esp (protocol 50), which on_moto leaves out
    assert len(exception_rules) == 8
    for address, body in expected.items():
        for attribute in ("ip_protocol", "from_port", "to_port", "description", "cidr_ipv4", "cidr_ipv6"):
            assert planned[address].get(attribute) == body.get(attribute), (address, attribute)
        assert planned[address].get("tags") == body.get("tags"), address

    # 2. Applied, EC2 holds each exception's rules, tagged with id, owner, expiry and ticket.
    terraform_live.apply(tf, "fresh.tfplan")
    group_id = tf.output().value["security_group_id"]["value"]
    client = aws_sites.ec2(moto_server.url, data["aws"]["region"])
    live = client.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    tagged: dict[str, int] = {}
    for rule in live:
        tags = {t["Key"]: t["Value"] for t in rule.get("Tags", [])}
        if "sxcloud:exception" in tags:
            tagged[tags["sxcloud:exception"]] = tagged.get(tags["sxcloud:exception"], 0) + 1
            assert tags["sxcloud:expires"] and tags["sxcloud:owner"]
    want: dict[str, int] = {}
    for body in exception_rules.values():
        want[body["tags"]["sxcloud:exception"]] = want.get(body["tags"]["sxcloud:exception"], 0) + 1
    assert tagged == want
    # moto drops some descriptions on create (aws_sites): the next apply sets them again
    code, repair = terraform_live.plan(tf, "repair.tfplan")
    if code == 2:
        terraform_live.apply(tf, "repair.tfplan")
    assert terraform_live.plan(tf, "settled.tfplan")[0] == 0
    # audit reads the module's group as the file intends it, exceptions included: clean.
    code = cli.main(["audit", "aws", str(file), "--json", "--endpoint-url", moto_server.url])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert (code, report["drift"], report["group"]["id"]) == (0, False, group_id), err + out

    # 3. Removing one exception deletes exactly its rules; nothing else changes.
    removed = copy.deepcopy(data)
    gone = removed["exceptions"].pop(2)  # partner-relay: two port ranges, two families
    file.write_text(yaml.safe_dump(removed, sort_keys=False))
    code, after = terraform_live.plan(tf, "removed.tfplan")
    assert code == 2
    changes = terraform_live.changes(after)
    assert {a for a in expected if f'"X-{gone["id"]}_' in a} == set(changes)
    assert all(c["actions"] == ["delete"] for c in changes.values()), changes
    assert len(changes) == 4  # 2525 and 10025-10030, for an IPv4 and an IPv6 range
