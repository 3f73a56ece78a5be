"""Adopting a hand-made security group: each live rule -> the sxcloud rule that takes it over.

`sxcloud adopt aws` (sxcloud.commands.adopt.aws) reads the group through sxcloud.aws.live
(Describe calls only) and hands the rules to `adopt`, a pure function of the deployment
file's data and the live rules:

- a live rule with the permission of a planned rule (direction, protocol, ports, peer: what
  EC2 itself treats as one rule, sxcloud.aws.drift) is taken over by that rule; a different
  description is updated in place;
- any other live rule becomes a draft site exception stating its real flow, for AWS only,
  expiring in DRAFT_DAYS days, owner `unassigned`: nothing open today closes at the first
  apply, and every leftover is reviewed;
- planned rules with no live rule are "to be created".

The draft exceptions are then planned like any other (the file with them is parsed and
planned again), and their rules are mapped to the live rules they came from, so the
`aws.adopt.rules` mapping covers vendor rules and exceptions alike and nothing is created
twice. A live rule that no rule sxcloud can state matches exactly is refused, naming it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .. import config, moduleimports
from ..moduleimports import hcl_string
from ..errors import InputError
from ..exceptions import INBOUND, OUTBOUND
from . import attributes
from . import drift as drift_
from .live import Group
from .plan import (CIDR_IPV4, CIDR_IPV6, EGRESS, INTERNET_V4, INTERNET_V6, PREFIX_LIST,
                   SECURITY_GROUP, SgPlan, SgRule, plan)

#: A draft exception expires this many days after the adoption (spec/cli.md).
DRAFT_DAYS = 30
#: Who answers for a draft exception until someone confirms it.
DRAFT_OWNER = "unassigned"
#: The longest exception id the file takes (spec/config.md).
ID_MAX = 32


@dataclass(frozen=True)
class Taken:
    """A live rule taken over by a planned rule (a vendor rule or an exception)."""

    live: drift_.LiveRule
    rule: SgRule
    draft: bool  # the rule is one of the draft exceptions written by this adoption

    @property
    def description_changes(self) -> bool:
        """Whether the first apply updates the rule's description (in place)."""
        return self.live.description != self.rule.description


@dataclass(frozen=True)
class Adoption:
    """What `sxcloud adopt aws` found and what it adds to the file."""

    group: Group
    taken: tuple[Taken, ...]  # every live rule, in the order of its permission
    to_create: tuple[SgRule, ...]  # planned rules no live rule matches
    adopt: dict[str, Any]  # the `aws.adopt` entry
    exceptions: tuple[dict[str, Any], ...]  # the draft exceptions, as file entries
    plan: SgPlan  # the plan of the file with both added


def adopt(data: dict[str, Any], path: Path, group: Group, rules: list[drift_.LiveRule],
          on: date) -> Adoption:
    """The adoption of `group` (with its live `rules`) into the deployment file whose data
    is `data` (as sxcloud.yamlfile read it from `path`), on day `on` (the drafts' clock).

    Raises InputError when the file adopts another group already, when the group lies in
    another VPC, or when a live rule cannot be stated as a site exception.
    """
    deployment = config.parse(data, path)
    aws = deployment.aws
    if aws is None:
        raise InputError.one(path, "aws", "is not in this file, so there is no security "
                             "group to adopt into it")
    if aws.adopt and aws.adopt.group_id != group.id:
        raise InputError.one(path, "aws.adopt.group_id", f"already adopts {aws.adopt.group_id}; "
                             f"a file takes over one group, not also {group.id}")
    if group.vpc_id != aws.vpc_id:
        raise InputError.one(path, "--group-id", f"{group.id} is in {group.vpc_id or 'no VPC'}, "
                             f"not in aws.vpc_id {aws.vpc_id}; a stack adopts a group of its "
                             "own VPC")
    before = plan(deployment)
    planned = {drift_.intended_permission(r, group.id): r for r in before.rules}
    ordered = sorted(rules, key=lambda r: (r.permission.sort_key(), r.rule_id))
    leftovers = [r for r in ordered if r.permission not in planned]
    taken_ids = {e.id for e in deployment.exceptions}
    drafts = _drafts(leftovers, group, deployment.appliance.ipv6, taken_ids, on, path)
    adopt_entry: dict[str, Any] = {"group_id": group.id, "name": group.name,
                                   "description": group.description, "rules": {}}
    after = _plan_with(data, path, adopt_entry, [d for d, _ in drafts])
    draft_ids = {d["id"] for d, _ in drafts}
    by_permission = {drift_.intended_permission(r, group.id): r for r in after.rules}
    taken = []
    for live_rule in ordered:
        rule = by_permission.get(live_rule.permission)
        if rule is None:  # the drafts state every leftover; a miss is sxcloud's bug
            raise AssertionError(f"live rule {live_rule.rule_id} is not planned after adoption")
        exception = rule.exception
        taken.append(Taken(live_rule, rule, bool(exception and exception.id in draft_ids)))
    adopt_entry["rules"] = {t.rule.key: t.live.rule_id for t in taken}
    mapped = {t.rule.key for t in taken}
    to_create = tuple(r for r in after.rules if r.key not in mapped)
    final = _plan_with(data, path, adopt_entry, [d for d, _ in drafts])
    return Adoption(group, tuple(taken), to_create, adopt_entry,
                    tuple(d for d, _ in drafts), final)


def _plan_with(data: dict[str, Any], path: Path, adopt_entry: dict[str, Any],
               drafts: list[dict[str, Any]]) -> SgPlan:
    """The plan of the file with `aws.adopt` set and the drafts appended to `exceptions`."""
    new = with_adoption(data, "aws", adopt_entry, drafts)
    return plan(config.parse(new, path))


def with_adoption(data: dict[str, Any], cloud: str, adopt_entry: dict[str, Any],
                  drafts: list[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the file's data with `<cloud>.adopt` set and `drafts` appended to
    `exceptions` (the plain-data twin of what the YAML editor writes)."""
    new = copy.deepcopy(data)
    new[cloud]["adopt"] = copy.deepcopy(adopt_entry)
    if drafts:
        new["exceptions"] = [*new.get("exceptions", []), *copy.deepcopy(drafts)]
    return new


def _drafts(leftovers: list[drift_.LiveRule], group: Group, ipv6: bool, taken_ids: set[str],
            on: date, path: Path) -> list[tuple[dict[str, Any], list[drift_.LiveRule]]]:
    """One draft exception per leftover live rule (an Internet rule and its IPv6 twin
    together, where `ipv6` makes the Internet both families), each with its live rules."""
    problems = []
    groups: list[list[drift_.LiveRule]] = []
    twins: dict[tuple[Any, ...], list[drift_.LiveRule]] = {}
    for rule in leftovers:
        p = rule.permission
        internet = p.peer in (INTERNET_V4, INTERNET_V6)
        if internet and p.peer == INTERNET_V6 and not ipv6:
            problems.append((path, "--group-id", f"live rule {rule.rule_id} ({p.direction} "
                             f"{p.ports} with ::/0) opens the IPv6 Internet, which this file "
                             "cannot state while appliance.ipv6 is false; set it to true, or "
                             "remove the rule from the group first"))
            continue
        if internet and ipv6:
            key = (p.direction, p.protocol, p.from_port, p.to_port)
            if key in twins:
                twins[key].append(rule)
                continue
            twins[key] = [rule]
            groups.append(twins[key])
        else:
            groups.append([rule])
    for members in twins.values():
        if len(members) == 1:
            p = members[0].permission
            other = "::/0" if p.peer == INTERNET_V4 else "0.0.0.0/0"
            problems.append((path, "--group-id", f"live rule {members[0].rule_id} "
                             f"({p.direction} {p.ports} with {p.peer}) has no twin for "
                             f"{other}, and with appliance.ipv6 the Internet is both; add the "
                             "twin or remove the rule from the group first"))
    if problems:
        raise InputError(problems)
    expires = on + timedelta(days=DRAFT_DAYS)
    ids = set(taken_ids)
    out = []
    for members in groups:
        entry = _entry(members[0], group, expires, on)
        entry["id"] = _unique(entry["id"], ids)
        ids.add(entry["id"])
        out.append((entry, members))
    return out


def _entry(rule: drift_.LiveRule, group: Group, expires: date, on: date) -> dict[str, Any]:
    """The draft exception of one live rule, as an entry of the file's `exceptions`."""
    p = rule.permission
    entry: dict[str, Any] = {"id": _derived_id(p, group.id),
                             "direction": INBOUND if p.direction != EGRESS else OUTBOUND}
    if p.protocol == "-1":
        entry["protocol"] = "all"
    elif p.protocol in ("tcp", "udp"):
        entry["protocol"] = p.protocol
        entry["ports"] = [p.from_port if p.from_port == p.to_port else f"{p.from_port}-{p.to_port}"]
    elif p.protocol in ("icmp", "icmpv6"):
        entry["protocol"] = "icmp"
        if p.from_port not in (None, -1):
            entry["icmp_type"] = p.from_port
            if p.to_port not in (None, -1):
                entry["icmp_code"] = p.to_port
    else:
        entry["protocol"] = int(p.protocol)
    entry["peer"] = _peer(p, group.id)
    entry.update(reason=f"on {group.id} when adopted on {on}; confirm or remove",
                 owner=DRAFT_OWNER, expires=str(expires), clouds=["aws"])
    return entry


def _peer(p: drift_.Permission, group_id: str) -> dict[str, Any]:
    if p.peer in (INTERNET_V4, INTERNET_V6):
        return {"internet": True}
    if p.peer_kind in (CIDR_IPV4, CIDR_IPV6):
        return {"cidrs": [p.peer]}
    if p.peer_kind == SECURITY_GROUP and p.peer == group_id:
        return {"role": "appliance_peers"}  # the group itself: the appliances (cluster)
    if p.peer_kind == SECURITY_GROUP:
        return {"aws": {"security_group_ids": [p.peer]}}
    if p.peer_kind == PREFIX_LIST:
        return {"aws": {"prefix_list_ids": [p.peer]}}
    raise InputError.one("live group", "--group-id", f"a rule's peer ({p.peer_kind}) is none "
                         "EC2 documents; remove the rule from the group first")


def _derived_id(p: drift_.Permission, group_id: str) -> str:
    """An id that says the flow: `in-tcp3389-10-9-0-0-16`, `out-all-internet`,
    `in-icmpt8-10-30-0-0-16`, `in-p50-sg-...`."""
    if p.protocol == "-1":
        service = "all"
    elif p.protocol in ("tcp", "udp"):
        service = p.ports.replace("/", "")
    elif p.protocol in ("icmp", "icmpv6"):  # as the rule keys write them: icmpt8c0
        service = "icmp" + ("" if p.from_port in (None, -1) else f"t{p.from_port}") + (
            "" if p.to_port in (None, -1) else f"c{p.to_port}")
    else:
        service = f"p{p.protocol}"
    if p.peer in (INTERNET_V4, INTERNET_V6):
        peer = "internet"
    elif p.peer_kind == SECURITY_GROUP and p.peer == group_id:
        peer = "self"
    else:
        peer = p.peer
    text = f"{'in' if p.direction != EGRESS else 'out'}-{service}-{peer}".lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:ID_MAX].rstrip("-")


def _unique(ident: str, taken: set[str]) -> str:
    """`ident`, or `ident-2`, `-3`... (shortened to fit) when another exception has it."""
    if ident not in taken:
        return ident
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = ident[:ID_MAX - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def module_imports(adopted: SgPlan, address: str) -> str:
    """imports.tf for a root that calls modules/aws-appliance-sg at `address`: an import
    block for the group and for every mapped rule, under the module's resource addresses
    (`aws_security_group.this`, `aws_vpc_security_group_*_rule.this["KEY"]`; the keys are
    the CDK stack's)."""
    assert adopted.adoption is not None, "module_imports() needs an adopted plan"
    blocks = [(f"{attributes.GROUP_TYPE}.this", adopted.adoption.group_id)]
    imports = adopted.imports()
    for rule in adopted.rules:
        if rule.key in imports:
            blocks.append((f"{attributes.rule_type(rule)}.this[{hcl_string(rule.key)}]",
                           imports[rule.key]))
    return moduleimports.render("aws", address, blocks)
