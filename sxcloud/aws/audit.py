"""The audit of a live security group: the group, its rules, and their drift from the file.

The intended rules come from sxcloud.aws.plan.plan, the same rule set `synth` emits, so
there is no second copy of the policy here. The live rules come from
DescribeSecurityGroupRules through a client that refuses anything but Describe calls
(sxcloud.aws.live). The command around it is sxcloud.commands.audit.aws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import exceptions
from ..config import Deployment
from . import drift as drift_
from . import live
from .plan import plan


@dataclass(frozen=True)
class Audit:
    deployment: Deployment
    group: live.Group
    drift: drift_.Drift
    warnings: tuple[str, ...]


def audit(client: Any, deployment: Deployment, group_id: str | None = None) -> Audit:
    """Find the group (by tag, or `group_id`), read its rules and compare them with the plan.

    Raises InputError when the file cannot be planned, live.LookupProblem when the group or
    its rules cannot be read.
    """
    aws = deployment.aws
    assert aws is not None, "audit() needs a deployment with an aws section"
    intended = plan(deployment)  # refuses a file synth would refuse, before any AWS call
    warnings = []
    if group_id:
        group = live.get_group(client, group_id)
        tagged = group.tags.get(live.DEPLOYMENT_TAG)
        if tagged != deployment.name:
            warnings.append(f"aws: {group.id} is tagged {live.DEPLOYMENT_TAG}={tagged}, not "
                            f"{deployment.name}" if tagged else
                            f"aws: {group.id} has no {live.DEPLOYMENT_TAG} tag")
        if group.vpc_id != aws.vpc_id:
            warnings.append(f"aws: {group.id} is in {group.vpc_id}, not in aws.vpc_id "
                            f"{aws.vpc_id}")
    else:
        group = live.find_group(client, deployment.name, aws.vpc_id)
    try:
        rules = [drift_.live_rule(item) for item in live.read_rules(client, group.id)]
    except (KeyError, TypeError, ValueError) as error:  # an answer EC2 itself never gives
        raise live.LookupProblem(f"the EC2 endpoint returned a rule of {group.id} that cannot "
                                 f"be read ({type(error).__name__}: {error})") from None
    drift = drift_.compare(intended, group.id, rules, exceptions.today())
    return Audit(deployment, group, drift, tuple(warnings))
