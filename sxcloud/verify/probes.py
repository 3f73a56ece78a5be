"""The probe set: hosts and ports at which the firewall's decisions are compared with the
intent.

Hosts: the first and last address of every role range and the addresses just outside it
(a range widened by even one bit then takes in one of them); a member of every binding; a
cluster peer; an internal address outside every role; an Internet address of each IP family;
on Azure the load balancer's platform address. Every range the rules themselves name is
sampled too (first and last address), so a rule for an address nobody configured is seen.

Ports: every port of the vendor table and its neighbours, ports outside it (21, 23, 110,
587, 3389, 5432), 1 and 65535, and the edges of every port range the rules name with the
ports just inside and just outside them. Each is probed over TCP and UDP, inbound and outbound.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable

from .. import catalog
from ..config import Deployment
from .intent import AZURE, AZURE_PLATFORM_ADDRESS, BEYOND_VNET
from .model import SELF, IPAddress, IPNetwork, Probe

OUTSIDE_TABLE = (21, 23, 110, 587, 3389, 5432)
TABLE_PORTS = tuple(sorted({s.port for row in catalog.ROWS for s in row.services if s.port}))

# Documentation and well-known public addresses; the first that no role names is used.
_INTERNET_V4 = ("203.0.113.10", "198.51.100.10", "192.0.2.10", "8.8.8.8", "1.1.1.1")
_INTERNET_V6 = ("2001:db8::10", "2001:db8:ffff::10", "2001:4860:4860::8888", "2606:4700::1111")

# Private ranges that a VirtualNetwork tag may hold beyond the VNet (peering, on-premises).
_BEYOND_VNET = ("172.31.255.10", "100.64.0.10", "192.168.255.10", "10.255.255.10")

_INTERNAL_ROLES = (catalog.INTERNAL_NETWORK, catalog.INTERNAL_MAIL_SERVER,
                   catalog.INTERNAL_NAMESERVER, catalog.ADMIN_PC)


def ports(rule_ports: Iterable[tuple[int, int]] = ()) -> tuple[int, ...]:
    """The destination ports to probe, given the (from, to) ranges the rules name."""
    out = set(TABLE_PORTS) | set(OUTSIDE_TABLE) | {1, 65535}
    out |= {p + d for p in TABLE_PORTS for d in (-1, 1)}
    for low, high in rule_ports:  # the edges of every range, inside and out
        out |= {low - 1, low, low + 1, high - 1, high, high + 1}
    return tuple(sorted(p for p in out if 1 <= p <= 65535))


def _networks(roles: dict[str, tuple[IPNetwork, ...]], skip: str | None = None) -> list[IPNetwork]:
    return [n for role, nets in roles.items() if role != skip for n in nets]


def _inside(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def internal_spare(d: Deployment) -> IPAddress:
    """An address in roles.internal_network outside every other role (or, when the roles
    cover it all, the first internal address)."""
    return _spare(d.roles)


def _spare(roles: dict[str, tuple[IPNetwork, ...]]) -> IPAddress:
    others = _networks(roles, skip=catalog.INTERNAL_NETWORK)
    internal = roles[catalog.INTERNAL_NETWORK]
    for net in internal:
        size = net.num_addresses
        for offset in (size // 2 + 7, 1, size // 2, size - 2, 0):
            if 0 <= offset < size:
                candidate = net.network_address + offset
                if not _inside(candidate, others):
                    return candidate
    return internal[0].network_address


def _internet(roles: dict[str, tuple[IPNetwork, ...]], version: int) -> IPAddress:
    """An Internet address no role and no internal range names."""
    return _free(roles, _INTERNET_V4 if version == 4 else _INTERNET_V6)


def _free(roles: dict[str, tuple[IPNetwork, ...]], candidates: tuple[str, ...]) -> IPAddress:
    """The first candidate address that no role names, or else the first candidate: roles
    that cover every candidate (an internal role of 0.0.0.0/1 and 128.0.0.0/1) leave no
    address outside them, and the probe then belongs to those roles as well, which the
    intent reads from its address like any other probe's."""
    taken = _networks(roles)
    addresses = [ipaddress.ip_address(text) for text in candidates]
    return next((a for a in addresses if not _inside(a, taken)), addresses[0])


def appliance(d: Deployment) -> Probe:
    """The appliance itself, as Azure rules see it: a member of its ASG, at an internal address."""
    return Probe("the appliance", internal_spare(d), frozenset({SELF}))


def _edges(net: IPNetwork) -> list[tuple[str, IPAddress]]:
    first, last = net.network_address, net.broadcast_address
    out = [("first address", first), ("last address", last)]
    top = 2 ** net.max_prefixlen - 1
    if int(first) > 0:
        out.append(("just below", first - 1))
    if int(last) < top:
        out.append(("just above", last + 1))
    return out


def probes(d: Deployment, cloud: str, rule_networks: Iterable[IPNetwork] = (),
           members: Iterable[str] = ()) -> list[Probe]:
    """The hosts to probe for one cloud of a deployment, without duplicates; `members`: the
    objects site exceptions name as peers, each probed with a member."""
    target = d.targets[cloud]
    bindings = tuple(sorted(
        (role, tuple(b) if cloud == AZURE else (*b.security_group_ids, *b.prefix_list_ids))
        for role, b in target.bindings.items()))  # type: ignore[union-attr]
    out = list(_from_roles(tuple(d.roles.items()), bindings, cloud))
    for net in rule_networks:
        if net.prefixlen > 0:
            for what, address in _edges(net)[:2]:
                out.append(Probe(f"{what} of {net}, named by a rule", address))
    for member in members:
        out.append(Probe(f"member of {member} (a site exception's peer)", internal_spare(d),
                         frozenset({member})))
    return _unique(out)


@lru_cache(maxsize=256)  # the sweep verifies thousands of stacks with the same roles
def _from_roles(roles: tuple[tuple[str, tuple[IPNetwork, ...]], ...],
                bindings: tuple[tuple[str, tuple[str, ...]], ...], cloud: str) -> tuple[Probe, ...]:
    d_roles = dict(roles)
    bound = dict(bindings)
    spare = _spare(d_roles)
    v4, v6 = _internet(d_roles, 4), _internet(d_roles, 6)
    out: list[Probe] = []
    for role in catalog.CONFIGURED_ROLES:
        note = " (bound on this cloud)" if role in bound else ""
        for index, net in enumerate(d_roles.get(role, ())):
            for what, address in _edges(net):
                out.append(Probe(f"roles.{role}[{index}] {net} {what}{note}", address))
    for role, ids in bindings:
        where = spare if role in _INTERNAL_ROLES else v4
        for bound_id in ids:
            out.append(Probe(f"member of {bound_id} ({cloud}.bindings.{role})", where,
                             frozenset({bound_id.lower()})))
    out.append(Probe("cluster peer (member of the appliance group)", spare, frozenset({SELF})))
    out.append(Probe("internal address outside every role", spare))
    out.append(Probe("Internet", v4))
    out.append(Probe("Internet, IPv6", v6))
    if cloud == AZURE:
        out.append(Probe("AzureLoadBalancer health probe", AZURE_PLATFORM_ADDRESS,
                         inbound_only=True))
        out.append(Probe("peered or on-premises address (VirtualNetwork tag, no role)",
                         _free(d_roles, _BEYOND_VNET), frozenset({BEYOND_VNET})))
    return tuple(out)


def _unique(probes: list[Probe]) -> list[Probe]:
    """One probe per host (address and groups): the first label names it."""
    seen: dict[tuple[IPAddress, frozenset[str], bool], Probe] = {}
    for p in probes:
        seen.setdefault((p.address, p.groups, p.inbound_only), p)
    return list(seen.values())
