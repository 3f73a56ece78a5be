"""A review as JSON-ready data (`sxcloud review --json`): the same facts as the Markdown.

Values are raw (JSON escapes them itself). A stack's `findings` holds every finding: the plan against the files, settings, other
resources."""

from __future__ import annotations

from typing import Any

from ..catalog import ROWS_BY_ID
from .build import Review, StackReview
from .diff import Change
from .exceptions import ExceptionReview, describe
from .mermaid import flowchart
from .openings import Firewall, Opening


def opening(o: Opening) -> dict[str, Any]:
    return {
        "direction": o.direction, "protocol": o.ports.protocol, "from_port": o.ports.low,
        "to_port": o.ports.high, "ports": str(o.ports), "peer_kind": o.peer.kind,
        "peer": o.peer.value, "role": o.role, "rule_ids": list(o.rows),
        "rationale": [ROWS_BY_ID[r].rationale for r in o.rows if r in ROWS_BY_ID],
        "origin": o.origin, "resource": o.resource, "note": o.note or None,
    }


def firewall(fw: Firewall | None) -> dict[str, Any] | None:
    if fw is None:
        return None
    return {
        "label": fw.label, "rules": fw.rule_count,
        "quota": [{"what": q.what, "used": q.used, "limit": q.limit} for q in fw.quota],
        "openings": [opening(o) for o in fw.sorted_openings()],
        "deny_rules": list(fw.guards),
    }


def change(c: Change | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "empty": c.empty,
        "added": [opening(o) for o in c.added],
        "removed": [opening(o) for o in c.removed],
        "changed": [{"before": opening(x.before), "after": opening(x.after),
                     "what": list(x.what)} for x in c.changed],
        "deny_rules_added": list(c.guards_added),
        "deny_rules_removed": list(c.guards_removed),
        "added_allowing_nothing_new": [opening(o) for o in c.added if c.adds_nothing(o)],
        "removed_stopping_nothing": [opening(o) for o in c.removed if c.removes_nothing(o)],
        "packets": None if c.packets is None else {
            "newly_allowed": [x.to_json() for x in c.packets.newly_allowed],
            "no_longer_allowed": [x.to_json() for x in c.packets.no_longer_allowed]},
    }


def stack(s: StackReview) -> dict[str, Any]:
    return {
        "stack": s.stack, "cloud": s.cloud, "source": s.source,
        "head": firewall(s.head), "base": firewall(s.base), "change": change(s.change),
        "settings": None if s.settings is None else [
            {"setting": c.key, "before": c.before, "after": c.after, "meaning": c.meaning,
             "finding": c.finding} for c in s.settings],
        "current_settings": [{"setting": k, "value": v} for k, v in s.current],
        "resources": None if s.resources is None else [
            {"address": r.address, "action": r.action, "intended": r.intended,
             "attributes_changed": list(r.attributes), "meaning": r.meaning,
             "finding": r.finding} for r in s.resources],
        "warnings": s.warnings, "notes": s.notes, "findings": s.all_findings,
        "verify": {"status": s.verify.status, "detail": s.verify.detail,
                   "findings": list(s.verify.findings)} if s.verify else None,
        "exceptions": exceptions(s.exceptions),
        "mermaid": flowchart(s.head, s.change),
    }


def exceptions(x: ExceptionReview | None) -> dict[str, Any] | None:
    """The stack's site exceptions, their change and findings (review.exceptions)."""
    if x is None:
        return None
    return {
        "today": str(x.today),
        "exceptions": [{
            "id": e.exception.label, "direction": e.exception.direction,
            "traffic": str(e.exception.traffic), "peer": str(e.exception.peer),
            "reason": e.exception.reason, "owner": e.exception.owner,
            "ticket": e.exception.ticket, "expires": str(e.exception.expires),
            "status": e.status.state, "days_left": e.status.days_left} for e in x.entries],
        "changes": None if x.changes is None else [
            {"id": c.label, "what": list(c.what), "details": describe(c)} for c in x.changes],
        "findings": list(x.findings),
    }


def review(r: Review) -> dict[str, Any]:
    return {"compared_with": r.compared_with, "plan": r.plan_mode, "notes": r.notes,
            "exit_code": r.exit_code, "stacks": [stack(s) for s in r.stacks]}
