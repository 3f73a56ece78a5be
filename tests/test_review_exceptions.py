"""Site exceptions in `sxcloud review` beyond the goldens (test_review_golden.py): the words
of a change, the findings with and without a base, the JSON, and a review from plans, where
the exceptions' rules are intended (not "in the plan, not in the files")."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXCEPTIONS_EXAMPLE, Synthesized
from sxcloud import config
from sxcloud.cli import main
from sxcloud.review import build
from sxcloud.review.exceptions import ADDED, NARROWED, REMOVED, RENEWED, WIDENED
from tfshow import plan_document, refresh_planned_values

EXAMPLE = EXCEPTIONS_EXAMPLE


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def changed(edit) -> tuple[dict[str, Any], dict[str, Any]]:  # type: ignore[no-untyped-def]
    base = yaml.safe_load(EXAMPLE.read_text())
    head = copy.deepcopy(base)
    edit({e["id"]: e for e in head["exceptions"]}, head)
    return base, head


def review_of(tmp_path: Path, base: dict[str, Any], head: dict[str, Any]) -> build.Review:
    return build.from_files([config.load(write(tmp_path, "head", head))],
                            [config.load(write(tmp_path, "base", base))], "base")


def words(review: build.Review, cloud: str = "aws") -> dict[str, tuple[str, ...]]:
    stack = next(s for s in review.stacks if s.cloud == cloud)
    assert stack.exceptions is not None and stack.exceptions.changes is not None
    return {c.label: c.what for c in stack.exceptions.changes}


def test_more_ports_widen_a_moved_port_widens_and_narrows(tmp_path):
    def edit(by_id, _):
        by_id["partner-relay"]["ports"] = [2525, "10025-10040"]
        by_id["noc-snmp"]["ports"] = [162]
    review = review_of(tmp_path, *changed(edit))
    assert words(review) == {"X-partner-relay": (WIDENED,), "X-noc-snmp": (WIDENED, NARROWED)}
    assert review.exit_code == 0  # neither is Internet-wide nor all traffic


def test_renewed_added_removed_and_a_finding_for_all_traffic(tmp_path):
    def edit(by_id, head):
        by_id["siem-syslog"]["expires"] = "2027-09-30"
        head["exceptions"].remove(by_id["vpn-esp"])
        everything = {**copy.deepcopy(by_id["noc-snmp"]), "id": "everything", "protocol": "all"}
        del everything["ports"]
        head["exceptions"].append(everything)
    review = review_of(tmp_path, *changed(edit))
    assert words(review) == {"X-siem-syslog": (RENEWED,), "X-everything": (ADDED,),
                             "X-vpn-esp": (REMOVED,)}
    aws = next(s for s in review.stacks if s.cloud == "aws")
    assert [f for f in aws.all_findings if "X-everything" in f] == [
        "X-everything is added and its protocol is all: accept it explicitly, or narrow it"]
    assert review.exit_code == 1


def test_an_exception_moved_off_a_cloud_is_removed_there(tmp_path):
    def edit(by_id, _):
        by_id["noc-snmp"]["clouds"] = ["aws"]
    review = review_of(tmp_path, *changed(edit))
    assert words(review, "azure") == {"X-noc-snmp": (REMOVED,)}
    assert words(review, "aws") == {}


def test_without_a_base_an_internet_exception_is_a_finding(tmp_path, capsys):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["exceptions"][0]["peer"] = {"internet": True}
    path = write(tmp_path, "wide", data)
    assert main(["review", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    for stack in report["stacks"]:
        section = stack["exceptions"]
        assert section["today"] == "2026-12-01" and section["changes"] is None
        assert section["findings"] == ["X-noc-snmp its peer is the Internet: accept it "
                                       "explicitly, or narrow it"]
        assert section["exceptions"][0] == {
            "id": "X-noc-snmp", "direction": "inbound", "traffic": "UDP 161",
            "peer": "the Internet", "reason": "SNMP polling by the NOC monitoring",
            "owner": "noc-team", "ticket": "CHG-1234", "expires": "2027-06-30",
            "status": "ok", "days_left": 211}


def test_within_30_days_a_warning_after_the_date_a_finding(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SXCLOUD_TODAY", "2027-02-10")  # X-admin-ssh ends on 2027-02-28
    assert main(["review", str(EXAMPLE)]) == 0
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("| X-admin-ssh"))
    assert line.endswith("| 2027-02-28 | :warning: 18 |")
    monkeypatch.setenv("SXCLOUD_TODAY", "2027-03-02")
    assert main(["review", str(EXAMPLE)]) == 1
    out = capsys.readouterr().out
    assert "| 2027-02-28 | :x: **expired 2 days ago** |" in out
    assert "- :x: X-admin-ssh (owner mail-team) expired on 2027-02-28" in out


@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_a_plan_of_the_stack_intends_every_exception_rule(
        synthesized: Synthesized, tmp_path: Path, capsys, cloud):
    name = config.load(EXAMPLE).name
    plan = refresh_planned_values(plan_document(synthesized.stack(f"{name}-{cloud}")))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    review = build.from_plans([config.load(EXAMPLE)], [path])
    (stack,) = review.stacks
    assert stack.findings == [], stack.findings
    added = [o for o in stack.change.added if o.origin == "exception"]
    assert {o.role for o in added} == {
        e.label for e in config.load(EXAMPLE).exceptions if cloud in e.clouds}
    assert stack.exceptions is not None and stack.exceptions.findings == []
