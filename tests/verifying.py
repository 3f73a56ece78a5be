"""Helpers for the verify tests: run verify on a stack given as data, and read findings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from conftest import EXAMPLES, changed_exceptions, deployment, example_data
from sxcloud import config
from sxcloud.config import Deployment
from sxcloud.verify import verify
from sxcloud.verify.model import StackResult
from sxcloud.verify.tfjson import parse

AWS_RULE_TYPES = ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule")
NSG_RULE = "azurerm_network_security_rule"


def run(d: Deployment, cloud: str, document: dict[str, Any], path: str = "mutated.json") -> StackResult:
    return verify(d, cloud, parse(copy.deepcopy(document), path))


def example_deployments() -> list[Deployment]:
    return [config.load(p) for p in EXAMPLES]


def stacks(synthesized) -> list[tuple[Deployment, str]]:
    """Every synthesized stack: the examples, their toggled variants and their exception
    changes, with deployments."""
    out = []
    for path in EXAMPLES:
        data = example_data(path)
        names = [data["name"]] + [v.name for v in synthesized.variants if v.base == data["name"]]
        found = [_variant(path, data, name) for name in names]
        found += [deployment(changed, path) for changed in changed_exceptions(data).values()]
        out += [(d, cloud) for d in found for cloud in d.targets]
    return out


def _variant(path: Path, data: dict[str, Any], name: str) -> Deployment:
    """Rebuild a toggled variant's deployment the way conftest made it."""
    from conftest import toggles
    if name == data["name"]:
        return deployment(data, path)
    index = int(name.rsplit("-t", 1)[1])
    changed = copy.deepcopy(data)
    toggles(data)[index][1](changed)
    changed["name"] = name
    return deployment(changed, path)


def intended(result: StackResult) -> set[str]:
    return {f.intended for f in result.findings if f.intended}


def kinds(result: StackResult) -> set[str]:
    return {f.kind for f in result.findings}
