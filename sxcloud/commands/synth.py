"""`sxcloud synth`: the CDK app, synthesized to Terraform JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import render
from ..app import plan_all, synth
from ..errors import InputError
from .common import add_files, add_json, load, print_json, progress, warn


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "synth", help="synthesize the Terraform JSON of every stack",
        description="Synthesize the CDK app: OUT/manifest.json and "
                    "OUT/stacks/<name>-aws/cdk.tf.json, OUT/stacks/<name>-azure/cdk.tf.json, "
                    "one stack per cloud section of each file. OUT is replaced as a whole, "
                    "and only after every file validated and synthesized. Deploy a stack "
                    "with 'terraform -chdir=OUT/stacks/STACK init' and 'apply'.")
    add_files(parser)
    parser.add_argument("--out", type=Path, default=Path("cdktf.out"), metavar="DIR",
                        help="output folder (default: cdktf.out, as cdktn/cdktf synth writes)")
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise InputError.one(out, "--out", "exists and is not a folder")
    planned = plan_all(load(args.files))
    warn(render.warnings(planned))
    names = [name for p in planned for name in p.stack_names]
    progress(f"synthesizing {len(names)} stack{'s' * (len(names) != 1)} into {out} ...")
    started = time.monotonic()
    synth(planned, out)
    progress(f"done in {time.monotonic() - started:.1f} s")
    files = [out / "stacks" / name / "cdk.tf.json" for name in names]
    if args.json:
        print_json({"out": str(out), "manifest": str(out / "manifest.json"),
                    "stacks": [{"name": n, "file": str(f)} for n, f in zip(names, files)]})
    else:
        for f in files:
            print(f)
    return 0
