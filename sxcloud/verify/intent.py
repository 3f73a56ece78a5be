"""What the deployment file intends, over the packet space, under each cloud's meaning of
the roles.

`intended` builds the intended set: the one place to add to what verify expects. It takes
`sxcloud.policy.flows` and the platform facts, never the cloud planners (they are what is
under test). A peer belongs to roles: by address (the role's CIDRs, unless the role is bound
on this cloud), by membership (a bound group, prefix list or ASG; the appliance's own group
for cluster peers), and by the cloud's meaning of `internet`:

- AWS: `internet` is 0.0.0.0/0 (and ::/0 with ipv6), so it holds every address, internal
  ones too. Security groups have no deny; the intent says so instead of pretending.
- Azure: `internet` is the `Internet` service tag: every address outside
  `roles.internal_network` (and outside the VirtualNetwork tag), of either IP family (the
  tag covers IPv6 whatever `ipv6` says).

A flow is intended for a packet when its peer belongs to the flow's peer role and the
flow's traffic covers its protocol and port. Azure adds one platform fact: health probes
from AzureLoadBalancer (168.63.129.16) reach the appliances (spec/clouds.md: do not block
them). Traffic the cloud does not filter at all (`UNFILTERED`) is not compared.

Site exceptions (`policy.exception_flows`) are intended as well, on the same space: every
protocol (ICMP with its type and code where AWS names them, protocol numbers, all) with a
role, the Internet, or the exception's own peer, which stands under its label (X-<id>) for
its CIDRs and the objects it names (security groups, prefix lists, ASGs, service tags).
An exception whose date has passed is still intended, and reported as `expired`.

A flow with a named role (not the Internet) must also be granted by a rule scoped to that
role (`fits`): its peer lies within the role's ranges, or is the role's bound object. A rule
for a wider range (the Internet, the whole internal network) that happens to reach the
role's hosts does not count: that is how a removed rule is still seen where another, wider
rule covers for it.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from dataclasses import dataclass

from .. import catalog, exceptions
from ..catalog import ALL, Service
from ..config import Deployment
from ..policy import INBOUND, OUTBOUND, Flow, exception_flows, flows
from . import space
from .model import EXPIRED, SELF, Finding, Host, IPNetwork, Reason, Scope
from .netindex import NetIndex
from .space import Traffic

AWS = "aws"
AZURE = "azure"

AZURE_LOAD_BALANCER = "azure_load_balancer"  # a platform role, not one of the file's
AZURE_PLATFORM_ADDRESS = ipaddress.ip_address("168.63.129.16")
_PLATFORM_REASON = "platform: Azure load balancer health probes reach the appliances"

#: Marks a peer inside the VirtualNetwork tag but outside roles.internal_network: a peered
#: virtual network or an on-premises range the file does not name.
BEYOND_VNET = "virtualnetwork:beyond-internal-network"

#: Traffic the cloud does not filter, per cloud: (direction, network, what it is). Both the
#: firewall and the intent let it through whatever the rules say, so it is not compared.
#: The VPC's own resolver (its base address + 2) is not in the file, so it is not listed.
UNFILTERED = {
    AWS: tuple((OUTBOUND, ipaddress.ip_network(net), what) for net, what in (
        ("169.254.169.253/32", "Amazon DNS"), ("169.254.169.254/32", "instance metadata"),
        ("169.254.169.123/32", "Amazon Time Sync"), ("fd00:ec2::123/128", "Amazon Time Sync"))),
    AZURE: ((OUTBOUND, ipaddress.ip_network("168.63.129.16/32"),
             "the platform address (DNS, DHCP)"),),
}

#: How a peer's membership of an Azure service tag an exception names is written (the tag
#: in lower case after it): verify trusts the tag as the exception names it.
SERVICE_TAG = "tag:"


@dataclass(frozen=True)
class Intended:
    """One thing the file intends: traffic in a direction with the peers of a role (or of a
    site exception's own addresses and objects, under its label)."""

    direction: str
    traffic: Traffic
    peer: str  # a role, AZURE_LOAD_BALANCER, or an exception's label (X-<id>)
    reason: Reason
    #: what is intended instead with a peer at an IPv6 address that belongs to `peer` by
    #: its address, not by a membership: an AWS ICMP exception is ICMPv6 there (aws.plan)
    traffic_v6: Traffic | None = None


@dataclass(frozen=True)
class ExceptionIntent:
    """A site exception as verify intends it on one cloud: its traffic with one peer.

    `peer` is a role of the file, the Internet or the appliances when the exception names
    one, else the exception's label, which stands for its `networks` and `members`."""

    label: str
    direction: str
    traffic: exceptions.Traffic
    peer: str
    networks: tuple[IPNetwork, ...]
    members: frozenset[str]  # lower-case ids; SERVICE_TAG + tag for Azure service tags
    reason: Reason


def traffic(service: Service) -> Traffic:
    """A flow's service as traffic: TCP or UDP to one port, or everything (X01)."""
    if service.protocol == ALL:
        return space.EVERYTHING
    protocol = space.TCP if service.protocol == catalog.TCP else space.UDP
    assert service.port is not None
    return space.of((protocol,), ((service.port, service.port),))


def exception_traffic(t: exceptions.Traffic, cloud: str, v6: bool = False) -> Traffic:
    """An exception's traffic on the packet space as `cloud` writes it: Azure's Icmp covers
    ICMP and ICMPv6 with every type; on AWS ICMP is ICMPv6 for IPv6 peers (`v6`), with
    the type and code as the rule names them."""
    if t.protocol == ALL:
        return space.EVERYTHING
    if t.protocol in (catalog.TCP, catalog.UDP):
        protocol = space.TCP if t.protocol == catalog.TCP else space.UDP
        return space.of((protocol,), tuple((r.low, r.high) for r in t.ports))
    if t.protocol == exceptions.ICMP:
        if cloud == AZURE:
            return space.of(space.AZURE_ICMP)
        icmp_type = -1 if t.icmp_type is None else t.icmp_type
        code = -1 if t.icmp_code is None else t.icmp_code
        return space.of((space.ICMPV6 if v6 else space.ICMP,),
                        space.icmp_ranges(icmp_type, code))
    return space.of((int(t.protocol),))


def intended(deployment: Deployment, cloud: str, policy_flows: tuple[Flow, ...]
             ) -> tuple[Intended, ...]:
    """Everything the file intends on one cloud: the one place the intended set is built.

    The policy's flows (vendor rows and sxcloud's extension), the platform facts (Azure's
    load balancer health probes), then the file's site exceptions on this cloud."""
    out = []
    for flow in policy_flows:
        role = None if flow.peer == catalog.INTERNET else flow.peer
        out.append(Intended(flow.direction, traffic(flow.service), flow.peer,
                            Reason(str(flow), role)))
    if cloud == AZURE:
        # No scope demanded: Internet rules reach the platform address as well.
        out.append(Intended(INBOUND, space.EVERYTHING, AZURE_LOAD_BALANCER,
                            Reason(_PLATFORM_REASON)))
    for e in exception_intents(deployment, cloud):
        v6 = (exception_traffic(e.traffic, cloud, v6=True)
              if cloud == AWS and e.traffic.protocol == exceptions.ICMP else None)
        out.append(Intended(e.direction, exception_traffic(e.traffic, cloud), e.peer,
                            e.reason, v6))
    return tuple(out)


def exception_intents(deployment: Deployment, cloud: str) -> tuple[ExceptionIntent, ...]:
    """The site exceptions that apply on `cloud`, as intents (in the file's order)."""
    out = []
    for flow in exception_flows(deployment, cloud):
        peer = flow.peer
        if peer.internet:
            role: str = catalog.INTERNET
        elif peer.role:
            role = peer.role
        else:
            role = flow.origin
        members = ((*peer.aws.security_group_ids, *peer.aws.prefix_list_ids) if cloud == AWS
                   else (*peer.azure.application_security_group_ids,
                         *(SERVICE_TAG + t for t in peer.azure.service_tags)))
        out.append(ExceptionIntent(
            flow.origin, flow.direction, flow.traffic, role,
            peer.cidrs if role == flow.origin else (),
            frozenset(m.lower() for m in members) if role == flow.origin else frozenset(),
            Reason(str(flow), None if role == catalog.INTERNET else role)))
    return tuple(out)


def exception_objects(deployment: Deployment, cloud: str) -> frozenset[str]:
    """The objects (lower-case ids, SERVICE_TAG + tag) the exceptions on `cloud` name as
    peers: the firewall evaluates rules naming them as it does bound objects."""
    return frozenset(m for e in exception_intents(deployment, cloud) for m in e.members)


def expired(deployment: Deployment, cloud: str) -> list[Finding]:
    """One finding per exception on `cloud` whose date has passed (exceptions.today())."""
    day = exceptions.today()
    out = []
    for flow in exception_flows(deployment, cloud):
        e = flow.exception
        state = exceptions.status(e, day)
        if state.state == exceptions.EXPIRED:
            out.append(Finding(EXPIRED, f"{e.label} (owner {e.owner}) expired on {e.expires} "
                               f"({state}, today is {day}); its rules are still deployed: "
                               f"renew it (a later expires) or remove it from the file"))
    return out


class Intent:
    """What a deployment intends on one cloud, queried per peer and direction."""

    def __init__(self, deployment: Deployment, cloud: str) -> None:
        self.deployment = deployment
        self.cloud = cloud
        self.flows: tuple[Flow, ...] = flows(deployment)
        target = deployment.targets[cloud]
        self._internal = NetIndex.of(deployment.roles.get(catalog.INTERNAL_NETWORK, ()))
        self._role_nets = {role: NetIndex.of(deployment.roles.get(role, ()))
                           for role in catalog.CONFIGURED_ROLES}
        # role -> the ids that stand for it on this cloud (lower-case), for bound roles only
        self._bound: dict[str, frozenset[str]] = {}
        for role, binding in target.bindings.items():
            ids = (binding if cloud == AZURE
                   else (*binding.security_group_ids, *binding.prefix_list_ids))  # type: ignore[union-attr]
            self._bound[role] = frozenset(i.lower() for i in ids)
        self._fits: dict[tuple[str, int], tuple[bool, Scope]] = {}
        self.exceptions = exception_intents(deployment, cloud)
        # label -> (networks, members) of the exceptions whose peer is addresses
        self._exception_peers = {e.label: (NetIndex.of(e.networks), e.networks, e.members)
                                 for e in self.exceptions if e.peer == e.label}
        # (direction, role) -> what is intended with its peers
        self._wants: dict[tuple[str, str], list[Intended]] = {}
        for item in intended(deployment, cloud, self.flows):
            self._wants.setdefault((item.direction, item.peer), []).append(item)
        self._wanted: dict[tuple[object, ...], tuple[tuple[Traffic, Reason], ...]] = {}
        self._by_address: dict[tuple[int, int], frozenset[str]] = {}
        self._inside: dict[tuple[int, int], bool] = {}

    def wanted(self, roles: frozenset[str], direction: str, peer: Host
               ) -> tuple[tuple[Traffic, Reason], ...]:
        """What is intended in one direction with a peer of these roles, and why."""
        v6 = peer.address.version == 6
        key = (roles, direction, v6, peer.groups if v6 else None)
        known = self._wanted.get(key)
        if known is None:
            known = self._wanted[key] = tuple(
                (item.traffic_v6 if item.traffic_v6 is not None and v6
                 and not self._by_membership(role, peer) else item.traffic, item.reason)
                for role in sorted(roles) for item in self._wants.get((direction, role), ()))
        return known

    def _by_membership(self, role: str, peer: Host) -> bool:
        """Whether `peer` belongs to `role` (or to an exception's own peer) by a membership
        rather than by its address: a rule naming a group matches whatever the address."""
        if role == catalog.APPLIANCE_PEERS or role in self._bound:
            return True
        own = self._exception_peers.get(role)
        return own is not None and bool(own[2] & peer.groups)

    def networks(self) -> list[IPNetwork]:
        """Every network the intent tells apart: the roles' ranges, the exceptions' own peer
        networks, the platform addresses."""
        out = [n for role in catalog.CONFIGURED_ROLES for n in self.deployment.roles.get(role, ())]
        out += [n for e in self.exceptions for n in e.networks]
        out += [net for _, net, _ in UNFILTERED[self.cloud]]
        if self.cloud == AZURE:
            out.append(ipaddress.ip_network(AZURE_PLATFORM_ADDRESS))
        return out

    def members(self) -> list[tuple[str, str, bool | None]]:
        """The memberships a peer can have, each with words for it and where its addresses
        are (True: inside roles.internal_network, False: outside, None: anywhere): none; the
        appliances' own group and every bound security group or ASG, whose members are hosts
        of the VPC / VNet (an ASG's NICs are in one VNet); a bound prefix list, which may
        hold anything; the objects site exceptions name as their peers (a security group or
        ASG: hosts of the VPC / VNet; a prefix list or service tag: anywhere); on Azure the
        VirtualNetwork tag beyond the file's internal network."""
        own = "the appliance group" if self.cloud == AWS else "the appliance ASG"
        out: list[tuple[str, str, bool | None]] = [("", "", None),
                                                   (SELF, f"a member of {own}", True)]
        for role, ids in sorted(self._bound.items()):
            out += [(i, f"a member of {i}, bound to {role}",
                     None if i.startswith("pl-") else True) for i in sorted(ids)]
        listed = {member for member, _, _ in out}
        for label, (_, _, members) in self._exception_peers.items():
            for m in sorted(members - listed):
                tag = m.startswith(SERVICE_TAG)
                words = f"service tag {m[len(SERVICE_TAG):]}" if tag else m
                out.append((m, f"a member of {words}, {label}'s peer",
                            None if tag or m.startswith("pl-") else True))
            listed |= members
        if self.cloud == AZURE:
            out.append((BEYOND_VNET, "in the VirtualNetwork tag beyond roles.internal_network: "
                                     "a peered or on-premises host", False))
        return out

    def internal(self, address: Any) -> bool:
        """Whether an address is in roles.internal_network (each address asked once)."""
        key = (address.version, int(address))
        inside = self._inside.get(key)
        if inside is None:
            inside = self._inside[key] = self._internal.holds(address)
        return inside

    def roles(self, peer: Host) -> frozenset[str]:
        """The roles a peer belongs to on this cloud."""
        address = peer.address
        key = (address.version, int(address))
        by_address = self._by_address.get(key)
        if by_address is None:  # the same address is asked for with each membership
            by_address = self._by_address[key] = frozenset(
                role for role in catalog.CONFIGURED_ROLES
                if role not in self._bound and self._role_nets[role].holds(address))
        out = set(by_address)
        if SELF in peer.groups:
            out.add(catalog.APPLIANCE_PEERS)
        for role, bound in self._bound.items():
            if bound & peer.groups:
                out.add(role)
        if self.cloud == AWS:
            if address.version == 4 or self.deployment.appliance.ipv6:
                out.add(catalog.INTERNET)
        else:
            if not self.internal(address) and BEYOND_VNET not in peer.groups:
                out.add(catalog.INTERNET)
            if address == AZURE_PLATFORM_ADDRESS:
                out.add(AZURE_LOAD_BALANCER)
        for label, (nets, _, members) in self._exception_peers.items():
            if nets.holds(address) or members & peer.groups:
                out.add(label)
        return frozenset(out)

    def fits(self, role: str, scope: Scope) -> bool:
        """Whether a rule's peer (its scope) lies within a role, so that it grants the
        role's flows by itself."""
        key = (role, id(scope))  # hashing a network is slow; the scope is kept alive below
        known = self._fits.get(key)
        if known is None:
            known = self._fits[key] = (self._fit(role, scope), scope)
        return known[0]

    def _fit(self, role: str, scope: Scope) -> bool:
        kind, value = scope
        if role in self._exception_peers:  # an exception's own addresses and objects
            _, nets, members = self._exception_peers[role]
            if kind == "net":
                return any(n.version == value.version and value.subnet_of(n) for n in nets)
            return kind == "member" and value in members
        if kind == "net":
            return role not in self._bound and role in self._role_nets and \
                self._role_nets[role].covers(value)
        if kind == "member":
            if value == SELF:  # the appliances sit inside the internal network
                return role in (catalog.APPLIANCE_PEERS, catalog.INTERNAL_NETWORK)
            if value in self._bound.get(role, ()):
                return True
            # Members of a security group or ASG are hosts of the VPC/VNet (ASG members are
            # NICs of one VNet), so inside internal_network; a prefix list may hold anything.
            return (role == catalog.INTERNAL_NETWORK and not value.startswith("pl-")
                    and any(value in ids for ids in self._bound.values()))
        if kind == "tag":
            return value == "VirtualNetwork" and role == catalog.INTERNAL_NETWORK
        return False  # "any": open to everyone

    def notes(self) -> list[str]:
        """Facts of this cloud that shape the intent, stated once per stack."""
        d = self.deployment
        out = []
        internet = sorted({f"{f.direction} {f.service}" for f in self.flows
                           if f.peer == catalog.INTERNET},
                          key=lambda s: (s.split()[0], s))
        if self.cloud == AWS:
            if internet:
                out.append("aws: security groups cannot deny, so the flows with the Internet "
                           f"({', '.join(internet)}) also reach internal addresses; verify "
                           "expects that on AWS and does not report it")
            for role, ids in sorted(self._bound.items()):
                lists = sorted(i for i in ids if i.startswith("pl-"))
                if lists:
                    out.append(f"aws: prefix list {', '.join(lists)} stands for {role} "
                               "(aws.bindings); its entries are not in Terraform, so verify "
                               "trusts the binding")
            if d.appliance.dns == "cloud":
                out.append("aws: dns is cloud: the Amazon-provided DNS server is not filtered "
                           "by security groups, so there is no rule to verify for it")
        else:
            if internet and not d.appliance.ipv6:
                out.append("azure: the Internet service tag covers IPv6 as well, so with "
                           "ipv6: false the flows with the Internet are open over IPv6 too "
                           "where the virtual network has IPv6; verify expects that (the "
                           "planner warns about it)")
            out.append("azure: Internet means outside roles.internal_network; VirtualNetwork "
                       "means roles.internal_network and possibly peered or on-premises "
                       "ranges (decided, nothing intended); health probes from "
                       "AzureLoadBalancer (168.63.129.16) are expected to reach the appliances")
            if d.appliance.dns == "cloud":
                out.append("azure: dns is cloud: 168.63.129.16 is not filtered unless a rule "
                           "names AzurePlatformDNS, so there is no rule to verify for it")
        return out


def appliance(d: Deployment) -> Host:
    """The appliance itself, as Azure rules see it: a member of its ASG, at an internal
    address outside every other role (or, when the roles cover the internal network, its
    first address)."""
    others = [n for role, nets in d.roles.items() if role != catalog.INTERNAL_NETWORK
              for n in nets]
    internal = d.roles[catalog.INTERNAL_NETWORK]
    for net in internal:
        size = net.num_addresses
        for offset in (size // 2 + 7, 1, size // 2, size - 2, 0):
            if 0 <= offset < size:
                candidate = net.network_address + offset
                if not any(candidate.version == n.version and candidate in n for n in others):
                    return Host(candidate, frozenset({SELF}))
    return Host(internal[0].network_address, frozenset({SELF}))
