"""Compare the firewall with the intent over the whole packet space, exactly.

The space, per direction: every IP protocol 0-255, every port (TCP, UDP) or ICMP type and
code (where AWS names them), every IPv4 and IPv6 peer address, and the peer's membership
(none, the appliances' own group, a bound group / prefix list / ASG, Azure's VirtualNetwork
beyond the file's internal network). It is cut into atoms: the peer addresses at every edge
of every range a role or a rule names (so within one address atom every rule and every role
holds all addresses or none), and then, per atom, the protocols any matching rule or
intended flow names (the rest act alike) and the port ranges they name. Each atom is decided
once: the firewall's answer (AWS: the union of the allows; Azure: the first rule by
priority, the six default rules last) against the intent's. That is exact: no packet is
left out, and every packet of an atom is decided as its first one is.

Atoms held by the same networks (a role's thousand ranges cut its gaps into many atoms of
one kind) are decided once, for the first of them. Address atoms whose intended traffic and
matching rules act alike (traffic, access, the roles each rule fits) share one decision of
their protocol and port grid, kept across the stacks of one process (a sweep); the rules
that decided are named by their places among each atom's own matching rules. Where the two
differ, the boxes of each finding (one per intended flow) are merged into regions (adjacent
ports, then adjacent addresses, then protocols with the same ports and addresses), each
reported with one concrete packet. `delta` decides the same atoms for two versions of a
firewall (review's change in packets).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol

from .. import catalog
from ..policy import INBOUND, OUTBOUND
from . import space
from .intent import UNFILTERED, Intent
from .model import (MISSING, UNEXPECTED, Finding, IPAddress, IPNetwork, Packet, Host, Reason,
                    Region, Scope, StackResult)
from .space import Traffic

DIRECTIONS = (INBOUND, OUTBOUND)
_INTERNET = frozenset({catalog.INTERNET})
FAMILIES = ((4, 32), (6, 128))
_EXAMPLES = {4: int(ipaddress.ip_address("203.0.113.10")),
             6: int(ipaddress.ip_address("2001:db8::10"))}  # documentation addresses


class Firewall(Protocol):
    problems: list[Finding]
    notes: list[str]
    first_match: bool  # Azure: the first rule decides; AWS: any allow does

    def networks(self) -> list[IPNetwork]: ...

    def candidates(self, peer: Host, direction: str) -> tuple[tuple[Any, tuple[Scope, ...]], ...]:
        """The rules whose peer side holds the peer (in the order they are evaluated), each
        with the peer specs it matched by; a rule has `traffic`, `allow` and `label`."""

    def denied(self, direction: str) -> str:
        """Why a packet no rule allows is denied (AWS)."""


@dataclass(frozen=True)
class Outcome:
    """Where firewall and intent disagree: what the firewall did, by which rule(s), and the
    intended flows concerned (none: nothing intends what was allowed)."""

    allowed: bool
    by: str
    reasons: tuple[Reason, ...]


#: A disagreement as a class of atoms decides it: allowed or not, the positions of the
#: deciding rules among the candidates, the intended flows concerned.
Verdict = tuple[bool, tuple[int, ...], tuple[Reason, ...]]
#: One disagreement: protocols, a port range, and what it is.
Cell = tuple[frozenset[int], int, int, Verdict]
#: A disagreeing box of one finding: protocols, ports, addresses, the deciding rules.
Box = tuple[frozenset[int], int, int, int, int, str]
#: A matching rule as the decision needs it: its traffic, access, and the roles it fits.
Alike = tuple[Traffic, bool, frozenset[str]]


@dataclass
class Grid:
    """The decisions of one class of address atoms: its disagreements, the candidate
    positions that decided some packet, and how many boxes were decided."""

    cells: list[Cell]
    deciding: frozenset[int]
    size: int


#: Grids by what decides them (cloud semantics, intended traffic, matching rules): the same
#: in many stacks of a sweep, so they are kept across stacks (bounded).
_GRIDS: dict[tuple[object, ...], Grid] = {}
_GRIDS_MAX = 20_000


def compare(intent: Intent, firewall: Firewall, result: StackResult) -> StackResult:
    """Fill `result` with the findings of one firewall against one intent."""
    result.intended_flows = len(intent.flows) + len(intent.exceptions)
    result.findings.extend(firewall.problems)
    result.notes.extend(intent.notes() + firewall.notes)
    skipped = skipped_spans(intent.cloud)
    found: dict[tuple[object, ...], list[Box]] = {}
    reached: set[int] = set()
    # the roles each matched peer fits, by the peer specs' identities (stable in one call)
    fitting: dict[tuple[tuple[int, ...], frozenset[str]], frozenset[str]] = {}
    members = intent.members()
    # Atoms held by the same networks are decided alike (every rule, role and platform
    # address is one of the networks): each class is decided once, for its first atom.
    decided: dict[tuple[object, ...], tuple[list[tuple[tuple[object, ...], Cell, str]], int, int]] = {}
    for version, low, high, kind in atoms(intent.networks() + firewall.networks()):
        known = decided.get(kind)
        if known is None:
            address = ipaddress.ip_address(low) if version == 4 else ipaddress.IPv6Address(low)
            known = decided[kind] = _decide_atom(intent, firewall, address,
                                                 filtered(skipped, version, low), members,
                                                 fitting, reached)
        entries, ranges, cells = known
        result.peer_ranges += ranges
        result.cells += cells
        for where, (protocols, first, last, _), by in entries:
            found.setdefault(where, []).append((protocols, first, last, low, high, by))
    labels = {member: words for member, words, _ in members}
    for region, outcome in regions(found, labels, skipped):
        result.findings += _findings(region, outcome)
    if firewall.first_match:
        result.notes += _unreachable(firewall, reached)
    return result


def _decide_atom(intent: Intent, firewall: Firewall, address: IPAddress, directions: list[str],
                 members: list[tuple[str, str, bool | None]],
                 fitting: dict[tuple[tuple[int, ...], frozenset[str]], frozenset[str]],
                 reached: set[int]) -> tuple[list[tuple[tuple[object, ...], Cell, str]], int, int]:
    """Decide one atom for every membership and direction: the disagreeing cells, each with
    its finding's key and the deciding rules; and how many peer ranges and cells that was."""
    entries: list[tuple[tuple[object, ...], Cell, str]] = []
    ranges = cells = 0
    internal = intent.internal(address)
    plain: dict[str, set[tuple[object, ...]]] = {}  # what hosts of no group get
    for member, _, inside in members:
        if inside is not None and inside != internal:
            continue
        peer = Host(address, frozenset({member}) if member else frozenset())
        roles = intent.roles(peer)
        named = roles.difference(_INTERNET)
        for direction in directions:
            candidates = firewall.candidates(peer, direction)
            alike = []
            for rule, scopes in candidates:
                ids = tuple(map(id, scopes))
                fits = fitting.get((ids, named))
                if fits is None:
                    fits = fitting[(ids, named)] = frozenset(
                        role for role in named if any(intent.fits(role, s) for s in scopes))
                alike.append((rule.traffic, rule.allow, fits))
            wanted = intent.wanted(roles, direction, peer)
            key = (firewall.first_match, wanted, tuple(alike))
            grid = _GRIDS.get(key)
            if grid is None:
                if len(_GRIDS) >= _GRIDS_MAX:
                    _GRIDS.clear()
                grid = _GRIDS[key] = _grid(firewall.first_match, wanted, alike)
            reached.update(id(candidates[i][0]) for i in grid.deciding)
            ranges += 1
            cells += grid.size
            seen = plain.setdefault(direction, set()) if not member else plain.get(direction, set())
            for cell in grid.cells:
                protocols, first, last, (allowed, deciding, reasons) = cell
                by = (", ".join(candidates[i][0].label for i in deciding) if deciding
                      else firewall.denied(direction))
                for reason in reasons or (None,):  # one finding per intended flow
                    box = (protocols, first, last, allowed, reason, by)
                    if not member:
                        seen.add(box)
                    elif box in seen:
                        continue  # members fare as any host at the address: said once
                    entries.append(((direction, member, allowed, reason, address.version),
                                    cell, by))
    return entries, ranges, cells


#: Per (direction, IP version), the address spans the cloud does not filter.
Skipped = dict[tuple[str, int], list[tuple[int, int]]]


def skipped_spans(cloud: str) -> Skipped:
    """The spans of platform traffic the cloud's firewall does not filter (intent.UNFILTERED)."""
    return {(d, version): [(int(n.network_address), int(n.broadcast_address))
                           for way, n, _ in UNFILTERED[cloud] if way == d and n.version == version]
            for d in DIRECTIONS for version, _ in FAMILIES}


def filtered(skipped: Skipped, version: int, low: int) -> list[str]:
    """The directions in which the firewall decides an atom starting at `low` (an atom is
    wholly in a skipped span or wholly out)."""
    return [d for d in DIRECTIONS if not any(a <= low <= b for a, b in skipped[(d, version)])]


def atoms(networks: list[IPNetwork]) -> list[tuple[int, int, int, tuple[object, ...]]]:
    """The address atoms, (version, first, last, kind), between every edge of every network;
    `kind` is the family and the networks that hold the atom (atoms of one kind are alike)."""
    out = []
    for version, bits in FAMILIES:
        spans = {(int(n.network_address), int(n.broadcast_address))
                 for n in networks if n.version == version}
        starts: dict[int, list[tuple[int, int]]] = {}
        ends: dict[int, list[tuple[int, int]]] = {}
        for span in spans:
            starts.setdefault(span[0], []).append(span)
            ends.setdefault(span[1] + 1, []).append(span)
        edges = sorted({0, 2 ** bits, *starts, *ends})
        active: set[tuple[int, int]] = set()
        for a, b in zip(edges, edges[1:]):
            active.difference_update(ends.get(a, ()))
            active.update(starts.get(a, ()))
            out.append((version, a, b - 1, (version, frozenset(active))))
    return out


def _grid(first_match: bool, wanted: tuple[tuple[Traffic, Reason], ...],
          alike: list[Alike]) -> Grid:
    """Decide every protocol and port for peers with this intent and these matching rules
    (in evaluation order)."""
    cells: list[Cell] = []
    deciding: set[int] = set()
    size = 0
    for protocols in space.protocol_atoms([t for t, _, _ in alike] + [t for t, _ in wanted]):
        protocol = min(protocols)
        rules = [(i, allow, fits, traffic.ranges(protocol))
                 for i, (traffic, allow, fits) in enumerate(alike)]
        rules = [r for r in rules if r[3]]
        wants = [(reason, t.ranges(protocol)) for t, reason in wanted]
        wants = [w for w in wants if w[1]]
        cuts = {0, space.EVERY_PORT[1] + 1}
        for ranges in [r[3] for r in rules] + [w[1] for w in wants]:
            for low, high in ranges:
                cuts.add(low)
                cuts.add(high + 1)
        edges = sorted(cuts)
        open_cell: Cell | None = None
        for first, end in zip(edges, edges[1:]):
            size += 1
            verdict = _decide(first_match, first, rules, wants, deciding)
            if (open_cell is not None and verdict is not None
                    and verdict[::2] == open_cell[3][::2]):  # the same but for the rules
                by = tuple(sorted(set(open_cell[3][1]) | set(verdict[1])))
                open_cell = (protocols, open_cell[1], end - 1, (verdict[0], by, verdict[2]))
                continue
            if open_cell is not None:
                cells.append(open_cell)
                open_cell = None
            if verdict is not None:
                open_cell = (protocols, first, end - 1, verdict)
        if open_cell is not None:
            cells.append(open_cell)
    return Grid(cells, frozenset(deciding), size)


def _covers(ranges: tuple[tuple[int, int], ...], port: int) -> bool:
    for low, high in ranges:
        if low <= port <= high:
            return True
    return False


def _decide(first_match: bool, port: int,
            rules: list[tuple[int, bool, frozenset[str], tuple[tuple[int, int], ...]]],
            wants: list[tuple[Reason, tuple[tuple[int, int], ...]]],
            deciding: set[int]) -> Verdict | None:
    """One box: None where the firewall does what the file intends, else the verdict."""
    matching = [(i, allow, fits) for i, allow, fits, ranges in rules if _covers(ranges, port)]
    if first_match:
        i, allowed, fits = matching[0]  # the default DenyAll rules match everything
        deciding.add(i)
        by: tuple[int, ...] = (i,)
        granted = fits if allowed else frozenset()
        for _, also, more in matching[1:] if allowed else ():
            if not also:
                break
            # A role's own allow behind the deciding one (a cluster's SSH rule for the ASG,
            # before an exception's SSH from admin_pc) would decide without it: it grants too.
            granted |= more
    else:
        allowed = bool(matching)
        by = tuple(i for i, _, _ in matching)
        deciding.update(by)
        granted = frozenset().union(*(fits for _, _, fits in matching))
    reasons = tuple(reason for reason, ranges in wants if _covers(ranges, port))
    if allowed != bool(reasons):
        return (allowed, by, reasons)
    if allowed:  # an intended flow of a named role needs a rule scoped to that role
        unscoped = tuple(r for r in reasons if r.role is not None and r.role not in granted)
        if unscoped:
            return (True, by, unscoped)
    return None


def regions(found: dict[tuple[object, ...], list[Box]], labels: dict[str, str],
            skipped: Skipped) -> list[tuple[Region, Outcome]]:
    """Merge the disagreeing boxes of each finding: adjacent ports, then adjacent addresses
    (also across traffic the cloud does not filter, which is no one's business), then
    protocols whose ports and addresses are the same. The deciding rules are joined."""
    out = []
    for (direction, member, allowed, reason, version), boxes in found.items():
        gaps = skipped[(str(direction), int(version))]  # type: ignore[call-overload]
        by_addresses: dict[tuple[object, ...], list[tuple[int, int, str]]] = {}
        for protocols, first, last, low, high, by in boxes:
            by_addresses.setdefault((protocols, low, high), []).append((first, last, by))
        by_ports: dict[tuple[object, ...], list[tuple[int, int, str]]] = {}
        for (protocols, low, high), spans in by_addresses.items():
            for first, last, by in _joined(spans, []):
                by_ports.setdefault((protocols, first, last), []).append((low, high, by))
        by_box: dict[tuple[int, int, int, int], tuple[set[int], list[str]]] = {}
        for (protocols, first, last), spans in by_ports.items():
            for low, high, by in _joined(spans, gaps):
                entry = by_box.setdefault((first, last, low, high), (set(), []))  # type: ignore[arg-type]
                entry[0].update(protocols)  # type: ignore[arg-type]
                entry[1].append(by)
        make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        for (first, last, low, high), (protocols, bys) in by_box.items():
            region = Region(str(direction), frozenset(protocols), (first, last), make(low),
                            make(high), str(member), labels[str(member)])
            reasons = (reason,) if reason is not None else ()
            out.append((region, Outcome(bool(allowed), _labels(bys), reasons)))  # type: ignore[arg-type]
    out.sort(key=lambda ro: (ro[0].direction, not ro[1].reasons, min(ro[0].protocols),
                             ro[0].ports, ro[0].first.version, ro[0].first, ro[0].member))
    return out


def _labels(texts: list[str]) -> str:
    """Rule lists joined without repeats, in order."""
    return ", ".join(dict.fromkeys(part for text in texts for part in text.split(", ")))


def _joined(spans: list[tuple[int, int, str]], gaps: list[tuple[int, int]]
            ) -> list[tuple[int, int, str]]:
    """Adjacent spans as one, also across a gap wholly of `gaps`."""
    out: list[tuple[int, int, str]] = []
    for low, high, by in sorted(spans):
        if out and (out[-1][1] + 1 >= low or _within(out[-1][1] + 1, low - 1, gaps)):
            out[-1] = (out[-1][0], max(out[-1][1], high), _labels([out[-1][2], by]))
        else:
            out.append((low, high, by))
    return out


def _within(low: int, high: int, gaps: list[tuple[int, int]]) -> bool:
    """Whether every address of low..high lies in the gaps."""
    for first, last in sorted(gaps):
        if first <= low <= last:
            low = last + 1
            if low > high:
                return True
    return False


def example(region: Region) -> Packet:
    """One packet of a region: a protocol named in words if it has one, the first port (for
    ICMP, type and code), a documentation address if the region holds one, else an address
    inside it (not the network address of a wide range)."""
    named = [p for p in sorted(region.protocols) if p in space.NAMES]
    protocol = named[0] if named else min(region.protocols)
    port = region.ports[0] if protocol in (*space.PORTED, *space.TYPED) else None
    low, high = int(region.first), int(region.last)
    preferred = _EXAMPLES[region.first.version]
    value = preferred if low <= preferred <= high else (low + 1 if high - low >= 2 else low)
    address: IPAddress = (ipaddress.IPv4Address(value) if region.first.version == 4
                          else ipaddress.IPv6Address(value))
    return Packet(region.direction, protocol, port, address, region.member, region.peer)


def _findings(region: Region, outcome: Outcome) -> list[Finding]:
    """One finding per flow concerned: the unexpected one, or each intended one missing."""
    packet = example(region)
    where = dict(direction=region.direction, protocol=space.protocol_name(packet.protocol),
                 port=packet.port, decided_by=outcome.by, allowed=outcome.allowed,
                 region=region, example=packet)
    if not outcome.reasons:
        return [Finding(UNEXPECTED, f"{region}: allowed but not intended: allowed by "
                        f"{outcome.by}; no flow of the file intends it; e.g. {packet}",
                        **where)]  # type: ignore[arg-type]
    if outcome.allowed:  # only by rules for wider peers than the flows' roles
        return [Finding(MISSING, f"{r.text}: intended but not allowed by a rule for "
                        f"{r.role}: {region} is allowed only by {outcome.by}, whose peer is "
                        f"wider than {r.role}; e.g. {packet}", intended=r.text,
                        **where) for r in outcome.reasons]  # type: ignore[arg-type]
    return [Finding(MISSING, f"{r.text}: intended but not allowed: {region} is denied by "
                    f"{outcome.by}; e.g. {packet}", intended=r.text,
                    **where) for r in outcome.reasons]  # type: ignore[arg-type]


def _unreachable(firewall: Any, reached: set[int]) -> list[str]:
    """Azure rules that apply to the appliances but decide no packet: rules of higher
    priority decide all they cover (as Batfish's filterLineReachability reports)."""
    out = []
    for rules in firewall.rules.values():
        for rule in rules:
            if rule.address.startswith("default rule") or id(rule) in reached:
                continue
            if firewall.applies(rule) and firewall.evaluable(rule):
                out.append(f"{rule.label} is reached by no packet: rules of higher priority "
                           "decide everything it covers (shadowed)")
    return out
