"""Issue 15, case 5: the review fits one pull-request comment.

400 more admin ranges made a 249,325-character report; GitHub takes 65,536 characters per
comment, so the CI job failed and the previous comment, perhaps "No change", stayed. The
comment now holds the summary, every finding and every added or removed opening as far as
they fit, cut between blocks and table rows (checked by rendering it with cmarkgfm, GitHub's
own Markdown library, and parsing its diagrams with Mermaid), with a line that says what was
left out and where the whole report is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import mermaid_check
from conftest import example_data
from sxcloud import cli, config
from sxcloud.review import build, fit, markdown
from test_review_hostile import render

ADMIN_RANGES = 400
#: A settings change that is a finding (state sent to another host), so that the report has
#: a finding to keep.
HTTP_BACKEND = {"http": {"address": "https://state.example.net/tf"}}


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """The built-in example as the base, and the head with 400 more admin ranges (and the
    quota raised for them) and its AWS state moved to another host."""
    data = example_data(config.builtin_example())
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(data))
    data["roles"]["admin_pc"] += [f"10.{200 + i // 250}.{i % 250}.0/24"
                                  for i in range(ADMIN_RANGES)]
    data["aws"]["rule_quota"] = 1000
    data["aws"]["backend"] = HTTP_BACKEND
    head = tmp_path / "sxcloud.yaml"
    head.write_text(yaml.safe_dump(data))
    return head, base


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[build.Review, str, str]:
    head, base = _files(tmp_path_factory.mktemp("fit"))
    review = build.from_files(config.load_all([head]), config.load_all([base]), "base")
    whole = markdown.render(review)
    return review, whole, fit.fit(whole)


def _tables(text: str) -> list[list[str]]:
    """The runs of table lines of a Markdown text."""
    out: list[list[str]] = []
    previous = False
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous:
                out.append([])
            out[-1].append(line)
        previous = line.startswith("|")
    return out


def test_the_report_of_the_issue_is_too_long_for_one_comment(reports):
    _, whole, _ = reports
    assert fit.size(whole) > 3 * fit.GITHUB_COMMENT_MAX  # (249,325 in the issue)


def test_the_comment_fits_github_and_gitlab(reports):
    _, _, comment = reports
    assert fit.size(comment) <= fit.GITHUB_COMMENT_MAX <= fit.GITLAB_NOTE_MAX
    assert fit.COMMENT_MAX == 65_536 and fit.GITLAB_NOTE_MAX == 1_000_000
    assert comment.startswith(markdown.MARKER + "\n")  # CI still finds its own comment


def test_the_comment_keeps_the_summary_and_every_finding(reports):
    review, whole, comment = reports
    top = whole.split("\n### ")[0]
    assert comment.startswith(top.rstrip("\n") + "\n")
    findings = [f for s in review.stacks for f in s.all_findings]
    assert findings  # the backend moved to another host
    page = render(comment)
    for line in whole.splitlines():
        if ":x:" in line:
            assert line in comment.splitlines(), line
    for finding in findings:
        assert " ".join(finding.split()) in page.text, finding
    for s in review.stacks:
        assert f"### {markdown.text(s.stack)}:" in comment


def test_added_openings_are_kept_as_far_as_they_fit_and_the_cut_is_said(reports):
    review, whole, comment = reports
    page = render(comment)
    added = [o for s in review.stacks for o in s.change.added]
    shown = [row for row in page.rows if row[:2] == ["in", "TCP 8443"]]
    assert len(added) > len(shown) > 100
    (note,) = [line for line in comment.splitlines() if line.startswith(":scissors:")]
    assert f"{fit.size(whole):,} characters" in note
    assert "sxcloud review --full" in note and fit.FULL_REPORT in note
    assert "table rows" in note and "Rule matrix" in note
    left = sum(int(n) for n in re.findall(r"\*\.\.\. (\d+) more rows? of this table", comment))
    assert left + len(shown) == len(added)


def test_nothing_is_cut_inside_a_construct(reports):
    """Every table keeps its header and separator, every fence and <details> is closed, and
    GitHub's renderer sees as many tables, code blocks and diagrams as the Markdown has."""
    _, whole, comment = reports
    tables = _tables(comment)
    assert tables
    for table in tables:
        assert table[1].startswith("|---|"), table[:2]
        columns = table[0].count(" | ")
        assert all(row.count(" | ") >= columns for row in table[:1] + table[2:]), table[0]
        assert table[0] in whole and all(row in whole for row in table)
    assert comment.count("<details>") == comment.count("</details>")
    html = render(comment)
    rendered = __import__("cmarkgfm").github_flavored_markdown_to_html(comment)
    assert rendered.count("<table>") == len(tables)
    diagrams = mermaid_check.blocks(comment)
    assert html.blocks == len(diagrams) == comment.count("```mermaid")
    for result, diagram in zip(mermaid_check.parse(diagrams), diagrams):
        assert result["ok"], result["error"]
    for diagram in diagrams:  # whole, as the full report has it
        assert diagram in whole


def test_a_report_that_fits_is_left_as_it_is(reports):
    review, whole, _ = reports
    small = whole.split("\n### ")[0] + "\n"
    assert fit.fit(small) == small
    assert fit.fit(whole, limit=fit.size(whole)) == whole


def test_a_tighter_limit_keeps_findings_before_openings(reports):
    """With room for little more than the summary, the findings still come first."""
    review, whole, _ = reports
    comment = fit.fit(whole, limit=6000)
    assert fit.size(comment) <= 6000
    for line in whole.splitlines():
        if ":x:" in line:
            assert line in comment.splitlines(), line


def test_the_command_prints_the_comment_and_with_full_the_whole(tmp_path, capsys,
                                                                   monkeypatch):
    head, base = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["review", str(head), "--base", str(base)]) == 1  # the finding
    comment, err = capsys.readouterr()
    assert "is cut to fit one comment; --full prints the whole" in err
    assert cli.main(["review", str(head), "--full", "--base", str(base)]) == 1
    whole, err = capsys.readouterr()
    assert "cut" not in err
    assert fit.size(comment) <= fit.COMMENT_MAX < fit.size(whole)
    assert fit.fit(whole) == comment


def test_a_long_list_of_findings_is_cut_between_items():
    """Findings come as one list per section; thousands of them (a plan that differs from
    the files everywhere) are kept item by item as far as they fit, never dropped whole."""
    findings = [f"- :x: rule {i} of the plan is not in the deployment files" for i in range(5000)]
    report = "\n".join([markdown.MARKER, "## Firewall review (sxcloud)", "", "Summary.", "",
                        "### s-aws: AWS group", "", "**2 rules**", "",
                        "#### Plan versus the deployment files", "", *findings, "",
                        "#### Flows", "", "```mermaid", "flowchart LR", "  a --> b", "```", ""])
    comment = fit.fit(report)
    assert fit.size(report) > fit.COMMENT_MAX >= fit.size(comment)
    kept = [line for line in comment.splitlines() if line.startswith("- :x:")]
    assert kept == findings[:len(kept)] and len(kept) > 1000
    assert f"*... {5000 - len(kept)} more items of this list left out" in comment
    assert "#### Plan versus the deployment files" in comment and "```mermaid" not in comment
    assert "Flows" in next(line for line in comment.splitlines() if line.startswith(":scissors:"))
