"""Which Terraform document holds which stack: a synth folder, or plan and state JSON files.

A synth folder holds `stacks/<name>-<cloud>/cdk.tf.json` for every stack. A plan or state
document is matched to deployments by the tags the generated firewall carries, since it does
not say which stack it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Deployment
from ..errors import InputError
from . import aws, azure
from .intent import AWS
from .tfjson import Document, read


@dataclass(frozen=True)
class Job:
    deployment: Deployment
    cloud: str
    document: Document

    @property
    def stack(self) -> str:
        return f"{self.deployment.name}-{self.cloud}"


def all_stacks(deployments: list[Deployment]) -> list[tuple[Deployment, str]]:
    return [(d, cloud) for d in deployments for cloud in d.targets]


def from_synth_dir(deployments: list[Deployment], folder: Path) -> list[Job]:
    """Every stack's cdk.tf.json from a synth folder; a missing one is bad input."""
    if not folder.is_dir():
        raise InputError.one(folder, "--synth-dir", "is not a folder (synthesize with "
                             "'sxcloud synth --out DIR')")
    jobs, problems = [], []
    for d, cloud in all_stacks(deployments):
        path = folder / "stacks" / f"{d.name}-{cloud}" / "cdk.tf.json"
        if not path.is_file():
            problems.append((path, "", f"no such file: stack {d.name}-{cloud} of {d.path} was "
                             f"not synthesized into {folder}"))
            continue
        jobs.append(Job(d, cloud, read(path)))
    if problems:
        raise InputError(problems)
    return jobs


def _holds(document: Document, d: Deployment, cloud: str) -> bool:
    rtype, tag = ((aws.GROUP, aws.TAG) if cloud == AWS else (azure.NSG, azure.TAG))
    return any(isinstance(r.values.get("tags"), dict) and r.values["tags"].get(tag) == d.name
               for r in document.of_type(rtype))


def from_documents(deployments: list[Deployment], paths: list[tuple[Path, str]]) -> list[Job]:
    """The stacks each plan or state document holds, found by the firewall's tags."""
    jobs, problems = [], []
    for path, kind in paths:
        document = read(path, kind)
        found = [Job(d, cloud, document) for d, cloud in all_stacks(deployments)
                 if _holds(document, d, cloud)]
        if not found:
            names = ", ".join(f"{d.name}-{c}" for d, c in all_stacks(deployments))
            problems.append((path, "", f"holds none of the stacks {names} (no "
                             f"{aws.GROUP} tagged {aws.TAG} or {azure.NSG} tagged {azure.TAG} "
                             "naming one of the deployments)"))
        jobs += found
    if problems:
        raise InputError(problems)
    return jobs
