"""`sxcloud adopt aws` with real parts: a hand-made group made through boto3 in moto's EC2
server, the command reading it (Describe calls only) and editing the file, then `synth`,
real Terraform with the mirror's aws provider planning and applying against moto, and
`sxcloud audit aws`.

The hand-made group holds rules equal to vendor rules (one with another description), a
rule wider than a vendor rule, RDP from a range, and EC2's default allow-all egress.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import aws_sites
import terraform
import terraform_live
from conftest import ROOT
from moto_server import MotoServer, recording
from sxcloud import cli, config, exceptions
from sxcloud.aws import adopt as adopt_
from sxcloud.app import plan_all, synth
from sxcloud.aws.drift import intended_permission
from sxcloud.aws.plan import EGRESS, INGRESS, SgRule, plan

EXAMPLE = ROOT / "examples" / "aws-single.yaml"
RULE_TYPE = {INGRESS: "aws_vpc_security_group_ingress_rule",
             EGRESS: "aws_vpc_security_group_egress_rule"}
GROUP = "aws_security_group.appliance"
COMMENT = "# kept: a comment of the team's own\n"


@dataclass
class HandMade:
    """A deployment file on moto and the hand-made group beside it."""

    file: Path
    data: dict[str, Any]
    group_id: str
    vpc_id: str
    rules: dict[str, str]  # what each live rule is, for the test -> sgr-...
    url: str

    def ec2(self) -> Any:
        return aws_sites.ec2(self.url, self.data["aws"]["region"])


def _vendor(data: dict[str, Any], path: Path, direction: str, port: int) -> SgRule:
    rules = plan(config.parse(data, path)).rules
    return next(r for r in rules if r.direction == direction and r.from_port == port)


def hand_made(url: str, folder: Path, name: str = "mail-aws-single") -> HandMade:
    """The example pointed at a new VPC in moto, with a group made by hand in it."""
    data = aws_sites.on_moto(EXAMPLE, url)
    data["name"] = name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(COMMENT + yaml.safe_dump(data, sort_keys=False))
    ec2 = aws_sites.ec2(url, data["aws"]["region"])
    vpc = data["aws"]["vpc_id"]
    group = ec2.create_security_group(GroupName="mailgw-sg", Description="Mail gateway",
                                      VpcId=vpc)["GroupId"]
    smtp = _vendor(data, path, INGRESS, 25)  # R04: SMTP from the Internet
    admin = _vendor(data, path, INGRESS, 8443)  # R16: admin HTTPS from admin_pc
    wanted = {
        "smtp": (25, smtp.peer.value, smtp.description),  # equal, same description
        "admin": (8443, admin.peer.value, "admin console"),  # equal, another description
        "wider": (8443, "10.10.0.0/16", "admin from the whole VPC"),  # wider than R16
        "rdp": (3389, "10.20.0.0/16", "RDP from the jump hosts"),
    }
    ids = {}
    for label, (port, cidr, description) in wanted.items():
        answer = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "IpRanges": [{"CidrIp": cidr, "Description": description}]}])
        ids[label] = answer["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    egress = [r for r in _live(ec2, group) if r["IsEgress"]]
    assert [(r["IpProtocol"], r["CidrIpv4"]) for r in egress] == [("-1", "0.0.0.0/0")]
    ids["egress"] = egress[0]["SecurityGroupRuleId"]
    return HandMade(path, data, group, vpc, ids, url)


#: moto 5 refuses ModifySecurityGroupRules for an all-protocols rule without ports
#: ("Must specify both from and to ports with TCP/UDP"); AWS takes it, and Terraform sends
#: none for ip_protocol -1. So the end-to-end test gives EC2's allow-all egress rule, before
#: the adoption, the description its draft exception will carry: the first apply then only
#: tags it (CreateTags), which moto does. Every other rule is updated as on AWS.
def moto_cannot_modify_all_protocols(site: HandMade) -> None:
    on = exceptions.today()
    until = on + timedelta(days=adopt_.DRAFT_DAYS)
    description = (f"X-out-all-internet until {until}: on {site.group_id} when adopted on "
                   f"{on}; confirm or remove")
    site.ec2().modify_security_group_rules(GroupId=site.group_id, SecurityGroupRules=[{
        "SecurityGroupRuleId": site.rules["egress"], "SecurityGroupRule": {
            "IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIpv4": "0.0.0.0/0",
            "Description": description}}])


def _live(ec2: Any, group_id: str) -> list[dict[str, Any]]:
    return ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]


def adopt(capsys: pytest.CaptureFixture[str], site: HandMade, *args: str,
          group_id: str | None = None) -> tuple[int, str, str]:
    code = cli.main(["adopt", "aws", str(site.file), "--group-id", group_id or site.group_id,
                     "--use-file-endpoints", *args])
    out, err = capsys.readouterr()
    return code, out, err


def address(rule: SgRule) -> str:
    return f"{RULE_TYPE[rule.direction]}.{rule.key}"


# --- the mapping (no Terraform) -----------------------------------------------------------------

def test_adopt_reports_and_prints_without_writing(moto_server: MotoServer, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    site = hand_made(moto_server.url, tmp_path)
    before = site.file.read_bytes()
    with recording(moto_server) as calls:
        code, out, err = adopt(capsys, site, "--json")
    assert code == 0, err
    assert site.file.read_bytes() == before  # no --write: nothing written
    assert calls and all(op.startswith("Describe") for op in calls), calls
    report = json.loads(out)
    outcomes = {r["live_id"]: (r["outcome"], r["rule"], r["note"]) for r in report["rules"]}
    smtp = _vendor(site.data, site.file, INGRESS, 25)
    admin = _vendor(site.data, site.file, INGRESS, 8443)
    assert outcomes[site.rules["smtp"]] == ("taken over", smtp.key, "")
    assert outcomes[site.rules["admin"]] == ("taken over", admin.key,
                                             "description updated in place")
    drafts = {e["id"]: e for e in report["exceptions"]}
    assert set(drafts) == {"in-tcp8443-10-10-0-0-16", "in-tcp3389-10-20-0-0-16",
                           "out-all-internet"}
    assert drafts["out-all-internet"]["protocol"] == "all"
    assert drafts["out-all-internet"]["peer"] == {"internet": True}
    rdp = drafts["in-tcp3389-10-20-0-0-16"]
    assert rdp["peer"] == {"cidrs": ["10.20.0.0/16"]} and rdp["ports"] == [3389]
    assert rdp["owner"] == "unassigned" and rdp["clouds"] == ["aws"]
    assert rdp["reason"].startswith(f"on {site.group_id} when adopted on ")
    for label in ("wider", "rdp", "egress"):
        assert outcomes[site.rules[label]][0] == "draft exception"
    created = [r for r in report["rules"] if r["outcome"] == "to be created"]
    vendor = plan(config.parse(site.data, site.file)).rules
    assert len(created) == len(vendor) - 2  # all but SMTP and admin HTTPS
    assert report["adopt"]["rules"] == {rule: live for live, (_, rule, _) in outcomes.items()
                                        if live is not None}
    assert report["adopt"]["name"] == "mailgw-sg"
    # The table says the same, and the YAML to add is there.
    code, out, _ = adopt(capsys, site)
    assert code == 0 and "draft exception" in out and "to be created" in out
    assert f"group_id: {site.group_id}" in out and "out-all-internet" in out


def test_write_keeps_the_file_and_adds_the_entries(moto_server: MotoServer, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    site = hand_made(moto_server.url, tmp_path)
    before = site.file.read_text()
    code, out, err = adopt(capsys, site, "--write")
    assert code == 0, err
    after = site.file.read_text()
    assert after.startswith(before)  # comments, order, style: all kept; entries added
    loaded = config.load(site.file)
    assert loaded.aws.adopt.group_id == site.group_id
    assert [e.id for e in loaded.exceptions] == [  # in the order of their permissions
        "out-all-internet", "in-tcp3389-10-20-0-0-16", "in-tcp8443-10-10-0-0-16"]
    assert sorted(loaded.aws.adopt.rules.values()) == sorted(site.rules.values())
    assert not list(tmp_path.glob(".*.tmp"))
    # Again: the same group is adopted by the same file: nothing new.
    code, out, err = adopt(capsys, site, "--write", "--json")
    assert code == 0, err
    assert json.loads(out)["exceptions"] == []
    assert config.load(site.file).aws.adopt == loaded.aws.adopt


# --- refusals: exit 2, nothing written ---------------------------------------------------------

def test_refusals_write_nothing(moto_server: MotoServer, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    site = hand_made(moto_server.url, tmp_path)
    ec2 = site.ec2()
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_security_group(GroupName="other", Description="elsewhere",
                                          VpcId=other_vpc)["GroupId"]
    before = site.file.read_bytes()
    code, _, err = adopt(capsys, site, "--write", group_id=elsewhere)
    assert code == 2 and f"not in aws.vpc_id {site.vpc_id}" in err
    code, _, err = adopt(capsys, site, "--write", group_id="sg-0123456789abcdef0")
    assert code == 2 and "does not exist" in err and "--group-id" in err
    assert site.file.read_bytes() == before
    # A file that already adopts another group.
    assert adopt(capsys, site, "--write")[0] == 0
    adopted = site.file.read_bytes()
    second = ec2.create_security_group(GroupName="second", Description="second",
                                       VpcId=site.vpc_id)["GroupId"]
    code, _, err = adopt(capsys, site, "--write", group_id=second)
    assert code == 2 and f"already adopts {site.group_id}" in err
    assert site.file.read_bytes() == adopted
    # A read-only FILE, and a symbolic link, with --write.
    fresh = hand_made(moto_server.url, tmp_path / "ro")
    fresh.file.chmod(stat.S_IRUSR)
    code, _, err = adopt(capsys, fresh, "--write")
    assert code == 2 and "read-only" in err
    link = tmp_path / "link.yaml"
    link.symlink_to(fresh.file)
    fresh.file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    original = fresh.file.read_bytes()
    code = cli.main(["adopt", "aws", str(link), "--group-id", fresh.group_id,
                     "--use-file-endpoints", "--write"])
    err = capsys.readouterr().err
    assert code == 2 and "symbolic link" in err
    assert fresh.file.read_bytes() == original and link.is_symlink()


# --- end to end: synth, terraform plan and apply, audit ---------------------------------------

def _stack(site: HandMade, out: Path) -> Path:
    deployment = config.load(site.file)
    synth(plan_all([deployment]), out)
    return out / "stacks" / f"{deployment.name}-aws"


@pytest.mark.exhaustive
def test_adoption_end_to_end(moto_server: MotoServer, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    site = hand_made(moto_server.url, tmp_path)
    moto_cannot_modify_all_protocols(site)
    ec2 = site.ec2()
    groups_before = {g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [site.vpc_id]}])["SecurityGroups"]}
    # 1. adopt --write records the group and the mapping.
    code, _, err = adopt(capsys, site, "--write")
    assert code == 0, err
    deployment = config.load(site.file)
    intended = plan(deployment)
    imports = intended.imports()
    assert sorted(imports.values()) == sorted(site.rules.values())
    # 2. synth, then terraform plan: imports for the group and every live rule, creates
    # only for the missing vendor rules, no delete, no replacement.
    stack = _stack(site, tmp_path / "out")
    document = json.loads((stack / "cdk.tf.json").read_text())
    assert {(i["to"], i["id"]) for i in document["import"]} == {
        (GROUP, site.group_id), *((address(r), imports[r.key]) for r in intended.rules
                                  if r.key in imports)}
    work = tmp_path / "apply"
    shutil.copytree(stack, work)
    tf = terraform.init(work, backend=True)
    code, shown = terraform_live.plan(tf, "adopt.tfplan")
    assert code == 2
    changes = {rc["address"]: rc["change"] for rc in shown["resource_changes"]}
    importing = {a for a, c in changes.items() if c.get("importing")}
    assert importing == {GROUP, *(address(r) for r in intended.rules if r.key in imports)}
    created = {a for a, c in changes.items() if c["actions"] == ["create"]}
    assert created == {address(r) for r in intended.rules if r.key not in imports}
    assert all(not r.exception for r in intended.rules if r.key not in imports)
    for addr, change in changes.items():
        assert "delete" not in change["actions"], addr
    assert changes[GROUP]["actions"] in (["update"], ["no-op"])
    group_change = terraform_live.changed_attributes(changes[GROUP])
    # Tags added in place; `revoke_rules_on_delete` is a provider-side setting an import
    # leaves unset (null -> its default false: no API call). Name, description: unchanged.
    assert group_change.keys() == {"tags", "tags_all", "revoke_rules_on_delete"}
    assert group_change["revoke_rules_on_delete"] == (None, False)
    # 3. After apply: the same group, no other new group, and audit is clean.
    terraform_live.apply(tf, "adopt.tfplan")
    assert tf.output().value["security_group_id"]["value"] == site.group_id
    groups_after = {g["GroupId"] for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [site.vpc_id]}])["SecurityGroups"]}
    assert groups_after == groups_before
    assert terraform_live.plan(tf, "again.tfplan")[0] == 0
    code = cli.main(["audit", "aws", str(site.file), "--use-file-endpoints", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["drift"], report["group"]["id"]) == (0, False, site.group_id)
    # 4. Dropping the draft exceptions (and the mapping, which may go after the first
    # apply) plans exactly their deletes; after apply the group holds only vendor rules.
    data = yaml.safe_load(site.file.read_text())
    dropped = {address(r) for r in intended.rules if r.exception}
    del data["exceptions"], data["aws"]["adopt"]["rules"]
    site.file.write_text(yaml.safe_dump(data, sort_keys=False))
    stack = _stack(site, tmp_path / "out2")
    shutil.copy(stack / "cdk.tf.json", work / "cdk.tf.json")
    code, shown = terraform_live.plan(tf, "drop.tfplan")
    changed = terraform_live.changes(shown)
    assert code == 2 and set(changed) == dropped
    assert all(c["actions"] == ["delete"] for c in changed.values())
    terraform_live.apply(tf, "drop.tfplan")
    vendor = plan(config.load(site.file))
    live = {(r["IsEgress"], r["IpProtocol"], r.get("FromPort"), r.get("ToPort"),
             r.get("CidrIpv4") or r.get("CidrIpv6")) for r in _live(ec2, site.group_id)}
    wanted = set()
    for rule in vendor.rules:
        p = intended_permission(rule, site.group_id)
        wanted.add((p.direction == EGRESS, p.protocol, p.from_port, p.to_port, p.peer))
    assert live == wanted
    assert cli.main(["audit", "aws", str(site.file), "--use-file-endpoints"]) == 0
    capsys.readouterr()


# --- the modules path: examples/terraform/aws and the generated imports.tf ------------------

@pytest.mark.exhaustive
def test_adoption_through_the_module_root(moto_server: MotoServer, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The root users copy, calling modules/aws-appliance-sg: `--module-address` writes its
    imports.tf, and the plan imports the group and every live rule (the vendor rules and the
    draft exceptions: the wider rule, RDP, EC2's allow-all egress), creates the rest, and
    deletes and replaces nothing."""
    import module_roots

    site = hand_made(moto_server.url, tmp_path / "hand")
    moto_cannot_modify_all_protocols(site)
    module_roots.copy_modules(tmp_path)
    root = module_roots.example_root(tmp_path, site.data, moto_server.url)
    code = cli.main(["adopt", "aws", str(root / "sxcloud.yaml"), "--group-id", site.group_id,
                     "--use-file-endpoints", "--module-address", "module.appliance_firewall",
                     "--write"])
    err = capsys.readouterr().err
    assert code == 0, err
    written = (root / "imports.tf").read_text()
    assert written.startswith("# Generated by `sxcloud adopt aws")
    intended = plan(config.load(root / "sxcloud.yaml"))
    imports = intended.imports()
    assert sorted(imports.values()) == sorted(site.rules.values())
    assert {r.key for r in intended.rules if r.exception} <= set(imports)
    module = "module.appliance_firewall"
    tf = terraform.init(root, backend=True)
    code, shown = terraform_live.plan(tf, "adopt.tfplan")
    assert code == 2
    changes = {rc["address"]: rc["change"] for rc in shown["resource_changes"]}
    group = f"{module}.aws_security_group.this"
    rules = {f'{module}.{RULE_TYPE[r.direction].replace(".", "")}.this["{r.key}"]': r
             for r in intended.rules}
    assert {a for a, c in changes.items() if c.get("importing")} == {
        group, *(a for a, r in rules.items() if r.key in imports)}
    assert {a for a, c in changes.items() if c["actions"] == ["create"]} == {
        *(a for a, r in rules.items() if r.key not in imports),
        "aws_network_interface.appliance"}
    assert all("delete" not in c["actions"] for c in changes.values())
    assert changes[group]["after"]["name"] == "mailgw-sg"
    terraform_live.apply(tf, "adopt.tfplan")
    assert tf.output().value["security_group_id"]["value"] == site.group_id
    assert terraform_live.plan(tf, "again.tfplan")[0] == 0
    code = cli.main(["audit", "aws", str(root / "sxcloud.yaml"), "--use-file-endpoints"])
    assert code == 0, capsys.readouterr().out
