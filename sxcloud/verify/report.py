"""Verify's results as text for people and as JSON for machines.

Each finding is one line: a region of the packet space where the firewall and the intent
differ (already merged with its neighbours by the engine), what decided it, and one packet
of it to try.
"""

from __future__ import annotations

from typing import Any

from .model import KINDS, Finding, StackResult


def _order(f: Finding) -> tuple[object, ...]:
    return (KINDS.index(f.kind), f.direction or "", f.intended or "", f.message)


def text(results: list[StackResult], skipped: list[str]) -> str:
    """The human-readable report."""
    lines = []
    for r in results:
        status = "OK" if r.ok else f"{len(r.findings)} finding{'s' * (len(r.findings) != 1)}"
        lines.append(f"{r.stack} ({r.kind}: {r.source}): {status}; {r.intended_flows} intended "
                     f"flows; every packet decided ({r.peer_ranges} peer ranges, {r.cells} "
                     "boxes)")
        lines += [f"  {f.kind:<10} {f.message}" for f in sorted(r.findings, key=_order)]
        lines += [f"  note: {n}" for n in r.notes]
    for name in skipped:
        lines.append(f"{name}: not verified (no document given holds it)")
    bad = [r for r in results if not r.ok]
    total = sum(len(r.findings) for r in results)
    lines.append(f"verify: {len(results)} stack{'s' * (len(results) != 1)} verified, "
                 + (f"{len(bad)} with findings ({total} in all)" if bad else "no findings"))
    return "\n".join(lines)


def data(results: list[StackResult], skipped: list[str]) -> dict[str, Any]:
    """The machine-readable report (`--json`): per stack its findings, each difference with
    its region and an example packet."""
    return {"ok": all(r.ok for r in results),
            "findings": sum(len(r.findings) for r in results),
            "stacks": [r.to_json() for r in results],
            "skipped": list(skipped)}
