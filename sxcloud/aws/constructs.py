"""CDK constructs for AWS: the appliance security group with its rules, and the stack."""

from __future__ import annotations

from ..cdk import Backend, Construct, core, output
from ..config import Deployment
from . import attributes
from .plan import INGRESS, SgPlan, SgRule
from .resources import AwsProvider, EgressRule, IngressRule, SecurityGroup


class ApplianceSecurityGroup(Construct):
    """The appliances' security group and one rule resource per planned rule.

    Terraform names are the plan's keys (`appliance` for the group), so a stack holds one of
    these. Add it to an existing cdktf/cdktn stack with a plan from `sxcloud.aws.plan.plan`.
    An adopted group (`aws.adopt`) and each of its mapped rules are imported, not created.
    """

    def __init__(self, scope: Construct, id_: str, *, vpc_id: str, plan: SgPlan) -> None:
        super().__init__(scope, id_)
        self.group = SecurityGroup(self, attributes.GROUP_NAME,
                                   **attributes.group(plan, vpc_id))
        self.group.override_logical_id(attributes.GROUP_NAME)
        if plan.adoption:
            self.group.adopt(plan.adoption.group_id)
        imports = plan.imports()
        for rule in plan.rules:
            self._rule(rule, imports.get(rule.key))

    def _rule(self, rule: SgRule, live_id: str | None) -> None:
        cls = IngressRule if rule.direction == INGRESS else EgressRule
        resource = cls(self, rule.key, **attributes.rule(rule, self.group.id))
        resource.override_logical_id(rule.key)
        if live_id:
            resource.adopt(live_id)


class AwsStack(core.TerraformStack):
    """The stack `<name>-aws`: provider, backend, the appliance group, its id as output."""

    def __init__(self, scope: Construct, deployment: Deployment, plan: SgPlan) -> None:
        aws = deployment.aws
        assert aws is not None
        super().__init__(scope, f"{deployment.name}-aws")
        AwsProvider(self, "aws", region=aws.region, endpoints=aws.endpoints or None)
        Backend(self, aws.backend.type, aws.backend.settings,
                source=(deployment.path, f"aws.backend.{aws.backend.type}"))
        firewall = ApplianceSecurityGroup(self, "firewall", vpc_id=aws.vpc_id, plan=plan)
        output(self, "security_group_id", value=firewall.group.id,
               description="The appliances' security group; attach it to their network "
                           "interfaces.")
