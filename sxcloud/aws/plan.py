"""Flows -> the AWS rule set: one security-group rule per flow and peer.

A rule's key is derived from what it means (row, direction, service, peer), never from its
position, so that toggling an option adds or removes only that option's rules. The key is
also the Terraform resource name.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .. import catalog
from ..catalog import ALL
from ..config import Deployment
from ..errors import InputError
from ..policy import INBOUND, Flow, flows

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
    ip_protocol: str  # tcp, udp or -1
    from_port: int | None
    to_port: int | None
    peer: Peer
    description: str
    flow: Flow


@dataclass(frozen=True)
class SgPlan:
    """Everything the AWS stack needs, decided without the CDK."""

    group_name: str
    group_description: str
    tags: dict[str, str]
    rules: tuple[SgRule, ...]
    quota: int
    warnings: tuple[str, ...]

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
    kind = {CIDR_IPV4: "cidr", CIDR_IPV6: "cidr", PREFIX_LIST: "pl", SECURITY_GROUP: "sg"}[peer.kind]
    value = peer.value.removeprefix("sg-").removeprefix("pl-").replace("/", "_")
    value = re.sub(r"[^A-Za-z0-9_-]", "-", value)
    return f"{flow.row.id}_{direction}_{service}_{kind}_{value}"


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
    result = SgPlan(
        group_name=group_name(deployment.name),
        group_description=f"SX-MailCrypt appliances of {deployment.name} (managed by sxcloud)",
        tags=tags(deployment.name),
        rules=tuple(rules),
        quota=aws.rule_quota,
        warnings=tuple(_warnings(deployment, rules)),
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
    for (direction, family), count in result.usage().items():
        if count > result.quota:
            heavy = Counter(r.flow.row.id + " " + r.flow.peer for r in result.rules
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
