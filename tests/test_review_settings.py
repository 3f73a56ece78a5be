"""The settings beside the openings: endpoints, backend, associations, VPC and the rest.

Issue 10: each of these changes printed "No change to the firewall." and exited 0.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sxcloud.cli import main
from sxcloud.review import build, settings

import conftest
from conftest import deployment, example_data

DATA = Path(__file__).parent / "data" / "review"
BASE = example_data(DATA / "moved-base.yaml")
SUBNET = BASE["azure"]["associate"]["subnet_ids"][0]
NIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/"
       "Microsoft.Network/networkInterfaces/nic-appliance-1")


def _changes(head: dict[str, Any], base: dict[str, Any] = BASE) -> build.Review:
    return build.from_files([deployment(head)], [deployment(base)], "base")


def _settings(review: build.Review, cloud: str) -> list[settings.SettingChange]:
    (s,) = [s for s in review.stacks if s.cloud == cloud]
    assert s.settings is not None
    return s.settings


def _edit(**changes: Any) -> dict[str, Any]:
    return conftest.edited(BASE, **changes)


def test_the_same_settings_are_no_change() -> None:
    review = _changes(copy.deepcopy(BASE))
    assert all(s.settings == [] for s in review.stacks) and review.exit_code == 0


def test_an_added_endpoint_is_a_finding_that_names_the_host() -> None:
    review = _changes(_edit(aws__endpoints={"ec2": "https://ec2.collector.example"}))
    (change,) = _settings(review, "aws")
    assert change.key == "aws.endpoints.ec2" and change.finding
    assert "sends its ec2 requests, signed with the deploy job's AWS credentials, to " \
           "https://ec2.collector.example" in change.meaning
    assert review.exit_code == 1


def test_a_changed_endpoint_is_a_finding_and_a_removed_one_is_not() -> None:
    base = _edit(aws__endpoints={"sts": "https://sts.a.example", "ec2": "https://ec2.a.example"})
    head = _edit(aws__endpoints={"sts": "https://sts.b.example"})
    by_key = {c.key: c for c in _settings(_changes(head, base), "aws")}
    assert by_key["aws.endpoints.sts"].finding
    assert (by_key["aws.endpoints.sts"].before, by_key["aws.endpoints.sts"].after) == (
        "https://sts.a.example", "https://sts.b.example")
    assert not by_key["aws.endpoints.ec2"].finding
    assert "AWS's own endpoint again" in by_key["aws.endpoints.ec2"].meaning


def test_a_moved_backend_says_where_the_state_goes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(DATA / "moved-head.yaml"), "--base",
                 str(DATA / "moved-base.yaml"), "--json"]) == 1
    (aws,) = [s for s in json.loads(capsys.readouterr().out)["stacks"] if s["cloud"] == "aws"]
    by_key = {c["setting"]: c for c in aws["settings"]}
    assert by_key["aws.backend"]["finding"]
    assert by_key["aws.backend"]["meaning"] == (
        "The state now goes to the http backend (address=https://state-collector.example/"
        "mail-moved, username=ci), not the s3 backend (bucket=tf-state-mail, "
        "key=mail-moved/aws.tfstate, region=eu-central-1).")
    assert not by_key["aws.backend.address"]["finding"]  # part of the move, said once above


S3 = {"bucket": "tf-state-mail", "key": "mail-moved/aws.tfstate", "region": "eu-central-1"}
AZURERM = {"storage_account_name": "stmine", "container_name": "tfstate", "key": "mail.tfstate"}


@pytest.mark.parametrize("cloud,kind,base_settings,name,value", [
    ("azure", "azurerm", AZURERM, "storage_account_name", "sttheirs"),
    ("aws", "s3", S3, "bucket", "tf-state-theirs"),
])
def test_a_backend_setting_changed_in_place_is_a_finding(
        cloud: str, kind: str, base_settings: dict[str, str], name: str, value: str) -> None:
    base = _edit(**{f"{cloud}__backend": {kind: base_settings}})
    head = _edit(**{f"{cloud}__backend": {kind: {**base_settings, name: value}}})
    (change,) = _settings(_changes(head, base), cloud)
    assert change.key == f"{cloud}.backend.{name}" and change.finding
    assert f"{name}={value}" in change.meaning


# A credential never reaches the review: the loader refuses it by name, before the review
# reads a thing. Each case puts one into a complete backend; the file is bad input (exit 2).
CREDENTIALS = [
    ("aws", "s3", S3, "access_key"), ("aws", "s3", S3, "secret_key"), ("aws", "s3", S3, "token"),
    ("azure", "azurerm", AZURERM, "sas_token"), ("azure", "azurerm", AZURERM, "client_secret"),
    ("azure", "azurerm", AZURERM, "client_certificate_password"),
    ("aws", "http", {"address": "https://state.example/mail"}, "password"),
]
CREDENTIAL = "hunter2-do-not-print"


def _with_credential(cloud: str, kind: str, complete: dict[str, str], name: str) -> dict[str, Any]:
    return _edit(**{f"{cloud}__backend": {kind: {**complete, name: CREDENTIAL}}})


def _refused(err: str, out: str, path: str, key: str) -> None:
    """One error line naming the file and the key, and the credential nowhere."""
    assert out == "" and CREDENTIAL not in err
    (line,) = err.splitlines()
    assert line.startswith(f"sxcloud: error: {path}: {key}: is a credential")


@pytest.mark.parametrize("cloud,kind,complete,name", CREDENTIALS)
@pytest.mark.parametrize("side", ["head", "base"])
def test_a_credential_in_head_or_base_is_bad_input(
        side: str, cloud: str, kind: str, complete: dict[str, str], name: str,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {"head": BASE, "base": BASE, side: _with_credential(cloud, kind, complete, name)}
    for which, data in files.items():
        (tmp_path / f"{which}.yaml").write_text(json.dumps(data))
    head, base = str(tmp_path / "head.yaml"), str(tmp_path / "base.yaml")
    for json_flag in ([], ["--json"]):
        assert main(["review", head, "--base", base, *json_flag]) == 2
        out, err = capsys.readouterr()
        _refused(err, out, str(tmp_path / f"{side}.yaml"), f"{cloud}.backend.{kind}.{name}")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


@pytest.mark.parametrize("side", ["head", "base"])
def test_a_credential_in_head_or_base_ref_is_bad_input(
        side: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cloud, kind, complete, name = CREDENTIALS[-1]
    leaky = json.dumps(_with_credential(cloud, kind, complete, name))
    clean = json.dumps(BASE)
    _git(tmp_path, "init", "-q")
    (tmp_path / "mail.yaml").write_text(leaky if side == "base" else clean)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "mail.yaml").write_text(leaky if side == "head" else clean)
    monkeypatch.chdir(tmp_path)
    for json_flag in ([], ["--json"]):
        assert main(["review", "mail.yaml", "--base-ref", "HEAD", *json_flag]) == 2
        out, err = capsys.readouterr()
        assert out == "" and CREDENTIAL not in err
        (line,) = err.splitlines()
        assert "mail.yaml" in line and f"{cloud}.backend.{kind}.{name}: is a credential" in line


URL_PASSWORD = "pw-do-not-print"


@pytest.mark.parametrize("base_ref", [False, True])
@pytest.mark.parametrize("side", ["head", "base"])
def test_a_password_in_a_backend_url_is_refused_unechoed(
        base_ref: bool, side: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = {"aws__backend": {"http": {"address": f"https://ci:{URL_PASSWORD}@a.example/s"}},
               "azure__backend": {"s3": {**S3, "https_proxy":
                                         f"http://u:{URL_PASSWORD}@proxy.example:3128"}}}
    base, head = (_edit(), _edit(**hostile)) if side == "head" else (_edit(**hostile), _edit())
    if base_ref:
        _git(tmp_path, "init", "-q")
        (tmp_path / "mail.yaml").write_text(json.dumps(base))
        _git(tmp_path, "add", ".")
        _git(tmp_path, "commit", "-qm", "base")
        monkeypatch.chdir(tmp_path)
        args = ["mail.yaml", "--base-ref", "HEAD"]
    else:
        (tmp_path / "base.yaml").write_text(json.dumps(base))
        args = [str(tmp_path / "mail.yaml"), "--base", str(tmp_path / "base.yaml")]
    (tmp_path / "mail.yaml").write_text(json.dumps(head))
    for json_flag in ([], ["--json"]):
        assert main(["review", *args, *json_flag]) == 2
        out, err = capsys.readouterr()
        assert out == "" and URL_PASSWORD not in err
        lines = err.splitlines()
        assert len(lines) == 2
        for line, key in zip(lines, ("aws.backend.http.address", "azure.backend.s3.https_proxy")):
            assert f": {key}: holds a URL with a user name" in line


def test_a_removed_subnet_or_nic_association_is_a_finding() -> None:
    base = _edit(azure__associate={"subnet_ids": [SUBNET], "network_interface_ids": [NIC]})
    for head in (_edit(azure__associate=None),
                 _edit(azure__associate={"network_interface_ids": [NIC]}),
                 _edit(azure__associate={"subnet_ids": [SUBNET]})):
        changes = _settings(_changes(head, base), "azure")
        assert changes and all(c.finding and c.after is None for c in changes)
        assert all("no longer guards" in c.meaning for c in changes)


def test_an_added_association_is_shown_not_failed() -> None:
    head = _edit(azure__associate={"subnet_ids": [SUBNET], "network_interface_ids": [NIC]})
    (change,) = _settings(_changes(head), "azure")
    assert change.key == settings.NICS and not change.finding
    assert "joins the appliances' ASG" in change.meaning


def test_a_dropped_azure_section_removes_its_associations() -> None:
    review = _changes(_edit(azure=None))
    (change,) = _settings(review, "azure")
    assert change.finding and SUBNET in change.meaning and review.exit_code == 1


@pytest.mark.parametrize("path,value,key", [
    ("aws__vpc_id", "vpc-0ffffffffffffffff", "aws.vpc_id"),
    ("aws__region", "us-east-1", "aws.region"),
    ("azure__resource_group", "rg-elsewhere", "azure.resource_group"),
    ("azure__location", "northeurope", "azure.location"),
])
def test_where_the_firewall_is_built_is_shown(path: str, value: str, key: str,
                                              capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    review = _changes(_edit(**{path: value}))
    (change,) = _settings(review, key.split(".")[0])
    assert change.key == key and change.after == value and not change.finding
    head = tmp_path / "head.yaml"
    head.write_text(json.dumps(_edit(**{path: value})))
    assert main(["review", str(head), "--base", str(DATA / "moved-base.yaml")]) == 0
    out = capsys.readouterr().out
    assert "No change to the firewall." not in out and f"| {key} |" in out


def test_a_new_file_with_an_endpoint_is_a_finding() -> None:
    head = _edit(aws__endpoints={"sts": "https://sts.collector.example"})
    review = build.from_files([deployment(head)], [], "base")
    (change,) = [c for c in _settings(review, "aws") if c.key == "aws.endpoints.sts"]
    assert change.finding and review.exit_code == 1
    backend = next(c for c in _settings(review, "aws") if c.key == "aws.backend")
    assert not backend.finding and backend.meaning.startswith("The state of this new stack")


def test_without_a_base_the_settings_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(DATA / "moved-head.yaml")]) == 0
    out = capsys.readouterr().out
    assert "| aws.backend.address | https://state-collector.example/mail-moved |" in out
    assert "| aws.backend.username | ci |" in out


def test_the_first_pull_request_after_adoption_shows_the_adopted_group() -> None:
    """Issue 17: adopting shows the group id, the kept name and description and the imported
    rules (not a finding); then renaming the kept group or adopting another is a finding,
    and dropping the rule mapping after the first apply is not."""
    from sxcloud.aws.plan import plan

    key = plan(deployment(BASE)).rules[0].key
    adopt = {"group_id": "sg-0123456789abcdef0", "name": "mailgw-sg",
             "description": "Mail gateway", "rules": {key: "sgr-0123456789abcdef0"}}
    by_key = {c.key: c for c in _settings(_changes(_edit(aws__adopt=adopt)), "aws")}
    assert set(by_key) == {"aws.adopt.group_id", "aws.adopt.name", "aws.adopt.description",
                           "aws.adopt.rules"}
    assert not any(c.finding for c in by_key.values())
    assert "takes over the hand-made security group sg-0123456789abcdef0 in place" in \
        by_key["aws.adopt.group_id"].meaning
    assert by_key["aws.adopt.name"].after == "mailgw-sg"
    adopted = _edit(aws__adopt=adopt)
    renamed = _edit(aws__adopt={**adopt, "name": "mailgw-sg-2"})
    (change,) = _settings(_changes(renamed, adopted), "aws")
    assert change.key == "aws.adopt.name" and change.finding and "replaces it" in change.meaning
    other = _edit(aws__adopt={**adopt, "group_id": "sg-0fedcba9876543210"})
    (change,) = _settings(_changes(other, adopted), "aws")
    assert change.key == "aws.adopt.group_id" and change.finding
    assert _changes(adopted, adopted).exit_code == 0
    dropped = _edit(aws__adopt={k: v for k, v in adopt.items() if k != "rules"})
    (change,) = _settings(_changes(dropped, adopted), "aws")
    assert change.key == "aws.adopt.rules" and not change.finding
    by_key = {c.key: c for c in _settings(_changes(copy.deepcopy(BASE), adopted), "aws")}
    assert by_key["aws.adopt.name"].finding and "replaces it" in by_key["aws.adopt.name"].meaning
