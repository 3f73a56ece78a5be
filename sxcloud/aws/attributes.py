"""The Terraform attributes of the AWS resources, as pure functions of the plan.

The constructs pass these dicts to the typed resources, and `sxcloud verify`'s sweep builds
the same `resource` block without the CDK (`resources`). Keeping one function per resource
means the sweep evaluates exactly what synthesis writes. This module must not import the
CDK: verify and plan run without Node.js. `resources` writes its strings through
`literal.literal`, as the typed layer does (sxcloud/cdk.py), so both escape alike.
"""

from __future__ import annotations

from typing import Any

from ..literal import Reference, literal
from .plan import SELF, SgPlan, SgRule, INGRESS

GROUP_TYPE = "aws_security_group"
INGRESS_TYPE = "aws_vpc_security_group_ingress_rule"
EGRESS_TYPE = "aws_vpc_security_group_egress_rule"

#: The Terraform name of the appliance group (its construct overrides the logical id).
GROUP_NAME = "appliance"

#: How synthesis writes a reference to the group's id.
GROUP_ID = Reference("${%s.%s.id}" % (GROUP_TYPE, GROUP_NAME))


def group(plan: SgPlan, vpc_id: str) -> dict[str, Any]:
    """Attributes of the appliance security group."""
    return {"name": plan.group_name, "description": plan.group_description, "vpc_id": vpc_id,
            "tags": dict(plan.tags)}


def rule_type(rule: SgRule) -> str:
    return INGRESS_TYPE if rule.direction == INGRESS else EGRESS_TYPE


def rule(rule: SgRule, group_id: Reference) -> dict[str, Any]:
    """Attributes of one rule resource; `group_id` is how the appliance group is referenced."""
    # The peer kinds are named after the attribute that carries them (cidr_ipv4, ...).
    peer = {rule.peer.kind: group_id if rule.peer.value == SELF else rule.peer.value}
    tags = {"tags": dict(rule.tags)} if rule.tags else {}  # a site exception's
    return {"security_group_id": group_id, "ip_protocol": rule.ip_protocol,
            "from_port": rule.from_port, "to_port": rule.to_port,
            "description": rule.description, **peer, **tags}


def resources(plan: SgPlan, vpc_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """The stack's `resource` block as synthesis writes it, less the CDK's `//` metadata."""
    out: dict[str, dict[str, dict[str, Any]]] = {GROUP_TYPE: {GROUP_NAME: group(plan, vpc_id)}}
    for r in plan.rules:
        out.setdefault(rule_type(r), {})[r.key] = _present(rule(r, GROUP_ID))
    return literal(out)


def _present(attributes: dict[str, Any]) -> dict[str, Any]:
    """Attributes without the None values, which synthesis leaves out."""
    return {k: v for k, v in attributes.items() if v is not None}
