"""The sweep: every combination of appliance options, planned and verified exactly, per cloud;
and a covering set of them synthesized for real, in one CDK app.

The sweep builds each stack's `resource` block with the attribute functions the constructs
use (aws/attributes.py, azure/attributes.py), so it evaluates what synthesis writes; the
first test proves that equality on every synthesized stack.
"""

from __future__ import annotations

import json

import pytest

import sweep
from sxcloud.app import plan_all, synth
from sxcloud.aws import attributes as aws_attributes
from sxcloud.aws import plan as aws_plan
from sxcloud.azure import attributes as azure_attributes
from sxcloud.azure import plan as azure_plan
from sxcloud.config import Deployment
from sxcloud.verify import verify, verify_resources
from sxcloud.verify.tfjson import parse
from verifying import stacks


def resources(d: Deployment, cloud: str) -> dict:
    if cloud == "aws":
        return aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)
    return azure_attributes.resources(
        azure_plan.plan(d), location=d.azure.location, resource_group=d.azure.resource_group,
        subnet_ids=d.azure.subnet_ids, network_interface_ids=d.azure.network_interface_ids)


def _without_metadata(block: dict) -> dict:
    return {t: {n: {k: v for k, v in body.items() if k != "//"} for n, body in named.items()}
            for t, named in block.items()}


def test_attribute_functions_write_what_synthesis_writes(synthesized):
    for d, cloud in stacks(synthesized):
        synthesized_block = synthesized.stack(f"{d.name}-{cloud}")["resource"]
        assert resources(d, cloud) == _without_metadata(synthesized_block), f"{d.name}-{cloud}"


@pytest.mark.exhaustive
@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_every_option_combination_verifies_exactly(cloud):
    base = sweep.base_deployment()
    failures, count, flows = [], 0, set()
    for options in sweep.combinations():
        d = sweep.with_options(base, options)
        result = verify_resources(d, cloud, resources(d, cloud), f"sweep {options}")
        count += 1
        flows.add(result.intended_flows)
        if not result.ok:
            failures.append((options, [f.message for f in result.findings[:3]]))
    assert count == 4096
    assert not failures, failures[:3]
    assert len(flows) > 10  # the combinations really differ in what they intend


def test_covering_set_covers_every_pair():
    chosen = sweep.covering()
    covered = set().union(*(sweep.pairs(c) for c in chosen))
    assert covered == sweep.all_pairs()
    assert len(chosen) < 20


@pytest.fixture(scope="module")
def covering_synthesized(tmp_path_factory):
    """The covering set, synthesized in one CDK app (one more app in the session's jsii)."""
    base = sweep.base_deployment()
    deployments = [sweep.with_options(base, options, name=f"cover-{i:02d}")
                   for i, options in enumerate(sweep.covering())]
    out = tmp_path_factory.mktemp("covering") / "cdktf.out"
    synth(plan_all(deployments), out)
    return deployments, out


def test_covering_set_through_full_synthesis_verifies_exactly(covering_synthesized):
    deployments, out = covering_synthesized
    checked = 0
    for d in deployments:
        for cloud in d.targets:
            path = out / "stacks" / f"{d.name}-{cloud}" / "cdk.tf.json"
            stack = json.loads(path.read_text())
            result = verify(d, cloud, parse(stack, str(path)))
            assert result.ok, (d.name, cloud, [f.message for f in result.findings[:3]])
            assert resources(d, cloud) == _without_metadata(stack["resource"])
            checked += 1
    assert checked == 2 * len(deployments)
