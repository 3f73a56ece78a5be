"""`review --base-ref`: links, renames, and the hosts that receive state, credentials or tokens
(issue 15, cases 1 and 2), with the review policy file read from the base only.

Each test builds a real git repository in tmp, commits the base, changes the working tree
as a pull request would, and runs `sxcloud review` on it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import conftest
from conftest import example_data
from sxcloud.cli import main

DATA = Path(__file__).parent / "data" / "review"
BASE = example_data(DATA / "moved-base.yaml")
COLLECTOR = "https://state-collector.example/mail"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _repo(tmp_path: Path, files: dict[str, dict[str, Any]]) -> Path:
    """A repository whose one commit holds `files` (path -> deployment or policy data)."""
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    for name, data in files.items():
        _write(repo / name, data)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    return repo


def _review(repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            *args: str, files: tuple[str, ...] = ("sxcloud.yaml",)
            ) -> tuple[int, dict[str, Any], str]:
    """The exit status, the JSON report (empty on exit 2) and stderr."""
    monkeypatch.chdir(repo)
    code = main(["review", *files, "--base-ref", "HEAD", *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else {}, err


def _stacks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["stack"]: s for s in data["stacks"]}


def _wider_admin() -> dict[str, Any]:
    return conftest.edited(BASE, roles__admin_pc=["10.70.99.0/24", "10.77.0.0/24"])


# --- case 1: a linked head file -------------------------------------------------------------

def test_a_head_file_turned_into_a_link_is_read_as_what_it_names_and_is_a_finding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, case 1: main printed "No change to the firewall." and exited 0."""
    repo = _repo(tmp_path, {"sxcloud.yaml": BASE, "legacy/sxcloud.yaml": _wider_admin()})
    (repo / "sxcloud.yaml").unlink()
    (repo / "sxcloud.yaml").symlink_to("legacy/sxcloud.yaml")
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 1
    aws = _stacks(data)["mail-moved-aws"]
    assert [o["peer"] for o in aws["change"]["added"]] == ["10.77.0.0/24"]
    (link,) = [c for c in aws["settings"] if c["setting"] == "link sxcloud.yaml"]
    assert link["finding"] and link["before"] == "not a link"
    assert link["after"] == "a link to legacy/sxcloud.yaml"


def test_a_linked_folder_is_followed_at_each_version(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The base's `deploy` is a link to `v1`, the head's to `v2`: each version is the file
    its own link names, and the retargeted link is a finding."""
    repo = _repo(tmp_path, {"v1/sxcloud.yaml": BASE, "v2/sxcloud.yaml": _wider_admin()})
    (repo / "deploy").symlink_to("v1")
    _git(repo, "add", "deploy")
    _git(repo, "commit", "-qm", "link")
    (repo / "deploy").unlink()
    (repo / "deploy").symlink_to("v2")
    code, data, err = _review(repo, capsys, monkeypatch, files=("deploy/sxcloud.yaml",))
    assert code == 1
    aws = _stacks(data)["mail-moved-aws"]
    assert [o["peer"] for o in aws["change"]["added"]] == ["10.77.0.0/24"]
    (link,) = [c for c in aws["settings"] if c["setting"].startswith("link")]
    assert (link["setting"], link["before"], link["after"]) == (
        "link deploy", "a link to v1", "a link to v2")


def test_an_unchanged_link_is_no_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"legacy/sxcloud.yaml": BASE})
    (repo / "sxcloud.yaml").symlink_to("legacy/sxcloud.yaml")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "link")
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 0 and all(s["settings"] == [] for s in data["stacks"])


def test_a_base_link_out_of_the_repository_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "outside.yaml"
    _write(outside, BASE)
    repo = _repo(tmp_path, {"keep.yaml": BASE})
    (repo / "sxcloud.yaml").symlink_to(os.path.relpath(outside, repo))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "link out")
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 2 and data == {}
    (line,) = err.splitlines()
    assert "sxcloud.yaml is a link to ../outside.yaml, outside the repository" in line


# --- case 2: a rename that moves state -------------------------------------------------------

RENAMES = {
    "s3 endpoints": ("aws", {"s3": {**BASE["aws"]["backend"]["s3"],
                                    "endpoints": {"s3": COLLECTOR}}},
                     "aws.backend.endpoints"),
    "http address": ("aws", {"http": {"address": COLLECTOR}}, "aws.backend"),
    "azurerm metadata_host": ("azure", {"azurerm": {
        "resource_group_name": "rg-tf", "storage_account_name": "sttf",
        "container_name": "tfstate", "key": "mail.tfstate",
        "metadata_host": "state-collector.example"}}, "azure.backend"),
    "azurerm oidc_request_url": ("azure", {"azurerm": {
        "resource_group_name": "rg-tf", "storage_account_name": "sttf",
        "container_name": "tfstate", "key": "mail.tfstate", "use_oidc": True,
        "oidc_request_url": COLLECTOR}}, "azure.backend"),
}


@pytest.mark.parametrize("case", RENAMES)
def test_a_renamed_stack_is_a_rename_and_its_new_host_a_finding(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, case 2: main showed a new stack, listed its backend, and exited 0."""
    cloud, backend, key = RENAMES[case]
    repo = _repo(tmp_path, {"sxcloud.yaml": BASE})
    head = conftest.edited(_wider_admin(), name="mail-renamed")
    head[cloud]["backend"] = backend
    _write(repo / "sxcloud.yaml", head)
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 1
    stacks = _stacks(data)
    assert set(stacks) == {"mail-renamed-aws", "mail-renamed-azure"}  # no removed stack
    stack = stacks[f"mail-renamed-{cloud}"]
    assert stack["base"] is not None
    if cloud == "aws":  # the openings diff of a rename, not all openings added
        assert [o["peer"] for o in stack["change"]["added"]] == ["10.77.0.0/24"]
    changes = {c["setting"]: c for c in stack["settings"]}
    assert changes["name"]["before"] == "mail-moved" and not changes["name"]["finding"]
    assert changes[key]["finding"], changes
    assert any("state-collector.example" in f for f in stack["findings"])


def test_a_new_stack_is_a_finding_only_for_an_untrusted_host(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"keep.yaml": BASE})
    aws_own = conftest.edited(BASE, name="mail-aws-own", azure=None, aws__backend={"s3": {
        **BASE["aws"]["backend"]["s3"],
        "endpoints": {"s3": "https://s3.eu-central-1.amazonaws.com"}}})
    elsewhere = conftest.edited(BASE, name="mail-elsewhere", azure=None,
                                aws__backend={"http": {"address": COLLECTOR}})
    _write(repo / "own.yaml", aws_own)
    _write(repo / "elsewhere.yaml", elsewhere)
    code, data, err = _review(repo, capsys, monkeypatch, files=("own.yaml", "elsewhere.yaml"))
    stacks = _stacks(data)
    assert code == 1
    own = {c["setting"]: c for c in stacks["mail-aws-own-aws"]["settings"]}
    assert not own["aws.backend.endpoints.s3"]["finding"]
    assert "clouds' own service hosts" in own["aws.backend.endpoints.s3"]["meaning"]
    assert stacks["mail-aws-own-aws"]["findings"] == []
    (finding,) = stacks["mail-elsewhere-aws"]["findings"]
    assert "state-collector.example" in finding and "user name and password" in finding


@pytest.mark.parametrize("host", ["https://bucket.s3.amazonaws.com",
                                  "https://abc.execute-api.eu-central-1.amazonaws.com",
                                  "http://sts.amazonaws.com"])
def test_hosts_under_amazonaws_com_that_anyone_can_own_are_not_trusted(
        host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"sxcloud.yaml": BASE})
    _write(repo / "sxcloud.yaml", conftest.edited(BASE, aws__endpoints={"sts": host}))
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 1
    (change,) = _stacks(data)["mail-moved-aws"]["settings"]
    assert change["finding"]


# --- the policy file: from the base only -----------------------------------------------------

POLICY = {"version": 1,
          "trusted_hosts": [{"host": "state-collector.example", "reason": "our state server"}]}


def _http_backend_head(repo: Path) -> None:
    _write(repo / "sxcloud.yaml", conftest.edited(BASE, aws__backend={
        "http": {"address": COLLECTOR}}))


def test_a_host_the_base_policy_trusts_is_no_finding_of_a_new_stack(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {".sxcloud/review.yaml": POLICY, "keep.yaml": BASE})
    _write(repo / "sxcloud.yaml", conftest.edited(BASE, azure=None,
                                                  aws__backend={"http": {"address": COLLECTOR}}))
    code, data, err = _review(repo, capsys, monkeypatch)
    assert code == 0, data
    (host,) = [c for c in data["stacks"][0]["settings"] if c["setting"] == "aws.backend.address"]
    assert "trusted by HEAD:.sxcloud/review.yaml: our state server" in host["meaning"]


def test_a_head_only_edit_of_the_policy_file_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull request adds its own host to the policy file: the review reads the base's."""
    repo = _repo(tmp_path, {"keep.yaml": BASE})
    _write(repo / "sxcloud.yaml", conftest.edited(BASE, azure=None,
                                                  aws__backend={"http": {"address": COLLECTOR}}))
    without = _review(repo, capsys, monkeypatch)
    _write(repo / ".sxcloud" / "review.yaml", POLICY)
    assert _review(repo, capsys, monkeypatch) == without
    assert without[0] == 1 and "state-collector.example" in without[2]
    # ... and so does a head that replaces the base's policy with an empty one
    repo2 = _repo(tmp_path / "2", {".sxcloud/review.yaml": POLICY, "keep.yaml": BASE})
    _write(repo2 / "sxcloud.yaml", conftest.edited(BASE, azure=None,
                                                   aws__backend={"http": {"address": COLLECTOR}}))
    trusted = _review(repo2, capsys, monkeypatch)
    _write(repo2 / ".sxcloud" / "review.yaml", {"version": 1})
    assert _review(repo2, capsys, monkeypatch) == trusted and trusted[0] == 0


@pytest.mark.parametrize("policy,key", [
    ({"version": 2}, "version: must be 1"),
    ({"version": 1, "trusted": []}, "trusted: unknown key"),
    ({"version": 1, "trusted_hosts": [{"host": "https://x.example"}]},
     "trusted_hosts[0]: must be a mapping of exactly 'host' and 'reason'"),
    ({"version": 1, "trusted_hosts": [{"host": "*.example", "reason": "r"}]},
     "trusted_hosts[0]: host: '*.example' is not a DNS name"),
    ({"version": 1, "other_groups": "sg-1"}, "other_groups: must be a list"),
    ({"version": 1, "other_groups": [{"group": "sg-1", "reason": "ok\x1b[2J"}]},
     "other_groups[0]: reason: must be plain text"),
])
def test_a_bad_policy_file_is_bad_input_naming_the_key(
        policy: dict[str, Any], key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {".sxcloud/review.yaml": policy, "sxcloud.yaml": BASE})
    code, data, err = _review(repo, capsys, monkeypatch)
    (line,) = err.splitlines()
    assert code == 2 and data == {}
    assert line.startswith("sxcloud: error: HEAD:.sxcloud/review.yaml: ") and key in line


@pytest.mark.parametrize("ref,message", [("--upload-pack=touch OUT", "is not a git ref"),
                                         ("no-such-branch", "is not a commit")])
def test_a_policy_ref_is_read_as_literally_as_a_base_ref(
        ref: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path, {"sxcloud.yaml": BASE})
    monkeypatch.chdir(repo)
    assert main(["review", "sxcloud.yaml", f"--policy-ref={ref}", "--base", "sxcloud.yaml"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("sxcloud: error: --policy-ref: ") and message in err
    assert not (repo / "OUT").exists()


def test_the_policy_file_is_read_with_the_bounded_yaml_reader(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Anchors and aliases are refused in it as in a deployment file (the "billion laughs")."""
    repo = _repo(tmp_path, {"sxcloud.yaml": BASE})
    (repo / ".sxcloud").mkdir()
    (repo / ".sxcloud" / "review.yaml").write_text(
        "version: 1\ntrusted_hosts: &hosts []\nother_groups: *hosts\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "policy")
    code, data, err = _review(repo, capsys, monkeypatch)
    (line,) = err.splitlines()
    assert code == 2 and data == {}
    assert line.startswith("sxcloud: error: HEAD:.sxcloud/review.yaml: trusted_hosts (line 2")
    assert "anchors and aliases" in line
