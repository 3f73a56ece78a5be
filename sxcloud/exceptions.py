"""Site exceptions (spec/config.md, "Site exceptions"): flows beyond the vendor table.

This module holds the model of the file's `exceptions` list, the checks the JSON Schema
cannot state, and the calendar: what "today" is and how far each exception is from its
expiry. The schema (deployment.schema.json) checks the keys and their types first; `parse`
then builds each exception and adds one problem per fault, naming the key
(`exceptions[2].ports[0]`).

Decisions where the spec is silent (README, "Site exceptions"):
- a protocol that has a name (1, 6, 17, 58) is written by its name, so that one flow has
  one spelling and one rule key; `icmp` is ICMPv6 (58) for IPv6 peers;
- tcp and udp need ports: "every port" is written `0-65535`, so that it is visible;
- `reason`, `ticket` and the id reach the clouds' rule descriptions, so they are limited to
  the characters an AWS rule description accepts (no '&'); `owner` reaches AWS tags and the
  reports. The Azure description holds the id, ticket and expiry, and the reason as far as
  Azure's 140 characters allow.
- an exception expires at the end of its `expires` day (UTC): it is "expired" from the
  next day on.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import catalog, validation
from .errors import InputError
from .escape import excerpt
from .validation import IPNetwork, Problems

if TYPE_CHECKING:  # config imports this module; the type is only named in annotations
    from .config import Deployment

#: The prefix of an exception in every report and of its rule keys and names: `X-<id>`.
#: Vendor rows are R01..R17 and X01, so no exception key can equal a vendor key.
PREFIX = "X-"

INBOUND = "inbound"
OUTBOUND = "outbound"

TCP = catalog.TCP
UDP = catalog.UDP
ICMP = "icmp"
ALL = catalog.ALL
#: Protocols with a name are written by it; the number is refused with this hint.
NAMED_NUMBERS = {1: ICMP, 6: TCP, 17: UDP, 58: ICMP}
ESP, AH = 50, 51

AWS = "aws"
AZURE = "azure"

#: Roles an exception may name as its peer: the file's roles, and the appliances themselves
#: (the group on AWS, the appliance ASG on Azure), which a cluster's own traffic needs.
PEER_ROLES = (*catalog.CONFIGURED_ROLES, catalog.APPLIANCE_PEERS)

#: Warnings start this many days before the date; a date further ahead is refused.
WARN_DAYS = 30
MAX_DAYS_AHEAD = 366

#: The environment variable that fixes "today" (YYYY-MM-DD) so a run can be reproduced.
TODAY_VARIABLE = "SXCLOUD_TODAY"

# Status of an exception on a given day.
OK = "ok"
EXPIRING = "expiring"
EXPIRED = "expired"

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, order=True)
class PortRange:
    """Destination ports `low` to `high`, both included (one port: low == high)."""

    low: int
    high: int

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Traffic:
    """What an exception lets through: a protocol and its ports or ICMP type and code."""

    protocol: str  # TCP, UDP, ICMP, ALL, or a protocol number "0".."255" without a name
    ports: tuple[PortRange, ...] = ()  # tcp and udp only
    icmp_type: int | None = None  # icmp only; None: every type
    icmp_code: int | None = None  # icmp only, with a type; None: every code

    @property
    def number(self) -> int | None:
        """The IANA protocol number, None for `all` (which is every protocol)."""
        if self.protocol == ALL:
            return None
        return {TCP: 6, UDP: 17, ICMP: 1}.get(self.protocol) or int(self.protocol)

    def __str__(self) -> str:
        if self.protocol == ALL:
            return "all traffic"
        if self.protocol in (TCP, UDP):
            return f"{self.protocol.upper()} {', '.join(map(str, self.ports))}"
        if self.protocol == ICMP:
            if self.icmp_type is None:
                return "ICMP"
            code = "" if self.icmp_code is None else f" code {self.icmp_code}"
            return f"ICMP type {self.icmp_type}{code}"
        return f"protocol {self.protocol}"


@dataclass(frozen=True)
class AwsObjects:
    """AWS objects that stand for a role (config.AwsBinding) or that an exception's peer
    names beside (or instead of) its CIDRs."""

    security_group_ids: tuple[str, ...] = ()
    prefix_list_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class AzureObjects:
    """Azure objects an exception's peer names beside (or instead of) its CIDRs."""

    application_security_group_ids: tuple[str, ...] = ()
    service_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExceptionPeer:
    """Exactly one of: the Internet, a role, or addresses (CIDRs and per-cloud objects)."""

    internet: bool = False
    role: str | None = None
    cidrs: tuple[IPNetwork, ...] = ()
    aws: AwsObjects = AwsObjects()
    azure: AzureObjects = AzureObjects()

    def __str__(self) -> str:
        if self.internet:
            return "the Internet"
        if self.role:
            return f"role {self.role}"
        parts = [str(c) for c in self.cidrs] + list(self.aws.security_group_ids) + list(
            self.aws.prefix_list_ids) + list(self.azure.application_security_group_ids) + [
            f"service tag {t}" for t in self.azure.service_tags]
        return ", ".join(parts)


@dataclass(frozen=True)
class AzureRuleIdentity:
    """An exception's NSG rule name and priority, given in the file (`azure: {name,
    priority}`) instead of derived from the id: how `sxcloud adopt` keeps a live rule."""

    name: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class SiteException:
    """One entry of the file's `exceptions` list, validated."""

    id: str
    index: int  # the position in the file, for messages only (never for keys or priorities)
    direction: str  # INBOUND or OUTBOUND, seen from the appliances
    traffic: Traffic
    peer: ExceptionPeer
    reason: str
    owner: str
    ticket: str | None
    expires: date
    clouds: tuple[str, ...]  # the cloud sections it applies to
    azure: AzureRuleIdentity = AzureRuleIdentity()

    @property
    def label(self) -> str:
        """How reports name it: `X-<id>`."""
        return f"{PREFIX}{self.id}"

    @property
    def key(self) -> str:
        """Its key in the file, for messages: `exceptions[2]`."""
        return f"exceptions[{self.index}]"

    def __str__(self) -> str:
        arrow = "from" if self.direction == INBOUND else "to"
        return f"{self.label} {self.direction} {self.traffic} {arrow} {self.peer}"


@dataclass(frozen=True)
class Status:
    """Where an exception stands on a given day."""

    state: str  # OK, EXPIRING or EXPIRED
    days_left: int  # negative once expired: -1 the day after the date

    def __str__(self) -> str:
        if self.state == EXPIRED:
            ago = -self.days_left
            return f"expired {ago} day{'s' * (ago != 1)} ago"
        if self.days_left == 0:
            return "expires today"
        return f"expires in {self.days_left} day{'s' * (self.days_left != 1)}"


# --- the calendar ---------------------------------------------------------------------------

def today() -> date:
    """Today's UTC date, or SXCLOUD_TODAY (YYYY-MM-DD) where set; a malformed value is an
    InputError (exit 2), never silently today."""
    given = os.environ.get(TODAY_VARIABLE)
    if given is None:
        return datetime.now(timezone.utc).date()
    parsed = _date(given)
    if parsed is None:
        raise InputError.one(TODAY_VARIABLE, "", f"'{excerpt(given)}' is not a date written "
                             "YYYY-MM-DD; unset it to use today's UTC date")
    return parsed


def status(exception: SiteException, on: date) -> Status:
    """The exception's status on day `on`: expired after its date, expiring within
    WARN_DAYS days of it (the date included), else ok."""
    days = (exception.expires - on).days
    state = EXPIRED if days < 0 else EXPIRING if days <= WARN_DAYS else OK
    return Status(state, days)


def expiry_warnings(deployment: Deployment, on: date | None = None) -> list[str]:
    """The warnings `plan` and `synth` print: one per exception that is expired or expires
    within WARN_DAYS days. `on` defaults to today()."""
    if not deployment.exceptions:
        return []
    day = today() if on is None else on
    out = []
    for exception in deployment.exceptions:
        state = status(exception, day)
        if state.state == EXPIRED:
            out.append(f"{deployment.path}: {exception.key}: {exception.label} expired on "
                       f"{exception.expires} ({state}); it is still emitted, and verify, "
                       "review and audit report it until it is renewed or removed")
        elif state.state == EXPIRING:
            out.append(f"{deployment.path}: {exception.key}: {exception.label} {state} "
                       f"({exception.expires}); renew it (a later `expires`) or remove it")
    return out


def _date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- loading --------------------------------------------------------------------------------

def parse(entries: list[dict[str, Any]], roles: dict[str, tuple[IPNetwork, ...]],
          bindings: dict[str, Iterable[str]], path: Path,
          problems: Problems) -> tuple[SiteException, ...]:
    """The exceptions of a file whose schema is valid: `roles` are the file's role CIDRs,
    `bindings` the roles bound on each cloud section present (cloud -> roles). Adds a
    problem for everything the schema cannot say, and returns the exceptions (which are
    only used when no problem was found)."""
    day = today() if entries else date.min
    out = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        key = f"exceptions[{index}]"
        before = len(problems)
        ident = entry["id"]
        if ident in seen:
            problems.append((path, f"{key}.id", f"'{ident}' is also the id of "
                             f"exceptions[{seen[ident]}]; ids must be unique"))
        seen.setdefault(ident, index)
        traffic = _traffic(entry, key, path, problems)
        peer = _peer(entry["peer"], f"{key}.peer", path, problems)
        clouds = tuple(entry.get("clouds", bindings))
        for i, cloud in enumerate(clouds):
            if cloud not in bindings:
                problems.append((path, f"{key}.clouds[{i}]", f"the file has no '{cloud}' "
                                 "section; name only clouds it deploys to"))
        expires = _expires(entry["expires"], day, f"{key}.expires", path, problems)
        identity = AzureRuleIdentity(entry.get("azure", {}).get("name"),
                                     entry.get("azure", {}).get("priority"))
        if "azure" in entry and AZURE not in clouds:
            problems.append((path, f"{key}.azure", "names an NSG rule, but the exception is "
                             "not on azure (clouds)"))
        if len(problems) > before or traffic is None or peer is None or expires is None:
            continue
        exception = SiteException(ident, index, entry["direction"], traffic, peer,
                                  entry["reason"], entry["owner"], entry.get("ticket"),
                                  expires, clouds, identity)
        _cloud_problems(exception, roles, bindings, path, problems)
        out.append(exception)
    return tuple(out)


def _traffic(entry: dict[str, Any], key: str, path: Path, problems: Problems) -> Traffic | None:
    given = entry["protocol"]
    if isinstance(given, int):
        if given in NAMED_NUMBERS:
            hint = " (ICMPv6 for IPv6 peers)" if given == 58 else ""
            problems.append((path, f"{key}.protocol", f"{given} has a name: write "
                             f"'{NAMED_NUMBERS[given]}'{hint}"))
            return None
        protocol = str(given)
    else:
        protocol = given
    before = len(problems)
    ports = _ports(entry.get("ports"), key, path, problems)
    if "ports" in entry and protocol not in (TCP, UDP):
        what = "all protocols" if protocol == ALL else f"protocol {protocol}"
        problems.append((path, f"{key}.ports", f"{what} takes no ports; only tcp and udp do"))
    if "ports" not in entry and protocol in (TCP, UDP):
        problems.append((path, f"{key}.ports", f"is required for {protocol} (write 0-65535 "
                         "for every port)"))
    for name in ("icmp_type", "icmp_code"):
        if name in entry and protocol != ICMP:
            problems.append((path, f"{key}.{name}", f"is for icmp only, not {protocol}"))
    if "icmp_code" in entry and "icmp_type" not in entry:
        problems.append((path, f"{key}.icmp_code", "needs icmp_type (a code belongs to a type)"))
    if len(problems) > before:
        return None
    return Traffic(protocol, ports, entry.get("icmp_type"), entry.get("icmp_code"))


def _ports(given: list[Any] | None, key: str, path: Path, problems: Problems) -> tuple[PortRange, ...]:
    ranges: list[tuple[PortRange, int]] = []
    for i, item in enumerate(given or ()):
        if isinstance(item, int):
            low = high = item
        else:
            low, high = (int(part) for part in item.split("-"))
        if not (0 <= low <= high <= 65535):
            problems.append((path, f"{key}.ports[{i}]", f"'{excerpt(item)}' is not a port range "
                             "low-high with 0 <= low <= high <= 65535"))
            continue
        ranges.append((PortRange(low, high), i))
    ranges.sort()
    for (a, _), (b, i) in zip(ranges, ranges[1:]):
        if b.low <= a.high:  # each range is one AWS rule: overlaps would be duplicates
            what = f"{b} is listed twice" if a == b else f"{b} overlaps {a}"
            problems.append((path, f"{key}.ports[{i}]", f"{what}; list each port once"))
    return tuple(sorted(r for r, _ in ranges))


def _peer(given: dict[str, Any], key: str, path: Path, problems: Problems) -> ExceptionPeer | None:
    chosen = [name for name in ("internet", "role") if name in given]
    if any(name in given for name in ("cidrs", "aws", "azure")):
        chosen.append("addresses")
    if len(chosen) != 1:
        problems.append((path, key, "needs exactly one of internet, role, or addresses "
                         "(cidrs, aws, azure)" + (f"; it has {' and '.join(chosen)}" if chosen else "")))
        return None
    if given.get("internet") is False:
        problems.append((path, f"{key}.internet", "is true or absent"))
        return None
    before = len(problems)
    cidrs: dict[IPNetwork, None] = {}
    counted: list[IPNetwork] = []  # for the total: /0 says it alone, as for roles
    for i, entry in enumerate(given.get("cidrs", ())):
        where = f"{key}.cidrs[{i}]"
        net = validation.network(entry, path, where, problems)
        if net is None:
            continue
        if net.prefixlen:
            counted.append(net)
        wide = validation.too_wide(net)
        if wide:
            problems.append((path, where, wide.replace("a role must", "an exception must")
                             + "; the Internet is `internet: true`"))
        elif net in cidrs:
            problems.append((path, where, f"{net} is listed twice"))
        cidrs[net] = None
    problems.extend((path, f"{key}.cidrs", message.replace("a role must", "an exception must"))
                    for message in validation.coverage_problems(counted, "its cidrs"))
    aws, azure = given.get("aws", {}), given.get("azure", {})
    for i, tag in enumerate(azure.get("service_tags", ())):
        if tag.casefold() == "internet":
            problems.append((path, f"{key}.azure.service_tags[{i}]", "the Internet is "
                             "`internet: true`, not a service tag"))
    if len(problems) > before:
        return None
    return ExceptionPeer(
        internet=bool(given.get("internet")), role=given.get("role"), cidrs=tuple(cidrs),
        aws=AwsObjects(tuple(aws.get("security_group_ids", ())), tuple(aws.get("prefix_list_ids", ()))),
        azure=AzureObjects(tuple(azure.get("application_security_group_ids", ())),
                           tuple(azure.get("service_tags", ()))))


def _expires(given: str, day: date, key: str, path: Path, problems: Problems) -> date | None:
    expires = _date(given)
    if expires is None:
        problems.append((path, key, f"'{excerpt(given)}' is not a date written YYYY-MM-DD"))
        return None
    ahead = (expires - day).days
    if ahead > MAX_DAYS_AHEAD:
        problems.append((path, key, f"{expires} is {ahead} days after today ({day}); an "
                         f"exception is granted for at most {MAX_DAYS_AHEAD} days, then renewed"))
        return None
    return expires


def _cloud_problems(exception: SiteException, roles: dict[str, tuple[IPNetwork, ...]],
                    bindings: dict[str, Iterable[str]], path: Path, problems: Problems) -> None:
    """What each of the exception's clouds cannot express, naming the key."""
    key, traffic, peer = exception.key, exception.traffic, exception.peer
    for cloud in exception.clouds:
        if cloud not in bindings:
            continue  # reported with `clouds`
        if peer.role and peer.role != catalog.APPLIANCE_PEERS and not roles.get(peer.role) \
                and peer.role not in bindings[cloud]:
            problems.append((path, f"{key}.peer.role", f"roles.{peer.role} has no CIDRs and "
                             f"no {cloud}.bindings.{peer.role}, so it names nothing on {cloud}"))
        own = peer.aws if cloud == AWS else peer.azure
        if not (peer.internet or peer.role or peer.cidrs or any(vars(own).values())):
            problems.append((path, f"{key}.peer", f"names nothing on {cloud} (no cidrs and no "
                             f"peer.{cloud}); add them, or leave {cloud} out of clouds"))
    if AZURE in exception.clouds:
        if traffic.number not in (None, 6, 17, 1, ESP, AH):
            problems.append((path, f"{key}.protocol", f"Azure knows only tcp, udp, icmp, all, "
                             f"{ESP} (ESP) and {AH} (AH), not protocol {traffic.protocol}; "
                             "leave azure out of clouds"))
        if traffic.icmp_type is not None:
            problems.append((path, f"{key}.icmp_type", "Azure cannot match an ICMP type or "
                             "code (its Icmp rules take every one); drop icmp_type and "
                             "icmp_code, or leave azure out of clouds"))
    elif any(vars(peer.azure).values()):
        problems.append((path, f"{key}.peer.azure", "names Azure objects, but the exception "
                         "is not on azure (clouds)"))
    if AWS not in exception.clouds and any(vars(peer.aws).values()):
        problems.append((path, f"{key}.peer.aws", "names AWS objects, but the exception is "
                         "not on aws (clouds)"))
