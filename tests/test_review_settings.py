"""The settings beside the openings: endpoints, backend, associations, VPC and the rest.

Issue 10: each of these changes printed "No change to the firewall." and exited 0.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sxcloud.cli import main
from sxcloud.review import build, settings

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
    head = copy.deepcopy(BASE)
    for path, value in changes.items():
        node = head
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            del node[last]
        else:
            node[last] = value
    return head


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


def test_a_moved_backend_says_where_the_state_goes_and_hides_secrets(
        capsys: pytest.CaptureFixture[str]) -> None:
    secret = "hunter2-do-not-print"
    assert main(["review", str(DATA / "moved-head.yaml"), "--base",
                 str(DATA / "moved-base.yaml"), "--json"]) == 1
    out, err = capsys.readouterr()
    (aws,) = [s for s in json.loads(out)["stacks"] if s["cloud"] == "aws"]
    by_key = {c["setting"]: c for c in aws["settings"]}
    assert by_key["aws.backend"]["finding"]
    assert by_key["aws.backend"]["meaning"].startswith(
        "The state now goes to the http backend (address=https://state-collector.example/"
        "mail-moved, username=ci), not the s3 backend (bucket=tf-state-mail")
    assert by_key["aws.backend.password"]["after"] == settings.SECRET
    assert secret not in out and secret not in err
    assert main(["review", str(DATA / "moved-head.yaml"), "--base",
                 str(DATA / "moved-base.yaml")]) == 1
    out, err = capsys.readouterr()
    assert secret not in out and secret not in err
    assert "aws.backend.password | not set | (secret, not shown) |" in out


def test_a_backend_setting_changed_in_place_is_a_finding() -> None:
    base = _edit(azure__backend={"azurerm": {"storage_account_name": "stmine", "key": "k"}})
    head = _edit(azure__backend={"azurerm": {"storage_account_name": "sttheirs", "key": "k"}})
    (change,) = _settings(_changes(head, base), "azure")
    assert change.key == "azure.backend.storage_account_name" and change.finding
    assert "storage_account_name=sttheirs" in change.meaning


@pytest.mark.parametrize("name", ["access_key", "secret_key", "token", "sas_token",
                                  "client_secret", "password", "client_certificate_password"])
def test_secret_settings_are_never_shown(name: str) -> None:
    assert settings.secret(f"aws.backend.{name}")
    assert settings.show(f"aws.backend.{name}", "s3cr3t") == settings.SECRET
    base = _edit(aws__backend={"s3": {"bucket": "b", name: "old-s3cr3t"}})
    head = _edit(aws__backend={"s3": {"bucket": "b", name: "new-s3cr3t"}})
    (change,) = _settings(_changes(head, base), "aws")
    assert change.finding and "s3cr3t" not in repr(change)


def test_a_password_in_a_url_is_not_shown() -> None:
    assert settings.show("aws.backend.address", "https://ci:pw@state.example/x") == \
        "https://ci:***@state.example/x"


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
    assert "hunter2" not in out
