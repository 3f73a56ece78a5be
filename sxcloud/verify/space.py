"""The packet space verify decides, and how rules and flows cover it.

A packet, seen from the appliances, has a direction, an IP protocol (0-255), a second
dimension that depends on the protocol, and a peer (an address and the groups it is a member
of). The second dimension is the destination port for TCP and UDP (0-65535), and for ICMP
and ICMPv6 the type and code, as `type * 256 + code` (0-65535), where AWS can name them;
other protocols carry no ports, so every rule and flow covers them whole.

`Traffic` is what one rule or one intended flow covers in the protocol and port dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

ICMP, TCP, UDP, GRE, ESP, AH, ICMPV6, SCTP = 1, 6, 17, 47, 50, 51, 58, 132
PROTOCOLS = range(256)
EVERY_PORT = (0, 65535)
PORTED = (TCP, UDP)  # the second dimension is the destination port
TYPED = (ICMP, ICMPV6)  # the second dimension is type * 256 + code (AWS names them)

#: Protocols named in words; the report names every other by its number.
NAMES = {ICMP: "ICMP", TCP: "TCP", UDP: "UDP", ICMPV6: "ICMPv6"}
#: Well-known names said beside the number ("protocol 47 (GRE)").
KNOWN = {0: "HOPOPT", 2: "IGMP", 4: "IPv4 encapsulation", 41: "IPv6 encapsulation",
         GRE: "GRE", ESP: "ESP", AH: "AH", 89: "OSPF", 103: "PIM", 112: "VRRP", SCTP: "SCTP",
         136: "UDP-Lite"}
#: Protocol names the clouds accept beside numbers (AWS: tcp, udp, icmp, icmpv6; Azure's
#: Tcp, Udp, Icmp, Esp, Ah). Azure's Icmp covers ICMP over IPv4 and ICMPv6 both.
BY_NAME = {"tcp": (TCP,), "udp": (UDP,), "icmp": (ICMP,), "icmpv6": (ICMPV6,),
           "esp": (ESP,), "ah": (AH,)}
AZURE_ICMP = (ICMP, ICMPV6)


@dataclass(frozen=True)
class Traffic:
    """Protocols and, where they have them, ports (or ICMP type/code) a rule or flow covers.

    `protocols` None is every protocol; `ports` None is every value of the second dimension.
    Ports restrict TCP and UDP only, and ICMP/ICMPv6 only where the rule names them alone
    (an AWS ICMP rule's type and code): a protocol without ports is covered whole.
    """

    protocols: frozenset[int] | None
    ports: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:  # hashed once: traffic is a key of every decision
        object.__setattr__(self, "_hash", hash((self.protocols, self.ports)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    def ranges(self, protocol: int) -> tuple[tuple[int, int], ...]:
        """The second-dimension ranges covered for one protocol (empty: not covered)."""
        if self.protocols is not None and protocol not in self.protocols:
            return ()
        if self.ports is None:
            return (EVERY_PORT,)
        if protocol in PORTED or (protocol in TYPED and self.protocols is not None):
            return self.ports
        return (EVERY_PORT,)

    def named(self) -> frozenset[int]:
        """The protocols this traffic tells apart from the rest."""
        return self.protocols if self.protocols is not None else frozenset()


def protocol_atoms(traffics: Iterable[Traffic]) -> list[frozenset[int]]:
    """The protocols cut into classes that these traffics cannot tell apart: each protocol
    one of them names (and TCP and UDP), one by one, then all the rest together."""
    named = set(PORTED)
    for traffic in traffics:
        named |= traffic.named()
    out = [frozenset({p}) for p in sorted(named)]
    rest = frozenset(PROTOCOLS).difference(named)
    return out + [rest] if rest else out


EVERYTHING = Traffic(None)
NO_TRAFFIC = Traffic(frozenset())  # a rule verify cannot read matches nothing


def of(protocols: tuple[int, ...] | None, ports: tuple[tuple[int, int], ...] | None = None
       ) -> Traffic:
    return Traffic(None if protocols is None else frozenset(protocols), ports)


def parse_protocol(text: str) -> tuple[int, ...] | None:
    """A protocol as a cloud writes it (`tcp`, `6`, `Icmp`...) -> its numbers; `-1`, `all`,
    `*` -> None (every protocol). Raises ValueError for a name verify does not know."""
    value = text.strip().lower()
    if value in ("-1", "all", "*"):
        return None
    if value in BY_NAME:
        return BY_NAME[value]
    number = int(value)  # ValueError: not a number either
    if not 0 <= number <= 255:
        raise ValueError(text)
    return (number,)


def icmp_ranges(icmp_type: int, code: int) -> tuple[tuple[int, int], ...] | None:
    """An AWS ICMP rule's type and code (-1: every) as second-dimension ranges."""
    if icmp_type < 0:
        return None
    if code < 0:
        return ((icmp_type * 256, icmp_type * 256 + 255),)
    return ((icmp_type * 256 + code,) * 2,)


def protocol_name(protocol: int) -> str:
    if protocol in NAMES:
        return NAMES[protocol]
    known = KNOWN.get(protocol)
    return f"protocol {protocol} ({known})" if known else f"protocol {protocol}"


def spans(numbers: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] + 1 == n:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def protocols_text(protocols: frozenset[int]) -> str:
    """A set of protocols in words: `TCP`, `ICMP, protocol 47 (GRE)`, `every protocol but
    TCP and UDP`, `protocols 2-5, 7-16`."""
    if len(protocols) == 256:
        return "every protocol"
    missing = [p for p in PROTOCOLS if p not in protocols]
    if len(missing) <= 4 and len(protocols) > 4:
        names = [protocol_name(p) for p in missing]
        return "every protocol but " + (" and ".join(names) if len(names) <= 2
                                        else ", ".join(names[:-1]) + " and " + names[-1])
    parts = []
    for low, high in spans(list(protocols)):
        if low == high:
            parts.append(protocol_name(low))
        elif high - low < 2:
            parts += [protocol_name(low), protocol_name(high)]
        else:
            parts.append(f"protocols {low}-{high}")
    return ", ".join(parts)


def ports_text(protocols: frozenset[int], low: int, high: int) -> str:
    """The second dimension of a region in words ('' when it is every value)."""
    if (low, high) == EVERY_PORT:
        if protocols <= frozenset(TYPED):
            return "(all types)"
        return "every port" if protocols <= frozenset(PORTED) else ""
    if protocols <= frozenset(TYPED):
        return _icmp_text(low, high)
    return f"{low}" if low == high else f"{low}-{high}"


def _icmp_text(low: int, high: int) -> str:
    (t1, c1), (t2, c2) = divmod(low, 256), divmod(high, 256)
    if t1 == t2:
        if (c1, c2) == (0, 255):
            return f"type {t1}"
        return f"type {t1} code {c1}" if c1 == c2 else f"type {t1} codes {c1}-{c2}"
    if (c1, c2) == (0, 255):
        return f"types {t1}-{t2}"
    return f"type {t1} code {c1} to type {t2} code {c2}"


def example_text(protocol: int, port: int | None) -> str:
    """One packet's protocol and port in words."""
    if port is None:
        return protocol_name(protocol)
    if protocol in TYPED:
        return f"{protocol_name(protocol)} type {port // 256} code {port % 256}"
    return f"{protocol_name(protocol)} {port}"
