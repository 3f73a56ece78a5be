"""Property test of the exact engine against a small brute-force evaluator (hypothesis,
fixed seed).

Random rules (protocols, port ranges and ICMP types, IPv4 and IPv6 CIDRs and service tags,
priorities, Allow and Deny) are added to a generated stack. The brute force decides single
packets the plainest way: each rule's attributes read straight from the resource, the
clouds' semantics written out once more, the intent from the policy's flows. Properties:

- a random packet differs (firewall and intent disagree) exactly when it lies in a region
  verify reports (a member of a group that fares as a host of no group at its address lies
  in that host's region), so where verify says "equal" no sampled packet differs (traffic
  the cloud does not filter is compared by neither);
- every reported region's example packet lies in it and really differs.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import deployment
from sxcloud import catalog
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from sxcloud.policy import INBOUND, OUTBOUND, flows
from sxcloud.verify import verify
from sxcloud.verify.intent import BEYOND_VNET, appliance
from sxcloud.verify.tfjson import parse

DATA = {
    "version": 1, "name": "prop",
    "appliance": {"dns": "external", "ipv6": True,
                  "features": {"admin_https": True, "vspp_dcc": True}},
    "roles": {"internal_network": ["10.70.0.0/16", "fd00:70::/48"],
              "internal_mail_server": ["10.70.1.25/32"],
              "external_nameserver": ["9.9.9.9/32", "2620:fe::fe/128"],
              "admin_pc": ["10.70.99.0/24"]},
    "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0", "rule_quota": 200},
    "azure": {"location": "westeurope", "resource_group": "rg-prop"},
}
D = deployment(DATA, "prop.yaml")
INTERNAL = [ipaddress.ip_network(n) for n in DATA["roles"]["internal_network"]]
LB = ipaddress.ip_address("168.63.129.16")
UNFILTERED = {"aws": {ipaddress.ip_address(a) for a in (
    "169.254.169.253", "169.254.169.254", "169.254.169.123", "fd00:ec2::123")},
    "azure": {LB}}
APPLIANCE = appliance(D).address
CIDRS = ["0.0.0.0/0", "10.70.0.0/16", "10.70.1.0/24", "10.70.1.25/32", "9.9.9.0/24",
         "203.0.113.0/24", "128.0.0.0/1", "168.63.129.16/32", "::/0", "fd00:70::/48",
         "2001:db8::/32", "2620:fe::fe/128"]
PORTS = [0, 22, 25, 53, 80, 443, 1000, 8443, 65535]
EDGES = sorted({p + d for p in PORTS for d in (-1, 0, 1) if 0 <= p + d <= 65535})
NAMES = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "esp": 50, "ah": 51}
SETTINGS = dict(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- random rules -----------------------------------------------------------------------------

def aws_rules() -> st.SearchStrategy[list[dict[str, Any]]]:
    def rule(protocol: str, ports: tuple[int, int], cidr: str, egress: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"security_group_id": str(aws_attributes.GROUP_ID),
                                "ip_protocol": protocol, "description": "random"}
        body["cidr_ipv6" if ":" in cidr else "cidr_ipv4"] = cidr
        if protocol in ("tcp", "udp"):
            body.update(from_port=min(ports), to_port=max(ports))
        elif protocol in ("icmp", "icmpv6"):
            body.update(from_port=ports[0] % 20 - 1, to_port=ports[1] % 5 - 1)  # -1: every
        return {"egress": egress, "body": body}
    protocol = st.sampled_from(["tcp", "udp", "icmp", "icmpv6", "-1", "50", "132", "47"])
    ports = st.tuples(st.sampled_from(PORTS), st.sampled_from(PORTS))
    return st.lists(st.builds(rule, protocol, ports, st.sampled_from(CIDRS), st.booleans()),
                    max_size=6)


def azure_rules() -> st.SearchStrategy[list[dict[str, Any]]]:
    def rule(protocol: str, ports: tuple[int, int], peer: str, inbound: bool, allow: bool,
             priority: int) -> dict[str, Any]:
        own, other = ("destination", "source") if inbound else ("source", "destination")
        low, high = sorted(ports)
        return {"name": f"random-{priority}", "priority": priority,
                "direction": "Inbound" if inbound else "Outbound",
                "access": "Allow" if allow else "Deny", "protocol": protocol,
                "source_port_range": "*",
                "destination_port_range": "*" if low == 0 and high == 65535 else f"{low}-{high}",
                f"{other}_address_prefix": peer,
                f"{own}_application_security_group_ids": [str(azure_attributes.ASG_ID)],
                "resource_group_name": "rg-prop",
                "network_security_group_name": str(azure_attributes.NSG_NAME_REF)}
    protocol = st.sampled_from(["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"])
    ports = st.tuples(st.sampled_from(PORTS), st.sampled_from(PORTS))
    peer = st.sampled_from([*CIDRS, "Internet", "VirtualNetwork", "*", "AzureLoadBalancer"])
    # between the generated rules (100, 101, 128, 168-173, 188, 4000, 4096), and after them
    priority = st.sampled_from([*range(102, 128), *range(140, 160), *range(4090, 4096)])
    return st.lists(st.builds(rule, protocol, ports, peer, st.booleans(), st.booleans(),
                              priority), max_size=6, unique_by=lambda r: (r["direction"],
                                                                          r["priority"]))


def packets() -> st.SearchStrategy[tuple[str, int, int, Any, str]]:
    v4 = st.one_of(st.sampled_from(CIDRS[:8]).map(_edge(4)), st.integers(0, 2 ** 32 - 1).map(
        ipaddress.IPv4Address))
    v6 = st.one_of(st.sampled_from(CIDRS[8:]).map(_edge(6)), st.integers(0, 2 ** 128 - 1).map(
        ipaddress.IPv6Address))
    protocol = st.one_of(st.sampled_from([6, 17, 1, 58, 50, 51, 47, 132, 0]),
                         st.integers(0, 255))
    port = st.one_of(st.sampled_from(EDGES), st.integers(0, 65535))
    member = st.sampled_from(["", "", BEYOND_VNET])
    return st.tuples(st.sampled_from([INBOUND, OUTBOUND]), protocol, port,
                     st.one_of(v4, v6, st.just(LB)), member)


def _edge(version: int):
    def pick(cidr: str) -> Any:
        net = ipaddress.ip_network(cidr)
        return net.network_address if version == 4 else net.broadcast_address
    return pick


# --- the brute force --------------------------------------------------------------------------

def _internal(address: Any) -> bool:
    return any(address.version == n.version and address in n for n in INTERNAL)


def _in(cidr: str, address: Any) -> bool:
    net = ipaddress.ip_network(cidr)
    return net.version == address.version and address in net


def _aws_match(body: dict[str, Any], protocol: int, port: int) -> bool:
    text = str(body["ip_protocol"]).lower()
    if text == "-1":
        return True
    if NAMES.get(text, None if not text.isdigit() else int(text)) != protocol:
        return False
    if protocol in (6, 17):
        return body["from_port"] <= port <= body["to_port"]
    if protocol in (1, 58):
        icmp_type, code = body.get("from_port", -1), body.get("to_port", -1)
        return icmp_type == -1 or (port // 256 == icmp_type and code in (-1, port % 256))
    return True


def aws_allowed(stack: dict[str, Any], direction: str, protocol: int, port: int,
                address: Any) -> list[str]:
    """The peers (CIDRs) of the rules that allow a packet from a host of no group."""
    rtype = aws_attributes.INGRESS_TYPE if direction == INBOUND else aws_attributes.EGRESS_TYPE
    out = []
    for body in stack["resource"].get(rtype, {}).values():
        cidr = body.get("cidr_ipv4") or body.get("cidr_ipv6")
        if cidr and _in(cidr, address) and _aws_match(body, protocol, port):
            out.append(cidr)
    return out


def _tag(spec: str, address: Any, member: str) -> bool:
    vnet = _internal(address) or member == BEYOND_VNET
    if spec == "*":
        return True
    if spec == "Internet":
        return not vnet
    if spec == "VirtualNetwork":
        return vnet
    if spec == "AzureLoadBalancer":
        return address == LB
    return _in(spec, address)


def _az_protocol(text: str, protocol: int) -> bool:
    return text == "*" or {"Tcp": [6], "Udp": [17], "Icmp": [1, 58], "Esp": [50],
                           "Ah": [51]}[text].count(protocol) > 0


def _az_ports(body: dict[str, Any], protocol: int, port: int) -> bool:
    if protocol not in (6, 17):
        return True
    texts = [body.get("destination_port_range"), *body.get("destination_port_ranges", [])]
    for text in filter(None, texts):
        if text == "*":
            return True
        low, _, high = text.partition("-")
        if int(low) <= port <= int(high or low):
            return True
    return False


DEFAULTS = [(65000, INBOUND, True, "VirtualNetwork", "VirtualNetwork"),
            (65001, INBOUND, True, "AzureLoadBalancer", "*"), (65500, INBOUND, False, "*", "*"),
            (65000, OUTBOUND, True, "VirtualNetwork", "VirtualNetwork"),
            (65001, OUTBOUND, True, "*", "Internet"), (65500, OUTBOUND, False, "*", "*")]


def azure_decision(stack: dict[str, Any], direction: str, protocol: int, port: int,
                   address: Any, member: str) -> tuple[bool, list[str]]:
    """The first matching rule's access, and the peer specs it matched by."""
    rules = []
    for body in stack["resource"][azure_attributes.RULE_TYPE].values():
        if body["direction"].lower() != direction:
            continue
        inbound = direction == INBOUND
        own, other = ("destination", "source") if inbound else ("source", "destination")
        mine = body.get(f"{own}_application_security_group_ids") or [
            body.get(f"{own}_address_prefix"), *body.get(f"{own}_address_prefixes", [])]
        applies = any(m == str(azure_attributes.ASG_ID) or (
            m and m != str(azure_attributes.ASG_ID) and not m.startswith("$")
            and _tag(m, APPLIANCE, "")) for m in mine)
        if not applies or body.get("source_port_range", "*") != "*":
            continue
        peers = [p for p in [body.get(f"{other}_address_prefix"),
                             *body.get(f"{other}_address_prefixes", [])] if p]
        # the appliance ASG on the peer side: cluster peers, never a host of no group
        rules.append((body["priority"], body["access"] == "Allow", body["protocol"], body,
                      [p for p in peers if _tag(p, address, member)]))
    rules.sort(key=lambda r: r[0])
    for _, allow, text, body, matched in rules:
        if matched and _az_protocol(text, protocol) and _az_ports(body, protocol, port):
            return allow, matched
    for _, way, allow, source, destination in DEFAULTS:
        peer = source if direction == INBOUND else destination
        if way == direction and _tag(peer, address, member):
            return allow, [peer]
    raise AssertionError("DenyAll matches everything")


def intended(cloud: str, direction: str, protocol: int, port: int, address: Any,
             member: str) -> list[str | None]:
    """The roles of the flows that intend the packet (None: the Internet or the platform)."""
    out: list[str | None] = []
    for flow in flows(D):
        if flow.direction != direction:
            continue
        s = flow.service
        if s.protocol != catalog.ALL and (protocol != {"tcp": 6, "udp": 17}[s.protocol]
                                          or port != s.port):
            continue
        if flow.peer == catalog.INTERNET:
            if cloud == "aws" and (address.version == 4 or DATA["appliance"]["ipv6"]):
                out.append(None)
            elif cloud == "azure" and not (_internal(address) or member == BEYOND_VNET):
                out.append(None)
        elif flow.peer in DATA["roles"] and any(
                _in(c, address) for c in DATA["roles"][flow.peer]):
            out.append(flow.peer)
    if cloud == "azure" and direction == INBOUND and address == LB:
        out.append(None)
    return out


def _fits(role: str, peer: str) -> bool:
    if peer == "VirtualNetwork":
        return role == "internal_network"
    if peer in ("*", "Internet", "AzureLoadBalancer"):
        return False
    net = ipaddress.ip_network(peer)
    return any(net.version == r.version and net.subnet_of(r)  # type: ignore[arg-type]
               for r in map(ipaddress.ip_network, DATA["roles"][role]))


def differs(cloud: str, stack: dict[str, Any], packet: tuple[str, int, int, Any, str]) -> bool:
    direction, protocol, port, address, member = packet
    if direction == OUTBOUND and address in UNFILTERED[cloud]:
        return False  # the cloud does not filter it
    if cloud == "aws":
        member = ""
        grants = aws_allowed(stack, direction, protocol, port, address)
        allowed = bool(grants)
    else:
        allowed, grants = azure_decision(stack, direction, protocol, port, address, member)
        grants = grants if allowed else []
    roles = intended(cloud, direction, protocol, port, address, member)
    if allowed != bool(roles):
        return True
    return any(r is not None and not any(_fits(r, g) for g in grants) for r in roles)


def in_region(region: Any, packet: tuple[str, int, int, Any, str]) -> bool:
    direction, protocol, port, address, member = packet
    return (region.direction == direction and protocol in region.protocols
            and region.ports[0] <= port <= region.ports[1] and region.member == member
            and region.first.version == address.version
            and region.first <= address <= region.last)


def _port(example: Any) -> int:
    return 0 if example.port is None else example.port


def check(cloud: str, extra: list[dict[str, Any]], sample: list[Any]) -> None:
    d = D
    if cloud == "aws":
        stack = {"resource": aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)}
        for i, r in enumerate(extra):
            rtype = aws_attributes.EGRESS_TYPE if r["egress"] else aws_attributes.INGRESS_TYPE
            stack["resource"][rtype][f"random{i}"] = r["body"]
        sample = [(*p[:4], "") for p in sample]  # no group memberships on AWS here
    else:
        stack = {"resource": azure_attributes.resources(azure_plan.plan(d),
                                                        location="westeurope",
                                                        resource_group="rg-prop")}
        for r in extra:
            stack["resource"][azure_attributes.RULE_TYPE][r["name"]] = r
    result = verify(d, cloud, parse(copy.deepcopy(stack), "random"))
    regions = [f.region for f in result.findings if f.region is not None]
    assert len(regions) == len(result.findings), [f.message for f in result.findings]
    for f in result.findings:
        example = (f.example.direction, f.example.protocol, _port(f.example),
                   f.example.address, f.example.member)
        assert in_region(f.region, example), f.message
        if f.example.member in ("", BEYOND_VNET):
            assert differs(cloud, stack, example), f.message
    for packet in sample:
        if packet[0] == OUTBOUND and packet[3] in UNFILTERED[cloud]:
            continue  # not compared: a region may span it, the cloud does not filter it
        found = any(in_region(r, packet) for r in regions)
        if differs(cloud, stack, packet) and not found and packet[4]:
            # a member that fares as a host of no group at its address is reported once,
            # in the region of the hosts of no group
            plain = (*packet[:4], "")
            found = differs(cloud, stack, plain) and any(in_region(r, plain) for r in regions)
        assert differs(cloud, stack, packet) == found, (
            packet, [f.message for f in result.findings])


@settings(max_examples=40, **SETTINGS)
@given(aws_rules(), st.lists(packets(), min_size=200, max_size=200))
def test_aws_engine_agrees_with_brute_force(extra, sample):
    check("aws", extra, sample)


@settings(max_examples=40, **SETTINGS)
@given(azure_rules(), st.lists(packets(), min_size=200, max_size=200))
def test_azure_engine_agrees_with_brute_force(extra, sample):
    check("azure", extra, sample)
