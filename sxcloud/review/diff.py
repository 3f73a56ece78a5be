"""The change between two versions of a firewall: openings added, removed and changed.

Openings are matched by what they let through (direction, protocol/port, peer). An opening
present in both versions is "changed" when the reason for it (its vendor rows, its role) or
the rule that makes it differs; a new address for a role is one opening removed and one
added, which is how a reviewer should read it. Openings are counted per rule; what the
change does to packets is verify's exact answer (`packets`, review.packets), which also
tells an added rule that allows nothing new from one that does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..verify.delta import Delta
from .openings import Firewall, Opening
from .packets import makes


@dataclass(frozen=True)
class Changed:
    before: Opening
    after: Opening
    what: tuple[str, ...]  # each difference, in words


@dataclass(frozen=True)
class Change:
    added: tuple[Opening, ...] = ()
    removed: tuple[Opening, ...] = ()
    changed: tuple[Changed, ...] = ()
    guards_added: tuple[str, ...] = ()
    guards_removed: tuple[str, ...] = ()
    packets: Delta | None = None  # None: not decided (a side holds no group / NSG)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.guards_added
                    or self.guards_removed or (self.packets and self.packets.shifts))

    def adds_nothing(self, o: Opening) -> bool:
        """An added opening whose rules allow no packet the base did not (exact)."""
        return self.packets is not None and not makes(o, self.packets.adding)

    def removes_nothing(self, o: Opening) -> bool:
        """A removed opening whose rules allowed no packet the head stops (exact)."""
        return self.packets is not None and not makes(o, self.packets.removing)

    def counts(self) -> str:
        """'1 added, 1 removed' (only what is not zero), or 'no change'."""
        parts = [f"{len(v)} {k}" for k, v in (("added", self.added), ("removed", self.removed),
                                               ("changed", self.changed)) if v]
        guards = len(self.guards_added) + len(self.guards_removed)
        if guards:
            parts.append(f"{guards} deny rule{'s' * (guards != 1)} changed")
        return ", ".join(parts) or "no change"


def _rows(o: Opening) -> str:
    return ", ".join(o.rows) or "none"


def _differences(before: Opening, after: Opening) -> tuple[str, ...]:
    out = []
    if before.rows != after.rows:
        out.append(f"vendor rows {_rows(before)} -> {_rows(after)}")
    if before.role != after.role:
        out.append(f"role {before.role or 'unknown'} -> {after.role or 'unknown'}")
    if before.origin != after.origin:
        out.append(f"{before.origin} -> {after.origin}")
    if before.resource != after.resource:
        out.append(f"rule {before.resource} -> {after.resource}")
    return tuple(out)


def compare(before: Firewall | None, after: Firewall | None) -> Change:
    """What turns `before` into `after`; a missing side is an empty firewall."""
    old = {o.key: o for o in (before.sorted_openings() if before else [])}
    new = {o.key: o for o in (after.sorted_openings() if after else [])}
    changed = []
    for key in new.keys() & old.keys():
        what = _differences(old[key], new[key])
        if what:
            changed.append(Changed(old[key], new[key], what))
    old_guards = set(before.guards) if before else set()
    new_guards = set(after.guards) if after else set()
    return Change(
        added=tuple(o for k, o in new.items() if k not in old),
        removed=tuple(o for k, o in old.items() if k not in new),
        changed=tuple(sorted(changed, key=lambda c: c.after.sort_key())),
        guards_added=tuple(sorted(new_guards - old_guards)),
        guards_removed=tuple(sorted(old_guards - new_guards)),
    )
