"""`terraform show -json` documents made by hand from a synthesized cdk.tf.json, for the
clouds whose provider cannot run here (azurerm). Their shape follows Terraform's JSON output
format as real Terraform writes it for the aws provider (test_verify_terraform.py checks the
plan maker against a real `terraform plan` / `show -json`):

- plan: `planned_values` without the values only known after apply, `resource_changes` with
  `after_unknown`, and `configuration` with each attribute's expression (`constant_value`
  holding the template, as for JSON configuration, or only `references`, as for HCL);
- state: `values.root_module.resources` with every value known (ids filled in).
"""

from __future__ import annotations

import copy
import json
import hashlib
import re
from typing import Any, Callable

TOKEN = re.compile(r"^\$\{([A-Za-z0-9_-]+\.[^.}\s]+)\.([A-Za-z0-9_]+)\}$")
PROVIDERS = {"aws": "registry.terraform.io/hashicorp/aws",
             "azurerm": "registry.terraform.io/hashicorp/azurerm"}


def _resources(cdktf: dict[str, Any]):
    for rtype, named in cdktf.get("resource", {}).items():
        for name, body in named.items():
            yield rtype, name, {k: v for k, v in body.items() if k != "//"}


def _known(value: str, bodies: dict[str, dict[str, Any]]) -> Any:
    """What a reference resolves to at plan time: a literal the referenced resource sets in
    its configuration (an NSG's name) is known; a computed attribute (an id) is not (None)."""
    m = TOKEN.match(value)
    literal = bodies.get(m[1], {}).get(m[2]) if m else None
    return literal if isinstance(literal, str) and not TOKEN.match(literal) else None


def _unknown(value: Any, bodies: dict[str, dict[str, Any]]) -> Any:
    """after_unknown for a value: True for a reference to a computed attribute, nested for
    lists and maps. A list of values with such a reference in it is unknown as a whole (True,
    not [True]): the aws and azurerm providers (plugin SDK) plan a list or set with an unknown
    element as unknown, as the real plan in test_verify_terraform shows."""
    if isinstance(value, str):
        return True if TOKEN.match(value) and _known(value, bodies) is None else None
    if isinstance(value, list):
        flags = [_unknown(v, bodies) for v in value]
        if not any(flags):
            return None
        if not any(isinstance(v, (list, dict)) for v in value):
            return True
        return [f if f is not None else False for f in flags]
    if isinstance(value, dict):
        flags = {k: _unknown(v, bodies) for k, v in value.items()}
        return {k: f for k, f in flags.items() if f} or None
    return None


def _resolved(value: Any, bodies: dict[str, dict[str, Any]]) -> Any:
    """A value with its plan-time-known references replaced by what they resolve to."""
    if isinstance(value, str):
        return _known(value, bodies) or value
    if isinstance(value, list):
        return [_resolved(v, bodies) for v in value]
    if isinstance(value, dict):
        return {k: _resolved(v, bodies) for k, v in value.items()}
    return value


def _references(value: Any) -> list[str]:
    if isinstance(value, str):
        m = TOKEN.match(value)
        return [f"{m[1]}.{m[2]}", m[1]] if m else []
    if isinstance(value, list):
        return [r for v in value for r in _references(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _references(v)]
    return []


def plan_document(cdktf: dict[str, Any], *, hcl: bool = False) -> dict[str, Any]:
    """The JSON of a plan that creates every resource of a synthesized stack.

    hcl: write expressions as HCL configuration does (`references` only, no template)."""
    bodies = {f"{t}.{n}": b for t, n, b in _resources(cdktf)}
    changes, config = [], []
    for rtype, name, body in _resources(cdktf):
        address = f"{rtype}.{name}"
        provider = PROVIDERS[rtype.split("_", 1)[0]]
        after = {}
        after_unknown: dict[str, Any] = {"id": True}
        expressions = {}
        for key, value in body.items():
            flag = _unknown(value, bodies)
            if flag is True:
                after_unknown[key] = True
            elif isinstance(value, list) and flag is not None:
                after_unknown[key] = flag
                after[key] = [None if f else v for v, f in zip(_resolved(value, bodies), flag)]
            else:
                after[key] = _resolved(value, bodies)
            refs = _references(value)
            expressions[key] = ({"references": refs} if hcl and refs else
                                {"constant_value": value, **({"references": refs} if refs else {})})
        changes.append({"address": address, "mode": "managed", "type": rtype, "name": name,
                        "provider_name": provider,
                        "change": {"actions": ["create"], "before": None, "after": after,
                                   "after_unknown": after_unknown, "before_sensitive": False,
                                   "after_sensitive": {}}})
        config.append({"address": address, "mode": "managed", "type": rtype, "name": name,
                       "provider_config_key": rtype.split("_", 1)[0], "expressions": expressions,
                       "schema_version": 0})
    return refresh_planned_values({
        "format_version": "1.2", "terraform_version": "1.15.5",
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}},
        "applyable": True, "complete": True, "errored": False})


def refresh_planned_values(plan: dict[str, Any]) -> dict[str, Any]:
    """`planned_values` from `resource_changes`: every resource that exists after apply, with
    its known values (Terraform writes both from one plan; call this after editing changes)."""
    plan["planned_values"] = {"root_module": {"resources": [
        {"address": c["address"], "mode": "managed", "type": c["type"], "name": c["name"],
         "provider_name": PROVIDERS[c["type"].split("_", 1)[0]], "schema_version": 0,
         "values": copy.deepcopy(c["change"]["after"]), "sensitive_values": {}}
        for c in plan["resource_changes"] if c["change"]["after"] is not None]}}
    return plan


def applied(plan: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The same plan once applied and planned again unchanged: every resource `no-op`, with
    the given ids (address -> id) filled in wherever they were unknown."""
    out = copy.deepcopy(plan)
    config = {r["address"]: r["expressions"] for r in out["configuration"]["root_module"]["resources"]}
    ids = {c["address"]: ids.get(c["address"], f"id-{c['name']}") for c in out["resource_changes"]}
    ids.update({f"{address}.id": value for address, value in ids.items()})
    for change in out["resource_changes"]:
        c = change["change"]
        values = dict(c["after"])
        values["id"] = ids[change["address"]]
        for key in c["after_unknown"]:
            if key == "id":
                continue
            expression = config[change["address"]].get(key, {})
            targets = [ids[r] for r in expression.get("references", [])
                       if r.endswith(".id") and r in ids]
            listed = isinstance(expression.get("constant_value"), list)
            values[key] = targets if listed else (targets[0] if targets else None)
        c.update(actions=["no-op"], before=values, after=copy.deepcopy(values), after_unknown={})
    return refresh_planned_values(out)


def azure_ids(subscription: str = "00000000-0000-0000-0000-000000000000") -> Callable[[str, str, dict[str, Any]], dict[str, Any]]:
    """Computed attributes Azure gives a created resource (its ARM id)."""
    kinds = {"azurerm_network_security_group": "networkSecurityGroups",
             "azurerm_application_security_group": "applicationSecurityGroups"}

    def computed(rtype: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        group = body.get("resource_group_name", "rg")
        if rtype in kinds:
            return {"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                          f"Microsoft.Network/{kinds[rtype]}/{body['name']}"}
        if rtype == "azurerm_network_security_rule":
            return {"id": f"/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                          f"Microsoft.Network/networkSecurityGroups/x/securityRules/{body['name']}"}
        return {"id": f"/subscriptions/{subscription}/{rtype}/{name}"}
    return computed


def aws_ids(group_id: str = "sg-0123456789abcdef0") -> Callable[[str, str, dict[str, Any]], dict[str, Any]]:
    def computed(rtype: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if rtype == "aws_security_group":
            return {"id": group_id, "arn": f"arn:aws:ec2:eu-west-1:123456789012:security-group/{group_id}",
                    "owner_id": "123456789012"}
        rule_id = "sgr-" + hashlib.sha256(name.encode()).hexdigest()[:17]
        return {"id": rule_id, "security_group_rule_id": rule_id}
    return computed


def state_document(cdktf: dict[str, Any], computed: Callable[[str, str, dict[str, Any]], dict[str, Any]],
                   *, inline_rules: bool = False) -> dict[str, Any]:
    """The JSON of the state after applying a synthesized stack: every reference replaced by
    the value it resolved to. inline_rules: the NSG lists its rules in `security_rule`, as
    azurerm's state does after a refresh."""
    bodies = {f"{t}.{n}": (t, n, b) for t, n, b in _resources(cdktf)}
    known = {a: {**b, **computed(t, n, b)} for a, (t, n, b) in bodies.items()}

    def resolve(value: Any) -> Any:
        if isinstance(value, str):
            m = TOKEN.match(value)
            return known[m[1]][m[2]] if m else value
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    values = {a: resolve(v) for a, v in known.items()}
    if inline_rules:
        for address, (rtype, _, _) in bodies.items():
            if rtype == "azurerm_network_security_rule":
                rule = values[address]
                nsg = next(a for a, (t, _, _) in bodies.items()
                           if t == "azurerm_network_security_group"
                           and values[a]["name"] == rule["network_security_group_name"])
                values[nsg].setdefault("security_rule", []).append(azure_block(rule))
    resources = [{"address": a, "mode": "managed", "type": t, "name": n,
                  "provider_name": PROVIDERS[t.split("_", 1)[0]], "schema_version": 0,
                  "values": values[a], "sensitive_values": {}}
                 for a, (t, n, _) in bodies.items()]
    return {"format_version": "1.0", "terraform_version": "1.15.5",
            "values": {"root_module": {"resources": resources}}}


# --- rule lists as the providers read them back from the cloud ----------------------------

def azure_block(rule: dict[str, Any]) -> dict[str, Any]:
    """An azurerm_network_security_rule's values as a block of its NSG's `security_rule`."""
    return {k: copy.deepcopy(v) for k, v in rule.items()
            if k not in ("id", "resource_group_name", "network_security_group_name")}


def aws_block(rule: dict[str, Any], group_id: str) -> dict[str, Any]:
    """An aws_vpc_security_group_*_rule's values as a block of its group's `ingress` /
    `egress`, in the shape the aws provider reads them (the plan in test_review_plan_e2e)."""
    every = str(rule.get("ip_protocol")) == "-1"
    peer = rule.get("referenced_security_group_id")
    return {"cidr_blocks": [rule["cidr_ipv4"]] if rule.get("cidr_ipv4") else [],
            "description": rule.get("description") or "",
            "from_port": 0 if every else rule["from_port"],
            "ipv6_cidr_blocks": [rule["cidr_ipv6"]] if rule.get("cidr_ipv6") else [],
            "prefix_list_ids": [rule["prefix_list_id"]] if rule.get("prefix_list_id") else [],
            "protocol": str(rule.get("ip_protocol")),
            "security_groups": [peer] if peer and peer != group_id else [],
            "self": peer == group_id,
            "to_port": 0 if every else rule["to_port"]}


def aws_group_lists(rules: list[tuple[str, dict[str, Any]]],
                    group_id: str) -> dict[str, list[dict[str, Any]]]:
    """A group's `ingress` and `egress` as the provider reads them: a block per rule, given
    as (resource type, values)."""
    out: dict[str, list[dict[str, Any]]] = {"ingress": [], "egress": []}
    for rtype, values in rules:
        out["ingress" if rtype.endswith("_ingress_rule") else "egress"].append(
            aws_block(values, group_id))
    return out


# --- the same resources inside modules --------------------------------------------------------

RULE_TYPES = ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule",
              "azurerm_network_security_rule")


def in_modules(document: dict[str, Any], modules: list[str], *,
               numeric: bool = False, module_keys: list[Any] | None = None,
               keyed: tuple[str, ...] = RULE_TYPES) -> dict[str, Any]:
    """A plan or state document as Terraform writes it when the stack's resources are in a
    module (`modules`: nested calls, outermost first; `module_keys`: each call's instance key,
    or None): each rule type becomes one resource `this` with an instance per rule, keyed by
    the rule's name (or, `numeric`, by its position: `count`); the group / NSG / ASG keep
    their names. The configuration is as HCL writes it: one resource per rule type, whose
    expressions are shared by its instances and relative to the module (`each.value` for
    what differs per rule, a conditional for a reference only some rules make). `keyed`:
    the types renamed so (the shipped modules also key their associations)."""
    out = copy.deepcopy(document)
    keys = module_keys or [None] * len(modules)
    prefix = "".join(f"module.{m}{'' if k is None else '[' + json.dumps(k) + ']'}."
                     for m, k in zip(modules, keys))
    renamed: dict[str, tuple[str, Any]] = {}  # old address -> (new address, index)
    counters: dict[str, int] = {}

    def rename(resource: dict[str, Any]) -> None:
        old = resource["address"]
        if old not in renamed:
            if resource["type"] in keyed:
                index: Any = counters.get(resource["type"], 0) if numeric else resource["name"]
                counters[resource["type"]] = counters.get(resource["type"], 0) + 1
                renamed[old] = (f"{prefix}{resource['type']}.this[{json.dumps(index)}]", index)
            else:
                renamed[old] = (f"{prefix}{old}", None)
        resource["address"], index = renamed[old]
        if index is not None:
            resource["name"], resource["index"] = "this", index
        if "change" in resource:
            resource["module_address"] = prefix[:-1]

    def nest(root: dict[str, Any]) -> dict[str, Any]:
        resources = root.pop("resources", [])
        for r in resources:
            rename(r)
        node: dict[str, Any] = {"resources": resources}
        for depth in range(len(modules), 0, -1):
            address = "".join(f"module.{m}{'' if k is None else '[' + json.dumps(k) + ']'}."
                              for m, k in zip(modules[:depth], keys[:depth]))[:-1]
            node = {"address": address, **node} if depth == len(modules) else {
                "address": address, "child_modules": [node]}
        return {**root, "child_modules": [node]}

    for section in ("planned_values", "values"):
        if section in out:
            out[section]["root_module"] = nest(out[section]["root_module"])
    for change in out.get("resource_changes", []) + out.get("resource_drift", []):
        rename(change)
    if "configuration" in out:
        config = out["configuration"]["root_module"].pop("resources")
        merged: dict[str, dict[str, Any]] = {}
        for r in config:
            rule = r["type"] in keyed
            name = "this" if rule else r["name"]
            target = merged.setdefault(f"{r['type']}.{name}", {
                **r, "address": f"{r['type']}.{name}", "name": name, "expressions": {}})
            for key, expression in r["expressions"].items():
                if not rule:
                    target["expressions"][key] = expression
                    continue
                each = ["count.index"] if numeric else ["each.value"]
                known = target["expressions"].setdefault(key, {"references": list(each)})
                known["references"] += [x for x in expression.get("references", [])
                                         if x not in known["references"]]
        module: dict[str, Any] = {"resources": list(merged.values())}
        for name in reversed(modules):
            module = {"module_calls": {name: {"source": f"./{name}", "module": module}}}
        out["configuration"]["root_module"] = module
    return out


def copy_rule(plan: dict[str, Any], name: str, **after: Any) -> None:
    """A copy of the R04 rule resource under another name, with `after` changed."""
    rule = copy.deepcopy(next(c for c in plan["resource_changes"] if c["name"].startswith("R04")))
    config = copy.deepcopy(next(r for r in plan["configuration"]["root_module"]["resources"]
                                if r["address"] == rule["address"]))
    rule["address"] = config["address"] = f"{rule['type']}.{name}"
    rule["name"] = config["name"] = name
    rule["change"]["after"].update(after)
    plan["resource_changes"].append(rule)
    plan["configuration"]["root_module"]["resources"].append(config)


#: The Terraform names of sxcloud's one group / NSG / ASG in the CDK stack; the shipped
#: modules (modules/aws-appliance-sg, azure-appliance-nsg) name each `this`.
SINGLES = {"aws_security_group": "appliance", "azurerm_network_security_group": "appliance_nsg",
           "azurerm_application_security_group": "appliance_asg"}
AZURE_KEYED = (*RULE_TYPES, "azurerm_subnet_network_security_group_association",
               "azurerm_network_interface_security_group_association",
               "azurerm_network_interface_application_security_group_association")


def as_shipped_module(document: dict[str, Any], module: str = "appliance_firewall") -> dict[str, Any]:
    """A plan document of a synthesized Azure stack as the shipped azure-appliance-nsg module
    writes it: NSG and ASG are `this`, every rule and association `this["NAME"]`."""
    text = json.dumps(document)
    for rtype, name in SINGLES.items():
        text = text.replace(f"{rtype}.{name}", f"{rtype}.this").replace(
            f'"name": "{name}"', '"name": "this"')
    return in_modules(json.loads(text), [module], keyed=AZURE_KEYED)
