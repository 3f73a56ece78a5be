"""The catalog and the planned rule sets as text tables and as JSON-ready data.

Text for the terminal is made terminal-safe where it is printed (`commands.common.print_text`);
tables.render escapes its cells itself, so that widths are measured on what is shown. JSON
needs nothing: json.dump escapes every control character.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from . import catalog, exceptions, tables
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


def _aws_rule(r: aws_plan.SgRule) -> dict[str, Any]:
    return {"key": r.key, "direction": r.direction, "protocol": r.ip_protocol,
            "from_port": r.from_port, "to_port": r.to_port, "peer_kind": r.peer.kind,
            "peer": r.peer.value, "description": r.description}


def aws_data(p: aws_plan.SgPlan, on: date | None = None) -> dict[str, Any]:
    """The plan as JSON-ready data; `on` is today (needed when the plan has exceptions)."""
    vendor = [r for r in p.rules if not r.exception]
    return {
        "group_name": p.group_name,
        "rules": [{**_aws_rule(r), "role": r.flow.peer, "rule_id": r.flow.row.id}
                  for r in vendor],
        "exceptions": _exceptions_data([(r.exception, _aws_rule(r)) for r in p.rules
                                        if r.exception], on),
        "quota": {"limit": p.quota, "usage": [
            {"direction": d, "family": f, "rules": n} for (d, f), n in p.usage().items()]},
        "warnings": list(p.warnings),
    }


def aws_text(p: aws_plan.SgPlan, on: date | None = None) -> str:
    rows = [(r.direction, str(r.flow.service), _aws_peer(r), r.flow.row.id, r.flow.row.rationale)
            for r in p.rules if not r.exception]
    usage = ", ".join(f"{d} {f} {n}/{p.quota}" for (d, f), n in p.usage().items())
    lines = [
        f"  security group {p.group_name}: {len(p.rules)} rules",
        tables.render(("DIRECTION", "PROTOCOL/PORT", "PEER", "RULE", "RATIONALE"), rows, "  "),
    ]
    extra = [(e.label, r.direction, _aws_service(r), r.peer.value, e.owner, _expiry(e, on))
             for r in p.rules if (e := r.exception)]
    if extra:
        lines += [f"  site exceptions, beyond the vendor table: {len(extra)} rules (counted in "
                  "the quota)",
                  tables.render(("EXCEPTION", "DIRECTION", "PROTOCOL/PORT", "PEER", "OWNER",
                                 "EXPIRES"), extra, "  ")]
    return "\n".join([*lines, f"  quota: {usage}"])


def _aws_service(rule: aws_plan.SgRule) -> str:
    if rule.ip_protocol == "-1":
        return "all traffic"
    if rule.ip_protocol in ("icmp", "icmpv6"):
        kind = "any type" if rule.from_port == -1 else f"type {rule.from_port}" + (
            "" if rule.to_port == -1 else f" code {rule.to_port}")
        return f"{rule.ip_protocol.upper()} {kind}"
    if rule.from_port is None:
        return f"protocol {rule.ip_protocol}"
    ports = rule.from_port if rule.from_port == rule.to_port else f"{rule.from_port}-{rule.to_port}"
    return f"{rule.ip_protocol.upper()} {ports}"


# --- site exceptions (both clouds) ----------------------------------------------------------

def _expiry(exception: exceptions.SiteException, on: date | None) -> str:
    if on is None:
        return str(exception.expires)
    return f"{exception.expires} ({exceptions.status(exception, on)})"


def _exceptions_data(rules: list[tuple[Any, dict[str, Any]]], on: date | None) -> list[dict[str, Any]]:
    """One entry per exception, in the file's order, with the rules it makes on the cloud."""
    out: dict[str, dict[str, Any]] = {}
    for exception, rule in sorted(rules, key=lambda pair: pair[0].index):  # stable: rule order
        entry = out.get(exception.id)
        if entry is None:
            state = exceptions.status(exception, on) if on else None
            entry = out[exception.id] = {
                "id": exception.label, "direction": exception.direction,
                "traffic": str(exception.traffic), "peer": str(exception.peer),
                "reason": exception.reason, "owner": exception.owner,
                "ticket": exception.ticket, "expires": str(exception.expires),
                "status": state.state if state else None,
                "days_left": state.days_left if state else None, "rules": []}
        entry["rules"].append(rule)
    return list(out.values())


# --- Azure ----------------------------------------------------------------------------------

def _azure_address(address: azure_plan.Address) -> str:
    if address.kind == azure_plan.APPLIANCE_ASG:
        return "appliance ASG"
    return ", ".join(address.values)


def _azure_rule(r: azure_plan.NsgRule) -> dict[str, Any]:
    return {"name": r.name, "priority": r.priority, "direction": r.direction,
            "access": r.access, "protocol": r.protocol, "ports": list(r.ports),
            "source": {"kind": r.source.kind, "values": list(r.source.values)},
            "destination": {"kind": r.destination.kind, "values": list(r.destination.values)},
            "description": r.description}


def azure_data(p: azure_plan.NsgPlan, on: date | None = None) -> dict[str, Any]:
    """The plan as JSON-ready data; `on` is today (needed when the plan has exceptions)."""
    return {
        "nsg_name": p.nsg_name, "asg_name": p.asg_name,
        "rules": [{**_azure_rule(r), "rule_ids": sorted({f.row.id for f in r.flows})}
                  for r in p.rules if not r.exception],
        "exceptions": _exceptions_data([(r.exception.exception, _azure_rule(r))
                                        for r in p.rules if r.exception], on),
        "quota": {"limit": limits.RULES_MAX, "rules": len(p.rules)},
        "warnings": list(p.warnings),
    }


def azure_text(p: azure_plan.NsgPlan, on: date | None = None) -> str:
    rows = [(r.priority, r.direction.lower(), r.access.lower(), r.protocol,
             ",".join(r.ports), _azure_address(r.source), _azure_address(r.destination),
             ", ".join(dict.fromkeys(f.row.id for f in r.flows)) or "-", r.name)
            for r in p.rules if not r.exception]
    lines = [
        f"  network security group {p.nsg_name} (appliances: ASG {p.asg_name}): "
        f"{len(p.rules)} rules",
        tables.render(("PRIORITY", "DIRECTION", "ACCESS", "PROTOCOL", "PORTS", "SOURCE",
                       "DESTINATION", "RULES", "NAME"), rows, "  "),
    ]
    extra = [(e.label, r.priority, r.direction.lower(), r.protocol, ",".join(r.ports),
              _azure_address(r.source), _azure_address(r.destination), e.owner,
              _expiry(e, on), r.name)
             for r in p.rules if r.exception and (e := r.exception.exception)]
    if extra:
        lines += [f"  site exceptions, beyond the vendor table: {len(extra)} rules (counted in "
                  "the limits)",
                  tables.render(("EXCEPTION", "PRIORITY", "DIRECTION", "PROTOCOL", "PORTS",
                                 "SOURCE", "DESTINATION", "OWNER", "EXPIRES", "NAME"), extra, "  ")]
    return "\n".join([*lines, f"  quota: {len(p.rules)}/{limits.RULES_MAX} rules"])


# --- both -----------------------------------------------------------------------------------

def _today(planned: list[Planned]) -> date | None:
    """Today, when some deployment has exceptions (SXCLOUD_TODAY is read only then)."""
    return exceptions.today() if any(p.deployment.exceptions for p in planned) else None


def plan_data(planned: list[Planned]) -> list[dict[str, Any]]:
    out = []
    on = _today(planned)
    for p in planned:
        d = p.deployment
        entry: dict[str, Any] = {"file": str(d.path), "name": d.name,
                                 "warnings": list(d.warnings)}
        if p.aws:
            entry["aws"] = {"stack": f"{d.name}-aws", **aws_data(p.aws, on)}
        if p.azure:
            entry["azure"] = {"stack": f"{d.name}-azure", **azure_data(p.azure, on)}
        out.append(entry)
    return out


def plan_text(planned: list[Planned]) -> str:
    blocks = []
    on = _today(planned)
    for p in planned:
        d = p.deployment
        if p.aws:
            blocks.append(f"{d.name}-aws ({d.path})\n{aws_text(p.aws, on)}")
        if p.azure:
            blocks.append(f"{d.name}-azure ({d.path})\n{azure_text(p.azure, on)}")
    return "\n\n".join(blocks)


def warnings(planned: list[Planned]) -> list[str]:
    """Every warning of the deployments and their plans, and the exceptions' expiry
    warnings (spec/config.md): what `plan` and `synth` print on stderr."""
    out = []
    on = _today(planned)
    for p in planned:
        out += list(p.deployment.warnings)
        out += exceptions.expiry_warnings(p.deployment, on)
        out += [f"{p.deployment.path}: {w}" for w in (p.aws.warnings if p.aws else ())]
        out += [f"{p.deployment.path}: {w}" for w in (p.azure.warnings if p.azure else ())]
    return out
