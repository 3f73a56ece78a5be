"""Site exceptions in the review: the flows the file adds beyond the vendor table.

They are never vendor rows. Each stack's firewall gets the exceptions' openings (origin
EXCEPTION, role `X-<id>`, the rule's description as their why), and the review lists the
exceptions in a section of their own, "Beyond the vendor table": flow, peer, reason, owner,
ticket, expiry and days left. With a base, the change says which exceptions were added,
widened, narrowed, renewed and removed; widened and narrowed are read from the openings
each exception makes on the stack's cloud, so a wider peer or protocol, or more ports, is
widened whatever the file's spelling.

Findings (each fails the review): an exception that has expired ("today" is
`exceptions.today()`, SXCLOUD_TODAY where set), and one added or widened whose peer is the
Internet or whose protocol is `all` (spec/config.md: those exist to state what a hand-made
group allows, and a reviewer must accept them explicitly).

The values here are raw; markdown.py and mermaid.py escape them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from ipaddress import ip_network

from .. import exceptions
from ..app import Planned
from ..aws import plan as aws_plan
from ..azure import plan as azure_plan
from ..config import Deployment
from ..exceptions import SiteException
from ..policy import exception_flows
from . import openings
from .openings import ALL_PROTOCOLS, CIDR, EXCEPTION, Firewall, Opening, rule_ports

# What happened to an exception between the base and the head.
ADDED = "added"
REMOVED = "removed"
WIDENED = "widened"
NARROWED = "narrowed"
RENEWED = "renewed"
SHORTENED = "expiry brought forward"
EDITED = "details changed"  # reason, owner or ticket


@dataclass(frozen=True)
class Entry:
    """One exception as the section lists it, on one cloud, on one day."""

    exception: SiteException
    status: exceptions.Status

    @property
    def flow(self) -> str:
        e = self.exception
        return f"{e.direction} {e.traffic}"


@dataclass(frozen=True)
class ExceptionChange:
    """What a change did to one exception: one or more of the words above."""

    label: str
    what: tuple[str, ...]
    before: SiteException | None
    after: SiteException | None


@dataclass
class ExceptionReview:
    """The exceptions of one stack, their change against the base, and the findings."""

    today: date
    entries: list[Entry]
    changes: list[ExceptionChange] | None  # None: no base to compare with
    findings: list[str]


# --- openings -------------------------------------------------------------------------------

def _aws_openings(plan: aws_plan.SgPlan) -> list[Opening]:
    out = []
    for r in plan.rules:
        if r.exception is None:
            continue
        protocol = ALL_PROTOCOLS if r.ip_protocol == "-1" else r.ip_protocol
        out.append(Opening(r.flow.direction, rule_ports(protocol, r.from_port, r.to_port, icmp=True),
                           openings.aws_peer(r.peer), r.exception.label, (), EXCEPTION, r.key,
                           description=r.description))
    return out


def _azure_openings(plan: azure_plan.NsgPlan) -> list[Opening]:
    out = []
    for rule in plan.rules:
        flow = rule.exception
        if flow is None:
            continue
        inbound = rule.direction == azure_plan.INBOUND_AZ
        protocol = ALL_PROTOCOLS if rule.protocol == "*" else rule.protocol.lower()
        ranges = [(None, None)] if rule.ports == ("*",) else [_range(p) for p in rule.ports]
        for peer in openings.azure_address_peers(rule.source if inbound else rule.destination):
            out += [Opening(flow.direction, rule_ports(protocol, low, high), peer, flow.origin, (),
                            EXCEPTION, f"{rule.name} ({rule.priority})",
                            description=rule.description)
                    for low, high in ranges]
    return out


def _range(text: str) -> tuple[int | None, int | None]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def intended(planned: Planned) -> list[Firewall]:
    """The firewalls the files intend (openings.intended), with the exceptions' openings."""
    out = []
    for fw in openings.intended(planned):
        extra = (_aws_openings(planned.aws) if fw.cloud == "aws" and planned.aws
                 else _azure_openings(planned.azure) if planned.azure else [])
        out.append(replace(fw, openings=openings.merge([*fw.openings, *extra])))
    return out


# --- the section, the change and the findings ----------------------------------------------

def _on_cloud(deployment: Deployment | None, cloud: str) -> dict[str, SiteException]:
    if deployment is None:
        return {}
    return {f.exception.id: f.exception for f in exception_flows(deployment, cloud)}


def _mine(fw: Firewall | None, label: str) -> list[Opening]:
    """The openings one exception makes on a stack."""
    return [o for o in (fw.openings if fw else ()) if o.origin == EXCEPTION and o.role == label]


def _covers(a: Opening, b: Opening) -> bool:
    """Whether opening `a` lets through everything `b` does (so `b` is no wider)."""
    if a.direction != b.direction:
        return False
    pa, pb = a.ports, b.ports
    if pa.protocol != ALL_PROTOCOLS and (pa.protocol != pb.protocol or (pa.low is not None and (
            pb.low is None or not pa.low <= pb.low <= (pb.high or pb.low) <= (pa.high or pa.low)))):
        return False
    if a.peer == b.peer:
        return True
    if (a.peer.kind, b.peer.kind) != (CIDR, CIDR):
        return a.peer.internet and b.peer.kind == CIDR
    try:
        na, nb = ip_network(a.peer.value), ip_network(b.peer.value)
    except ValueError:
        return False
    return na.version == nb.version and nb.subnet_of(na)  # type: ignore[arg-type]


def _risky(e: SiteException) -> str:
    """Why an exception needs explicit acceptance, or ''."""
    parts = []
    if e.peer.internet:
        parts.append("its peer is the Internet")
    if e.traffic.protocol == ALL_PROTOCOLS:
        parts.append("its protocol is all")
    return " and ".join(parts)


def review(head: Deployment | None, base: Deployment | None, cloud: str,
           head_fw: Firewall | None, base_fw: Firewall | None,
           compared: bool) -> ExceptionReview | None:
    """The exceptions of one stack; `compared`: a base was given (it may lack the stack).
    None when neither version has an exception on this cloud."""
    now, before = _on_cloud(head, cloud), _on_cloud(base, cloud)
    if not (now or before):
        return None
    day = exceptions.today()
    entries = [Entry(e, exceptions.status(e, day)) for e in now.values()]
    findings = [f"{x.exception.label} (owner {x.exception.owner}) expired on "
                f"{x.exception.expires} ({x.status}): its rules are still deployed; renew it "
                "(a later expires) or remove it" for x in entries
                if x.status.state == exceptions.EXPIRED]
    changes = None
    if compared:
        changes = []
        for ident in [*now, *(i for i in before if i not in now)]:
            change = _change(before.get(ident), now.get(ident), base_fw, head_fw)
            if change.what:
                changes.append(change)
        for c in changes:
            risky = _risky(c.after) if c.after and ({ADDED, WIDENED} & set(c.what)) else ""
            if risky:
                findings.append(f"{c.label} is {' and '.join(w for w in c.what if w in (ADDED, WIDENED))}"
                                f" and {risky}: accept it explicitly, or narrow it")
    elif head is not None:  # no base: every exception is new to the reviewer
        findings += [f"{x.exception.label} {risk}: accept it explicitly, or narrow it"
                     for x in entries if (risk := _risky(x.exception))]
    return ExceptionReview(day, entries, changes, findings)


def _change(old: SiteException | None, new: SiteException | None, base_fw: Firewall | None,
            head_fw: Firewall | None) -> ExceptionChange:
    label = (new or old).label  # type: ignore[union-attr]
    if old is None:
        return ExceptionChange(label, (ADDED,), None, new)
    if new is None:
        return ExceptionChange(label, (REMOVED,), old, None)
    what = []
    was, now = _mine(base_fw, label), _mine(head_fw, label)
    if any(not any(_covers(a, b) for a in was) for b in now):
        what.append(WIDENED)
    if any(not any(_covers(b, a) for b in now) for a in was):
        what.append(NARROWED)
    if new.expires > old.expires:
        what.append(RENEWED)
    elif new.expires < old.expires:
        what.append(SHORTENED)
    if (old.reason, old.owner, old.ticket) != (new.reason, new.owner, new.ticket):
        what.append(EDITED)
    return ExceptionChange(label, tuple(what), old, new)


def describe(change: ExceptionChange) -> str:
    """In words: what changed between the two versions of one exception."""
    old, new = change.before, change.after
    if old is None or new is None:
        e = new or old
        assert e is not None
        return f"{e.direction} {e.traffic} with {e.peer}"
    parts = []
    if (old.direction, old.traffic) != (new.direction, new.traffic):
        parts.append(f"{old.direction} {old.traffic} -> {new.direction} {new.traffic}")
    if old.peer != new.peer:
        parts.append(f"peer {old.peer} -> {new.peer}")
    if old.clouds != new.clouds:
        parts.append(f"clouds {', '.join(old.clouds)} -> {', '.join(new.clouds)}")
    if old.expires != new.expires:
        parts.append(f"expires {old.expires} -> {new.expires}")
    for name in ("reason", "owner", "ticket"):
        if getattr(old, name) != getattr(new, name):
            parts.append(f"{name} {getattr(old, name) or 'none'} -> {getattr(new, name) or 'none'}")
    return "; ".join(parts)
