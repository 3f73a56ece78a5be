"""What the deployment file intends, per probe, under each cloud's meaning of the roles.

Built from `sxcloud.policy.flows` and the deployment's roles and bindings only, never from
the cloud planners (they are what is under test). A probe belongs to roles: by address
(the role's CIDRs, unless the role is bound on this cloud), by membership (a bound group,
prefix list or ASG; the appliance's own group for cluster peers), and by the cloud's meaning
of `internet`:

- AWS: `internet` is 0.0.0.0/0 (and ::/0 with ipv6), so it holds every address, internal
  ones too. Security groups have no deny; the intent says so instead of pretending.
- Azure: `internet` is the `Internet` service tag: every address outside
  `roles.internal_network` (and outside the VirtualNetwork tag), of either IP family (the
  tag covers IPv6 whatever `ipv6` says).

A flow is intended for a probe when the probe belongs to the flow's peer role and the
service matches. Azure adds one platform fact: health probes from AzureLoadBalancer
(168.63.129.16) reach the appliances (spec/clouds.md: do not block them).

A flow with a named role (not the Internet) must also be granted by a rule scoped to that
role (`fits`): its peer lies within the role's ranges, or is the role's bound object. A rule
for a wider range (the Internet, the whole internal network) that happens to reach the
role's hosts does not count: that is how a removed rule is still seen where another, wider
rule covers for it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .. import catalog, exceptions
from ..catalog import ALL, TCP, UDP, Service
from ..config import Deployment
from ..policy import INBOUND, Flow, exception_flows, flows
from .model import EXPIRED, SELF, Finding, IPNetwork, Probe, Reason, Scope
from .netindex import NetIndex

AWS = "aws"
AZURE = "azure"

AZURE_LOAD_BALANCER = "azure_load_balancer"  # a platform role, not one of the file's
AZURE_PLATFORM_ADDRESS = ipaddress.ip_address("168.63.129.16")
_PLATFORM_REASON = "platform: Azure load balancer health probes reach the appliances"

#: Marks a probe inside the VirtualNetwork tag but outside roles.internal_network: a peered
#: virtual network or an on-premises range the file does not name.
BEYOND_VNET = "virtualnetwork:beyond-internal-network"

#: How a probe's membership of an Azure service tag an exception names is written (the tag
#: in lower case after it): verify trusts the tag as the exception names it.
SERVICE_TAG = "tag:"


@dataclass(frozen=True)
class ExceptionIntent:
    """A site exception as verify intends it on one cloud: its traffic with one peer.

    `peer` is a role of the file, the Internet or the appliances when the exception names
    one, else the exception's label, which stands for its `networks` and `members`."""

    label: str
    direction: str
    protocol: str  # tcp, udp, all, icmp, or a protocol number
    ports: tuple[tuple[int, int], ...]  # tcp and udp only
    peer: str
    networks: tuple[IPNetwork, ...]
    members: frozenset[str]  # lower-case ids; SERVICE_TAG + tag for Azure service tags
    reason: Reason


def exception_intents(deployment: Deployment, cloud: str) -> tuple[ExceptionIntent, ...]:
    """The site exceptions that apply on `cloud`, as intents (in the file's order)."""
    out = []
    for flow in exception_flows(deployment, cloud):
        peer, traffic = flow.peer, flow.traffic
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
            flow.origin, flow.direction, traffic.protocol,
            tuple((r.low, r.high) for r in traffic.ports), role,
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
    """The flows a deployment intends on one cloud, queried per probe and service."""

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
        # (direction, role) -> {service: reason}; Service(ALL) stands for every service
        self._index: dict[tuple[str, str], dict[Service, Reason]] = {}
        for flow in self.flows:
            role = None if flow.peer == catalog.INTERNET else flow.peer
            self._index.setdefault((flow.direction, flow.peer), {}).setdefault(
                flow.service, Reason(str(flow), role))
        if cloud == AZURE:
            # No scope demanded: Internet rules reach the platform address as well.
            self._index[(INBOUND, AZURE_LOAD_BALANCER)] = {Service(ALL): Reason(_PLATFORM_REASON)}
        self._fits: dict[tuple[str, Scope], bool] = {}
        self.exceptions = exception_intents(deployment, cloud)
        # label -> (networks, members) of the exceptions whose peer is addresses
        self._exception_peers = {e.label: (NetIndex.of(e.networks), e.networks, e.members)
                                 for e in self.exceptions if e.peer == e.label}
        # (direction, peer) -> [(protocol, low, high, reason)] of the exceptions' port ranges
        self._ranges: dict[tuple[str, str], list[tuple[str, int, int, Reason]]] = {}
        for e in self.exceptions:
            if e.protocol == ALL:
                self._index.setdefault((e.direction, e.peer), {}).setdefault(Service(ALL), e.reason)
            for low, high in e.ports:
                self._ranges.setdefault((e.direction, e.peer), []).append(
                    (e.protocol, low, high, e.reason))

    def roles(self, probe: Probe) -> frozenset[str]:
        """The roles a probe belongs to on this cloud."""
        address = probe.address
        out = set()
        if SELF in probe.groups:
            out.add(catalog.APPLIANCE_PEERS)
        for role in catalog.CONFIGURED_ROLES:
            bound = self._bound.get(role)
            if bound is not None:
                if bound & probe.groups:
                    out.add(role)
            elif self._role_nets[role].holds(address):
                out.add(role)
        if self.cloud == AWS:
            if address.version == 4 or self.deployment.appliance.ipv6:
                out.add(catalog.INTERNET)
        else:
            if not self._internal.holds(address) and BEYOND_VNET not in probe.groups:
                out.add(catalog.INTERNET)
            if address == AZURE_PLATFORM_ADDRESS:
                out.add(AZURE_LOAD_BALANCER)
        for label, (nets, _, members) in self._exception_peers.items():
            if nets.holds(address) or members & probe.groups:
                out.add(label)
        return frozenset(out)

    def services(self, roles: frozenset[str], direction: str) -> dict[Service, list[Reason]]:
        """Every service intended with a probe of these roles in one direction, and why."""
        out: dict[Service, list[Reason]] = {}
        for role in sorted(roles):
            for service, reason in self._index.get((direction, role), {}).items():
                out.setdefault(service, []).append(reason)
        return out

    def ranges(self, roles: frozenset[str], direction: str) -> list[tuple[str, int, int, Reason]]:
        """The exceptions' port ranges intended with a probe of these roles in one
        direction: (protocol, low, high, why)."""
        return [item for role in sorted(roles) for item in self._ranges.get((direction, role), ())]

    def port_ranges(self) -> list[tuple[int, int]]:
        """Every port range the exceptions intend, so that the probes test its edges."""
        return [(low, high) for e in self.exceptions for low, high in e.ports]

    def exception_networks(self) -> list[IPNetwork]:
        """The exceptions' own peer networks, so that the probes sample them."""
        return [n for _, nets, _ in self._exception_peers.values() for n in nets]

    def exception_members(self) -> list[str]:
        """The exceptions' own peer objects, so that a member of each is probed."""
        return sorted({m for _, _, members in self._exception_peers.values() for m in members})

    def fits(self, role: str, scope: Scope) -> bool:
        """Whether a rule's peer (its scope) lies within a role, so that it grants the
        role's flows by itself."""
        key = (role, scope)
        known = self._fits.get(key)
        if known is None:
            known = self._fits[key] = self._fit(role, scope)
        return known

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
        unprobed = sorted({e.label for e in self.exceptions if e.protocol not in (TCP, UDP, ALL)})
        if unprobed:
            out.append(f"{self.cloud}: the probes test TCP and UDP, so the ICMP or other "
                       f"protocol of {', '.join(unprobed)} is not verified")
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
                       "ranges (probed, nothing intended); health probes from "
                       "AzureLoadBalancer (168.63.129.16) are expected to reach the appliances")
            if d.appliance.dns == "cloud":
                out.append("azure: dns is cloud: 168.63.129.16 is not filtered unless a rule "
                           "names AzurePlatformDNS, so there is no rule to verify for it")
        return out
