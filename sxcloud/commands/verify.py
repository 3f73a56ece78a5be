"""`sxcloud verify`: evaluate the Terraform JSON of each stack with its cloud's semantics and
compare what it allows with what the deployment file intends, for every packet."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..verify import verify
from ..verify.report import data, text
from ..verify.sources import Job, all_stacks, from_documents, from_synth_dir
from ..verify.tfjson import PLAN, STATE
from .common import add_files, add_json, load, print_json, print_text, progress


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "verify", help="prove that each stack's firewall allows exactly the intended flows",
        description="Evaluate each stack's Terraform JSON with its cloud's own rule semantics "
                    "(AWS: stateful allow-only security groups; Azure: NSG rules by priority, "
                    "then the default rules) and compare what it allows with what the "
                    "deployment file intends, for every packet: every IP protocol, port, ICMP "
                    "type and code, IPv4 and IPv6 peer address and membership. Lists each "
                    "difference as a region (allowed but not intended, or intended but not "
                    "allowed) with the rule that decided it and an example packet. Reads the stacks from --synth-dir, from plan or state JSON "
                    "('terraform show -json'), or else synthesizes them first. Exit 1 on any "
                    "finding, 2 on bad input.")
    add_files(parser)
    parser.add_argument("--synth-dir", type=Path, metavar="DIR",
                        help="read DIR/stacks/<stack>/cdk.tf.json, as 'sxcloud synth --out DIR' "
                             "wrote it (starts no CDK)")
    parser.add_argument("--plan-json", type=Path, action="append", default=[], metavar="FILE",
                        help="the JSON of a plan ('terraform show -json PLANFILE'); repeatable")
    parser.add_argument("--state-json", type=Path, action="append", default=[], metavar="FILE",
                        help="the JSON of state ('terraform show -json'); repeatable")
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    deployments = load(args.files)
    documents = [(p, PLAN) for p in args.plan_json] + [(p, STATE) for p in args.state_json]
    jobs: list[Job] = []
    if args.synth_dir:
        jobs += from_synth_dir(deployments, args.synth_dir)
    if documents:
        jobs += from_documents(deployments, documents)
    if not jobs:
        jobs = _synthesized(deployments)
    results = [verify(job.deployment, job.cloud, job.document) for job in jobs]
    verified = {r.stack for r in results}
    skipped = [f"{d.name}-{c}" for d, c in all_stacks(deployments) if f"{d.name}-{c}" not in verified]
    if args.json:
        print_json(data(results, skipped))
    else:
        print_text(text(results, skipped))
    return 0 if all(r.ok for r in results) else 1


def _synthesized(deployments: list) -> list[Job]:
    """Synthesize into a temporary folder (this starts the CDK) and read the stacks back."""
    from ..app import plan_all, synth  # the CDK is imported only here

    planned = plan_all(deployments)
    with tempfile.TemporaryDirectory(prefix="sxcloud-verify-") as tmp:
        out = Path(tmp) / "cdktf.out"
        progress("no --synth-dir, --plan-json or --state-json given; synthesizing first ...")
        synth(planned, out)
        jobs = from_synth_dir(deployments, out)
    for job in jobs:  # the folder is gone; say where the JSON came from instead
        job.document.path = f"synthesized on the fly: stacks/{job.stack}/cdk.tf.json"
    return jobs
