"""The exact change in packets behind a review's lists of openings (verify.delta).

Openings are counted per rule; whether a rule added or removed changes what gets through is
decided by verify's engine over the whole packet space, on the same Terraform documents
verify reads: for files, the `resource` block synthesis would write from each version; for a
plan, its before and after sides. The result names the regions newly allowed and no longer
allowed, and the rules behind them, so an added rule that another already covers (or a
removed one another still covers) is shown for what it is.
"""

from __future__ import annotations

from ..config import Deployment
from ..exceptions import PREFIX
from ..verify import AWS
from ..verify.aws import SecurityGroup
from ..verify.azure import NetworkSecurityGroup
from ..verify.delta import Delta, Shift, difference
from ..verify.intent import Intent
from ..verify.tfjson import Document
from .openings import Opening

def _firewall(deployment: Deployment, cloud: str, document: Document
              ) -> SecurityGroup | NetworkSecurityGroup | None:
    """verify's firewall of the document, or None when it holds no group / NSG of the
    deployment (the change then shows openings only)."""
    if cloud == AWS:
        group = SecurityGroup(deployment, document)
        return group if group.group is not None else None
    nsg = NetworkSecurityGroup(deployment, document)
    return nsg if nsg.nsg is not None and nsg.asg is not None else None


def _name(rule: object) -> str:
    """A rule's name as openings carry it: the AWS address, the Azure rule name."""
    return str(getattr(rule, "name", None) or getattr(rule, "address"))


def between(cloud: str, base: tuple[Deployment, Document], head: tuple[Deployment, Document]
            ) -> Delta | None:
    """The packets the head version decides otherwise than the base version."""
    before = _firewall(base[0], cloud, base[1])
    after = _firewall(head[0], cloud, head[1])
    if before is None or after is None:
        return None
    intents = [Intent(base[0], cloud), Intent(head[0], cloud)]
    members = list({m[0]: m for intent in intents for m in intent.members()}.values())
    networks = [n for intent in intents for n in intent.networks()]
    return difference(cloud, before, after, members, intents[1].internal, networks, _name)


def makes(opening: Opening, names: frozenset[str]) -> bool:
    """Whether one of the rules behind an opening is among `names` (Delta.adding or
    .removing): an AWS rule by its key or address, an Azure rule by its name."""
    for part in opening.resource.split(", "):
        rule = part.rsplit(" (", 1)[0]  # Azure: "name (priority)"
        if any(n == rule or n.endswith(f".{rule}") for n in names):
            return True
    return False


def of_exception(shift: Shift) -> bool:
    """Whether only site exceptions' rules allow a shifted region (it is reported apart)."""
    return all(_local(part).startswith(PREFIX) for part in shift.by.split(", "))


def _local(label: str) -> str:
    """A rule label's own name: no resource type, module path, index quotes or priority."""
    name = label.split(" (priority", 1)[0]
    return name.split('["', 1)[1] if '["' in name else name.rsplit(".", 1)[-1]
