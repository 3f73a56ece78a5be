"""What ARM would hold after `terraform apply` of a synthesized Azure stack.

The fake ARM endpoint must not serve a hand-copied NSG: a copy would agree with the audit by
construction. This module renders the NSG from a stack's cdk.tf.json instead, the way
terraform-provider-azurerm maps `azurerm_network_security_rule` attributes onto the REST
API's SecurityRulePropertiesFormat, with every `${type.name.attr}` token resolved to the
ARM id or name the resource gets. So a no-drift audit proves that the planner's rule set
reaches ARM unchanged through the constructs, which the audit never reads.

The default rules come from the REST API's own example response (data/NetworkSecurityGroupGet.json,
from Azure/azure-rest-api-specs), not from sxcloud.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

EXAMPLE = Path(__file__).parent / "data" / "NetworkSecurityGroupGet.json"

_TOKEN = re.compile(r"^\$\{(azurerm_[a-z_]+)\.([A-Za-z0-9_-]+)\.(id|name)\}$")
_KINDS = {
    "azurerm_network_security_group": "networkSecurityGroups",
    "azurerm_application_security_group": "applicationSecurityGroups",
}
# azurerm attribute -> ARM property; lists of ASG ids become lists of {"id": ...}.
_SCALARS = {
    "description": "description", "protocol": "protocol", "access": "access",
    "priority": "priority", "direction": "direction",
    "source_port_range": "sourcePortRange", "destination_port_range": "destinationPortRange",
    "source_address_prefix": "sourceAddressPrefix",
    "destination_address_prefix": "destinationAddressPrefix",
}
# ARM answers with these lists even when they are empty.
_LISTS = {
    "source_port_ranges": "sourcePortRanges", "destination_port_ranges": "destinationPortRanges",
    "source_address_prefixes": "sourceAddressPrefixes",
    "destination_address_prefixes": "destinationAddressPrefixes",
}
_ASG_LISTS = {
    "source_application_security_group_ids": "sourceApplicationSecurityGroups",
    "destination_application_security_group_ids": "destinationApplicationSecurityGroups",
}


def default_rules(nsg_id: str) -> list[dict[str, Any]]:
    """The six default rules of the REST API example, with ids under `nsg_id`."""
    body = json.loads(EXAMPLE.read_text())["responses"]["200"]["body"]
    rules = copy.deepcopy(body["properties"]["defaultSecurityRules"])
    for rule in rules:
        rule["id"] = f"{nsg_id}/defaultSecurityRules/{rule['name']}"
        rule["etag"] = _etag()
        rule["type"] = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules"
    return rules


def nsg_from_stack(stack: dict[str, Any], subscription: str) -> tuple[str, dict[str, Any]]:
    """The resource group and the NetworkSecurityGroups_Get body of the stack's one NSG."""
    resources = stack["resource"]
    (nsg_key, nsg), = resources["azurerm_network_security_group"].items()
    group = nsg["resource_group_name"]
    nsg_id = _id(subscription, group, "networkSecurityGroups", nsg["name"])

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [resolve(v) for v in value]
        match = _TOKEN.match(value) if isinstance(value, str) else None
        if not match:
            assert not (isinstance(value, str) and "${" in value), f"unresolved token {value}"
            return value
        kind, key, attribute = match.groups()
        target = resources[kind][key]
        if attribute == "name":
            return target["name"]
        return _id(subscription, target["resource_group_name"], _KINDS[kind], target["name"])

    rules = []
    for key, rule in resources["azurerm_network_security_rule"].items():
        assert resolve(rule["network_security_group_name"]) == nsg["name"], key
        # `depends_on` is Terraform's, not the rule's (an adopted stack orders its denies).
        rules.append(_rule(nsg_id, {k: resolve(v) for k, v in rule.items()
                                    if k not in ("//", "depends_on")}))
    subnets = [{"id": resolve(a["subnet_id"])} for a in
               resources.get("azurerm_subnet_network_security_group_association", {}).values()
               if resolve(a["network_security_group_id"]) == nsg_id]
    body = {
        "name": nsg["name"], "id": nsg_id, "etag": _etag(),
        "type": "Microsoft.Network/networkSecurityGroups", "location": nsg["location"],
        "tags": dict(nsg.get("tags", {})),
        "properties": {
            "provisioningState": "Succeeded", "resourceGuid": str(uuid.uuid4()),
            "securityRules": rules, "defaultSecurityRules": default_rules(nsg_id),
            **({"subnets": subnets} if subnets else {}),
        },
    }
    assert nsg_key  # one NSG per stack; its Terraform name does not matter to ARM
    return group, body


def _rule(nsg_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {"provisioningState": "Succeeded"}
    for attribute, value in attributes.items():
        if attribute in _SCALARS:
            properties[_SCALARS[attribute]] = value
        elif attribute in _LISTS:
            properties[_LISTS[attribute]] = list(value)
        elif attribute in _ASG_LISTS:
            properties[_ASG_LISTS[attribute]] = [{"id": v} for v in value]
        else:
            assert attribute in ("name", "resource_group_name", "network_security_group_name"), \
                f"the renderer does not know the azurerm attribute {attribute}"
    for plural in _LISTS.values():
        properties.setdefault(plural, [])
    return {"name": attributes["name"], "id": f"{nsg_id}/securityRules/{attributes['name']}",
            "etag": _etag(), "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "properties": properties}


def _id(subscription: str, group: str, kind: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/{kind}/{name}"


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'
