"""The Terraform attributes of the Azure resources, as pure functions of the plan.

The constructs pass these dicts to the typed resources, and `sxcloud verify`'s sweep builds
the same `resource` block without the CDK (`resources`). This module must not import the
CDK: verify and plan run without Node.js. `resources` writes its strings through
`literal.literal`, as the typed layer does (sxcloud/cdk.py), so both escape alike.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from ..literal import Reference, literal
from .plan import APPLIANCE_ASG, ASGS, TAG, Address, NsgPlan, NsgRule

ASG_TYPE = "azurerm_application_security_group"
NSG_TYPE = "azurerm_network_security_group"
RULE_TYPE = "azurerm_network_security_rule"
SUBNET_NSG_TYPE = "azurerm_subnet_network_security_group_association"
NIC_NSG_TYPE = "azurerm_network_interface_security_group_association"
NIC_ASG_TYPE = "azurerm_network_interface_application_security_group_association"

#: Terraform names of the appliance ASG and NSG (their constructs override the logical ids).
ASG_NAME = "appliance_asg"
NSG_NAME = "appliance_nsg"

#: How synthesis writes references to them.
ASG_ID = Reference("${%s.%s.id}" % (ASG_TYPE, ASG_NAME))
NSG_ID = Reference("${%s.%s.id}" % (NSG_TYPE, NSG_NAME))
NSG_NAME_REF = Reference("${%s.%s.name}" % (NSG_TYPE, NSG_NAME))


def grouped(name: str, location: str, resource_group: str, tags: dict[str, str]) -> dict[str, Any]:
    """Attributes of the NSG or the ASG: a name in a resource group and location."""
    return {"name": name, "location": location, "resource_group_name": resource_group,
            "tags": dict(tags)}


def side(side: str, address: Address, asg_id: Reference) -> dict[str, Any]:
    """The source or destination attributes of a rule; `asg_id` references the appliance ASG."""
    if address.kind == APPLIANCE_ASG:
        return {f"{side}_application_security_group_ids": [asg_id]}
    if address.kind == ASGS:
        return {f"{side}_application_security_group_ids": list(address.values)}
    if address.kind == TAG:
        return {f"{side}_address_prefix": address.values[0]}
    return {f"{side}_address_prefixes": list(address.values)}


def rule(rule: NsgRule, resource_group: str, nsg_name: Reference, asg_id: Reference) -> dict[str, Any]:
    """Attributes of one NSG rule resource."""
    ports = ({"destination_port_range": "*"} if rule.ports == ("*",)
             else {"destination_port_ranges": list(rule.ports)})
    return {"name": rule.name, "priority": rule.priority, "direction": rule.direction,
            "access": rule.access, "protocol": rule.protocol,
            "resource_group_name": resource_group, "network_security_group_name": nsg_name,
            "description": rule.description, "source_port_range": "*", **ports, **side("source", rule.source, asg_id),
            **side("destination", rule.destination, asg_id)}


def association_key(prefix: str, arm_id: str) -> str:
    """A stable Terraform name for an association: the resource's name and a short hash of
    its full id (names repeat across resource groups)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", arm_id.rstrip("/").rsplit("/", 1)[-1])
    return f"{prefix}_{name}_{hashlib.sha256(arm_id.lower().encode()).hexdigest()[:8]}"


def resources(plan: NsgPlan, *, location: str, resource_group: str,
              subnet_ids: tuple[str, ...] = (),
              network_interface_ids: tuple[str, ...] = ()) -> dict[str, dict[str, dict[str, Any]]]:
    """The stack's `resource` block as synthesis writes it, less the CDK's `//` metadata."""
    out: dict[str, dict[str, dict[str, Any]]] = {
        ASG_TYPE: {ASG_NAME: grouped(plan.asg_name, location, resource_group, plan.tags)},
        NSG_TYPE: {NSG_NAME: grouped(plan.nsg_name, location, resource_group, plan.tags)},
        RULE_TYPE: {r.name: rule(r, resource_group, NSG_NAME_REF, ASG_ID) for r in plan.rules},
    }
    for subnet in subnet_ids:
        out.setdefault(SUBNET_NSG_TYPE, {})[association_key("subnet", subnet)] = {
            "subnet_id": subnet, "network_security_group_id": NSG_ID}
    for nic in network_interface_ids:
        out.setdefault(NIC_NSG_TYPE, {})[association_key("nic", nic)] = {
            "network_interface_id": nic, "network_security_group_id": NSG_ID}
        out.setdefault(NIC_ASG_TYPE, {})[association_key("nic_asg", nic)] = {
            "network_interface_id": nic, "application_security_group_id": ASG_ID}
    return literal(out)
