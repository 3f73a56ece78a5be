"""Malformed Terraform JSON (issue 9, item 8): `verify` and `review` exit 2 with one line
naming the file and the JSON path of the first problem, never a traceback.

The malformed documents are made from real ones (a synthesized cdk.tf.json, and plans and
states in Terraform's format from tests/tfshow.py, with a module and resource drift): every
position of every document, generalized over list indices (`resource_changes[*].change`),
gets a value of each other JSON type in turn. Each result is either refused at exactly that
path or read and verified without an exception.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import EXAMPLES
from sxcloud.cli import main
from sxcloud.errors import InputError
from sxcloud.review import tfplan
from sxcloud.verify import verify
from sxcloud.verify import tfjson
from sxcloud.verify.shape import MAX_DEPTH
from tfshow import applied, aws_ids, azure_ids, in_modules, plan_document, state_document
from verifying import stacks

STACKS = {"aws": "mail-aws-single-aws", "azure": "mail-simple-azure"}
EXAMPLE = {"aws": "aws-single.yaml", "azure": "simple-both.yaml"}
OTHERS = {dict: {"k": 1}, list: [1], str: "x", int: 7}


def _documents(synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(cloud, name, document): real shapes of every kind verify and review read."""
    for cloud, name in STACKS.items():
        stack = synthesized.stack(name)
        plan = applied(plan_document(stack), {})
        plan["resource_drift"] = copy.deepcopy(plan["resource_changes"][:2])
        ids = aws_ids() if cloud == "aws" else azure_ids()
        yield cloud, "cdk.tf.json", stack
        yield cloud, "plan", plan_document(stack, hcl=True)
        yield cloud, "applied-plan", plan
        yield cloud, "module-plan", in_modules(plan_document(stack, hcl=True), ["fw", "inner"])
        yield cloud, "state", state_document(stack, ids, inline_rules=cloud == "azure")
        yield cloud, "module-state", in_modules(state_document(stack, ids), ["fw"])


def _positions(data: Any, where: str = "", general: str = "") -> Iterator[tuple[str, str, Any]]:
    """(JSON path, path with list indices generalized, value) of every value."""
    yield where, general, data
    if isinstance(data, dict):
        for key, value in data.items():
            step = f".{key}" if where else key
            if not key.replace("_", "a").replace("-", "a").isalnum() or key[:1].isdigit():
                step = f'["{key}"]'
            yield from _positions(value, where + step, general + step)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _positions(value, f"{where}[{index}]", f"{general}[*]")


def _container(data: Any, where: str) -> tuple[Any, Any]:
    """The parent of a path and the key of the value in it."""
    node, key = data, None
    for part in _split(where):
        if key is not None:
            node = node[key]
        key = part
    return node, key


def _split(where: str) -> list[Any]:
    parts: list[Any] = []
    i = 0
    while i < len(where):
        if where[i] == ".":
            i += 1
        if where[i] == "[":
            end = where.index("]", i)
            text = where[i + 1:end]
            parts.append(json.loads(text) if text.startswith('"') else int(text))
            i = end + 1
        else:
            end = min([j for j in (where.find(".", i), where.find("[", i)) if j != -1] or [len(where)])
            parts.append(where[i:end])
            i = end
    return parts


def _mutations(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, replacement): the first position of every generalized path, with a value of
    each other JSON type."""
    seen = set()
    for where, general, value in _positions(data):
        if not where or general in seen:
            continue
        seen.add(general)
        for kind, other in OTHERS.items():
            if not isinstance(value, kind) or isinstance(value, bool):
                yield where, copy.deepcopy(other)


def test_every_level_of_every_document_is_refused_at_its_path_or_read(synthesized):
    deployments = {f"{d.name}-{c}": d for d, c in stacks(synthesized)}
    counts = {"refused": 0, "read": 0}
    for cloud, kind, document in _documents(synthesized):
        d = deployments[STACKS[cloud]]
        for where, other in _mutations(document):
            parent, key = _container(document, where)
            original = parent[key]
            parent[key] = other
            try:
                result = verify(d, cloud, tfjson.parse(document, "doc.json"))
                assert result.peer_ranges > 0
                if "plan" in kind:  # review reads both sides of a plan, and its drift
                    tfplan.parse(document, Path("doc.json"))
                counts["read"] += 1
            except InputError as error:
                (line,) = error.lines()
                # At the mutated value, or inside it (a list of the wrong elements).
                assert any(line.startswith(f"doc.json: {where}{c}") for c in (": ", "[", ".")), (
                    kind, where, line)
                counts["refused"] += 1
            finally:
                parent[key] = original
    assert counts["refused"] > 2000 and counts["read"] > 1500, counts


def _cli(tmp_path: Path, cloud: str, text: str, capsys) -> list[str]:
    """Run verify --plan-json and review --plan on the text; both exit 2; their errors."""
    example = next(p for p in EXAMPLES if p.name == EXAMPLE[cloud])
    path = tmp_path / "plan.json"
    path.write_text(text)
    lines = []
    for argv in (["verify", str(example), "--plan-json", str(path)],
                 ["review", str(example), "--plan", str(path)]):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        (line,) = captured.err.splitlines()
        assert line.startswith(f"sxcloud: error: {path}: "), line
        lines.append(line[len(f"sxcloud: error: {path}: "):])
    return lines


def _plan_text(synthesized, cloud: str, where: str, raw: str) -> str:
    """A real plan's JSON text with the value at `where` replaced by the raw JSON `raw`."""
    plan = plan_document(synthesized.stack(STACKS[cloud]))
    parent, key = _container(plan, where)
    parent[key] = "@@RAW@@"
    return json.dumps(plan).replace('"@@RAW@@"', raw)


@pytest.mark.parametrize("raw", ["Infinity", "-Infinity", "NaN", "1e999", "9" * 5000])
@pytest.mark.parametrize("cloud, where", [
    ("aws", "resource_changes[1].change.after.from_port"),
    ("azure", "resource_changes[3].change.after.priority"),
    ("aws", "configuration.root_module.resources[2].expressions.to_port.constant_value"),
])
def test_numbers_terraform_never_writes_are_refused_with_their_path(
        raw, cloud, where, synthesized, tmp_path, capsys):
    lines = _cli(tmp_path, cloud, _plan_text(synthesized, cloud, where, raw), capsys)
    assert all(line.startswith(f"{where}: is ") and "a number Terraform never writes" in line
               and len(line) < 200 for line in lines), lines


def test_deep_nesting_is_refused_with_its_place(synthesized, tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    lines = _cli(tmp_path, "aws", _plan_text(
        synthesized, "aws", "resource_changes[0].change.after.tags", deep), capsys)
    assert all(f"nests deeper than {MAX_DEPTH} levels" in line and line.startswith("line 1 column ")
               for line in lines), lines
    # Deeper than the limit but shallow enough for json: the walk names the path.
    lines = _cli(tmp_path, "aws", _plan_text(
        synthesized, "aws", "resource_changes[0].change.after_unknown", "[" * 300 + "]" * 300),
        capsys)
    assert all(line.startswith("resource_changes[0].change.after_unknown")
               and "nests deeper" in line for line in lines), lines


def test_a_list_as_an_address_is_refused(synthesized, tmp_path, capsys):
    lines = _cli(tmp_path, "azure", _plan_text(
        synthesized, "azure", "planned_values.root_module.resources[0].address", '["a", "b"]'),
        capsys)
    assert all(line.startswith("planned_values.root_module.resources[0].address: must be a "
                               "resource address") for line in lines), lines


def test_a_huge_file_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tfjson, "MAX_BYTES", 1000)
    lines = _cli(tmp_path, "aws", json.dumps({"format_version": "1.2", "resource_changes": [],
                                              "pad": "x" * 2000}), capsys)
    assert all("more than the 1,000 bytes verify reads" in line for line in lines), lines
