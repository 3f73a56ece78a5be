"""The catalog and the planned rule sets as text tables and as JSON-ready data.

Text for the terminal is made terminal-safe where it is printed (`commands.common.print_text`);
tables.render escapes its cells itself, so that widths are measured on what is shown. JSON
needs nothing: json.dump escapes every control character.
"""

from __future__ import annotations

from typing import Any

from . import catalog, tables
from .app import Planned
from .aws import plan as aws_plan
from .azure import limits
from .azure import plan as azure_plan


def catalog_rows() -> list[dict[str, Any]]:
    return [{
        "id": r.id, "slug": r.slug, "services": [str(s) for s in r.services],
        "source": r.source, "target": r.target, "feature": r.feature, "flags": r.flags,
        "dns": r.dns, "cluster": r.cluster, "extension": r.extension, "rationale": r.rationale,
    } for r in catalog.ROWS]


def catalog_text() -> str:
    rows = [(r.id, r.slug, r.ports, r.source, r.target, r.flags or "-",
             _condition(r), r.rationale) for r in catalog.ROWS]
    body = tables.render(("ID", "SLUG", "PORTS", "SOURCE", "TARGET", "FLAGS", "WHEN",
                          "RATIONALE"), rows)
    return (body + "\n\n*  optional: only with the feature in WHEN\n"
            "** internal: dropped in a simple installation (appliance.internal_firewall: false)\n"
            "X01 is sxcloud's own rendering of a simple installation (spec/rules.md)")


# How each role is written on each cloud (the planners' peers() / addresses() decide it).
_AWS_PEER = {
    catalog.INTERNET: "0.0.0.0/0 (and ::/0 with ipv6)",
    catalog.APPLIANCE_PEERS: "the appliance group itself",
}
_AZURE_PEER = {
    catalog.INTERNET: "service tag Internet",
    catalog.APPLIANCE_PEERS: "the appliance ASG",
}


def catalog_markdown() -> str:
    """The table of which cloud exposure each row needs, for the README."""
    lines = ["| row | ports | when | AWS rule on the appliance group | Azure NSG rule (appliance ASG) |",
             "|---|---|---|---|---|"]
    for r in catalog.ROWS:
        inbound = r.target == catalog.APPLIANCE
        peer = r.source if inbound else r.target
        both = peer in (catalog.APPLIANCE_PEERS, catalog.INTERNAL_NETWORK)
        aws_peer = _AWS_PEER.get(peer, f"`roles.{peer}` CIDRs, or its bound groups / prefix lists")
        azure_peer = _AZURE_PEER.get(peer, f"`roles.{peer}` prefixes, or its bound ASGs")
        direction = "ingress from and egress to" if both else ("ingress from" if inbound else "egress to")
        az_direction = "inbound from and outbound to" if both else ("inbound from" if inbound else "outbound to")
        flags = f" `{r.flags}`" if r.flags else ""
        lines.append(f"| {r.id} {r.slug}{flags} | {r.ports} | {_condition(r)} | "
                     f"{direction} {aws_peer} | {az_direction} {azure_peer} |")
    return "\n".join(lines)


def _condition(row: catalog.Row) -> str:
    parts = []
    if row.feature:
        parts.append(f"features.{row.feature}")
    if row.dns:
        parts.append(f"dns: {row.dns}")
    if row.cluster:
        parts.append("cluster")
    if row.simple_only:
        parts.append("internal_firewall: false")
    if row.internal:
        parts.append("internal_firewall: true")
    return ", ".join(parts) or "always"


# --- AWS ------------------------------------------------------------------------------------

def _aws_peer(rule: aws_plan.SgRule) -> str:
    if rule.peer.value == aws_plan.SELF:
        return "this group (cluster peers)"
    return f"{rule.peer.value} ({rule.flow.peer})"


def aws_data(p: aws_plan.SgPlan) -> dict[str, Any]:
    return {
        "group_name": p.group_name,
        "rules": [{
            "key": r.key, "direction": r.direction, "protocol": r.ip_protocol,
            "from_port": r.from_port, "to_port": r.to_port, "peer_kind": r.peer.kind,
            "peer": r.peer.value, "role": r.flow.peer, "rule_id": r.flow.row.id,
            "description": r.description,
        } for r in p.rules],
        "quota": {"limit": p.quota, "usage": [
            {"direction": d, "family": f, "rules": n} for (d, f), n in p.usage().items()]},
        "warnings": list(p.warnings),
    }


def aws_text(p: aws_plan.SgPlan) -> str:
    rows = [(r.direction, str(r.flow.service), _aws_peer(r), r.flow.row.id, r.flow.row.rationale)
            for r in p.rules]
    usage = ", ".join(f"{d} {f} {n}/{p.quota}" for (d, f), n in p.usage().items())
    return "\n".join([
        f"  security group {p.group_name}: {len(p.rules)} rules",
        tables.render(("DIRECTION", "PROTOCOL/PORT", "PEER", "RULE", "RATIONALE"), rows, "  "),
        f"  quota: {usage}",
    ])


# --- Azure ----------------------------------------------------------------------------------

def _azure_address(address: azure_plan.Address) -> str:
    if address.kind == azure_plan.APPLIANCE_ASG:
        return "appliance ASG"
    return ", ".join(address.values)


def azure_data(p: azure_plan.NsgPlan) -> dict[str, Any]:
    return {
        "nsg_name": p.nsg_name, "asg_name": p.asg_name,
        "rules": [{
            "name": r.name, "priority": r.priority, "direction": r.direction,
            "access": r.access, "protocol": r.protocol, "ports": list(r.ports),
            "source": {"kind": r.source.kind, "values": list(r.source.values)},
            "destination": {"kind": r.destination.kind, "values": list(r.destination.values)},
            "rule_ids": sorted({f.row.id for f in r.flows}), "description": r.description,
        } for r in p.rules],
        "quota": {"limit": limits.RULES_MAX, "rules": len(p.rules)},
        "warnings": list(p.warnings),
    }


def azure_text(p: azure_plan.NsgPlan) -> str:
    rows = [(r.priority, r.direction.lower(), r.access.lower(), r.protocol,
             ",".join(r.ports), _azure_address(r.source), _azure_address(r.destination),
             ", ".join(dict.fromkeys(f.row.id for f in r.flows)) or "-", r.name)
            for r in p.rules]
    return "\n".join([
        f"  network security group {p.nsg_name} (appliances: ASG {p.asg_name}): "
        f"{len(p.rules)} rules",
        tables.render(("PRIORITY", "DIRECTION", "ACCESS", "PROTOCOL", "PORTS", "SOURCE",
                       "DESTINATION", "RULES", "NAME"), rows, "  "),
        f"  quota: {len(p.rules)}/{limits.RULES_MAX} rules",
    ])


# --- both -----------------------------------------------------------------------------------

def plan_data(planned: list[Planned]) -> list[dict[str, Any]]:
    out = []
    for p in planned:
        d = p.deployment
        entry: dict[str, Any] = {"file": str(d.path), "name": d.name,
                                 "warnings": list(d.warnings)}
        if p.aws:
            entry["aws"] = {"stack": f"{d.name}-aws", **aws_data(p.aws)}
        if p.azure:
            entry["azure"] = {"stack": f"{d.name}-azure", **azure_data(p.azure)}
        out.append(entry)
    return out


def plan_text(planned: list[Planned]) -> str:
    blocks = []
    for p in planned:
        d = p.deployment
        if p.aws:
            blocks.append(f"{d.name}-aws ({d.path})\n{aws_text(p.aws)}")
        if p.azure:
            blocks.append(f"{d.name}-azure ({d.path})\n{azure_text(p.azure)}")
    return "\n\n".join(blocks)


def warnings(planned: list[Planned]) -> list[str]:
    out = []
    for p in planned:
        out += list(p.deployment.warnings)
        out += [f"{p.deployment.path}: {w}" for w in (p.aws.warnings if p.aws else ())]
        out += [f"{p.deployment.path}: {w}" for w in (p.azure.warnings if p.azure else ())]
    return out
