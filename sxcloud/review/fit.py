"""The review cut to fit one pull-request comment (issue 15).

GitHub takes at most 65,536 characters in a comment; GitLab at most 1,000,000 in a note
(docs.gitlab.com, Notes API: "body ... Limited to 1,000,000 characters"). A comment that is
too long is refused, and the previous one, perhaps "No change", would stay. So the comment
holds the whole report when it fits GitHub's limit (the smaller), and otherwise, in this
order, as much as fits of:

1. the summary at the top, and each stack's heading and summary line;
2. every finding (each section that holds a `:x:` line: plan versus files, verify, settings
   that send state or credentials elsewhere, ...);
3. the change of the openings (added, removed and changed);
4. the other sections (settings, other resources, warnings, notes);
5. the Flows diagrams and the rule matrices.

The report is cut between sections, blocks, table rows and list items, never inside a
construct: a fenced block (Mermaid), a `<details>` element, a heading or a paragraph is kept
whole or left out; a table (or list) of the first three kinds that does not fit keeps its
header and first rows, and a line under it says how many were left out. A line at the top says how much was left out and
where the whole report is (`sxcloud review --full`, or the CI job's artifact).

This works on the rendered Markdown's own structure (sxcloud's headings and blocks), so a
section added to markdown.py is placed by its content without a change here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: GitHub's limit for an issue or pull-request comment body, in characters.
GITHUB_COMMENT_MAX = 65_536
#: GitLab's limit for a note body (docs.gitlab.com/ee/api/notes.html), in characters.
GITLAB_NOTE_MAX = 1_000_000
#: The limit the comment is cut to: the smaller of the two, so one report fits both.
COMMENT_MAX = min(GITHUB_COMMENT_MAX, GITLAB_NOTE_MAX)

#: Where the whole report is; the CI examples (examples/ci/) upload it under this name.
FULL_REPORT = "review-full.md"

# Priorities, most important first.
SUMMARY, FINDINGS, CHANGE, OTHER, BULK = range(5)
_CHANGE_TITLES = ("Change against ", "What applying the plan changes")
_BULK_TITLES = ("Flows", "Rule matrix")
_FINDING = ":x:"


def size(markdown: str) -> int:
    """The length as the hosts count it, at most: UTF-16 code units (a character beyond
    U+FFFF counts twice), never fewer than the characters."""
    return len(markdown.encode("utf-16-le")) // 2


@dataclass
class _Block:
    """Lines that are kept or left out together (a table may lose rows at its end)."""

    lines: list[str]
    head: int | None = None  # lines a cut keeps (a table's header: 2, a list: 0); None: whole
    rows_left_out: int = 0
    gap: bool = True  # a blank line follows it (as in the report)

    def text(self) -> list[str]:
        return self.lines + [""] * self.gap

    def size(self) -> int:
        return sum(size(line) + 1 for line in self.text())


@dataclass
class _Section:
    """A heading and the blocks under it (the first section: the report's top)."""

    title: str
    blocks: list[_Block] = field(default_factory=list)
    priority: int = OTHER

    def size(self) -> int:
        return sum(b.size() for b in self.blocks)


_HEADING = re.compile(r"#{1,6} ")


def _blocks(markdown: str) -> list[_Block]:
    """The report's blocks: a fenced block or a <details> element (blank lines and all), a
    table, a heading, or a run of other lines up to a blank line."""
    lines = markdown.rstrip("\n").split("\n")
    out: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        end = i + 1
        if line.startswith("```"):
            while end < len(lines) and lines[end] != "```":
                end += 1
            end += 1
        elif line.startswith("<details>"):
            while end < len(lines) and lines[end] != "</details>":
                end += 1
            end += 1
        elif line.startswith("|"):
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
        elif not _HEADING.match(line):
            while end < len(lines) and lines[end].strip() and not _HEADING.match(lines[end]) \
                    and not lines[end].startswith(("```", "<details>", "|")):
                end += 1
        end = min(end, len(lines))
        gap = end >= len(lines) or not lines[end].strip()
        head = 2 if line.startswith("|") else 0 if all(
            item.startswith("- ") for item in lines[i:end]) else None
        out.append(_Block(lines[i:end], head=head, gap=gap))
        i = end
    return out


def _sections(markdown: str) -> list[_Section]:
    sections = [_Section("", priority=SUMMARY)]
    for block in _blocks(markdown):
        first = block.lines[0]
        if _HEADING.match(first) and not first.startswith(("# ", "## ")):
            title = first.lstrip("#").strip()
            if first.startswith("### "):  # a stack: its heading and summary line
                priority = SUMMARY
            elif title.startswith(_CHANGE_TITLES):
                priority = CHANGE
            elif title.startswith(_BULK_TITLES):
                priority = BULK
            else:
                priority = OTHER
            sections.append(_Section(title, priority=priority))
        elif block.lines[0].startswith("<details>"):
            # a collapsed block (the rule matrix beside a change) is bulk, wherever it is
            sections.append(_Section("Rule matrix", [block], BULK))
            continue
        sections[-1].blocks.append(block)
    for s in sections:
        if s.priority in (CHANGE, OTHER) and any(_FINDING in "".join(b.lines) for b in s.blocks):
            s.priority = FINDINGS
    return sections


def fit(markdown: str, limit: int = COMMENT_MAX) -> str:
    """`markdown` (a rendered review) as it fits `limit` characters: unchanged when it does,
    else cut as the module docstring says, with a line saying what was left out."""
    if size(markdown) <= limit:
        return markdown
    sections = _sections(markdown)
    reserve = 700  # the note about what was left out
    while True:
        kept, rows_cut = _choose(sections, limit - reserve)
        out = _render(sections, kept, rows_cut, size(markdown), limit)
        if size(out) <= limit:
            return out
        reserve += size(out) - limit + 100


def _choose(sections: list[_Section], budget: int) -> tuple[dict[int, list[_Block]], int]:
    """Which blocks of each section to keep within `budget`, by priority; how many table
    rows were cut."""
    kept: dict[int, list[_Block]] = {}
    used, rows_cut = 0, 0
    for priority in (SUMMARY, FINDINGS, CHANGE, OTHER, BULK):
        for index, section in enumerate(sections):
            if section.priority != priority:
                continue
            if used + section.size() <= budget:
                kept[index] = list(section.blocks)
                used += section.size()
                continue
            if priority > CHANGE:
                continue  # whole or not at all
            blocks: list[_Block] = []
            for block in section.blocks:
                if used + block.size() <= budget:
                    blocks.append(block)
                    used += block.size()
                elif block.head is not None:
                    part = _rows_that_fit(block, budget - used)
                    if part is not None:
                        blocks.append(part)
                        used += part.size()
                    rows_cut += part.rows_left_out if part else len(block.lines) - block.head
            if blocks:
                kept[index] = blocks
    return kept, rows_cut


def _rows_that_fit(table: _Block, room: int) -> _Block | None:
    """The table's header (none for a list) and the first rows or items that fit `room`, and
    a line saying how many are left out (a paragraph after it, so the table stays whole)."""
    assert table.head is not None
    lines = table.lines[:table.head]
    note_size = 80
    total = sum(size(line) + 1 for line in lines) + 1 + note_size
    if total > room:
        return None
    for row in table.lines[table.head:]:
        if total + size(row) + 1 > room:
            break
        lines.append(row)
        total += size(row) + 1
    left = len(table.lines) - len(lines)
    kind = "row" if table.head else "item"
    return _Block(lines + ["", f"*... {left} more {kind}{'s' * (left != 1)} of this "
                           f"{'table' if table.head else 'list'} left out to fit one "
                           "comment.*"], head=table.head, rows_left_out=left)


def _render(sections: list[_Section], kept: dict[int, list[_Block]], rows_cut: int,
            whole: int, limit: int) -> str:
    out: list[str] = []
    left_out = [s for i, s in enumerate(sections) if i not in kept and s.title]
    for index, section in enumerate(sections):
        blocks = kept.get(index)
        if blocks is None:
            continue
        for block in blocks:
            out += block.text()
        if index == 0:
            out += [_note(left_out, rows_cut, whole, limit), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _note(left_out: list[_Section], rows_cut: int, whole: int, limit: int) -> str:
    titles: dict[str, int] = {}
    for s in left_out:
        name = s.title if not s.title.startswith(_CHANGE_TITLES[0]) else "Change"
        titles[name] = titles.get(name, 0) + 1
    parts = [f"{name} ({count}x)" if count > 1 else name for name, count in titles.items()]
    shown = parts[:_NOTE_PARTS] + ([f"{len(parts) - _NOTE_PARTS} more sections"]
                                   if len(parts) > _NOTE_PARTS else [])
    if rows_cut:
        shown.append(f"{rows_cut} table row{'s' * (rows_cut != 1)} or list items")
    return (f":scissors: **This report ({whole:,} characters) is cut to fit one comment "
            f"({limit:,} characters).** Every finding is below as far as it fits. Left "
            f"out: {'; '.join(shown) or 'nothing'}. The whole report: `sxcloud review --full` "
            f"with the same arguments, or the file `{FULL_REPORT}` that the CI job keeps as "
            "an artifact.")


_NOTE_PARTS = 8  # section names listed in the note (headings are sxcloud's escaped Markdown)
