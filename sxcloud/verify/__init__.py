"""`sxcloud verify`: evaluate Terraform JSON under each cloud's rule semantics and compare
what it allows with what the deployment file intends, over every packet (exact).

The evaluators read only the Terraform document (tfjson), whose rule resources `rules`
interprets per type (review reads plans through the same two modules); the intent comes
from the catalog, the policy and the deployment's roles (intent); the planners are never
consulted, because their output is what is under test. Nothing here imports the CDK.
"""

from __future__ import annotations

from typing import Any

from ..config import Deployment
from .aws import SecurityGroup
from .azure import NetworkSecurityGroup
from .exact import compare
from .intent import AWS, AZURE, Intent, expired
from .model import INVALID, Finding, StackResult
from .tfjson import CDKTF, Document, parse

__all__ = ["verify", "verify_resources", "stack_name", "AWS", "AZURE"]


def stack_name(deployment: Deployment, cloud: str) -> str:
    return f"{deployment.name}-{cloud}"


def verify(deployment: Deployment, cloud: str, document: Document) -> StackResult:
    """Verify one cloud's stack of a deployment as one Terraform document holds it."""
    firewall = (SecurityGroup(deployment, document) if cloud == AWS
                else NetworkSecurityGroup(deployment, document))
    result = StackResult(stack_name(deployment, cloud), cloud, document.path, document.kind)
    result.findings += [Finding(INVALID, problem) for problem in document.problems]
    result.findings += expired(deployment, cloud)
    return compare(Intent(deployment, cloud), firewall, result)


def verify_resources(deployment: Deployment, cloud: str, resources: dict[str, Any],
                     path: str = "(resources)") -> StackResult:
    """Verify a `resource` block as cdk.tf.json writes it (used by the sweep and benches)."""
    return verify(deployment, cloud, parse({"resource": resources}, path, CDKTF))
