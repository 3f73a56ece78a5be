"""Compare the firewall's decisions with the intent, probe by probe.

Each probe is decided in each direction for every probed port over TCP and UDP. Probes
whose roles and matching rules are the same get the same decisions, so those are computed
once per such class: that keeps a stack with thousands of role ranges fast.
"""

from __future__ import annotations

from typing import Protocol

from ..catalog import ALL, TCP, UDP
from ..policy import INBOUND, OUTBOUND
from .intent import Intent
from .model import MISSING, UNEXPECTED, Decision, Finding, IPNetwork, Probe, Reason, StackResult
from .probes import ports as probe_ports
from .probes import probes as probe_hosts

PROTOCOLS = (TCP, UDP)


class Firewall(Protocol):
    problems: list[Finding]
    notes: list[str]

    def networks(self) -> list[IPNetwork]: ...

    def port_ranges(self) -> list[tuple[int, int]]: ...

    def candidates(self, probe: Probe, direction: str) -> tuple[object, ...]: ...

    def signature(self, candidates: tuple[object, ...]) -> object: ...

    def decide(self, candidates: tuple[object, ...], direction: str, protocol: str,
               ports: tuple[int, ...]) -> list[Decision]: ...


def compare(intent: Intent, firewall: Firewall, result: StackResult) -> StackResult:
    """Fill `result` with the findings of one firewall against one intent."""
    hosts = probe_hosts(intent.deployment, intent.cloud, firewall.networks())
    ports = probe_ports(firewall.port_ranges())
    result.intended_flows = len(intent.flows)
    result.probes = len(hosts)
    result.findings.extend(firewall.problems)
    result.notes.extend(intent.notes() + firewall.notes)
    # Probes with the same roles and the same matching rules get the same decisions:
    # (direction, roles, matching rules) -> [(protocol, port, intended reasons, decision)]
    classes: dict[tuple[object, ...], list[Mismatch]] = {}
    wanted: dict[tuple[str, frozenset[str]], dict[str, dict[int, list[Reason]]]] = {}
    for probe in hosts:
        roles = intent.roles(probe)
        for direction in (INBOUND,) if probe.inbound_only else (INBOUND, OUTBOUND):
            candidates = firewall.candidates(probe, direction)
            key = (direction, roles, firewall.signature(candidates))
            mismatches = classes.get(key)
            if mismatches is None:
                reasons = wanted.get((direction, roles))
                if reasons is None:
                    reasons = wanted[(direction, roles)] = _intended(intent, roles, direction, ports)
                mismatches = classes[key] = _mismatches(intent, firewall, reasons, direction,
                                                        candidates, ports)
            result.decisions += len(ports) * len(PROTOCOLS)
            for protocol, port, reasons_, decision in mismatches:
                result.findings.extend(_findings(probe, direction, protocol, port, reasons_,
                                                 decision))
    return result


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
    return out


def _mismatches(intent: Intent, firewall: Firewall, reasons: dict[str, dict[int, list[Reason]]],
                direction: str, candidates: tuple[object, ...], ports: tuple[int, ...]
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
