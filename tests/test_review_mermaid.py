"""The Mermaid text of `sxcloud review` parses with Mermaid's own parser (see mermaid_check)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from sxcloud.policy import INBOUND
from sxcloud.review import build, mermaid
from sxcloud.review.diff import compare
from sxcloud.review.openings import CIDR, TAG, UNINTENDED, Firewall, Opening, Peer, Ports

import mermaid_check
from conftest import EXAMPLES, deployment, example_data, toggles

GOLDEN = Path(__file__).parent / "golden"


def _diagrams() -> dict[str, str]:
    """Every diagram the tests can produce: goldens, each example against each toggle of it,
    and a plan-like firewall whose peers carry characters that Mermaid treats specially."""
    out = {}
    for golden in sorted(GOLDEN.glob("*.md")):
        for index, text in enumerate(mermaid_check.blocks(golden.read_text())):
            out[f"{golden.name}#{index}"] = text
    for path in EXAMPLES:
        data = example_data(path)
        for option, apply in toggles(data):
            head = copy.deepcopy(data)
            apply(head)
            review = build.from_files([deployment(head, path)], [deployment(data, path)], "b")
            for s in review.stacks:
                out[f"{path.name}:{option}:{s.stack}"] = mermaid.flowchart(s.head, s.change)
    hostile = [Opening(INBOUND, Ports("tcp", 1, 65535), Peer(TAG, 'A"B|C<D>&E; end'), None, (),
                       UNINTENDED, "x"),
               Opening(INBOUND, Ports("tcp\n```\n## x", 1, 2), Peer(TAG, "`md` [a]\n{b} #35;"),
                       None, (), UNINTENDED, "z"),
               Opening(INBOUND, Ports("all"), Peer(CIDR, "10.0.0.0/8"), 'role "x"', (),
                       UNINTENDED, "y")]
    fw = Firewall("s-aws", "aws", "s", "g", tuple(hostile), 2, ())
    out["hostile"] = mermaid.flowchart(fw, compare(None, fw))
    return out


DIAGRAMS = _diagrams()


@pytest.fixture(scope="module")
def parsed() -> dict[str, dict[str, object]]:
    names = sorted(DIAGRAMS)
    return dict(zip(names, mermaid_check.parse([DIAGRAMS[n] for n in names])))


def test_there_are_diagrams_of_both_clouds_with_changes() -> None:
    assert any("==>" in t for t in DIAGRAMS.values())
    assert any("-.->" in t for t in DIAGRAMS.values())
    assert any(name.endswith("-azure") for name in DIAGRAMS)
    assert len(DIAGRAMS) > 20


@pytest.mark.parametrize("name", sorted(DIAGRAMS))
def test_diagram_parses(name: str, parsed: dict[str, dict[str, object]]) -> None:
    result = parsed[name]
    assert result["ok"], f"{name}: {result['error']}\n{DIAGRAMS[name]}"
    assert result["type"] == "flowchart-v2"


def test_the_parser_refuses_broken_text() -> None:
    # The check can fail: an unquoted label with a bracket, and an unclosed shape.
    results = mermaid_check.parse(["flowchart LR\n  a -->|x| [b\n",
                                   'flowchart LR\n  n_a["a " b"] --> n_b\n'])
    assert [r["ok"] for r in results] == [False, False]


def test_escape_leaves_no_character_that_ends_a_label() -> None:
    text = mermaid.escape('say "hi" | <b> & more\n```\n## x `md` [a] {b} #lt; \\ \x1b')
    assert not set('"|<>`[]{}\n\x1b') & set(text)
    assert "#lt;" not in text  # an entity code in the input is shown, not decoded
