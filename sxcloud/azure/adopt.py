"""A hand-made NSG -> what the stack takes over: `azure.adopt`, draft exceptions, imports.

`sxcloud adopt azure` reads the live NSG (and ASG); this module decides, as a pure function
of the deployment file's data and the live objects, what becomes of each live rule. An NSG
rule's name is its identity in Azure and in Terraform (renaming replaces it), and
priorities are unique per direction, so (docs/adopt-azure.md):

- a live rule with the name of a planned sxcloud rule and the same rule in every field but
  the description is taken over: imported, its description updated in place;
- a live rule with such a name but another rule is refused: taking it over would change
  the flow it opens in place;
- any other live rule becomes a draft exception that keeps its live name and priority
  (`exceptions[N].azure`), imported, when sxcloud's rendering of that exception is the live
  rule in every field but the description; otherwise (a deny, a source port, several kinds
  of address, a side that is not the appliances' ASG, ...) it is kept unmanaged: Terraform
  never touches a rule that is not in its configuration, so it stays as it is, and audit
  reports it until a reviewed change removes it;
- a live rule, taken over or not, whose priority is that of a rule sxcloud must create is
  refused: sxcloud's priorities are fixed, and Azure refuses two rules at one priority;
- what the NSG's default allow rules let through for the appliances is kept by draft
  exceptions after every live rule, since sxcloud's denies end the defaults;
- the associations of `azure.associate` that the NSG has already are imported.

Every decision is checked against the real loader and planner: the draft exceptions are
added to the file's data and loaded (config.parse), the result planned (plan.plan), and
each rule it renders compared with the live one field by field (drift's comparison).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from .. import exceptions, moduleimports
from ..config import ArmId, Deployment, parse
from ..errors import InputError
from ..escape import excerpt
from ..moduleimports import hcl_string
from . import attributes, drift
from .attributes import association_key
from .nsg import INBOUND_AZ, NsgPlan
from .plan import EXCEPTION_PRIORITIES, PRIORITY_LOAD_BALANCER, plan

#: What becomes of a live rule.
TAKEN_OVER = "taken over"  # sxcloud's own rule, imported
DRAFT = "draft exception"  # a new exception keeping the live name and priority, imported
UNMANAGED = "kept unmanaged"  # left as it is, outside Terraform

DRAFT_DAYS = 30
DRAFT_OWNER = "unassigned"

_AZ_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "*": "all",
                 "esp": exceptions.ESP, "ah": exceptions.AH}
#: The fields compared for a rule taken over: all but the description, which is updated.
_COMPARED = tuple(f for f in drift.FIELDS if f != "description")


@dataclass(frozen=True)
class LiveRule:
    """One rule of the live NSG and what becomes of it."""

    view: drift.RuleView
    outcome: str  # TAKEN_OVER, DRAFT or UNMANAGED
    detail: str  # sxcloud's rule, the exception's label, or why it stays unmanaged
    default: bool = False  # one of the NSG's default rules (kept by a new rule, not imported)

    def data(self) -> dict[str, Any]:
        return {"name": self.view.name, "direction": self.view.direction,
                "priority": self.view.priority, "outcome": self.outcome,
                "detail": self.detail, "default": self.default, "rule": self.view.data()}


@dataclass(frozen=True)
class Adoption:
    """The outcome: what to add to the file, and the report."""

    nsg: ArmId
    asg: ArmId | None
    settings: dict[str, Any]  # `azure.adopt` as written
    drafts: list[dict[str, Any]]  # exceptions to append, as written
    live: list[LiveRule]
    to_create: list[str]  # sxcloud's planned rules with no live rule: Terraform creates them
    deployment: Deployment  # the file with both added, loaded
    plan: NsgPlan = field(repr=False)


@dataclass(frozen=True)
class Live:
    """The live objects as read: the NSG and the ASG (None when none was named)."""

    nsg: Any
    asg: Any | None


def adopt(data: dict[str, Any], path: Path, nsg_id: ArmId, asg_id: ArmId | None,
          live: Live, today: date) -> Adoption:
    """Adopt the live NSG `nsg_id` (and ASG `asg_id`) into the deployment file whose parsed
    data is `data`; raises InputError for a refusal (nothing is to be written then)."""
    deployment = parse(copy.deepcopy(data), path)
    azure = deployment.azure
    if azure is None:
        raise InputError.one(path, "azure", "is missing: the file deploys no NSG, so there "
                             "is nothing to adopt on Azure; add an azure section first")
    _check_targets(deployment, nsg_id, asg_id, live, path)
    # As ARM writes them (checked equal but for case): Terraform compares names with case.
    settings = {"network_security_group_id": live.nsg.id}
    if asg_id:
        settings["application_security_group_id"] = live.asg.id
    nsg_arm, asg_arm = ArmId.parse(settings["network_security_group_id"]), (
        ArmId.parse(settings["application_security_group_id"]) if asg_id else None)
    views = [drift.live_view(r) for r in live.nsg.security_rules or []]
    base = _load(data, path, settings, [])
    intended = _intended(base, nsg_arm)
    by_name = {v.name.casefold(): v for v in intended}
    problems: list[tuple[Path | str, str, str]] = []
    outcomes: dict[str, LiveRule] = {}
    candidates: dict[str, dict[str, Any]] = {}  # live name -> draft exception
    taken: list[str] = []
    ids = {e.id for e in deployment.exceptions}
    for view in views:
        want = by_name.get(view.name.casefold())
        if want is not None:
            changed = _differences(want, view)
            if changed or want.name != view.name:
                what = (f"its name is written {view.name}, sxcloud's {want.name} (Terraform "
                        "compares names with case)" if not changed
                        else f"it differs in {', '.join(changed)}")
                problems.append(("command line", "--nsg-id", (
                    f"live rule {view.name} has the name of sxcloud's rule {want.name}, but "
                    f"{what}; taking it over would change what it opens in place. Give the "
                    "live rule another name in Azure (a copy under a new name, then delete "
                    "the old), or make it equal to sxcloud's, and adopt again")))
                continue
            outcomes[view.name] = LiveRule(view, TAKEN_OVER, f"sxcloud's {want.name}")
            taken.append(want.name)
            continue
        entry, reason = _draft(view, nsg_arm, asg_arm, ids, today)
        if entry is None:
            outcomes[view.name] = LiveRule(view, UNMANAGED, reason)
        else:
            ids.add(entry["id"])
            candidates[view.name] = entry
    problems += _collisions(views, intended, set(taken))
    if problems:
        raise InputError(problems)
    settled, candidates = _settle(data, path, settings, candidates, views, nsg_arm, outcomes)
    for name, entry in candidates.items():
        view = next(v for v in views if v.name == name)
        outcomes[name] = LiveRule(view, DRAFT, f"{exceptions.PREFIX}{entry['id']}")
    settings["rules"] = [v.name for v in views if v.name in outcomes
                         and outcomes[v.name].outcome != UNMANAGED]
    if not settings["rules"]:
        del settings["rules"]
    attached = {item.id.casefold() for item in [*(live.nsg.subnets or []),
                                                *(live.nsg.network_interfaces or [])] if item.id}
    associations = [i for i in (*azure.subnet_ids, *azure.network_interface_ids)
                    if i.casefold() in attached]
    if associations:  # created, they would fail: Azure has them already
        settings["associations"] = associations
    defaults = _default_drafts(live.nsg, views, _intended(settled, nsg_arm), ids,
                               {e.id for e in deployment.exceptions}, nsg_arm, today)
    drafts = list(candidates.values()) + [entry for _, entry in defaults]
    final = _load(data, path, settings, drafts)
    planned = plan(final)
    # Listed once: a default rule's draft is created too, and its row says so.
    listed = {name for name, _ in planned.imports.rules} | {
        r.name for r in planned.rules
        if r.exception and r.exception.exception.id in {e["id"] for _, e in defaults}}
    return Adoption(nsg_arm, asg_arm, settings, drafts,
                    [outcomes[v.name] for v in views] + [rule for rule, _ in defaults],
                    [r.name for r in planned.rules if r.name not in listed], final, planned)


# --- the NSG and the ASG themselves ----------------------------------------------------------

def _check_targets(deployment: Deployment, nsg_id: ArmId, asg_id: ArmId | None, live: Live,
                   path: Path) -> None:
    """Refuse what adoption cannot keep in place: another NSG or ASG than the file already
    adopts; a resource group or location other than the file's (both force replacement)."""
    azure = deployment.azure
    assert azure is not None
    problems: list[tuple[Path | str, str, str]] = []
    given = azure.adopt
    if given and given.network_security_group.id.casefold() != nsg_id.id.casefold():
        problems.append((path, "azure.adopt.network_security_group_id", (
            f"already adopts {given.network_security_group.id}, not {nsg_id.id}: one stack "
            "holds one NSG; remove azure.adopt first if the file is to move to another")))
    if given and given.application_security_group and (
            asg_id is None or given.application_security_group.id.casefold() != asg_id.id.casefold()):
        problems.append((path, "azure.adopt.application_security_group_id", (
            f"already adopts {given.application_security_group.id}; pass it as --asg-id")))
    for option, arm_id, obj in (("--nsg-id", nsg_id, live.nsg), ("--asg-id", asg_id, live.asg)):
        if arm_id is None:
            continue
        if arm_id.resource_group != azure.resource_group:
            problems.append(("command line", option, (
                f"names resource group {arm_id.resource_group}, but {path} builds in "
                f"azure.resource_group {azure.resource_group}; Terraform would replace it "
                "(resource group names are compared with case): set azure.resource_group "
                "to the adopted one's, as its id writes it, or adopt one in that group")))
        where = (getattr(obj, "location", None) or "").replace(" ", "").casefold()
        if where and where != azure.location:
            problems.append(("command line", option, (
                f"is in location {excerpt(obj.location)}, but {path} says azure.location "
                f"{azure.location}; Terraform would replace it: set azure.location: "
                f"{excerpt(where)}")))
        if obj is not None and (obj.id or "").casefold() != arm_id.id.casefold():
            problems.append(("command line", option, (
                f"the answer is the resource {excerpt(obj.id or '-', 300)}, not the one asked for; "
                "is the endpoint a Resource Manager?")))
        elif obj is not None and (obj.name or "") != arm_id.name:
            problems.append(("command line", option, (
                f"names {arm_id.name}, which Azure writes {excerpt(obj.name or '')}; use the "
                "name as Azure writes it (Terraform compares names with case)")))
    if problems:
        raise InputError(problems)


# --- loading and planning ----------------------------------------------------------------------

def _load(data: dict[str, Any], path: Path, settings: dict[str, Any],
          drafts: list[dict[str, Any]]) -> Deployment:
    """The file's data with `azure.adopt` set and the drafts appended, loaded."""
    new = copy.deepcopy(data)
    new["azure"]["adopt"] = copy.deepcopy(settings)
    if drafts:
        new["exceptions"] = [*new.get("exceptions", []), *copy.deepcopy(drafts)]
    return parse(new, path)


def _intended(deployment: Deployment, nsg: ArmId) -> list[drift.RuleView]:
    return drift.intended_views(plan(deployment), nsg.subscription, nsg.resource_group)


def _differences(want: drift.RuleView, have: drift.RuleView) -> list[str]:
    return [f for f in _COMPARED if want.key(f) != have.key(f)]


def _settle(data: dict[str, Any], path: Path, settings: dict[str, Any],
            candidates: dict[str, dict[str, Any]], views: list[drift.RuleView], nsg: ArmId,
            outcomes: dict[str, LiveRule]) -> tuple[Deployment, dict[str, dict[str, Any]]]:
    """Keep the candidates that load and that sxcloud renders as the live rule; the others
    become unmanaged (recorded in `outcomes`), with the loader's or the comparison's reason."""
    first = len(data.get("exceptions", []))
    live = {v.name: v for v in views}
    while True:
        names = list(candidates)
        try:
            deployment = _load(data, path, settings, list(candidates.values()))
            rendered = {v.name: v for v in _intended(deployment, nsg)}
        except InputError as error:  # the loader's or the planner's, naming exceptions[N]
            refused = _refused_by_loader(error, names, first)
            if not refused:
                raise
            for name, message in refused.items():
                outcomes[name] = LiveRule(live[name], UNMANAGED, f"the exception would be "
                                          f"refused: {message}")
                del candidates[name]
            continue
        wrong = {}
        for name in names:
            differs = _differences(rendered[name], live[name])
            if differs:
                wrong[name] = ("sxcloud would render it differently (" + ", ".join(
                    f"{f}: {drift._show(getattr(rendered[name], f))} instead of "
                    f"{drift._show(getattr(live[name], f))}" for f in differs) + ")")
        if not wrong:
            return deployment, candidates
        for name, message in wrong.items():
            outcomes[name] = LiveRule(live[name], UNMANAGED, message)
            del candidates[name]


def _refused_by_loader(error: InputError, names: list[str], first: int) -> dict[str, str]:
    """The loader's problems with the drafts (keys exceptions[first + i]), by live name."""
    out: dict[str, str] = {}
    for _, key, message in error.problems:
        match = re.match(r"exceptions\[(\d+)\]", key)
        index = int(match.group(1)) - first if match else -1
        if 0 <= index < len(names):
            out.setdefault(names[index], f"{key[match.end():].lstrip('.') or 'the entry'}: "
                           f"{message}")
    return out


def _collisions(views: list[drift.RuleView], intended: list[drift.RuleView],
                taken: set[str]) -> list[tuple[Path | str, str, str]]:
    """A live rule that sxcloud does not take over but whose priority a planned rule has."""
    used = {(v.direction.casefold(), v.priority) for v in views}
    busy = {(v.direction.casefold(), v.priority) for v in intended} | used
    out = []
    for want in intended:
        if want.name in taken:
            continue
        for have in views:
            if (have.direction.casefold(), have.priority) == (want.direction.casefold(), want.priority):
                free = _free(have.direction.casefold(), busy)
                out.append(("command line", "--nsg-id", (
                    f"live rule {have.name} ({have.direction}, priority {have.priority}) has the "
                    f"priority of sxcloud's rule {want.name}, and Azure refuses two rules at one "
                    f"priority; sxcloud's priorities are fixed (a table keyed by direction, peer "
                    f"and protocol). Change the live rule's priority in Azure to a free one, "
                    f"e.g. {free} (an update in place: no gap in traffic), and adopt again")))
    return out


def _free(direction: str, busy: set[tuple[str, int | None]]) -> int:
    """A priority in the exceptions' band that no rule of either side uses."""
    return next(p for p in EXCEPTION_PRIORITIES if (direction, p) not in busy)


# --- the NSG's default rules --------------------------------------------------------------------

#: The default allow rules whose traffic sxcloud's denies (4096) end for the appliances, and
#: the peer of the draft that keeps it (AllowAzureLoadBalancerInBound: sxcloud's own 4000).
_DEFAULT_ALLOWS = (
    ("AllowVnetInBound", "inbound", {"azure": {"service_tags": ["VirtualNetwork"]}}, "default-vnet-in"),
    ("AllowVnetOutBound", "outbound", {"azure": {"service_tags": ["VirtualNetwork"]}}, "default-vnet-out"),
    ("AllowInternetOutBound", "outbound", {"internet": True}, "default-internet-out"),
)


def _default_drafts(nsg: Any, views: list[drift.RuleView], intended: list[drift.RuleView],
                    ids: set[str], in_file: set[str], nsg_id: ArmId,
                    today: date) -> list[tuple[LiveRule, dict[str, Any]]]:
    """Draft exceptions that keep what the default allow rules let through to and from the
    appliances today, once sxcloud's denies come: all protocols with the virtual network
    (both ways) and out to the Internet. Each gets a priority after every live rule of its
    direction, so that the live rules still decide first, as they do over the defaults
    (65000+). None where a live deny of everything already ends the default's traffic, nor
    where the file holds the draft already (`in_file`: adopting again adds nothing)."""
    defaults = {r.name: r for r in (drift.live_view(d) for d in nsg.default_security_rules or [])}
    busy = {(v.direction.casefold(), v.priority) for v in [*views, *intended]}
    out = []
    for name, direction, peer, ident in _DEFAULT_ALLOWS:
        default = defaults.get(name)
        if default is None or default.access.casefold() != "allow" or ident in in_file:
            continue
        mine = [v for v in views if v.direction.casefold() == default.direction.casefold()]
        if any(_denies_everything(v) for v in mine):
            continue
        priority = max([239, *(v.priority or 0 for v in mine)]) + 1
        while (default.direction.casefold(), priority) in busy:
            priority += 1
        if priority >= PRIORITY_LOAD_BALANCER:
            raise InputError.one("command line", "--nsg-id", (
                f"the live {default.direction} rules leave no priority below "
                f"{PRIORITY_LOAD_BALANCER} for the draft exception that keeps the default rule "
                f"{name}'s traffic; free a priority below {PRIORITY_LOAD_BALANCER} in Azure"))
        busy.add((default.direction.casefold(), priority))
        entry = {"id": _identifier(ident, ids), "direction": direction, "protocol": "all",
                 "peer": copy.deepcopy(peer), **_paperwork(nsg_id, today),
                 "azure": {"priority": priority}}
        ids.add(entry["id"])
        out.append((LiveRule(default, DRAFT, f"{exceptions.PREFIX}{entry['id']}", True), entry))
    return out


def _denies_everything(view: drift.RuleView) -> bool:
    """A deny of every protocol and port between any address and any address."""
    return (view.access.casefold() == "deny" and view.protocol == "*"
            and view.destination_ports == ("*",) and view.source_ports == ("*",)
            and view.source_prefixes == ("*",) and view.destination_prefixes == ("*",))


def _paperwork(nsg: ArmId, today: date) -> dict[str, Any]:
    """reason, owner, expires and clouds of a draft exception."""
    name = nsg.name if len(nsg.name) <= 70 else nsg.name[:67] + "..."
    return {"reason": f"on {name} when adopted on {today.isoformat()}; confirm or remove",
            "owner": DRAFT_OWNER, "expires": (today + timedelta(days=DRAFT_DAYS)).isoformat(),
            "clouds": ["azure"]}


# --- a live rule as a draft exception --------------------------------------------------------

def _draft(view: drift.RuleView, nsg: ArmId, asg: ArmId | None, ids: set[str],
           today: date) -> tuple[dict[str, Any] | None, str]:
    """The draft exception that keeps `view`, or None and why it cannot be one."""
    if view.access.casefold() != "allow":
        return None, (f"a {view.access} rule: exceptions only allow; it stays, and only ever "
                      "blocks more")
    protocol = _AZ_PROTOCOLS.get(view.protocol.casefold())
    if protocol is None:
        return None, f"protocol {view.protocol} is none an exception can name"
    if view.source_ports != ("*",):
        return None, f"it matches source ports {', '.join(view.source_ports)}; exceptions match destination ports only"
    inbound = view.direction.casefold() == INBOUND_AZ.casefold()
    mine = ((view.destination_prefixes, view.destination_asgs) if inbound
            else (view.source_prefixes, view.source_asgs))
    theirs = ((view.source_prefixes, view.source_asgs) if inbound
              else (view.destination_prefixes, view.destination_asgs))
    side = "destination" if inbound else "source"
    if asg is None or mine[0] or [a.casefold() for a in mine[1]] != [asg.id.casefold()]:
        return None, (f"its {side} is {_side(*mine)}, not the appliances' ASG, which every "
                      "sxcloud rule names: as an exception it would be narrowed in place"
                      + ("; adopt with --asg-id when the appliances have one" if asg is None else ""))
    peer, why = _peer(*theirs, asg)
    if peer is None:
        return None, why
    entry: dict[str, Any] = {"id": _identifier(view.name, ids),
                             "direction": "inbound" if inbound else "outbound",
                             "protocol": protocol}
    if protocol in ("tcp", "udp"):
        entry["ports"] = [_port(p) for p in view.destination_ports]
    elif view.destination_ports != ("*",):
        return None, f"{view.protocol} with destination ports: an exception of that protocol takes none"
    entry.update({"peer": peer, **_paperwork(nsg, today),
                  "azure": {"name": view.name, "priority": view.priority}})
    return entry, ""


def _peer(prefixes: tuple[str, ...], asgs: tuple[str, ...],
          appliance: ArmId) -> tuple[dict[str, Any] | None, str]:
    """An exception's peer for one side of a live rule, or None and why it cannot be one."""
    if prefixes and asgs:
        return None, "its peer mixes addresses and ASGs, which sxcloud writes as two rules"
    if asgs:
        if [a.casefold() for a in asgs] == [appliance.id.casefold()]:
            return {"role": "appliance_peers"}, ""
        return {"azure": {"application_security_group_ids": list(asgs)}}, ""
    networks = []
    for prefix in prefixes:
        try:
            networks.append(ipaddress.ip_network(prefix))
        except ValueError:
            networks.append(None)
    if all(n is None for n in networks):
        if len(prefixes) != 1:
            return None, "its peer is several service tags, which sxcloud writes as one rule each"
        tag = prefixes[0]
        if tag == "*":
            return None, ("its peer is * (every address, the virtual network's included), "
                          "which no exception names (the Internet is the service tag Internet)")
        if tag.casefold() == "internet":
            return {"internet": True}, ""
        return {"azure": {"service_tags": [tag]}}, ""
    if any(n is None for n in networks):
        return None, "its peer mixes addresses and service tags"
    if len({n.version for n in networks}) != 1:
        return None, "its peer mixes IPv4 and IPv6, which sxcloud writes as two rules"
    return {"cidrs": [str(n) for n in networks]}, ""


def _port(text: str) -> int | str:
    if text == "*":
        return "0-65535"
    return int(text) if text.isdigit() else text


def _identifier(name: str, taken: set[str]) -> str:
    """An exception id from a live rule's name: lower case, '-' for the rest, unique."""
    base = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", name.lower())).strip("-")[:32] or "rule"
    ident, number = base, 2
    while ident in taken:
        suffix = f"-{number}"
        ident, number = base[:32 - len(suffix)].rstrip("-") + suffix, number + 1
    return ident


def _side(prefixes: tuple[str, ...], asgs: tuple[str, ...]) -> str:
    return ", ".join([*prefixes, *(a.rsplit("/", 1)[-1] for a in asgs)]) or "-"


def module_imports(adoption: Adoption, address: str) -> str:
    """imports.tf for a root that calls modules/azure-appliance-nsg at `address`: the import
    blocks the CDK stack's `import_from` writes (the NSG, the ASG, every rule in
    `azure.adopt.rules`, the live associations, with the same ids), under the module's
    resource addresses (`TYPE.this`, `TYPE.this["KEY"]`; the keys are the CDK stack's)."""
    imports, azure = adoption.plan.imports, adoption.deployment.azure
    assert imports.nsg is not None and azure is not None, "module_imports() needs an adoption"
    blocks = [(f"{attributes.NSG_TYPE}.this", imports.nsg)]
    if imports.asg:
        blocks.append((f"{attributes.ASG_TYPE}.this", imports.asg))
    blocks += [(f"{attributes.RULE_TYPE}.this[{hcl_string(name)}]", rule_id)
               for name, rule_id in imports.rules]
    live = {a.casefold() for a in imports.associations}
    blocks += [(f"{attributes.SUBNET_NSG_TYPE}.this[{hcl_string(association_key('subnet', s))}]", s)
               for s in azure.subnet_ids if s.casefold() in live]
    blocks += [(f"{attributes.NIC_NSG_TYPE}.this[{hcl_string(association_key('nic', n))}]",
                f"{n}|{imports.nsg}") for n in azure.network_interface_ids if n.casefold() in live]
    return moduleimports.render("azure", address, blocks)
