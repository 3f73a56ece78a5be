"""Hostile values in a review: the report still shows every opening and every finding.

Reports are built from values an attacker controls (plan JSON, where any string can appear;
file names and paths), rendered by a real GFM renderer (cmarkgfm, GitHub's fork of cmark,
with raw HTML let through as GitHub lets through `<details>`), and checked in the rendered
page's visible text: not inside a comment, not inside a `<details>` (the rule matrix is the
only one, and nothing needs to be seen there), not in a code block or fence. Each Mermaid
block still parses with Mermaid's own parser, and there is one per stack.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from sxcloud.cli import main
from sxcloud.config import load
from sxcloud.escape import terminal
from sxcloud.exceptions import ExceptionPeer
from sxcloud.policy import INBOUND
from sxcloud.review import build, markdown
from sxcloud.review.openings import Opening

import mermaid_check
from conftest import EXAMPLES, Synthesized
from tfshow import copy_rule, plan_document, refresh_planned_values

DATA = Path(__file__).parent / "data" / "review"
AWS = EXAMPLES[[p.name for p in EXAMPLES].index("aws-single.yaml")]
AZURE = EXAMPLES[[p.name for p in EXAMPLES].index("azure-cluster.yaml")]

FORGED = "FORGED"
#: Each was an attack on the report, or is one in GFM, GitHub or GitLab.
HOSTILE = [
    "10.9.9.0/24<details><summary>fine</summary>",  # folds every later row out of sight
    "<!-- ",  # hides the rest of the page in a comment
    f"x\n```\n## {FORGED} heading\n```mermaid",  # closes the mermaid fence
    f"x\n\n**No change to the firewall.**\n\n# {FORGED}",  # a line break forges a summary
    "[ok](javascript:alert(1)) ![x](https://t.example/p.png) $\\phantom{gone}$ ~~struck~~",
    "{- gone -} | cell </td></tr></table> &lt;b&gt;",  # GitLab's diff, a table cell, HTML
    "\u202eevil\x1b[2J\r\n    indented",  # bidi override, terminal escape, indented code
    "1. a list",
    "`code` ``` ~~~",
]

_HIDING = {"details", "pre", "script", "style", "template", "textarea", "title", "noscript",
           "iframe", "xmp", "noembed", "noframes", "plaintext", "svg", "math", "select"}
_COLLECTED = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "strong", "li"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
         "track", "wbr", "param"}


class Page(HTMLParser):
    """The visible text of rendered HTML, its table rows and headings, and its code blocks."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[tuple[str, bool]] = []  # (tag, hides what is inside)
        self.parts: list[str] = []
        self.rows: list[list[str]] = []
        self.elements: list[tuple[str, str]] = []  # visible headings, paragraphs, bold text
        self.blocks = 0  # <pre> elements: code blocks and fences
        self._cell: list[str] | None = None
        self._collecting: list[tuple[str, list[str]]] = []
        self.feed(html)
        self.close()

    @property
    def hidden(self) -> bool:
        return any(hides for _, hides in self.open)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre":
            self.blocks += 1
        if tag in _VOID:
            return
        hides = tag in _HIDING or any(name == "hidden" for name, _ in attrs)
        visible = not self.hidden
        self.open.append((tag, hides))
        if tag == "tr" and visible:
            self.rows.append([])
        elif tag in ("td", "th") and visible and self.rows:
            self._cell = []
        if tag in _COLLECTED and visible:
            self._collecting.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(_norm("".join(self._cell)))
            self._cell = None
        if self._collecting and self._collecting[-1][0] == tag:
            name, parts = self._collecting.pop()
            self.elements.append((name, _norm("".join(parts))))
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)
        for _, parts in self._collecting:
            parts.append(data)

    @property
    def text(self) -> str:
        return _norm("".join(self.parts))


def _norm(text: str) -> str:
    return " ".join(text.split())


def render(text: str) -> Page:
    """The page GitHub would show, from the Markdown: GFM with raw HTML allowed."""
    return Page(cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE))


def _peer_cell(o: Opening) -> str:
    peer = terminal(o.peer.short())
    return _norm(f"{peer} ({terminal(o.role)})" if o.role else peer)


def assert_all_visible(review: build.Review, text: str) -> None:
    """Every added and removed opening in a visible table row, every finding and every
    region of the change in packets in the visible text, no forged heading or code block,
    and diagrams that parse."""
    page = render(text)
    for s in review.stacks:
        for o in (s.change.added + s.change.removed) if s.change else ():
            direction = "in" if o.direction == INBOUND else "out"
            wanted = [direction, _norm(terminal(str(o.ports))), _peer_cell(o)]
            assert any(row[:3] == wanted for row in page.rows), (wanted, page.rows)
        for finding in s.all_findings:
            assert _norm(terminal(finding)) in page.text, finding
        for shift in (s.change.packets.shifts if s.change and s.change.packets else ())[
                :markdown.SHIFTS_SHOWN]:  # the change in packets, its rules' names too
            line = f"{shift.region}: by {shift.by}; e.g. {shift.example}"
            assert _norm(terminal(line)) in page.text, line
    headings = [t for tag, t in page.elements if tag[0] == "h"]
    assert not any(h.startswith(FORGED) for h in headings), headings
    if any(s.changed for s in review.stacks):  # no paragraph or bold text says otherwise
        assert not any(t.startswith(markdown.NO_CHANGE) for _, t in page.elements)
    diagrams = mermaid_check.blocks(text)
    assert page.blocks == len(diagrams) == len(review.stacks)
    for result, diagram in zip(mermaid_check.parse(diagrams), diagrams):
        assert result["ok"], f"{result['error']}\n{diagram}"


# --- from plans -----------------------------------------------------------------------------

def _other_resource(plan: dict[str, Any], address: str) -> None:
    rtype, name = address.split(".", 1)
    plan["resource_changes"].append({
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "change": {"actions": ["create"], "before": None, "after": {"input": "x"},
                   "after_unknown": {"id": True}}})


def _review_plans(plans: dict[Path, dict[str, Any]], tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> tuple[build.Review, str]:
    files = []
    for index, (_, plan) in enumerate(plans.items()):
        path = tmp_path / f"plan{index}.json"
        path.write_text(json.dumps(refresh_planned_values(plan)))
        files.append(path)
    deployments = [load(p) for p in plans]
    review = build.from_plans(deployments, files)
    assert main(["review", *map(str, plans), *[a for f in files for a in ("--plan", str(f))]]) == 1
    return review, capsys.readouterr().out


def test_hostile_values_in_plans_hide_no_opening_and_no_finding(
        synthesized: Synthesized, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    aws = plan_document(synthesized.stack(f"{load(AWS).name}-aws"))
    for index, value in enumerate(HOSTILE):
        copy_rule(aws, f"h{index}", cidr_ipv4=value, from_port=3000 + index,
                  to_port=3000 + index, description=value)
    copy_rule(aws, "late", cidr_ipv4="0.0.0.0/2", from_port=4000, to_port=4000)
    # Addresses are Terraform's grammar (verify's reader refuses others); names are free.
    _other_resource(aws, "aws_instance.x")

    azure = plan_document(synthesized.stack(f"{load(AZURE).name}-azure"))
    for index, value in enumerate(HOSTILE):
        _azure_rule(azure, f"a{index}{value}", 300 + index, str(3000 + index), value)
    _azure_rule(azure, "late", 400, "4000", "0.0.0.0/2")

    review, text = _review_plans({AWS: aws, AZURE: azure}, tmp_path, capsys)
    by_cloud = {s.cloud: s for s in review.stacks}
    assert len(by_cloud["aws"].change.added) >= len(HOSTILE) + 1
    assert len(by_cloud["azure"].change.added) >= len(HOSTILE) + 1
    assert any("aws_instance.x" in f for f in by_cloud["aws"].all_findings)
    assert_all_visible(review, text)


def _azure_rule(plan: dict[str, Any], name: str, priority: int, port: str, source: str) -> None:
    after = {"name": name, "priority": priority, "direction": "Inbound", "access": "Allow",
             "protocol": "Tcp", "source_port_range": "*", "destination_port_range": port,
             "source_address_prefix": source, "resource_group_name": "rg-mail",
             "network_security_group_name": "nsg-mail-azure-cluster-appliance"}
    address = f"azurerm_network_security_rule.r{priority}"
    plan["resource_changes"].append({
        "address": address, "mode": "managed", "type": "azurerm_network_security_rule",
        "name": f"r{priority}", "change": {
            "actions": ["create"], "before": None, "after": after,
            "after_unknown": {"id": True, "destination_application_security_group_ids": True}}})
    plan["configuration"]["root_module"]["resources"].append({
        "address": address, "mode": "managed", "type": "azurerm_network_security_rule",
        "name": f"r{priority}", "expressions": {"destination_application_security_group_ids": {
            "references": ["azurerm_application_security_group.appliance_asg.id",
                           "azurerm_application_security_group.appliance_asg"]}}})


# --- from files and paths -------------------------------------------------------------------

def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_hostile_file_names_forge_no_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A base file whose name has line breaks printed "No change to the firewall." above
    the real counts; a head file's name opened a `<details>`."""
    base = tmp_path / f"b\n\n**{markdown.NO_CHANGE}**\n\n# {FORGED}\n<details>.yaml"
    head = tmp_path / "h<details><summary>x<!--.yaml"
    base.write_text((DATA / "base.yaml").read_text())
    head.write_text((DATA / "head.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["review", head.name, "--base", base.name]) == 0
    text = capsys.readouterr().out
    review = build.from_files([load(head)], [load(base)], base.name)
    assert all(s.change is not None and not s.change.empty for s in review.stacks)
    assert_all_visible(review, text)
    page = render(text)
    assert _norm(terminal(base.name)) in page.text and _norm(terminal(head.name)) in page.text


def test_a_hostile_new_file_name_at_a_git_ref(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "mail.yaml").write_text((DATA / "base.yaml").read_text())
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    new = tmp_path / f"[eu]\n## {FORGED}<!--.yaml"
    new.write_text((EXAMPLES[0]).read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["review", "mail.yaml", new.name, "--base-ref", "HEAD"]) == 0
    text = capsys.readouterr().out
    review = build.from_files([load(tmp_path / "mail.yaml"), load(new)],
                              [load(tmp_path / "mail.yaml")], "HEAD", [new.name])
    assert_all_visible(review, text)
    assert _norm(terminal(new.name)) in render(text).text


def test_hostile_other_groups_and_policy_reasons_hide_nothing(
        synthesized: Synthesized, tmp_path: Path) -> None:
    """Issue 15: the rules of other groups a plan adds, and the reasons of the review policy
    file (which refuses control characters), reach the report only through its escaper."""
    from sxcloud.review.policyfile import Policy, Trusted

    aws = plan_document(synthesized.stack(f"{load(AWS).name}-aws"))
    for index, value in enumerate(HOSTILE):
        copy_rule(aws, f"g{index}", security_group_id=value, cidr_ipv4=value,
                  from_port=5000 + index, to_port=5000 + index)
        aws["resource_changes"][-1]["change"]["after_unknown"].pop("security_group_id", None)
    printable = [v for v in HOSTILE if v.isprintable()]
    policy = Policy(groups=tuple(Trusted(v.lower(), f"{v} {FORGED}") for v in printable[:2]),
                    source=f"main:.sxcloud/review.yaml {HOSTILE[0]}")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(refresh_planned_values(aws)))
    review = build.from_plans([load(AWS)], [path], policy=policy)
    (stack,) = review.stacks
    others = [r for r in stack.resources or [] if "not the appliances'" in r.meaning]
    assert len(others) == len(HOSTILE)
    assert sum(not r.finding for r in others) == 2
    text = markdown.render(review)
    assert_all_visible(review, text)
    page = render(text)
    for r in others:
        assert _norm(terminal(r.meaning)) in page.text, r.meaning


# --- site exceptions (issue 16) ---------------------------------------------------------------

EXCEPTIONS = Path(__file__).resolve().parent.parent / "examples" / "exceptions-both.yaml"


#: Markdown in the characters an AWS rule description takes, which the loader lets into a
#: reason (the planners refuse the rest of HOSTILE there).
IN_REASON = [
    "[ok](javascript:alert(1)) ![x](https://t.example/p.png)",
    f"**{FORGED}** $x$ {{- gone -}} *em* !",
    f"# {FORGED} heading",
    "1. a list",
    "=== --- +++ [x]: https://t.example",
]


def _hostile_exceptions(d: Any) -> Any:
    """The example's exceptions with a hostile reason, owner and ticket each (the owner
    carries every HOSTILE value, built in code past the loader: the worst case), and one
    more exception whose peer is the Internet (a finding that must stay visible)."""
    out = []
    for index, e in enumerate(d.exceptions):
        out.append(dataclasses.replace(
            e, reason=f"r{index} {IN_REASON[index % len(IN_REASON)]}",
            owner=f"o{index} {HOSTILE[index % len(HOSTILE)]}", ticket=f"t{index}:/[=@"))
    wide = dataclasses.replace(d.exceptions[0], id="wide-open", index=len(out),
                               peer=ExceptionPeer(internet=True), owner=HOSTILE[2])
    return dataclasses.replace(d, exceptions=(*out, wide))


def test_hostile_exception_values_hide_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    base = load(EXCEPTIONS)
    head = _hostile_exceptions(base)
    review = build.from_files([head], [base], "the base")
    text = markdown.render(review)
    assert_all_visible(review, text)
    page = render(text)
    for s in review.stacks:
        assert s.exceptions is not None and s.exceptions.findings
        assert any("X-wide-open" in f for f in s.exceptions.findings)
        for entry in s.exceptions.entries:
            e = entry.exception
            for value in (e.reason, e.owner, e.ticket):
                assert _norm(terminal(value)) in page.text, value
    assert FORGED not in " ".join(t for tag, t in page.elements if tag[0] == "h")


def test_hostile_exception_owner_reaches_the_terminal_escaped(
        synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """verify's expired finding names the owner; the terminal gets it escaped."""
    from sxcloud.commands.common import print_text
    from sxcloud.verify import report, verify
    from sxcloud.verify.tfjson import parse

    monkeypatch.setenv("SXCLOUD_TODAY", "2027-12-01")  # every exception has expired
    head = _hostile_exceptions(load(EXCEPTIONS))
    stack = synthesized.stack_dir(f"{head.name}-aws") / "cdk.tf.json"
    result = verify(head, "aws", parse(json.loads(stack.read_text()), str(stack)))
    assert any(f.kind == "expired" for f in result.findings)
    print_text(report.text([result], []))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\r" not in out
    # Shown, escaped (the loader refuses line breaks in an owner: test_hostile_input).
    assert "\\u202eevil\\x1b[2J" in out
