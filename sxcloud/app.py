"""Deployments -> a CDK app with one stack per cloud section, synthesized to a folder.

All planning happens before the CDK starts, so bad input fails before anything is written;
the output folder is replaced as a whole (sxcloud.outdir), so a failed synth leaves the old
one intact.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import outdir as outdir_rules
from .aws import plan as aws_plan
from .azure import plan as azure_plan
from .config import Deployment


@dataclass(frozen=True)
class Planned:
    deployment: Deployment
    aws: aws_plan.SgPlan | None
    azure: azure_plan.NsgPlan | None

    @property
    def stack_names(self) -> list[str]:
        d = self.deployment
        return [f"{d.name}-{cloud}" for cloud in d.targets]


def plan_all(deployments: list[Deployment]) -> list[Planned]:
    """Plan every cloud of every deployment (raises InputError before any CDK work)."""
    return [Planned(d, aws_plan.plan(d) if d.aws else None,
                    azure_plan.plan(d) if d.azure else None) for d in deployments]


def add_stacks(app: Any, planned: list[Planned]) -> None:
    """Add the stacks of every planned deployment to a CDK app."""
    from .aws.constructs import AwsStack
    from .azure.constructs import AzureStack

    for p in planned:
        if p.aws:
            AwsStack(app, p.deployment, p.aws)
        if p.azure:
            AzureStack(app, p.deployment, p.azure)


def synth(planned: list[Planned], outdir: Path) -> None:
    """Synthesize into `outdir` (manifest.json, stacks/<stack>/cdk.tf.json), replacing it whole.

    `outdir` must not exist, be empty or be sxcloud's own output (see sxcloud.outdir, which
    also marks it so); the CLI checks the rest of the rules first with `outdir.check`.
    """
    from .cdk import core

    def write(staging: Path) -> None:
        app = core.App(outdir=str(staging))
        add_stacks(app, planned)
        app.synth()

    outdir_rules.replace(outdir, write)
