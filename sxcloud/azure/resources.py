"""The azurerm resource types the stack uses, declared over the CDK core (no provider package).

Attribute names and shapes are those of terraform-provider-azurerm; the tests compare them
with what the prebuilt cdktn-provider-azurerm classes synthesize for the same inputs (no
azurerm provider binary is available to `terraform validate` here).
"""

from __future__ import annotations

from ..cdk import Construct, Reference, TypedProvider, TypedResource
from . import attributes

VERSION = ">= 3.0, < 5.0"


class _Azurerm(TypedResource):
    PROVIDER = "azurerm"
    VERSION = VERSION

    @property
    def id(self) -> Reference:
        return self.ref("id")


class AzurermProvider(TypedProvider):
    PROVIDER = "azurerm"
    SOURCE = "hashicorp/azurerm"
    VERSION = VERSION

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_, {"features": [{}]})


class _Grouped(_Azurerm):
    """A resource with a name, a location and a resource group (NSGs, ASGs)."""

    def __init__(self, scope: Construct, id_: str, *, name: str, location: str,
                 resource_group_name: str, tags: dict[str, str]) -> None:
        super().__init__(scope, id_, {"name": name, "location": location,
                                      "resource_group_name": resource_group_name,
                                      "tags": dict(tags)})

    @property
    def name(self) -> Reference:
        return self.ref("name")


class NetworkSecurityGroup(_Grouped):
    TYPE = attributes.NSG_TYPE


class ApplicationSecurityGroup(_Grouped):
    TYPE = attributes.ASG_TYPE


class NetworkSecurityRule(_Azurerm):
    TYPE = attributes.RULE_TYPE

    def __init__(self, scope: Construct, id_: str, *, name: str, priority: int, direction: str,
                 access: str, protocol: str, resource_group_name: str,
                 network_security_group_name: str, description: str,
                 source_port_range: str = "*",
                 destination_port_range: str | None = None,
                 destination_port_ranges: list[str] | None = None,
                 source_address_prefix: str | None = None,
                 source_address_prefixes: list[str] | None = None,
                 source_application_security_group_ids: list[str] | None = None,
                 destination_address_prefix: str | None = None,
                 destination_address_prefixes: list[str] | None = None,
                 destination_application_security_group_ids: list[str] | None = None) -> None:
        super().__init__(scope, id_, {
            "name": name, "priority": priority, "direction": direction, "access": access,
            "protocol": protocol, "resource_group_name": resource_group_name,
            "network_security_group_name": network_security_group_name,
            "description": description, "source_port_range": source_port_range,
            "destination_port_range": destination_port_range,
            "destination_port_ranges": destination_port_ranges,
            "source_address_prefix": source_address_prefix,
            "source_address_prefixes": source_address_prefixes,
            "source_application_security_group_ids": source_application_security_group_ids,
            "destination_address_prefix": destination_address_prefix,
            "destination_address_prefixes": destination_address_prefixes,
            "destination_application_security_group_ids": destination_application_security_group_ids,
        })


class SubnetNsgAssociation(_Azurerm):
    TYPE = attributes.SUBNET_NSG_TYPE

    def __init__(self, scope: Construct, id_: str, *, subnet_id: str,
                 network_security_group_id: str) -> None:
        super().__init__(scope, id_, {"subnet_id": subnet_id,
                                      "network_security_group_id": network_security_group_id})


class NicNsgAssociation(_Azurerm):
    TYPE = attributes.NIC_NSG_TYPE

    def __init__(self, scope: Construct, id_: str, *, network_interface_id: str,
                 network_security_group_id: str) -> None:
        super().__init__(scope, id_, {"network_interface_id": network_interface_id,
                                      "network_security_group_id": network_security_group_id})


class NicAsgAssociation(_Azurerm):
    TYPE = attributes.NIC_ASG_TYPE

    def __init__(self, scope: Construct, id_: str, *, network_interface_id: str,
                 application_security_group_id: str) -> None:
        super().__init__(scope, id_, {"network_interface_id": network_interface_id,
                                      "application_security_group_id": application_security_group_id})
