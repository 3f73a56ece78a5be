"""A review as Markdown for a pull-request comment (GitHub and GitLab flavours alike).

The first line is a hidden marker (an HTML comment), so CI can find its own comment and
update it on later pushes instead of adding a new one.

Every value that comes from input (paths, labels, CIDRs, ids, rule names, messages) passes
through `text`, the one Markdown escaper; the rest is sxcloud's own markup. A value can then
neither hide what follows it (an unclosed `<details>`, an HTML comment, a fence) nor forge
lines of the report (a line break, a heading).
"""

from __future__ import annotations

import re

from ..catalog import ROWS_BY_ID
from ..escape import terminal
from ..exceptions import EXPIRED, EXPIRING, Status
from ..policy import INBOUND
from .build import Review, StackReview
from .diff import Change
from .exceptions import ExceptionReview, describe
from .findings import describe_rows
from .mermaid import LEGEND, flowchart
from .openings import EXCEPTION, EXTENSION, PLATFORM, UNINTENDED, Opening
from .packets import of_exception

MARKER = "<!-- sxcloud-review -->"
NO_CHANGE = "No change to the firewall."
NO_OPENINGS_CHANGE = "No change to the openings."
NO_SETTINGS_CHANGE = "No change to the settings."
NO_PACKET_CHANGE = ("Packets: none is decided otherwise; every packet (every protocol, port "
                    "and address) is allowed or denied as before.")
#: Regions listed per kind in the comment; `--json` has every one.
SHIFTS_SHOWN = 25
VERIFY_SHOWN = 10  # verify findings listed in the comment; `sxcloud verify` lists them all

_CLOUD = {"aws": "AWS", "azure": "Azure"}


class Md(str):
    """Text that is Markdown already: sxcloud's own markup around escaped values."""


# Inline Markdown, GFM extensions and HTML: each character that can start markup is escaped
# (a backslash for ASCII punctuation, an entity for what HTML reads). `$` is GitHub's and
# GitLab's math, `~` strikes through, `{+ +}` is GitLab's inline diff, `|` ends a table cell.
# `_` emphasises only at a word's edge, so `admin_pc` keeps its underscore unescaped.
_ESCAPES = {c: "\\" + c for c in "\\`*~[]|#$!{}"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# What starts a block at the beginning of a line: a list item ("1. ", "- ", "+ "), or a
# setext underline ("==", "--").
_LEADING_BLOCK = re.compile(r"^(\d{1,9}(?=[.)](\s|$))|(?=[-+=](\s|$))|(?=[-=]+$))")


def text(value: object) -> Md:
    """The one Markdown escaper: any value from input as text that renders as itself, on one
    line, in a paragraph, list item or table cell, whatever it holds (HTML, comments,
    fences, links, emphasis, math, line breaks). Control and line-break characters are
    shown as escapes first (`sxcloud.escape.terminal`), so a value never starts a line."""
    shown = terminal(value)
    out = "".join(_escaped(shown, i) for i in range(len(shown)))
    out = _LEADING_BLOCK.sub(lambda m: m[0] + "\\", out, count=1)
    stripped = out.lstrip(" ")
    return Md("&#32;" * (len(out) - len(stripped)) + stripped)  # leading spaces: indentation


def _escaped(shown: str, i: int) -> str:
    char = shown[i]
    if char != "_":
        return _ESCAPES.get(char, char)
    inside = 0 < i < len(shown) - 1 and shown[i - 1].isalnum() and shown[i + 1].isalnum()
    return "_" if inside else "\\_"


def _cell(value: object) -> str:
    return value if isinstance(value, Md) else text(value)


def _table(headers: list[str], rows: list[list[object]]) -> list[str]:
    """A table; a cell is escaped unless it is Md already."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _peer(o: Opening) -> Md:
    return Md(f"{text(o.peer.short())} ({text(o.role)})" if o.role else text(o.peer.short()))


def _rule(o: Opening) -> str:
    if o.rows:
        return describe_rows(o.rows)
    if o.origin == EXCEPTION:
        return o.role or "-"  # X-<id>
    return {PLATFORM: "platform", UNINTENDED: "none"}.get(o.origin, "-")


def _why(o: Opening, leaving: bool = False) -> Md:
    """The rationale; `leaving`: the opening is being removed, so intent is moot."""
    reasons = "; ".join(ROWS_BY_ID[r].rationale for r in o.rows if r in ROWS_BY_ID)
    if o.origin == UNINTENDED and leaving:
        return text(f"Per its description: {reasons}" if reasons else
                    "Its description names no row.")
    if o.origin == UNINTENDED:
        claim = f" {text('Its description claims: ' + reasons)}" if reasons else ""
        return Md(f"**Not intended by the deployment files.**{claim}")
    if o.origin == PLATFORM:
        return text("Azure load balancer health probes must reach the appliances.")
    if o.origin == EXCEPTION:
        return text(f"Site exception: {o.description}")
    return text(reasons)


def _flags(o: Opening) -> str:
    parts = [" ".join(f for f in dict.fromkeys(
        ROWS_BY_ID[r].flags for r in o.rows if r in ROWS_BY_ID) if f)]
    parts.append({EXTENSION: "extension", PLATFORM: "platform", EXCEPTION: "exception",
                  UNINTENDED: "not intended"}.get(o.origin, ""))
    return " ".join(p for p in parts if p)


def _direction(o: Opening) -> str:
    return "in" if o.direction == INBOUND else "out"


def matrix(openings: list[Opening]) -> list[str]:
    """The rule matrix: one line per opening."""
    return _table(["Dir", "Protocol/port", "Peer", "Rule", "Rationale", "Flags"],
                  [[_direction(o), o.ports, _peer(o), _rule(o), _why(o), _flags(o)]
                   for o in openings])


def _change_lines(change: Change, plan_mode: bool, base_label: Md) -> list[str]:
    title = Md("What applying the plan changes") if plan_mode else Md(
        f"Change against {base_label}")
    out = [f"#### {title}", ""]
    if change.empty:
        return out + [NO_OPENINGS_CHANGE, ""]
    out += [f"Openings: {text(change.counts())}.", ""]
    for heading, items, leaving in (
            ("Added (newly allowed)", [o for o in change.added if not change.adds_nothing(o)],
             False),
            ("Added, allowing nothing new (other rules already allow every packet of these "
             "rules)", [o for o in change.added if change.adds_nothing(o)], False),
            ("Removed (no longer allowed)",
             [o for o in change.removed if not change.removes_nothing(o)], True),
            ("Removed, stopping nothing (other rules still allow every packet these rules "
             "allowed)", [o for o in change.removed if change.removes_nothing(o)], True)):
        if items:
            out += [f"**{heading}**", ""]
            out += _table(["Dir", "Protocol/port", "Peer", "Rule", "Why"],
                          [[_direction(o), o.ports, _peer(o), _rule(o), _why(o, leaving=leaving)]
                           for o in items])
            out.append("")
    if change.changed:
        out += ["**Changed**", ""]
        out += _table(["Dir", "Protocol/port", "Peer", "What changed", "Why (now)"],
                      [[_direction(c.after), c.after.ports, _peer(c.after),
                        "; ".join(c.what), _why(c.after)] for c in change.changed])
        out.append("")
    for heading, guards in (("Deny rule added", change.guards_added),
                            ("Deny rule removed", change.guards_removed)):
        out += [f"- {heading}: {text(g)}" for g in guards]
    if change.guards_added or change.guards_removed:
        out.append("")
    return out + _packet_lines(change)


def _packet_lines(change: Change) -> list[str]:
    """The exact change in packets (verify's engine): regions newly allowed and no longer
    allowed, each with the rules behind it and one packet; site exceptions' apart."""
    if change.packets is None:
        return []
    if not change.packets.shifts:
        return [NO_PACKET_CHANGE, ""]
    out = []
    for heading, shifts in (
            ("Packets newly allowed", change.packets.newly_allowed),
            ("Packets no longer allowed", change.packets.no_longer_allowed)):
        for part, chosen in (("", [s for s in shifts if not of_exception(s)]),
                             (" by site exceptions", [s for s in shifts if of_exception(s)])):
            if not chosen:
                continue
            out += [f"**{heading}{part}** (exact: each region, the rules that "
                    f"{'allow it now' if chosen[0].allowed else 'allowed it'}, one packet)", ""]
            out += [f"- {text(s.region)}: by {text(s.by)}; e.g. {text(s.example)}"
                    for s in chosen[:SHIFTS_SHOWN]]
            if len(chosen) > SHIFTS_SHOWN:
                out.append(f"- and {len(chosen) - SHIFTS_SHOWN} more regions "
                           "(`sxcloud review --json` lists every one)")
            out.append("")
    return out


def _days_left(status: Status) -> Md:
    """Days left as a number; within the warning window a warning, after it a finding."""
    if status.state == EXPIRED:
        return Md(f":x: **{text(status)}**")
    mark = ":warning: " if status.state == EXPIRING else ""
    return Md(f"{mark}{status.days_left}")


def _exception_lines(x: ExceptionReview | None, base_label: Md) -> list[str]:
    """The stack's site exceptions, apart from the vendor rows, and their change."""
    if x is None or not (x.entries or x.changes):
        return []
    out = ["#### Beyond the vendor table", "",
           f"Site exceptions of the deployment file (today is {x.today}):", ""]
    if x.entries:
        out += _table(["Exception", "Flow", "Peer", "Reason", "Owner", "Ticket", "Expires",
                       "Days left"], [
            [e.exception.label, e.flow, str(e.exception.peer), e.exception.reason,
             e.exception.owner, e.exception.ticket or "none", str(e.exception.expires),
             _days_left(e.status)] for e in x.entries]) + [""]
    else:
        out += ["None on this stack now.", ""]
    if x.changes:
        out += [f"**Exceptions: change against {base_label}**", ""]
        out += _table(["Exception", "What", "Details"], [
            [c.label, ", ".join(c.what), describe(c)] for c in x.changes]) + [""]
    return out


def _meaning(sentence: str, finding: bool) -> Md:
    return Md(f":x: **{text(sentence)}**") if finding else text(sentence)


def _settings_lines(s: StackReview, base_label: Md) -> list[str]:
    """The settings beside the openings: their change against the base, or what they are."""
    if s.settings is None:
        if not s.current:
            return []
        return ["#### Settings", ""] + _table(["Setting", "Value"], [
            [key, value] for key, value in s.current]) + [""]
    out = [f"#### Settings: change against {base_label}", ""]
    if not s.settings:
        return out + [NO_SETTINGS_CHANGE, ""]
    return out + _table(["Setting", "Before", "After", "What it means"], [
        [c.key, "not set" if c.before is None else c.before,
         "not set" if c.after is None else c.after,
         _meaning(c.meaning, c.finding)] for c in s.settings]) + [""]


def _resource_lines(s: StackReview) -> list[str]:
    """With --plan: what the plan does to resources other than rules."""
    if s.resources is None:
        return []
    out = ["#### Other resources in the plan", ""]
    if not s.resources:
        return out + ["The plan creates, updates or deletes no resource besides the rules.", ""]
    return out + _table(["Resource", "Action", "Intended by the files", "Attributes changed",
                         "What it means"], [
        [r.address, r.action, "yes" if r.intended else "no", ", ".join(r.attributes) or "none",
         _meaning(r.meaning, r.finding)] for r in s.resources]) + [""]


def _summary(s: StackReview) -> Md:
    fw = s.head
    if fw is None:
        return Md(f"**Removed by this change** (was in {text(s.source)}).")
    quota = ", ".join(f"{q.what} {q.used}/{q.limit}" for q in fw.quota)
    verify = str(s.verify) if s.verify else "not run"
    rules = f"{fw.rule_count} rule{'s' * (fw.rule_count != 1)}"
    return Md(f"**{rules}** ({len(fw.openings)} openings) · quota: {text(quota)} · verify: "
              f"{text(verify)} · from {text(s.source)}")


def stack_section(s: StackReview, base_label: str | None, plan_mode: bool) -> list[str]:
    fw = s.head or s.base
    assert fw is not None
    base = text(base_label) if base_label else Md("the base")
    out = [f"### {text(s.stack)}: {_CLOUD.get(s.cloud, s.cloud)} {text(fw.label)}", "",
           _summary(s), ""]
    if s.change is not None:
        out += _change_lines(s.change, plan_mode, base)
    out += _exception_lines(s.exceptions, base)
    out += _settings_lines(s, base) + _resource_lines(s)
    if s.exceptions and s.exceptions.findings:
        out += ["#### Site exception findings", ""]
        out += [f"- :x: {text(f)}" for f in s.exceptions.findings] + [""]
    if s.findings:
        out += ["#### Plan versus the deployment files", ""]
        out += [f"- :x: {text(f)}" for f in s.findings] + [""]
    if s.verify is not None and s.verify.findings:
        shown = s.verify.findings[:VERIFY_SHOWN]
        out += ["#### Verify findings", ""] + [f"- :x: {text(f)}" for f in shown]
        rest = len(s.verify.findings) - len(shown)
        out += [f"- ... and {rest} more: run `sxcloud verify` for all"] if rest else []
        out.append("")
    if s.warnings:
        out += ["#### Warnings", ""] + [f"- :warning: {text(w)}" for w in s.warnings] + [""]
    # The flowchart's labels are escaped for Mermaid (mermaid.escape), and no line of it
    # starts with a backtick, so nothing in it can close this fence.
    out += ["#### Flows", "", "```mermaid", flowchart(s.head, s.change).rstrip("\n"), "```"]
    if s.change is not None and not s.change.empty:
        out += ["", f"<sub>{LEGEND}</sub>"]  # sxcloud's own Markdown
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
        out += ["#### Notes", ""] + [f"- {text(n)}" for n in s.notes] + [""]
    return out


def _what_changed(s: StackReview) -> str:
    parts = []
    if s.change is not None and not s.change.empty:
        parts.append(f"openings {s.change.counts()}")
    if s.settings:
        parts.append(f"{len(s.settings)} setting{'s' * (len(s.settings) != 1)} changed")
    if s.resources:
        parts.append(f"{len(s.resources)} other resource{'s' * (len(s.resources) != 1)} "
                     "in the plan")
    return "; ".join(parts)


def render(review: Review) -> str:
    """The whole comment."""
    out = [MARKER, "## Firewall review (sxcloud)", ""]
    count = f"{len(review.stacks)} stack{'s' * (len(review.stacks) != 1)}"
    if review.compared_with is None:
        out.append(f"The firewall of {count}, from the deployment files. Give "
                   "`--base` or `--base-ref` to see the change.")
    else:
        changes = [s for s in review.stacks if s.changed]
        what = Md("what applying the plan changes") if review.plan_mode else Md(
            f"the change against {text(review.compared_with)}")
        if not changes:
            out.append(f"**{NO_CHANGE}** ({what}; {count} compared)")
        else:
            out.append(f"{what[:1].upper()}{what[1:]}:")
            out.append("")
            out += [f"- {text(s.stack)}: {text(_what_changed(s))}" for s in changes]
    findings = sum(len(s.all_findings) for s in review.stacks)
    if findings:
        out += ["", f":x: **{findings} finding{'s' * (findings != 1)}**: each is marked "
                ":x: below; the review fails."]
    out += [f"- {text(n)}" for n in review.notes]
    out.append("")
    for s in review.stacks:
        out += stack_section(s, review.compared_with, review.plan_mode)
    return "\n".join(out).rstrip("\n") + "\n"
