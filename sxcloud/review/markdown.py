"""A review as Markdown for a pull-request comment (GitHub and GitLab flavours alike).

The first line is a hidden marker (an HTML comment), so CI can find its own comment and
update it on later pushes instead of adding a new one.
"""

from __future__ import annotations

from ..catalog import ROWS_BY_ID
from ..policy import INBOUND
from .build import Review, StackReview
from .diff import Change
from .findings import describe_rows
from .mermaid import LEGEND, flowchart
from .openings import EXTENSION, PLATFORM, UNINTENDED, Opening

MARKER = "<!-- sxcloud-review -->"
NO_CHANGE = "No change to the firewall."
VERIFY_SHOWN = 10  # verify findings listed in the comment; `sxcloud verify` lists them all

_CLOUD = {"aws": "AWS", "azure": "Azure"}


def cell(text: object) -> str:
    """Text safe in a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return out


def _peer(o: Opening) -> str:
    value = f"`{o.peer.short()}`"
    return f"{value} ({o.role})" if o.role else value


def _rule(o: Opening) -> str:
    if o.rows:
        return describe_rows(o.rows)
    return {PLATFORM: "platform", UNINTENDED: "none"}.get(o.origin, "-")


def _why(o: Opening, leaving: bool = False) -> str:
    """The rationale; `leaving`: the opening is being removed, so intent is moot."""
    reasons = "; ".join(ROWS_BY_ID[r].rationale for r in o.rows if r in ROWS_BY_ID)
    if o.origin == UNINTENDED and leaving:
        return f"Per its description: {reasons}" if reasons else "Its description names no row."
    if o.origin == UNINTENDED:
        claim = f" Its description claims: {reasons}" if reasons else ""
        return f"**Not intended by the deployment files.**{claim}"
    if o.origin == PLATFORM:
        return "Azure load balancer health probes must reach the appliances."
    return reasons


def _flags(o: Opening) -> str:
    parts = [" ".join(f for f in dict.fromkeys(
        ROWS_BY_ID[r].flags for r in o.rows if r in ROWS_BY_ID) if f)]
    parts.append({EXTENSION: "extension", PLATFORM: "platform",
                  UNINTENDED: "not intended"}.get(o.origin, ""))
    return " ".join(p for p in parts if p)


def _direction(o: Opening) -> str:
    return "in" if o.direction == INBOUND else "out"


def matrix(openings: list[Opening]) -> list[str]:
    """The rule matrix: one line per opening."""
    return _table(["Dir", "Protocol/port", "Peer", "Rule", "Rationale", "Flags"],
                  [[_direction(o), str(o.ports), _peer(o), _rule(o), _why(o), _flags(o)]
                   for o in openings])


def _change_lines(change: Change, plan_mode: bool, base_label: str) -> list[str]:
    title = "What applying the plan changes" if plan_mode else f"Change against {base_label}"
    out = [f"#### {title}", ""]
    if change.empty:
        return out + [NO_CHANGE, ""]
    out += [f"Openings: {change.counts()}.", ""]
    for title, items in (("Added (newly allowed)", change.added),
                         ("Removed (no longer allowed)", change.removed)):
        if items:
            out += [f"**{title}**", ""]
            out += _table(["Dir", "Protocol/port", "Peer", "Rule", "Why"],
                          [[_direction(o), str(o.ports), _peer(o), _rule(o),
                            _why(o, leaving=items is change.removed)] for o in items])
            out.append("")
    if change.changed:
        out += ["**Changed**", ""]
        out += _table(["Dir", "Protocol/port", "Peer", "What changed", "Why (now)"],
                      [[_direction(c.after), str(c.after.ports), _peer(c.after),
                        "; ".join(c.what), _why(c.after)] for c in change.changed])
        out.append("")
    for title, guards in (("Deny rule added", change.guards_added),
                          ("Deny rule removed", change.guards_removed)):
        out += [f"- {title}: {g}" for g in guards]
    if change.guards_added or change.guards_removed:
        out.append("")
    return out


def _summary(s: StackReview) -> str:
    fw = s.head
    if fw is None:
        return f"**Removed by this change** (was in `{s.source}`)."
    quota = ", ".join(f"{q.what} {q.used}/{q.limit}" for q in fw.quota)
    verify = str(s.verify) if s.verify else "not run"
    rules = f"{fw.rule_count} rule{'s' * (fw.rule_count != 1)}"
    return (f"**{rules}** ({len(fw.openings)} openings) · quota: {quota} · verify: {verify}"
            f" · from `{s.source}`")


def stack_section(s: StackReview, base_label: str | None, plan_mode: bool) -> list[str]:
    fw = s.head or s.base
    assert fw is not None
    out = [f"### `{s.stack}`: {_CLOUD.get(s.cloud, s.cloud)} {fw.label}", "", _summary(s), ""]
    if s.change is not None:
        out += _change_lines(s.change, plan_mode, f"`{base_label}`" if base_label else "the base")
    if s.findings:
        out += ["#### Plan versus the deployment files", ""]
        out += [f"- :x: {f}" for f in s.findings] + [""]
    if s.verify is not None and s.verify.findings:
        shown = s.verify.findings[:VERIFY_SHOWN]
        out += ["#### Verify findings", ""] + [f"- :x: {cell(f)}" for f in shown]
        rest = len(s.verify.findings) - len(shown)
        out += [f"- ... and {rest} more: run `sxcloud verify` for all"] if rest else []
        out.append("")
    if s.warnings:
        out += ["#### Warnings", ""] + [f"- :warning: {w}" for w in s.warnings] + [""]
    out += ["#### Flows", "", "```mermaid", flowchart(s.head, s.change).rstrip("\n"), "```"]
    if s.change is not None and not s.change.empty:
        out += ["", f"<sub>{LEGEND}</sub>"]
    out.append("")
    if s.head is not None:
        rows = matrix(s.head.sorted_openings())
        if s.change is not None:  # the change comes first; the whole matrix on demand
            out += ["<details><summary>Rule matrix "
                    f"({len(s.head.openings)} openings)</summary>", ""] + rows + ["",
                                                                                   "</details>"]
        else:
            out += ["#### Rule matrix", ""] + rows
        out.append("")
    if s.notes:
        out += ["#### Notes", ""] + [f"- {n}" for n in s.notes] + [""]
    return out


def render(review: Review) -> str:
    """The whole comment."""
    out = [MARKER, "## Firewall review (sxcloud)", ""]
    if review.compared_with is None:
        out.append(f"The firewall of {len(review.stacks)} stack"
                   f"{'s' * (len(review.stacks) != 1)}, from the deployment files. Give "
                   "`--base` or `--base-ref` to see the change.")
    else:
        changes = [s for s in review.stacks if s.change is not None and not s.change.empty]
        what = "what applying the plan changes" if review.plan_mode else (
            f"the change against `{review.compared_with}`")
        if not changes:
            out.append(f"**{NO_CHANGE}** ({what}; {len(review.stacks)} stack"
                       f"{'s' * (len(review.stacks) != 1)} compared)")
        else:
            out.append(f"{what[:1].upper()}{what[1:]}:")
            out.append("")
            out += [f"- `{s.stack}`: {s.change.counts()}" for s in changes if s.change]
    findings = sum(len(s.findings) for s in review.stacks)
    if findings:
        out += ["", f":x: **{findings} difference{'s' * (findings != 1)} between the plan and "
                "the deployment files** (see below)."]
    out += [f"- {n}" for n in review.notes]
    out.append("")
    for s in review.stacks:
        out += stack_section(s, review.compared_with, review.plan_mode)
    return "\n".join(out).rstrip("\n") + "\n"
