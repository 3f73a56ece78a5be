"""What changes between two versions of one firewall, over the whole packet space, exactly.

`review` asks this of a change (base files -> head files, or a plan's before -> after): which
packets the new version allows that the old one did not, and which it no longer allows. The
space and its atoms are `exact`'s: every protocol, port or ICMP type and code, peer address
and membership. Each atom is decided on both sides with the cloud's semantics (AWS: any
allow; Azure: the first rule by priority, the default rules last); the atoms that differ are
merged into regions, each with one concrete packet and the rules that allow it on the side
that allows it. Traffic the cloud does not filter is left out, as verify leaves it out.

The rules that decide some changed packet are named too, so a rule added or removed that
changes no packet (another rule already allows, or still allows, all it covers) can be told
from one that does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable

from . import space
from .exact import Box, Firewall, atoms, example, filtered, regions, skipped_spans
from .model import Host, IPAddress, IPNetwork, Packet, Region

#: A rule as the decision needs it: what it matches, and whether it allows.
Side = tuple[tuple[space.Traffic, bool], ...]
#: A changed cell: protocols, ports, allowed after, deciding positions before and after.
Cell = tuple[frozenset[int], int, int, bool, tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class Shift:
    """A region whose packets the change lets through (`allowed`) or stops; `by` names the
    rules that allow them on the side that does (after for newly allowed, before for
    stopped)."""

    region: Region
    allowed: bool
    by: str
    example: Packet

    def __str__(self) -> str:
        verb = "newly allowed" if self.allowed else "no longer allowed"
        return f"{self.region}: {verb}, by {self.by}; e.g. {self.example}"

    def to_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "region": self.region.to_json(), "by": self.by,
                "example": self.example.to_json()}


@dataclass(frozen=True)
class Delta:
    """The change in packets: regions newly allowed and no longer allowed, and the names of
    the rules that decide some of them (after: allowing; before: having allowed)."""

    shifts: tuple[Shift, ...]
    adding: frozenset[str]
    removing: frozenset[str]

    @property
    def newly_allowed(self) -> tuple[Shift, ...]:
        return tuple(s for s in self.shifts if s.allowed)

    @property
    def no_longer_allowed(self) -> tuple[Shift, ...]:
        return tuple(s for s in self.shifts if not s.allowed)


def difference(cloud: str, before: Firewall, after: Firewall,
               members: list[tuple[str, str, bool | None]], internal: Callable[[Any], bool],
               networks: list[IPNetwork], name: Callable[[Any], str]) -> Delta:
    """The packets `after` decides otherwise than `before`. `members`: the memberships a
    peer can have (intent.Intent.members: id, words, where its addresses are); `internal`:
    whether an address is in the internal network; `networks`: edges besides the rules' own
    (the roles'); `name`: a rule's name as the caller knows it."""
    assert before.first_match == after.first_match
    first_match = after.first_match
    skipped = skipped_spans(cloud)
    found: dict[tuple[object, ...], list[Box]] = {}
    grids: dict[tuple[Side, Side], list[Cell]] = {}
    adding: set[str] = set()
    removing: set[str] = set()
    # Atoms held by the same networks are decided alike (exact.atoms): once per kind.
    decided: dict[tuple[object, ...], list[tuple[tuple[object, ...], Cell, str]]] = {}
    for version, low, high, kind in atoms(networks + before.networks() + after.networks()):
        entries = decided.get(kind)
        if entries is None:
            address = ipaddress.ip_address(low) if version == 4 else ipaddress.IPv6Address(low)
            entries = decided[kind] = _decide_atom(
                first_match, before, after, address, filtered(skipped, version, low), members,
                internal, grids, adding, removing, name)
        for where, (protocols, first, last, *_), label in entries:
            found.setdefault(where, []).append((protocols, first, last, low, high, label))
    labels = {member: words for member, words, _ in members}
    shifts = tuple(Shift(region, outcome.allowed, outcome.by, example(region))
                   for region, outcome in regions(found, labels, skipped))
    return Delta(shifts, frozenset(adding), frozenset(removing))


def _decide_atom(first_match: bool, before: Firewall, after: Firewall, address: IPAddress,
                 directions: list[str], members: list[tuple[str, str, bool | None]],
                 internal: Callable[[Any], bool], grids: dict[tuple[Side, Side], list[Cell]],
                 adding: set[str], removing: set[str], name: Callable[[Any], str]
                 ) -> list[tuple[tuple[object, ...], Cell, str]]:
    """One atom decided on both sides for every membership and direction: the cells that
    differ, each with its region's key and the rules that allow it on the side that does."""
    out: list[tuple[tuple[object, ...], Cell, str]] = []
    inside = internal(address)
    plain: set[tuple[object, ...]] = set()  # what hosts of no group get, per direction
    for member, _, where in members:  # the first: no group
        if where is not None and where != inside:
            continue
        peer = Host(address, frozenset({member}) if member else frozenset())
        for direction in directions:
            old = before.candidates(peer, direction)
            new = after.candidates(peer, direction)
            key = (_side(old), _side(new))
            cells = grids.get(key)
            if cells is None:
                cells = grids[key] = _grid(first_match, *key)
            for cell in cells:
                protocols, first, last, allowed, by_old, by_new = cell
                rules = [new[i][0] for i in by_new] if allowed else [old[i][0] for i in by_old]
                (adding if allowed else removing).update(name(r) for r in rules)
                label = ", ".join(r.label for r in rules)
                box = (direction, protocols, first, last, allowed, label)
                if not member:
                    plain.add(box)
                elif box in plain:
                    continue  # members fare as any host at the address: said once
                out.append(((direction, member, allowed, None, address.version), cell, label))
    return out


def _side(candidates: tuple[tuple[Any, Any], ...]) -> Side:
    return tuple((rule.traffic, rule.allow) for rule, _ in candidates)


def _grid(first_match: bool, old: Side, new: Side) -> list[Cell]:
    """Every protocol and port decided on both sides; the cells where they differ, adjacent
    ports of the same outcome and deciding rules merged."""
    cells: list[Cell] = []
    for protocols in space.protocol_atoms([traffic for traffic, _ in old + new]):
        protocol = min(protocols)
        sides = [[(i, allow, traffic.ranges(protocol)) for i, (traffic, allow) in enumerate(side)]
                 for side in (old, new)]
        sides = [[r for r in side if r[2]] for side in sides]
        cuts = {0, space.EVERY_PORT[1] + 1}
        for side in sides:
            for _, _, ranges in side:
                for low, high in ranges:
                    cuts.update((low, high + 1))
        edges = sorted(cuts)
        for first, end in zip(edges, edges[1:]):
            was, by_old = _decide(first_match, first, sides[0])
            now, by_new = _decide(first_match, first, sides[1])
            if was == now:
                continue
            cell = (protocols, first, end - 1, now, by_old, by_new)
            if cells and cells[-1][0] == protocols and cells[-1][2] == first - 1 and \
                    cells[-1][3:] == cell[3:]:
                cells[-1] = (protocols, cells[-1][1], end - 1, now, by_old, by_new)
            else:
                cells.append(cell)
    return cells


def _decide(first_match: bool, port: int,
            rules: list[tuple[int, bool, tuple[tuple[int, int], ...]]]
            ) -> tuple[bool, tuple[int, ...]]:
    """Whether one side allows a packet at this port, and the positions of the rules that
    decide it (first match: the first matching rule; else every matching allow)."""
    matching = [(i, allow) for i, allow, ranges in rules
                if any(low <= port <= high for low, high in ranges)]
    if first_match:
        if not matching:
            return False, ()
        return matching[0][1], (matching[0][0],)
    return bool(matching), tuple(i for i, _ in matching)
