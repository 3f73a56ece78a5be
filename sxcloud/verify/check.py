"""Compare the firewall's decisions with the intent, probe by probe.

Each probe is decided in each direction for every probed port over TCP and UDP. Probes
with the same roles whose matching rules act alike get the same decisions, so those are
computed once per such class: that keeps a stack with thousands of role ranges fast.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any, Protocol

from .. import catalog
from ..catalog import ALL, TCP, UDP
from ..policy import INBOUND, OUTBOUND
from .intent import Intent
from .model import MISSING, UNEXPECTED, Decision, Finding, IPNetwork, Probe, Reason, Scope, StackResult
from .probes import ports as probe_ports
from .probes import probes as probe_hosts

PROTOCOLS = (TCP, UDP)


class Firewall(Protocol):
    problems: list[Finding]
    notes: list[str]

    def networks(self) -> list[IPNetwork]: ...

    def port_ranges(self) -> list[tuple[int, int]]: ...

    def candidates(self, probe: Probe, direction: str) -> tuple[tuple[Any, tuple[Scope, ...]], ...]:
        """The rules that match the probe in a direction, each with the peer it matched by;
        a rule has `protocol`, `ports` and `allow`."""

    def decide(self, candidates: tuple[tuple[Any, tuple[Scope, ...]], ...], direction: str,
               protocol: str, ports: tuple[int, ...]) -> list[Decision]:
        """The decision for each of the sorted ports."""


def compare(intent: Intent, firewall: Firewall, result: StackResult) -> StackResult:
    """Fill `result` with the findings of one firewall against one intent."""
    hosts = probe_hosts(intent.deployment, intent.cloud,
                        [*firewall.networks(), *intent.exception_networks()],
                        intent.exception_members())
    ports = probe_ports([*firewall.port_ranges(), *intent.port_ranges()])
    result.intended_flows = len(intent.flows) + len(intent.exceptions)
    result.probes = len(hosts)
    result.findings.extend(firewall.problems)
    result.notes.extend(intent.notes() + firewall.notes)
    # Probes with the same roles whose matching rules act alike get the same decisions:
    # rules act alike when they have the same protocol, ports and access, and their peers
    # fit the same of the probe's roles. Only where such a class disagrees with the intent
    # is each of its probes decided on its own, to name the very rules that decided.
    classes: dict[tuple[object, ...], list[Mismatch]] = {}
    exact: dict[tuple[object, ...], list[Mismatch]] = {}
    wanted: dict[tuple[str, frozenset[str]], dict[str, dict[int, list[Reason]]]] = {}
    fitting: dict[tuple[tuple[Scope, ...], frozenset[str]], frozenset[str]] = {}
    for probe in hosts:
        roles = intent.roles(probe)
        named = frozenset(r for r in roles if r != catalog.INTERNET)
        for direction in (INBOUND,) if probe.inbound_only else (INBOUND, OUTBOUND):
            candidates = firewall.candidates(probe, direction)
            alike = []
            for rule, scopes in candidates:
                fits = fitting.get((scopes, named))
                if fits is None:
                    fits = fitting[(scopes, named)] = frozenset(
                        role for role in named if any(intent.fits(role, s) for s in scopes))
                alike.append((rule.protocol, rule.ports, rule.allow, fits))
            key = (direction, roles, tuple(alike))
            mismatches = classes.get(key)
            if mismatches is None:
                mismatches = classes[key] = _mismatches(
                    intent, firewall, _wanted(wanted, intent, roles, direction, ports),
                    direction, candidates, ports)
            if mismatches:  # decide this probe with its own rules, to name them
                precise = (direction, roles, tuple((id(r), s) for r, s in candidates))
                mismatches = exact.get(precise)
                if mismatches is None:
                    mismatches = exact[precise] = _mismatches(
                        intent, firewall, _wanted(wanted, intent, roles, direction, ports),
                        direction, candidates, ports)
            result.decisions += len(ports) * len(PROTOCOLS)
            for protocol, port, reasons_, decision in mismatches:
                result.findings.extend(_findings(probe, direction, protocol, port, reasons_,
                                                 decision))
    return result


def _wanted(cache: dict[tuple[str, frozenset[str]], dict[str, dict[int, list[Reason]]]],
            intent: Intent, roles: frozenset[str], direction: str,
            ports: tuple[int, ...]) -> dict[str, dict[int, list[Reason]]]:
    key = (direction, roles)
    if key not in cache:
        cache[key] = _intended(intent, roles, direction, ports)
    return cache[key]


Mismatch = tuple[str, int, "list[Reason]", Decision]


def _intended(intent: Intent, roles: frozenset[str], direction: str,
              ports: tuple[int, ...]) -> dict[str, dict[int, list[Reason]]]:
    """Per protocol: the indices of the intended ports, each with why the file intends it."""
    services = {(s.protocol, s.port): reasons
                for s, reasons in intent.services(roles, direction).items()}
    everything = services.get((ALL, None), [])
    out: dict[str, dict[int, list[Reason]]] = {}
    for protocol in PROTOCOLS:
        out[protocol] = {i: everything + services.get((protocol, port), [])
                         for i, port in enumerate(ports)
                         if everything or (protocol, port) in services}
    for protocol, low, high, reason in intent.ranges(roles, direction):  # site exceptions
        for i in range(bisect_left(ports, low), bisect_right(ports, high)):
            out[protocol].setdefault(i, list(everything)).append(reason)
    return out


def _mismatches(intent: Intent, firewall: Firewall, reasons: dict[str, dict[int, list[Reason]]],
                direction: str, candidates: tuple[tuple[Any, tuple[Scope, ...]], ...],
                ports: tuple[int, ...]
                ) -> list[Mismatch]:
    """Ports where the firewall disagrees with the intent: an intended flow denied, or
    allowed without a rule scoped to its role; a flow allowed that nothing intends."""
    out: list[Mismatch] = []
    scoped: dict[tuple[int, str], bool] = {}  # decisions are shared by many ports
    for protocol in PROTOCOLS:
        decisions = firewall.decide(candidates, direction, protocol, ports)
        intended = reasons[protocol]
        allowed = {i for i, d in enumerate(decisions) if d.allowed}
        for i in sorted(allowed ^ intended.keys()):  # allowed xor intended: a mismatch
            out.append((protocol, ports[i], intended.get(i, []), decisions[i]))
        for i in allowed & intended.keys():
            decision = decisions[i]
            unscoped = []
            for reason in intended[i]:
                if reason.role is None:
                    continue
                key = (id(decision), reason.role)
                fits = scoped.get(key)
                if fits is None:
                    fits = scoped[key] = any(intent.fits(reason.role, scope)
                                             for scope in decision.grants)
                if not fits:
                    unscoped.append(reason)
            if unscoped:
                out.append((protocol, ports[i], unscoped, decision))
    return out


def _findings(probe: Probe, direction: str, protocol: str, port: int, reasons: list[Reason],
              decision: Decision) -> list[Finding]:
    """One finding per flow concerned: the unexpected one, or each intended one missing."""
    service = f"{protocol.upper()} {port}"
    way = "from" if direction == INBOUND else "to"
    if not reasons:
        return [Finding(UNEXPECTED, f"{direction} {service} {way} {probe} is allowed by "
                        f"{decision.by}, but no flow of the file intends it", direction,
                        protocol, port, probe, None, decision.by, True)]
    if decision.allowed:  # only by rules for wider peers than the flows' roles
        return [Finding(MISSING, f"{r.text}: {direction} {service} {way} {probe} is allowed "
                        f"only by {decision.by}, whose peer is wider than {r.role}; no rule "
                        f"grants it to {r.role}", direction, protocol, port, probe, r.text,
                        decision.by, True) for r in reasons]
    return [Finding(MISSING, f"{r.text}: {direction} {service} {way} {probe} is denied by "
                    f"{decision.by}", direction, protocol, port, probe, r.text, decision.by,
                    False) for r in reasons]
