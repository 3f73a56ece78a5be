"""The verify result in each stack's summary line: the one place review calls `sxcloud verify`.

`sxcloud verify` evaluates Terraform JSON with each cloud's semantics and compares the flows
it allows with the flows the files intend. The review runs it on the most concrete document
it has, and says which:
- with `--plan`: each plan (what the stack will be after apply);
- with `--synth-dir DIR`: the synthesized `cdk.tf.json` of each stack;
- otherwise: the `resource` block synthesis would write, built from the plan by the same
  attribute functions the constructs use (no CDK, no Node.js).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app import Planned
from ..aws import attributes as aws_attributes
from ..azure import attributes as azure_attributes
from ..verify import AWS, stack_name, verify
from ..verify.model import KINDS, Finding, StackResult
from ..verify.sources import Job, from_documents, from_synth_dir
from ..verify.tfjson import CDKTF, PLAN, Document, parse
from .paths import display_path

PASSED = "passed"
FAILED = "failed"

PLANNED = "planned resources"  # what was verified when no synth folder or plan was given


@dataclass(frozen=True)
class VerifyResult:
    status: str  # PASSED or FAILED
    detail: str = ""  # the counts of a failure, or what was verified
    findings: tuple[str, ...] = ()  # verify's messages, when it failed

    def __str__(self) -> str:
        return f"{self.status} ({self.detail})" if self.detail else self.status

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def _lines(findings: list[Finding]) -> tuple[str, ...]:
    """One line per finding: verify has merged each difference into one region already."""
    return tuple(dict.fromkeys(f.message for f in findings))


def _result(r: StackResult, source: str) -> VerifyResult:
    if r.ok:
        return VerifyResult(PASSED, f"{r.intended_flows} intended flows, {source}")
    counts = Counter(f.kind for f in r.findings)
    detail = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])
    return VerifyResult(FAILED, f"{detail}; {source}", _lines(r.findings))


def planned_resources(p: Planned, cloud: str) -> dict[str, dict[str, Any]]:
    """The `resource` block synthesis writes for one stack (no CDK): what the files intend."""
    d = p.deployment
    if cloud == AWS:
        assert p.aws is not None and d.aws is not None
        return aws_attributes.resources(p.aws, d.aws.vpc_id)
    assert p.azure is not None and d.azure is not None
    return azure_attributes.resources(
        p.azure, location=d.azure.location, resource_group=d.azure.resource_group,
        subnet_ids=d.azure.subnet_ids, network_interface_ids=d.azure.network_interface_ids)


def planned_document(p: Planned, cloud: str) -> Document:
    """That block, read as verify reads a synthesized cdk.tf.json."""
    return parse({"resource": planned_resources(p, cloud)}, PLANNED, CDKTF)


def results(planned: list[Planned], synth_dir: Path | None = None,
            plan_paths: list[Path] | None = None,
            documents: dict[str, Document] | None = None) -> dict[str, VerifyResult]:
    """Verify each stack of `planned`; by stack name. `documents`: planned documents
    already read, by stack name (without a synth folder or plan, verify reads those).
    Bad input raises InputError."""
    deployments = [p.deployment for p in planned]
    jobs: list[Job] = []
    if plan_paths:
        jobs = from_documents(deployments, [(path, PLAN) for path in plan_paths])
        where = {job.stack: display_path(job.document.path) for job in jobs}
    elif synth_dir is not None:
        jobs = from_synth_dir(deployments, synth_dir)
        where = {job.stack: f"{display_path(synth_dir)}/stacks/{job.stack}/cdk.tf.json"
                 for job in jobs}
    if jobs:
        return {job.stack: _result(verify(job.deployment, job.cloud, job.document),
                                   f"from {where[job.stack]}") for job in jobs}
    out = {}
    for p in planned:
        for cloud in p.deployment.targets:
            document = (documents or {}).get(stack_name(p.deployment, cloud))
            r = verify(p.deployment, cloud, document or planned_document(p, cloud))
            out[r.stack] = _result(r, "the planned resources; --synth-dir verifies the "
                                      "synthesized JSON")
    return out
