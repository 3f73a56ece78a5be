"""Why each opening read from a Terraform plan exists, and whether the files intend it.

An opening of a plan is matched with what the deployment files intend by what it lets
through (direction, protocol/port, peer); a match takes the intended opening's vendor rows
and role. An opening with no match is UNINTENDED. Its rows are those its description
claims, kept only where the claim fits the opening (the row's direction and service), and
its role is the one the files give its address, if any.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .. import catalog
from ..policy import INBOUND, OUTBOUND
from .openings import UNINTENDED, Firewall, Opening, flow_ports, merge

_ROW_ID = re.compile(r"\b([RX]\d\d)\b")


def claimed_rows(description: str, opening: Opening) -> tuple[str, ...]:
    """Rows a rule's description names that could be this opening."""
    out = []
    for row_id in dict.fromkeys(_ROW_ID.findall(description)):
        row = catalog.ROWS_BY_ID.get(row_id)
        if row is not None and _fits(row, opening):
            out.append(row_id)
    return tuple(out)


def _fits(row: catalog.Row, o: Opening) -> bool:
    outbound = row.source == catalog.APPLIANCE
    both = row.target in (catalog.APPLIANCE_PEERS, catalog.INTERNAL_NETWORK)
    if not both and (o.direction == OUTBOUND) != outbound:
        return False
    return any(flow_ports(s) == o.ports for s in row.services)


def attribute(openings: list[Opening], intended: Firewall | None) -> tuple[Opening, ...]:
    """The openings with their rows, role and origin filled in from the intent."""
    index = {o.key: o for o in intended.openings} if intended else {}
    roles = {o.peer: o.role for o in intended.openings if o.role} if intended else {}
    out = []
    for o in openings:
        match = index.get(o.key)
        if match is not None:
            out.append(replace(o, role=match.role, rows=match.rows, origin=match.origin))
        else:
            out.append(replace(o, role=roles.get(o.peer), origin=UNINTENDED,
                               rows=claimed_rows(o.description, o)))
    return merge(out)


def mismatches(after: Firewall | None, intended: Firewall | None) -> list[str]:
    """Where the plan's result differs from what the files intend: each is a finding."""
    out = []
    planned = {o.key for o in after.openings} if after else set()
    for o in (after.sorted_openings() if after else []):
        if o.origin == UNINTENDED:
            claim = f"; its description claims {', '.join(o.rows)}" if o.rows else ""
            out.append(f"In the plan, not in the files: {_say(o)} ({o.resource}{claim})")
    for o in (intended.sorted_openings() if intended else []):
        if o.key not in planned:
            out.append(f"In the files, not in the plan: {_say(o)} "
                       f"({', '.join(o.rows) or o.origin})")
    planned_guards = set(after.guards) if after else set()
    for guard in (intended.guards if intended else ()):
        if guard not in planned_guards:
            out.append(f"In the files, not in the plan: the deny rule {guard}")
    if intended is not None and after is None:
        out.append("The plan leaves no sxcloud firewall for this stack: it destroys it")
    return out


def _say(o: Opening) -> str:
    way = "from" if o.direction == INBOUND else "to"
    who = f"{o.peer.short()} ({o.role})" if o.role else o.peer.short()
    return f"{o.direction} {o.ports} {way} {who}"
