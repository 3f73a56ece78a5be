"""Verify's results as text for people and as JSON for machines.

The text groups findings that share a kind, a direction, the intended flow and the deciding
rule, so one removed rule reads as one line per flow, with its probes and ports listed.
"""

from __future__ import annotations

from typing import Any

from .model import KINDS, Finding, StackResult

_MORE = 4  # probes and ports named per line before "+N more"


def _grouped(findings: list[Finding]) -> list[tuple[tuple[str, ...], list[Finding]]]:
    groups: dict[tuple[str, ...], list[Finding]] = {}
    for f in findings:
        key = ((f.kind, f.direction or "", f.intended or "", f.decided_by or "", str(f.allowed))
               if f.probe else (f.kind, f.message))
        groups.setdefault(key, []).append(f)
    return sorted(groups.items(), key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1:]))


def _some(items: list[str]) -> str:
    unique = list(dict.fromkeys(items))
    shown = ", ".join(unique[:_MORE])
    return shown + (f" (+{len(unique) - _MORE} more)" if len(unique) > _MORE else "")


def _line(key: tuple[str, ...], findings: list[Finding]) -> str:
    first = findings[0]
    if first.probe is None:
        return f"  {first.kind:<10} {first.message}"
    services = _some([f.service for f in sorted(findings, key=lambda f: (f.protocol, f.port))])
    probes = _some([str(f.probe) for f in findings])
    way = "from" if first.direction == "inbound" else "to"
    if first.intended:
        head = f"{first.intended}: {first.direction} {services}"
        verdict = (f"allowed only by {first.decided_by}, whose peer is wider than the "
                   "flow's role" if first.allowed else f"denied by {first.decided_by}")
    else:
        head = f"{first.direction} {services}"
        verdict = f"allowed by {first.decided_by}; no flow of the file intends it"
    return f"  {first.kind:<10} {head} {way} {probes}: {verdict}"


def text(results: list[StackResult], skipped: list[str]) -> str:
    """The human-readable report."""
    lines = []
    for r in results:
        status = "OK" if r.ok else f"{len(r.findings)} finding{'s' * (len(r.findings) != 1)}"
        lines.append(f"{r.stack} ({r.kind}: {r.source}): {status}; {r.intended_flows} intended "
                     f"flows, {r.probes} probe hosts, {r.decisions} decisions")
        lines += [_line(key, group) for key, group in _grouped(r.findings)]
        lines += [f"  note: {n}" for n in r.notes]
    for name in skipped:
        lines.append(f"{name}: not verified (no document given holds it)")
    bad = [r for r in results if not r.ok]
    total = sum(len(r.findings) for r in results)
    lines.append(f"verify: {len(results)} stack{'s' * (len(results) != 1)} verified, "
                 + (f"{len(bad)} with findings ({total} in all)" if bad else "no findings"))
    return "\n".join(lines)


def data(results: list[StackResult], skipped: list[str]) -> dict[str, Any]:
    """The machine-readable report (`--json`)."""
    return {"ok": all(r.ok for r in results),
            "findings": sum(len(r.findings) for r in results),
            "stacks": [r.to_json() for r in results],
            "skipped": list(skipped)}
