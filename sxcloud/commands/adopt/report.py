"""The report of an adoption, for every cloud: a table for people, JSON, and the YAML to add.

Cloud-neutral, shared by `sxcloud adopt aws` and `sxcloud adopt azure`: each cloud's command
builds a `Report` (what is adopted, one `Row` per live rule and per rule to be created, the
`<cloud>.adopt` entry and the draft exceptions) and prints it with `text` or `data`.
Every cell reaches the terminal through tables.render / print_text (escaped there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import tables
from . import yamledit

# What becomes of a live rule, or of a planned rule with no live twin.
TAKEN = "taken over"  # by a planned vendor rule (or an exception already in the file)
DRAFT = "draft exception"  # by a draft exception written by this adoption
CREATE = "to be created"  # planned, not live
UNMANAGED = "kept unmanaged"  # live, left as it is outside Terraform (Azure: no exception states it)


@dataclass(frozen=True)
class Row:
    """One live rule and what takes it over, or one planned rule to be created."""

    outcome: str  # TAKEN, DRAFT, CREATE or UNMANAGED
    live_id: str  # the live rule's id (sgr-..., an NSG rule's name); "" for CREATE
    direction: str  # as the cloud names it (ingress, Inbound, ...)
    service: str  # tcp/25, all, ...
    peer: str
    rule: str  # sxcloud's rule key that takes it over, or is created
    note: str = ""  # e.g. "description updated in place"


@dataclass(frozen=True)
class Report:
    cloud: str  # aws or azure: the file's section
    file: Path
    adopted: dict[str, str]  # what is adopted, for people: {"group": "sg-... (name)"}
    rows: tuple[Row, ...]
    adopt: dict[str, Any]  # the `<cloud>.adopt` entry
    exceptions: tuple[dict[str, Any], ...]  # the draft exceptions, as file entries
    written: bool = False  # FILE was edited (--write)
    warnings: tuple[str, ...] = field(default=())

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)


def text(report: Report) -> str:
    """The report as a table, then the YAML to add (or where it was written)."""
    what = ", ".join(f"{k} {v}" for k, v in report.adopted.items())
    head = (f"{report.file}: adopting {what} ({report.cloud})\n"
            f"{report.count(TAKEN)} live rules taken over by sxcloud's rules, "
            f"{report.count(DRAFT)} kept as draft exceptions, "
            + (f"{report.count(UNMANAGED)} kept unmanaged, " if report.count(UNMANAGED) else "")
            + f"{report.count(CREATE)} to be created\n\n")
    table = tables.render(("OUTCOME", "LIVE RULE", "DIRECTION", "SERVICE", "PEER", "SXCLOUD RULE",
                           "NOTE"),
                          [(r.outcome, r.live_id or "-", r.direction, r.service, r.peer, r.rule,
                            r.note) for r in report.rows])
    if report.written:
        tail = (f"\n\nwritten to {report.file}: {report.cloud}.adopt and "
                f"{len(report.exceptions)} draft exceptions")
    else:
        tail = (f"\n\nadd to {report.file} (or run again with --write):\n\n"
                + yamledit.snippet(report.cloud, report.adopt, list(report.exceptions)).rstrip())
    return head + table + tail


def data(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (`--json`)."""
    return {
        "cloud": report.cloud, "file": str(report.file), "adopted": report.adopted,
        "written": report.written,
        "rules": [{"outcome": r.outcome, "live_id": r.live_id or None, "direction": r.direction,
                   "service": r.service, "peer": r.peer, "rule": r.rule, "note": r.note}
                  for r in report.rows],
        "adopt": report.adopt, "exceptions": list(report.exceptions),
        "warnings": list(report.warnings),
    }
