"""Azure NSG semantics over Terraform resources.

The NSG is the `azurerm_network_security_group` tagged `sxcloud-deployment = <name>`, the
appliance is a member of the `azurerm_application_security_group` with the same tag. Its
rules (rule resources, and the `security_rule` blocks that no rule resource is) are read by
`rules.nsg_rules`, which documents how the list is told apart. Per direction, the rules are
taken in priority order, then the six default rules; the first rule whose protocol, ports,
source and destination match decides (Allow or Deny). Priorities outside 100-4096 and
priorities used twice in a direction are findings.

Addresses: `*`; CIDRs and single addresses; the service tags `Internet` (outside
roles.internal_network, either IP family), `VirtualNetwork` (roles.internal_network) and
`AzureLoadBalancer` (168.63.129.16); ASG ids (the appliance ASG is the appliance and cluster
peers; a bound ASG is its role's members). Other tags and unbound ASGs on the peer side are
opaque and reported, and so is a value not known until apply on either side (it may or may
not be the appliances). Flows come from source port 50000, an ephemeral port: a rule
whose source ports leave it out does not apply.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .. import catalog
from ..config import Deployment
from ..policy import INBOUND, OUTBOUND
from .intent import (AZURE, AZURE_PLATFORM_ADDRESS, BEYOND_VNET, SERVICE_TAG, appliance,
                     exception_objects)
from .model import INVALID, OPAQUE, SELF, Finding, Host, IPNetwork, Scope
from .netindex import NetIndex
from .rules import AZ_ASG as ASG
from .rules import AZ_NSG as NSG
from .rules import NsgRule, Side, nsg_rules, tagged
from .space import AZURE_ICMP, EVERYTHING, NO_TRAFFIC, PORTED, Traffic, of, parse_protocol
from .tfjson import PLAN, Document, Ref, Resource, Unknown

TAG = "sxcloud-deployment"  # how the generated NSG and ASG name their deployment (azure/plan.py)

SOURCE_PORT = 50000
PRIORITY_MIN, PRIORITY_MAX = 100, 4096

# Service tags verify understands, with the legacy spellings Azure still accepts.
_TAGS = {"internet": "Internet", "virtualnetwork": "VirtualNetwork",
         "virtual_network": "VirtualNetwork", "azureloadbalancer": "AzureLoadBalancer",
         "azure_loadbalancer": "AzureLoadBalancer"}

ANY = ("any", "*")


@dataclass(frozen=True)
class Rule:
    address: str  # Terraform address, or `default rule NAME`
    name: str
    priority: int
    direction: str
    allow: bool
    protocol: str  # tcp, udp, all, or the rule's own value (icmp, esp, ah, ...)
    ports: tuple[tuple[int, int], ...] | None  # destination ports; None: every port
    source_ports: tuple[tuple[int, int], ...] | None
    # Address specs, as scopes: ANY, ("tag", T), ("net", N), ("member", SELF or ASG id),
    # ("opaque", why) for what verify cannot evaluate, or ("unknown", why) for a value not
    # known in the document (both match nothing).
    source: tuple[Scope, ...]
    destination: tuple[Scope, ...]
    traffic: Traffic = EVERYTHING  # what it matches of protocols and destination ports

    @property
    def peer(self) -> tuple[Scope, ...]:
        """The side that is not the appliance: the source of inbound rules."""
        return self.source if self.direction == INBOUND else self.destination

    @property
    def label(self) -> str:
        return f"{self.address} (priority {self.priority}, {'Allow' if self.allow else 'Deny'})"


def _in(ranges: tuple[tuple[int, int], ...] | None, port: int) -> bool:
    return ranges is None or any(low <= port <= high for low, high in ranges)


def _default(name: str, priority: int, direction: str, allow: bool, source: str,
             destination: str) -> Rule:
    def spec(text: str) -> Scope:
        return ANY if text == "*" else ("tag", text)
    return Rule(f"default rule {name}", name, priority, direction, allow, "all", None, None,
                (spec(source),), (spec(destination),))


#: The default rules of every NSG, lowest precedence (Azure REST example
#: NetworkSecurityGroupGet.json; network-security-groups-overview.md).
DEFAULT_RULES = (
    _default("AllowVnetInBound", 65000, INBOUND, True, "VirtualNetwork", "VirtualNetwork"),
    _default("AllowAzureLoadBalancerInBound", 65001, INBOUND, True, "AzureLoadBalancer", "*"),
    _default("DenyAllInBound", 65500, INBOUND, False, "*", "*"),
    _default("AllowVnetOutBound", 65000, OUTBOUND, True, "VirtualNetwork", "VirtualNetwork"),
    _default("AllowInternetOutBound", 65001, OUTBOUND, True, "*", "Internet"),
    _default("DenyAllOutBound", 65500, OUTBOUND, False, "*", "*"),
)


#: Notes on list blocks no rule resource is (evaluated as rules of the NSG).
UNMANAGED = ("rules of the NSG in the cloud (as the plan read it) that no Terraform resource "
             "manages: added outside Terraform, and left in place by apply; evaluated")
UNMATCHED = ("rules of the NSG as Terraform last read it, in no rule resource of the state: "
             "inline rules, rules added outside Terraform, or rules deleted since the NSG was "
             "last read (a refreshed plan tells which); evaluated")


#: A rule that matches a peer, with the peer specs it matched by.
Candidate = tuple[Rule, tuple[Scope, ...]]


class NetworkSecurityGroup:
    """The appliance NSG of one deployment in one document, ready to decide packets."""

    first_match = True  # the first rule by priority decides

    def __init__(self, deployment: Deployment, document: Document) -> None:
        assert deployment.azure is not None
        self.problems: list[Finding] = []
        self.notes: list[str] = []
        self._internal = NetIndex.of(deployment.roles[catalog.INTERNAL_NETWORK])
        self._last: tuple[Any, bool] = (None, False)  # the last address asked, and the answer
        self._bound = {i.lower() for ids in deployment.azure.bindings.values() for i in ids}
        self._bound |= exception_objects(deployment, AZURE)  # trusted as bindings are
        self.appliance = appliance(deployment)
        self.nsg = self._tagged(deployment, document, NSG, "azurerm_network_security_group")
        self.asg = self._tagged(deployment, document, ASG, "azurerm_application_security_group "
                                "(the appliances' ASG)")
        custom = self._collect(document) if self.nsg is not None else []
        self._check_priorities(custom)
        self.rules: dict[str, list[Rule]] = {
            d: sorted((r for r in custom if r.direction == d), key=lambda r: (r.priority, r.name))
            + [r for r in DEFAULT_RULES if r.direction == d] for d in (INBOUND, OUTBOUND)}
        for rules in self.rules.values():
            for rule in rules:
                self._check_opaque(rule)
        # Per direction, the rules whose appliance side admits the appliance (and the flows'
        # source port), in order: only their peer side varies from peer to peer. The peer
        # prefixes of all of them are in one index (a role may have thousands of ranges),
        # with the rule's position; the few other specs (tags, ASGs, '*') are tried per rule.
        self._applicable: dict[str, list[Rule]] = {
            d: [r for r in rules if _in(r.source_ports, SOURCE_PORT)
                and self._matches(r.destination if d == INBOUND else r.source, self.appliance)]
            for d, rules in self.rules.items()}
        self._nets: dict[str, NetIndex[tuple[int, Scope]]] = {
            d: NetIndex((spec[1], (i, spec)) for i, r in enumerate(rules) for spec in r.peer
                        if spec[0] == "net") for d, rules in self._applicable.items()}
        self._others: dict[str, list[tuple[int, tuple[Scope, ...]]]] = {
            d: [(i, others) for i, r in enumerate(rules)
                if (others := tuple(spec for spec in r.peer if spec[0] != "net"))]
            for d, rules in self._applicable.items()}
        self._kinds: dict[tuple[object, ...], list[tuple[int, list[Scope]]]] = {}

    # --- reading ----------------------------------------------------------------------------

    def _tagged(self, d: Deployment, document: Document, rtype: str, noun: str) -> Resource | None:
        found = tagged(document, rtype, TAG, d.name)
        if len(found) != 1:
            what = "no" if not found else f"{len(found)}"
            self.problems.append(Finding(INVALID, f"{document.path} holds {what} {noun} tagged "
                                         f"{TAG} = {d.name}; there must be exactly one"))
            return None
        return found[0]

    def _collect(self, document: Document) -> list[Rule]:
        assert self.nsg is not None
        read = nsg_rules(document, self.nsg, self.asg)
        self.problems += read.problems
        self.notes += read.notes
        if read.unmanaged:
            self.notes.append(f"{', '.join(read.unmanaged)}: " + (
                UNMANAGED if document.kind == PLAN else UNMATCHED))
        return [self._rule(r) for r in read.rules]

    def _rule(self, r: NsgRule) -> Rule:
        return Rule(r.address, r.name, r.priority, r.direction, r.allow, r.protocol, r.ports,
                    r.source_ports, self._scopes("source", r.source),
                    self._scopes("destination", r.destination), self._traffic(r))

    def _traffic(self, r: NsgRule) -> Traffic:
        """Azure's protocol names: Tcp, Udp, Icmp (ICMP and ICMPv6), Esp, Ah, `*` (every
        protocol); destination ports restrict TCP and UDP."""
        try:
            protocols = AZURE_ICMP if r.protocol == "icmp" else parse_protocol(r.protocol)
        except ValueError:
            self.problems.append(Finding(INVALID, f"{r.address}: protocol {r.protocol!r} is "
                                         "none of Azure's Tcp, Udp, Icmp, Esp, Ah, *; rule not "
                                         "evaluated"))
            return NO_TRAFFIC
        ported = protocols is None or any(p in PORTED for p in protocols)
        return of(protocols, r.ports if ported else None)

    def _scopes(self, side: str, addresses: Side) -> tuple[Scope, ...]:
        out: list[Scope] = []
        for prefix in addresses.prefixes:
            text = str(prefix)
            if isinstance(prefix, (Ref, Unknown)):
                out.append(("unknown", f"{side} address {prefix} is not known in this document"))
            elif text in ("*", "Any", "any"):
                out.append(ANY)
            elif text.lower() in _TAGS:
                out.append(("tag", _TAGS[text.lower()]))
            elif SERVICE_TAG + text.lower() in self._bound:  # a site exception's peer
                out.append(("member", SERVICE_TAG + text.lower()))
            else:
                try:
                    out.append(("net", ipaddress.ip_network(text, strict=False)))
                except ValueError:
                    out.append(("opaque", f"{side} {prefix} is neither an address nor a service "
                                          "tag verify knows (Internet, VirtualNetwork, "
                                          "AzureLoadBalancer)"))
        for asg in addresses.asgs:
            if asg == SELF:
                out.append(("member", SELF))
            elif isinstance(asg, str) and asg.lower() in self._bound:
                out.append(("member", asg.lower()))
            elif isinstance(asg, Unknown):
                out.append(("unknown", f"{side} application security group {asg} is not known "
                                       "in this document"))
            else:
                out.append(("opaque", f"{side} application security group {asg} is bound to "
                                      "no role (azure.bindings)"))
        return tuple(out)

    def _check_priorities(self, rules: list[Rule]) -> None:
        for rule in rules:
            if not PRIORITY_MIN <= rule.priority <= PRIORITY_MAX:
                self.problems.append(Finding(INVALID, f"{rule.address}: priority {rule.priority} "
                                             f"is outside {PRIORITY_MIN}-{PRIORITY_MAX}"))
        used = Counter((r.direction, r.priority) for r in rules)
        for (direction, priority), count in sorted(used.items()):
            if count > 1:
                names = sorted(r.address for r in rules
                               if (r.direction, r.priority) == (direction, priority))
                self.problems.append(Finding(INVALID, f"priority {priority} is used by {count} "
                                             f"{direction} rules ({', '.join(names)}); Azure "
                                             "refuses that"))

    def _check_opaque(self, rule: Rule) -> None:
        """Opaque peers matter only on rules that apply to the appliance; a value not known
        on the appliance's side may be the appliance."""
        mine = rule.destination if rule.direction == INBOUND else rule.source
        if not self._matches(mine, self.appliance):
            for spec in mine:
                if spec[0] == "unknown":
                    self.problems.append(Finding(OPAQUE, f"{rule.address}: {spec[1]}, so verify "
                                                 "cannot tell whether the rule applies to the "
                                                 "appliances"))
            return
        for spec in rule.peer:
            if spec[0] in ("opaque", "unknown"):
                self.problems.append(Finding(OPAQUE, f"{rule.address}: {spec[1]}, so verify "
                                             "cannot tell whom the rule admits"))

    # --- deciding ---------------------------------------------------------------------------

    def _matches(self, specs: tuple[Scope, ...], peer: Host) -> bool:
        vnet = self._in_vnet(peer)
        return any(self._match(spec, peer, vnet) for spec in specs)

    def _in_vnet(self, peer: Host) -> bool:
        """Whether a peer is in the VirtualNetwork tag: the internal network, or beyond it."""
        return self._is_internal(peer.address) or BEYOND_VNET in peer.groups

    @staticmethod
    def _match(spec: Scope, peer: Host, vnet: bool) -> bool:
        """Whether a spec holds the peer; `vnet`: whether the peer is in VirtualNetwork."""
        kind, value = spec
        address = peer.address
        if kind == "any":
            return True
        if kind == "net":
            return address.version == value.version and address in value
        if kind == "member":
            return value in peer.groups
        if kind == "tag":
            if value == "AzureLoadBalancer":
                return address == AZURE_PLATFORM_ADDRESS
            return vnet if value == "VirtualNetwork" else not vnet  # Internet
        return False  # opaque

    def applies(self, rule: Rule) -> bool:
        """Whether a rule's appliance side (and source port) admits the appliances."""
        mine = rule.destination if rule.direction == INBOUND else rule.source
        return _in(rule.source_ports, SOURCE_PORT) and self._matches(mine, self.appliance)

    @staticmethod
    def evaluable(rule: Rule) -> bool:
        """Whether some peer of the rule is known (else it is reported as opaque)."""
        return any(spec[0] not in ("opaque", "unknown") for spec in rule.peer)

    def _is_internal(self, address: Any) -> bool:
        if self._last[0] != address:  # asked for each membership and direction in a row
            self._last = (address, self._internal.holds(address))
        return self._last[1]

    def networks(self) -> list[IPNetwork]:
        return [spec[1] for rules in self.rules.values() for r in rules
                for spec in (*r.source, *r.destination) if spec[0] == "net"]

    def _other_matches(self, peer: Host, direction: str) -> list[tuple[int, list[Scope]]]:
        """The specs other than prefixes that hold the peer, by rule position. They depend
        on the peer only through its memberships, whether it is in VirtualNetwork and
        whether it is the platform address, so they are worked out once per such kind."""
        vnet = self._in_vnet(peer)
        key = (direction, vnet, peer.address == AZURE_PLATFORM_ADDRESS, peer.groups)
        known = self._kinds.get(key)
        if known is None:
            known = self._kinds[key] = [
                (i, specs) for i, others in self._others[direction]
                if (specs := [spec for spec in others if self._match(spec, peer, vnet)])]
        return known

    def candidates(self, peer: Host, direction: str) -> tuple[Candidate, ...]:
        """The rules of a direction, in order, whose addresses match the peer and the
        appliance, each with the peer specs that matched it."""
        matched: dict[int, list[Scope]] = {}
        for i, spec in self._nets[direction].holding(peer.address):
            matched.setdefault(i, []).append(spec)
        for i, specs in self._other_matches(peer, direction):
            matched.setdefault(i, []).extend(specs)
        rules = self._applicable[direction]
        return tuple((rules[i], tuple(matched[i])) for i in sorted(matched))

