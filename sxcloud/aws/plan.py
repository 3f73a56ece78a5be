"""Flows -> the AWS rule set: one security-group rule per flow and peer.

A rule's key is derived from what it means (row, direction, service, peer), never from its
position, so that toggling an option adds or removes only that option's rules. The key is
also the Terraform resource name.

Site exceptions become rules on the same group, one per peer and port range, keyed
`X-<id>_<direction>_<service>_<peer>`: vendor keys start with a row id (R03_, X01_), so
the two never meet, and an exception's keys depend on nothing but the exception.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .. import catalog
from ..catalog import ALL
from ..config import AwsAdoption, Deployment
from ..errors import InputError
from ..exceptions import ICMP, TCP, UDP, SiteException, Traffic
from ..policy import INBOUND, ExceptionFlow, Flow, exception_flows, flows

INGRESS = "ingress"
EGRESS = "egress"

CIDR_IPV4 = "cidr_ipv4"
CIDR_IPV6 = "cidr_ipv6"
PREFIX_LIST = "prefix_list_id"
SECURITY_GROUP = "referenced_security_group_id"

#: The peer value of a rule that references the appliance group itself (cluster peers).
SELF = "self"

INTERNET_V4 = "0.0.0.0/0"
INTERNET_V6 = "::/0"

# Characters AWS accepts in a security-group rule description (no '&', unlike group
# descriptions), at most 255 of them. Source: spec/clouds.md.
_RULE_DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}$")
_GROUP_DESCRIPTION = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}$")


@dataclass(frozen=True)
class Peer:
    kind: str  # CIDR_IPV4, CIDR_IPV6, PREFIX_LIST or SECURITY_GROUP
    value: str  # the CIDR or id; SELF for the appliance group itself

    @property
    def family(self) -> str:
        """The quota bucket: AWS counts IPv4 and IPv6 rules separately."""
        return "IPv6" if self.kind == CIDR_IPV6 else "IPv4"


@dataclass(frozen=True)
class SgRule:
    key: str
    direction: str  # INGRESS or EGRESS
    ip_protocol: str  # tcp, udp, icmp, icmpv6, a protocol number, or -1 (all)
    from_port: int | None  # icmp: the type (-1: every type)
    to_port: int | None  # icmp: the code (-1: every code)
    peer: Peer
    description: str
    flow: Flow | ExceptionFlow  # a vendor row's flow, or a site exception's
    # Exceptions only: id, owner, expiry and ticket (pairs, so that a rule stays hashable).
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def exception(self) -> SiteException | None:
        """The site exception this rule opens, None for a vendor rule."""
        return self.flow.exception if isinstance(self.flow, ExceptionFlow) else None


@dataclass(frozen=True)
class SgPlan:
    """Everything the AWS stack needs, decided without the CDK."""

    group_name: str
    group_description: str
    tags: dict[str, str]
    rules: tuple[SgRule, ...]
    quota: int
    warnings: tuple[str, ...]
    # `aws.adopt`: the live group (and rules) the stack imports instead of creating them.
    adoption: AwsAdoption | None = None

    def imports(self) -> dict[str, str]:
        """Rule key -> the live rule id (sgr-...) each adopted rule is imported from."""
        return dict(self.adoption.rules) if self.adoption else {}

    def usage(self) -> dict[tuple[str, str], int]:
        """Rules per (direction, IP family), the way AWS counts them against the quota."""
        counts = Counter((r.direction, r.peer.family) for r in self.rules)
        return {(d, f): counts[(d, f)] for d in (INGRESS, EGRESS) for f in ("IPv4", "IPv6")}


def group_name(name: str) -> str:
    return f"{name}-appliance"


def tags(name: str) -> dict[str, str]:
    """Tags of the appliance group; `sxcloud:deployment` is how audit finds it."""
    return {"Name": group_name(name), "sxcloud:deployment": name, "ManagedBy": "sxcloud"}


def peers(role: str, deployment: Deployment) -> list[Peer]:
    """The AWS objects that stand for a role in this deployment."""
    assert deployment.aws is not None
    if role == catalog.INTERNET:
        out = [Peer(CIDR_IPV4, INTERNET_V4)]
        return out + [Peer(CIDR_IPV6, INTERNET_V6)] if deployment.appliance.ipv6 else out
    if role == catalog.APPLIANCE_PEERS:
        return [Peer(SECURITY_GROUP, SELF)]
    binding = deployment.aws.bindings.get(role)
    if binding:
        return ([Peer(SECURITY_GROUP, g) for g in binding.security_group_ids]
                + [Peer(PREFIX_LIST, p) for p in binding.prefix_list_ids])
    return [Peer(CIDR_IPV4 if n.version == 4 else CIDR_IPV6, str(n))
            for n in deployment.roles.get(role, ())]


def rule_key(flow: Flow, peer: Peer) -> str:
    """The stable Terraform name of a rule, e.g. R03_in_tcp25_cidr_10-20-1-10_32."""
    direction = "in" if flow.direction == INBOUND else "out"
    service = "all" if flow.service.protocol == ALL else f"{flow.service.protocol}{flow.service.port}"
    return f"{flow.row.id}_{direction}_{service}_{_peer_key(peer)}"


def _peer_key(peer: Peer) -> str:
    kind = {CIDR_IPV4: "cidr", CIDR_IPV6: "cidr", PREFIX_LIST: "pl", SECURITY_GROUP: "sg"}[peer.kind]
    value = peer.value.removeprefix("sg-").removeprefix("pl-").replace("/", "_")
    value = re.sub(r"[^A-Za-z0-9_-]", "-", value)
    return f"{kind}_{value}"


def exception_peers(flow: ExceptionFlow, deployment: Deployment) -> list[Peer]:
    """The AWS objects an exception's peer stands for: the Internet and roles as for vendor
    rules, else its CIDRs, security groups and prefix lists."""
    peer = flow.peer
    if peer.internet:
        return peers(catalog.INTERNET, deployment)
    if peer.role:
        return peers(peer.role, deployment)
    return ([Peer(CIDR_IPV4 if n.version == 4 else CIDR_IPV6, str(n)) for n in peer.cidrs]
            + [Peer(SECURITY_GROUP, g) for g in peer.aws.security_group_ids]
            + [Peer(PREFIX_LIST, p) for p in peer.aws.prefix_list_ids])


def exception_services(traffic: Traffic, peer: Peer) -> list[tuple[str, int | None, int | None, str]]:
    """(ip_protocol, from_port, to_port, key part) of each rule one peer of an exception
    needs: one per port range for tcp/udp, one otherwise. ICMP is ICMPv6 for an IPv6 peer."""
    if traffic.protocol in (TCP, UDP):
        return [(traffic.protocol, r.low, r.high, f"{traffic.protocol}{r}") for r in traffic.ports]
    if traffic.protocol == ICMP:
        protocol = "icmpv6" if peer.kind == CIDR_IPV6 else ICMP
        part = protocol + ("" if traffic.icmp_type is None else f"t{traffic.icmp_type}") + (
            "" if traffic.icmp_code is None else f"c{traffic.icmp_code}")
        code = -1 if traffic.icmp_code is None else traffic.icmp_code
        return [(protocol, -1 if traffic.icmp_type is None else traffic.icmp_type, code, part)]
    if traffic.protocol == ALL:
        return [("-1", None, None, "all")]
    return [(traffic.protocol, None, None, f"p{traffic.protocol}")]


def exception_description(exception: SiteException) -> str:
    """`X-<id> <ticket> until <date>: <reason>`; the loader keeps every part within the
    characters and length (at most 238) of an AWS rule description."""
    ticket = f" {exception.ticket}" if exception.ticket else ""
    return f"{exception.label}{ticket} until {exception.expires}: {exception.reason}"


def exception_tags(exception: SiteException) -> dict[str, str]:
    """Tags of an exception's rules: who answers for it and until when (AWS tag values take
    every character the loader lets through for these keys)."""
    out = {"sxcloud:exception": exception.id, "sxcloud:owner": exception.owner,
           "sxcloud:expires": str(exception.expires)}
    return {**out, "sxcloud:ticket": exception.ticket} if exception.ticket else out


def _exception_rules(deployment: Deployment) -> list[SgRule]:
    rules = []
    for flow in exception_flows(deployment, "aws"):
        exception = flow.exception
        direction = "in" if flow.direction == INBOUND else "out"
        for peer in exception_peers(flow, deployment):
            for protocol, low, high, part in exception_services(flow.traffic, peer):
                rules.append(SgRule(
                    key=f"{exception.label}_{direction}_{part}_{_peer_key(peer)}",
                    direction=INGRESS if flow.direction == INBOUND else EGRESS,
                    ip_protocol=protocol, from_port=low, to_port=high, peer=peer,
                    description=exception_description(exception), flow=flow,
                    tags=tuple(exception_tags(exception).items())))
    return rules


def plan(deployment: Deployment) -> SgPlan:
    """The AWS rule set of a deployment; raises InputError when AWS would refuse it."""
    aws = deployment.aws
    assert aws is not None, "plan() needs a deployment with an aws section"
    rules = []
    for flow in flows(deployment):
        for peer in peers(flow.peer, deployment):
            ports = (None, None) if flow.service.protocol == ALL else (flow.service.port,) * 2
            rules.append(SgRule(
                key=rule_key(flow, peer),
                direction=INGRESS if flow.direction == INBOUND else EGRESS,
                ip_protocol="-1" if flow.service.protocol == ALL else flow.service.protocol,
                from_port=ports[0], to_port=ports[1], peer=peer,
                description=f"{flow.row.id} {flow.row.slug}: {flow.row.rationale}",
                flow=flow,
            ))
    rules += _exception_rules(deployment)
    adopt = aws.adopt  # an adopted group keeps its live name and description (EC2 replaces
    # a group whose name or description changes); sxcloud's tags are added in place
    result = SgPlan(
        group_name=adopt.name if adopt else group_name(deployment.name),
        group_description=adopt.description if adopt else
        f"SX-MailCrypt appliances of {deployment.name} (managed by sxcloud)",
        tags=tags(deployment.name),
        rules=tuple(rules),
        quota=aws.rule_quota,
        warnings=tuple(_warnings(deployment, rules)),
        adoption=adopt,
    )
    _check(result, deployment)
    return result


def _warnings(deployment: Deployment, rules: list[SgRule]) -> list[str]:
    out = []
    if any(r.peer.value in (INTERNET_V4, INTERNET_V6) and r.direction == EGRESS for r in rules):
        out.append("aws: security groups cannot deny, so the rules to the Internet "
                   "(0.0.0.0/0) also reach internal addresses on the same ports")
    lists = sorted({r.peer.value for r in rules if r.peer.kind == PREFIX_LIST})
    if lists:
        out.append(f"aws: each rule naming a prefix list ({', '.join(lists)}) counts as the "
                   "list's max_entries against the rule quota; sxcloud counts it as 1")
    return out


def _check(result: SgPlan, deployment: Deployment) -> None:
    problems = []
    keys = Counter(r.key for r in result.rules)
    duplicated = [k for k, n in keys.items() if n > 1]
    if duplicated:  # cannot happen with valid roles; AWS would answer InvalidPermission.Duplicate
        problems.append(("aws", f"rules {', '.join(duplicated)} are duplicated"))
    problems += _same_rules(result.rules)
    problems += _adoption_problems(result)
    for (direction, family), count in result.usage().items():
        if count > result.quota:
            heavy = Counter(_source(r) for r in result.rules
                            if r.direction == direction and r.peer.family == family)
            worst = ", ".join(f"{k} ({n})" for k, n in heavy.most_common(3))
            problems.append(("aws", f"{count} {family} {direction} rules exceed the quota of "
                             f"{result.quota} per direction and IP family (most from: {worst}); "
                             "bind the role to a managed prefix list (aws.bindings.<role>."
                             "prefix_list_ids), or, once AWS has raised the quota, set "
                             "aws.rule_quota"))
    for rule in result.rules:
        if not _RULE_DESCRIPTION.match(rule.description):
            problems.append(("aws", f"rule {rule.key}: description is not one AWS accepts"))
    if not _GROUP_DESCRIPTION.match(result.group_description):
        problems.append(("aws", "group description is not one AWS accepts"))
    if problems:
        raise InputError([(deployment.path, key, msg) for key, msg in problems])


def _adoption_problems(result: SgPlan) -> list[tuple[str, str]]:
    """`aws.adopt.rules` names only planned rules, each live rule once (one live rule
    cannot become two resources: Terraform would import it twice)."""
    if result.adoption is None:
        return []
    keys = {r.key for r in result.rules}
    out = []
    taken: dict[str, str] = {}
    for key, rule_id in result.adoption.rules.items():
        where = f"aws.adopt.rules.{key}"
        if key not in keys:
            out.append((where, "is no rule of this file's plan (`sxcloud plan` lists the rule "
                        "keys); run `sxcloud adopt aws` again, or drop the entry"))
        if rule_id in taken:
            out.append((where, f"{rule_id} is also mapped to {taken[rule_id]}; a live rule "
                        "is taken over by one rule only"))
        taken.setdefault(rule_id, key)
    return out


def _source(rule: SgRule) -> str:
    """What a rule comes from, for messages: `R03 internal_mail_server` or `X-<id>`."""
    return rule.flow.origin if rule.exception else f"{rule.flow.origin} {rule.flow.peer}"


def _same_rules(rules: tuple[SgRule, ...]) -> list[tuple[str, str]]:
    """Rules that differ only in key and description: EC2 refuses the second
    (InvalidPermission.Duplicate). Only an exception can repeat another rule."""
    first: dict[tuple[object, ...], SgRule] = {}
    out = []
    for rule in rules:
        meaning = (rule.direction, rule.ip_protocol, rule.from_port, rule.to_port, rule.peer)
        other = first.setdefault(meaning, rule)
        if other is not rule:
            where = rule.exception.key if rule.exception else "aws"
            out.append((where, f"{rule.flow.origin}'s rule {rule.key} is the same rule as "
                        f"{other.key} ({other.flow.origin}); EC2 refuses a duplicate rule: "
                        f"drop the repeated peer or ports from {rule.flow.origin}"))
    return out
