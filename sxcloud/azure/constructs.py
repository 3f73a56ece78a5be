"""CDK constructs for Azure: the appliance ASG, the NSG with its rules, and the stack."""

from __future__ import annotations

from ..cdk import Backend, Construct, core, output
from ..config import Deployment
from . import attributes
from .attributes import association_key
from .plan import NsgPlan, NsgRule
from .resources import (
    ApplicationSecurityGroup,
    AzurermProvider,
    NetworkSecurityGroup,
    NetworkSecurityRule,
    NicAsgAssociation,
    NicNsgAssociation,
    SubnetNsgAssociation,
)


class ApplianceNsg(Construct):
    """The appliances' application security group, the NSG and one resource per NSG rule.

    Terraform names are `appliance_asg`, `appliance_nsg` and the rule names, so a stack
    holds one of these. Add it to an existing stack with a plan from `sxcloud.azure.plan.plan`.
    """

    def __init__(self, scope: Construct, id_: str, *, location: str, resource_group: str,
                 plan: NsgPlan) -> None:
        super().__init__(scope, id_)
        self.resource_group = resource_group
        self.imports = plan.imports
        self.asg = ApplicationSecurityGroup(
            self, attributes.ASG_NAME,
            **attributes.grouped(plan.asg_name, location, resource_group, plan.tags))
        self.asg.override_logical_id(attributes.ASG_NAME)
        self.nsg = NetworkSecurityGroup(
            self, attributes.NSG_NAME,
            **attributes.grouped(plan.nsg_name, location, resource_group, plan.tags))
        self.nsg.override_logical_id(attributes.NSG_NAME)
        imports = plan.imports
        if imports.nsg:
            self.nsg.adopt(imports.nsg)
        if imports.asg:
            self.asg.adopt(imports.asg)
        live = dict(imports.rules)
        resources = [self._rule(rule, live.get(rule.name)) for rule in plan.rules]
        if imports.nsg:
            # Adopting a live NSG: its default rules let traffic through until the denies
            # exist, so they come after every allow rule: no flow the plan keeps open is
            # ever cut off between the two (docs/adopt-azure.md).
            allows = [r for rule, r in zip(plan.rules, resources) if rule.access == "Allow"]
            for rule, resource in zip(plan.rules, resources):
                if rule.access == "Deny":
                    resource.after(allows)

    def _rule(self, rule: NsgRule, live_id: str | None) -> NetworkSecurityRule:
        resource = NetworkSecurityRule(
            self, rule.name,
            **attributes.rule(rule, self.resource_group, self.nsg.name, self.asg.id))
        resource.override_logical_id(rule.name)
        if live_id:
            resource.adopt(live_id)
        return resource

    def associate(self, *, subnet_ids: tuple[str, ...], network_interface_ids: tuple[str, ...]) -> None:
        """Attach the NSG to subnets and NICs; the NICs (the appliances') also join the ASG.
        An association the adopted NSG has already is imported (azurerm's import ids: the
        subnet's id; the NIC's and the NSG's, joined by '|')."""
        live = {a.casefold() for a in self.imports.associations}
        for subnet in subnet_ids:
            key = association_key("subnet", subnet)
            resource = SubnetNsgAssociation(self, key, subnet_id=subnet,
                                            network_security_group_id=self.nsg.id)
            resource.override_logical_id(key)
            if subnet.casefold() in live:
                resource.adopt(subnet)
        for nic in network_interface_ids:
            key = association_key("nic", nic)
            resource = NicNsgAssociation(self, key, network_interface_id=nic,
                                         network_security_group_id=self.nsg.id)
            resource.override_logical_id(key)
            if nic.casefold() in live:
                resource.adopt(f"{nic}|{self.imports.nsg}")
            key = association_key("nic_asg", nic)
            NicAsgAssociation(self, key, network_interface_id=nic,
                              application_security_group_id=self.asg.id).override_logical_id(key)


class AzureStack(core.TerraformStack):
    """The stack `<name>-azure`: provider, backend, ASG, NSG, associations, their ids."""

    def __init__(self, scope: Construct, deployment: Deployment, plan: NsgPlan) -> None:
        azure = deployment.azure
        assert azure is not None
        super().__init__(scope, f"{deployment.name}-azure")
        AzurermProvider(self, "azurerm")
        Backend(self, azure.backend.type, azure.backend.settings,
                source=(deployment.path, f"azure.backend.{azure.backend.type}"))
        firewall = ApplianceNsg(self, "firewall", location=azure.location,
                                resource_group=azure.resource_group, plan=plan)
        firewall.associate(subnet_ids=azure.subnet_ids,
                           network_interface_ids=azure.network_interface_ids)
        output(self, "network_security_group_id", value=firewall.nsg.id,
               description="The NSG of the appliances.")
        output(self, "application_security_group_id", value=firewall.asg.id,
               description="The appliances' application security group; their network "
                           "interfaces must be members.")
