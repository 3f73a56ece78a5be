"""`sxcloud review` from deployment files: openings, the change, warnings, the command line."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sxcloud import catalog
from sxcloud.app import plan_all
from sxcloud.cli import main
from sxcloud.review import build, findings
from sxcloud.review.openings import EXTENSION, PLATFORM, intended

from conftest import EXAMPLES, ROOT, Synthesized, deployment, example_data, toggles

DATA = Path(__file__).parent / "data" / "review"


def _review(head: dict[str, Any], base: dict[str, Any] | None = None) -> build.Review:
    return build.from_files([deployment(head)], [deployment(base)] if base else None,
                            "base" if base else None)


def _by_cloud(review: build.Review) -> dict[str, build.StackReview]:
    return {s.cloud: s for s in review.stacks}


# --- openings -------------------------------------------------------------------------------

def _with(cloud: str) -> list[Path]:
    return [p for p in EXAMPLES if cloud in example_data(p)]


@pytest.mark.parametrize("path", _with("aws"), ids=lambda p: p.name)
def test_every_aws_rule_is_one_opening_with_its_row(path: Path) -> None:
    (planned,) = plan_all([deployment(example_data(path), path)])
    assert planned.aws is not None
    (fw,) = [f for f in intended(planned) if f.cloud == "aws"]
    vendor = [r for r in planned.aws.rules if r.exception is None]  # exceptions: apart
    assert fw.rule_count == len(planned.aws.rules) and len(vendor) == len(fw.openings)
    assert {(o.rows[0], o.resource) for o in fw.openings} == {
        (r.flow.row.id, r.key) for r in vendor}


@pytest.mark.parametrize("path", _with("azure"), ids=lambda p: p.name)
def test_azure_openings_are_every_port_and_address_of_the_augmented_rules(path: Path) -> None:
    (planned,) = plan_all([deployment(example_data(path), path)])
    assert planned.azure is not None
    (fw,) = [f for f in intended(planned) if f.cloud == "azure"]
    expected = sum(len(r.flows) * max(1, len(r.source.values if r.direction == "Inbound"
                                                else r.destination.values))
                   for r in planned.azure.rules if r.access == "Allow" and r.flows)
    assert len([o for o in fw.openings if o.origin != PLATFORM]) == expected
    assert [o.origin for o in fw.openings if not o.rows] == [PLATFORM]
    assert len(fw.guards) == 2


# --- change ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_toggling_a_feature_changes_only_that_rows_openings(path: Path) -> None:
    data = example_data(path)
    for option, apply in toggles(data):
        if not option.startswith("features."):
            continue
        head = copy.deepcopy(data)
        apply(head)
        feature = option.removeprefix("features.")
        (row,) = [r for r in catalog.ROWS if r.feature == feature]
        simple = data.get("appliance", {}).get("internal_firewall") is False
        for s in build.from_files([deployment(head, path)], [deployment(data, path)],
                                  "b").stacks:
            change = s.change
            assert change is not None
            if row.internal and simple:  # a simple installation has no ** rows to toggle
                assert change.empty, (option, s.stack)
                continue
            assert not change.empty, (option, s.stack)
            assert not change.changed
            moved = change.added + change.removed
            assert {o.rows for o in moved} == {(row.id,)}, (option, s.stack)
            assert (change.added == ()) != (change.removed == ())


def test_the_same_files_are_no_change(capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["review", "examples/simple-both.yaml",
                 "--base", "examples/simple-both.yaml"]) == 0
    out = capsys.readouterr().out
    assert "**No change to the firewall.**" in out
    assert out.count("No change to the firewall.") == 1  # the top line
    assert out.count("No change to the openings.") == out.count("No change to the settings.") == 2


def test_a_new_address_for_a_role_is_one_removed_and_one_added() -> None:
    base = example_data(EXAMPLES[0])
    head = copy.deepcopy(base)
    head["roles"]["internal_nameserver"] = ["10.30.0.3/32", "fd00:30::53/128"]
    change = _by_cloud(_review(head, base))["aws"].change
    assert {(str(o.ports), o.peer.value) for o in change.added} == {
        ("UDP 53", "10.30.0.3/32"), ("TCP 53", "10.30.0.3/32")}
    assert {o.peer.value for o in change.removed} == {"10.30.0.2/32"}
    assert {o.rows for o in change.added + change.removed} == {("R07",)}


def test_a_dns_mode_change_is_shown_with_both_reasons() -> None:
    base = example_data(EXAMPLES[0])  # aws-cluster-ipv6: dns internal
    head = copy.deepcopy(base)
    head["appliance"]["dns"] = "builtin"
    change = _by_cloud(_review(head, base))["aws"].change
    assert {o.rows for o in change.added} == {("R09",)}
    assert {o.rows for o in change.removed} == {("R07",)}


def test_a_cloud_section_dropped_is_a_removed_stack() -> None:
    base = example_data(DATA / "base.yaml")
    head = copy.deepcopy(base)
    del head["azure"]
    review = _review(head, base)
    azure = _by_cloud(review)["azure"]
    assert azure.head is None and azure.base is not None
    assert len(azure.change.removed) == len(azure.base.openings)
    assert len(azure.change.guards_removed) == 2


# --- warnings -------------------------------------------------------------------------------

def _warnings(data: dict[str, Any]) -> dict[str, list[str]]:
    return {s.cloud: s.warnings for s in _review(data).stacks}


def test_plain_http_admin_is_warned_about_only_when_open() -> None:
    data = example_data(DATA / "base.yaml")
    on = _warnings(data)
    data["appliance"]["features"]["admin_http"] = False
    off = _warnings(data)
    for cloud in ("aws", "azure"):
        assert any("Plain-HTTP administration is open: TCP 8080" in w for w in on[cloud])
        assert not any("8080" in w for w in off[cloud])


def test_internet_rules_reaching_internal_hosts_is_an_aws_warning_only() -> None:
    warnings = _warnings(example_data(DATA / "head.yaml"))
    assert any(w.startswith("AWS security groups cannot deny") for w in warnings["aws"])
    assert not any("cannot deny" in w for w in warnings["azure"])


def test_the_simple_installation_is_wider_than_the_table() -> None:
    review = _review(example_data(ROOT / "examples" / "simple-both.yaml"))
    for s in review.stacks:
        assert any(w.startswith("Wider than the vendor table: all traffic to and from "
                                "10.50.0.0/16 (internal_network) (X01") for w in s.warnings)
        assert {o.origin for o in s.head.openings if o.rows == ("X01",)} == {EXTENSION}
        assert any(n.startswith("No DNS rule: 'appliance.dns: cloud'") for n in s.notes)


def test_the_warnings_the_review_restates_still_exist_where_they_come_from() -> None:
    # findings.RESTATED leaves out the planners' own words for facts the review states
    # itself; if a planner rewords one, it must not slip through twice (or vanish).
    data = example_data(DATA / "base.yaml")  # admin_http on, AWS Internet egress
    (planned,) = plan_all([deployment(data)])
    sources = list(planned.deployment.warnings) + list(planned.aws.warnings)
    for restated in findings.RESTATED:
        assert any(restated in w for w in sources), restated
    notes = _by_cloud(_review(data))["aws"].notes
    assert not any(r in n for n in notes for r in findings.RESTATED)


# --- command line ---------------------------------------------------------------------------

def test_json_has_the_same_facts(capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["review", "tests/data/review/head.yaml", "--base",
                 "tests/data/review/base.yaml", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    aws = next(s for s in data["stacks"] if s["cloud"] == "aws")
    assert [(o["ports"], o["rule_ids"]) for o in aws["change"]["added"]] == [("TCP 5061", ["R17"])]
    assert [(o["ports"], o["rule_ids"]) for o in aws["change"]["removed"]] == [("TCP 8080", ["R15"])]
    assert aws["verify"]["status"] == "passed"
    assert "the planned resources" in aws["verify"]["detail"]
    assert aws["mermaid"].startswith("flowchart LR\n")
    assert data["exit_code"] == 0


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_base_ref_reads_the_same_paths_from_git(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "deploy" / "mail.yaml").write_text((DATA / "base.yaml").read_text())
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    (repo / "deploy" / "mail.yaml").write_text((DATA / "head.yaml").read_text())
    (repo / "deploy" / "new.yaml").write_text(
        (ROOT / "examples" / "aws-single.yaml").read_text())
    monkeypatch.chdir(repo / "deploy")
    assert main(["review", "mail.yaml", "new.yaml", "--base-ref", "HEAD", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compared_with"] == "HEAD (new files: new.yaml)"
    stacks = {s["stack"]: s for s in data["stacks"]}
    assert [o["rule_ids"] for o in stacks["mail-review-aws"]["change"]["added"]] == [["R17"]]
    assert [o["rule_ids"] for o in stacks["mail-review-aws"]["change"]["removed"]] == [["R15"]]
    new = stacks["mail-aws-single-aws"]
    assert new["base"] is None and len(new["change"]["added"]) == len(new["head"]["openings"])


def test_base_ref_takes_file_names_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: `git show REF:[eu].yaml` read a new file's name as a pathspec, and the
    review failed. A changed `[eu].yaml` is compared; a new `[us]*.yaml` is new."""
    _git(tmp_path, "init", "-q")
    (tmp_path / "[eu].yaml").write_text((DATA / "base.yaml").read_text())
    (tmp_path / "e.yaml").write_text("not: [the file asked for")  # what a glob might match
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    (tmp_path / "[eu].yaml").write_text((DATA / "head.yaml").read_text())
    new = tmp_path / "[us]*.yaml"
    new.write_text((ROOT / "examples" / "aws-single.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["review", "[eu].yaml", new.name, "--base-ref", "HEAD", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compared_with"] == "HEAD (new files: [us]*.yaml)"
    stacks = {s["stack"]: s for s in data["stacks"]}
    assert [o["rule_ids"] for o in stacks["mail-review-aws"]["change"]["added"]] == [["R17"]]
    assert stacks["mail-aws-single-aws"]["base"] is None


@pytest.mark.parametrize("ref", ["--output=OUT", "-h", "--upload-pack=touch OUT", "HEAD\n"])
def test_a_ref_cannot_pass_options_to_git(ref: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "sxcloud.yaml").write_text((DATA / "head.yaml").read_text())
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "OUT"
    assert main(["review", f"--base-ref={ref.replace('OUT', str(out))}"]) == 2
    assert "--base-ref" in capsys.readouterr().err
    assert not out.exists()


def test_a_bad_base_ref_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "sxcloud.yaml").write_text((DATA / "head.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["review", "--base-ref", "no-such-branch"]) == 2
    err = capsys.readouterr().err
    assert "--base-ref" in err and "'no-such-branch' is not a commit" in err


def test_an_invalid_base_names_its_file_and_key(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((DATA / "base.yaml").read_text().replace("9.9.9.9/32", "9.9.9.9"))
    assert main(["review", str(DATA / "head.yaml"), "--base", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: roles.external_nameserver[0]:" in err and "without a prefix length" in err


def test_a_missing_plan_file_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", str(DATA / "head.yaml"), "--plan", "/nonexistent/plan.json"]) == 2
    assert "plan.json: --plan: no such file" in capsys.readouterr().err


def test_verify_reads_the_synth_folder_and_a_failure_fails_the_review(
        synthesized: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "examples" / "aws-single.yaml"
    assert main(["review", str(example), "--synth-dir", str(synthesized.out)]) == 0
    out = capsys.readouterr().out
    assert "verify: passed (12 intended flows, from " in out
    assert "stacks/mail-aws-single-aws/cdk.tf.json" in out

    # The same stack with the SMTP-inbound rule (R04) deleted after synthesis.
    stack = synthesized.stack("mail-aws-single-aws")
    rules = stack["resource"]["aws_vpc_security_group_ingress_rule"]
    del rules[next(k for k in rules if k.startswith("R04_"))]
    folder = tmp_path / "out" / "stacks" / "mail-aws-single-aws"
    folder.mkdir(parents=True)
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    assert main(["review", str(example), "--synth-dir", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "verify: failed (" in out and "#### Verify findings" in out
    assert "inbound TCP 25" in out.split("#### Verify findings", 1)[1]


def test_review_starts_no_cdk_and_no_node() -> None:
    code = ("import sys; from sxcloud.cli import main; "
            "rc = main(['review', 'examples/simple-both.yaml']); "
            "bad = [m for m in ('jsii', 'cdktn', 'cdktf', 'constructs') if m in sys.modules]; "
            "sys.exit(rc or (3 if bad else 0))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "flowchart LR" in done.stdout


def test_the_review_modules_import_each_other_without_a_cycle() -> None:
    """Each module of sxcloud.review imports only modules below it (no `import` inside a
    function to dodge a cycle)."""
    import ast

    folder = ROOT / "sxcloud" / "review"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {a.name for a in node.names}
        graph[path.stem] = {n for n in names if (folder / f"{n}.py").exists()}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail, name))
        for child in graph[name]:
            visit(child, (*trail, name))

    for name in graph:
        visit(name, ())
