"""verify on real Terraform output of a module deployment (issue 11, item 5).

A root configuration calls a local module `fw` that declares the appliance group as
`aws_security_group.this` and its rules as `aws_vpc_security_group_ingress_rule.this` /
`_egress_rule.this`, `for_each` over the rules of the CDK stack's own resource block
(`sxcloud.aws.attributes.resources`), keyed by the same keys; the rule that names the group
itself does so by a conditional, as a module with one resource per direction must. It is
planned and applied with the real aws provider against moto's EC2 server, and the `show
-json` of the plan and of the state go through `sxcloud verify`: the result is the CDK
stack's. (modules/aws-appliance-sg is built elsewhere; this test does not depend on it.)
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

import aws_sites
import terraform
import terraform_live
from conftest import EXAMPLES, deployment, example_data
from moto_server import MotoServer
from sxcloud import escape
from sxcloud.aws import attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.cli import main
from sxcloud.verify import verify_resources

REGION = "eu-west-1"
PEERS = ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id")
FIELDS = ("ip_protocol", "from_port", "to_port", "description", *PEERS)

MODULE = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

resource "aws_security_group" "this" {
  name        = local.group.name
  description = local.group.description
  vpc_id      = local.group.vpc_id
  tags        = local.group.tags
}
"""

RULES = """
resource "aws_vpc_security_group_%(direction)s_rule" "this" {
  for_each          = local.%(direction)s
  security_group_id = aws_security_group.this.id
  ip_protocol       = each.value.ip_protocol
  from_port         = each.value.from_port
  to_port           = each.value.to_port
  description       = each.value.description
  cidr_ipv4         = each.value.cidr_ipv4
  cidr_ipv6         = each.value.cidr_ipv6
  prefix_list_id    = each.value.prefix_list_id
  referenced_security_group_id = (each.value.self ? aws_security_group.this.id
                                  : each.value.referenced_security_group_id)
}
"""

ROOT = """
provider "aws" {
  region                      = "%(region)s"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    ec2 = "%(url)s"
    sts = "%(url)s"
  }
}

module "fw" {
  source = "./fw"
}
"""


def _literal(value: Any) -> Any:
    """A value as JSON configuration must spell it to be read as itself."""
    return escape.terraform(value) if isinstance(value, str) else value


def _locals(resources: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The module's locals from the CDK stack's resource block: the group's attributes, and
    per direction the rules by their keys, each with every field (null where unset) and
    `self` where the rule names the group."""
    (group,) = resources[attributes.GROUP_TYPE].values()
    out: dict[str, Any] = {"group": {k: _literal(v) if not isinstance(v, dict) else
                                     {t: _literal(x) for t, x in v.items()}
                                     for k, v in group.items()}}
    for direction, rtype in (("ingress", attributes.INGRESS_TYPE),
                             ("egress", attributes.EGRESS_TYPE)):
        rules = {}
        for key, body in resources.get(rtype, {}).items():
            own = body.get("referenced_security_group_id") == attributes.GROUP_ID
            rule = {f: None if (f == "referenced_security_group_id" and own) else
                    _literal(body.get(f)) for f in FIELDS}
            rules[key] = {**rule, "self": own}
        out[direction] = rules
    return out


def _deployment_file(tmp_path: Path, vpc_id: str) -> Path:
    """aws-cluster-ipv6 (cluster peers: a rule for the group itself; IPv6), in moto's VPC,
    without bindings to groups and prefix lists that moto does not hold."""
    data = copy.deepcopy(example_data(next(p for p in EXAMPLES
                                           if p.name == "aws-cluster-ipv6.yaml")))
    data["aws"]["vpc_id"] = vpc_id
    data["aws"].pop("bindings", None)
    data["roles"].update(admin_pc=["10.30.99.0/24"], internal_mail_server=["10.30.1.25/32"])
    path = tmp_path / "sxcloud.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_module_plan_and_state_verify_as_the_cdk_stack(moto_server: MotoServer, tmp_path: Path,
                                                       capsys) -> None:
    ec2 = aws_sites.ec2(moto_server.url, REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    file = _deployment_file(tmp_path, vpc_id)
    d = deployment(yaml.safe_load(file.read_text()), file)
    resources = attributes.resources(aws_plan.plan(d), vpc_id)
    self_rules = [k for t in (attributes.INGRESS_TYPE, attributes.EGRESS_TYPE)
                  for k, b in resources.get(t, {}).items()
                  if b.get("referenced_security_group_id") == attributes.GROUP_ID]
    assert self_rules  # the conditional is exercised

    root = tmp_path / "root"
    (root / "fw").mkdir(parents=True)
    (root / "fw" / "main.tf").write_text(
        MODULE + "".join(RULES % {"direction": d_} for d_ in ("ingress", "egress")))
    (root / "fw" / "rules.tf.json").write_text(json.dumps({"locals": _locals(resources)}))
    (root / "main.tf").write_text(ROOT % {"region": REGION, "url": moto_server.url})
    tf = terraform.init(root, backend=True)
    code, plan = terraform_live.plan(tf, "fw.tfplan")
    assert code == 2
    terraform_live.apply(tf, "fw.tfplan")
    shown = tf.show()
    assert shown.retcode == 0, shown.error
    state = shown.value

    # Real module addresses: instance keys, and a configuration keyed without them.
    key = self_rules[0]
    rule_type = next(t for t in (attributes.INGRESS_TYPE, attributes.EGRESS_TYPE)
                     if key in resources.get(t, {}))
    address = f'module.fw.{rule_type}.this["{key}"]'
    assert address in {c["address"] for c in plan["resource_changes"]}
    calls = plan["configuration"]["root_module"]["module_calls"]["fw"]["module"]
    assert f"{rule_type}.this" in {r["address"] for r in calls["resources"]}

    plan_file, state_file = tmp_path / "plan.json", tmp_path / "state.json"
    plan_file.write_text(json.dumps(plan))
    state_file.write_text(json.dumps(state))
    status = main(["verify", str(file), "--plan-json", str(plan_file), "--state-json",
                   str(state_file), "--json"])
    report = json.loads(capsys.readouterr().out)
    cdk = verify_resources(d, "aws", resources)
    assert cdk.ok
    assert status == 0, [f["message"] for s in report["stacks"] for f in s["findings"]][:5]
    assert [(s["kind"], s["ok"], s["peer_ranges"], s["cells"], s["intended_flows"])
            for s in report["stacks"]] == [
        (kind, True, cdk.peer_ranges, cdk.cells, cdk.intended_flows) for kind in ("plan", "state")]

    # A rule gone from the module's state is caught as on the CDK stack.
    gone = copy.deepcopy(state)
    module = gone["values"]["root_module"]["child_modules"][0]
    module["resources"] = [r for r in module["resources"] if r["address"] != address]
    state_file.write_text(json.dumps(gone))
    assert main(["verify", str(file), "--state-json", str(state_file), "--json"]) == 1
    (result,) = json.loads(capsys.readouterr().out)["stacks"]
    del resources[rule_type][key]
    expected = verify_resources(d, "aws", resources)
    assert sorted(f["intended"] for f in result["findings"]) == sorted(
        f.intended for f in expected.findings) != []
