"""`sxcloud synth`: the CDK app, synthesized to Terraform JSON."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import escape, outdir, render
from ..app import plan_all, synth
from ..config import load_all
from .common import add_files, add_json, print_json, progress, resolve, warn


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "synth", help="synthesize the Terraform JSON of every stack",
        description="Synthesize the CDK app: OUT/manifest.json and "
                    "OUT/stacks/<name>-aws/cdk.tf.json, OUT/stacks/<name>-azure/cdk.tf.json, "
                    "one stack per cloud section of each file. OUT is replaced as a whole, "
                    "and only after every file validated and synthesized. OUT must not "
                    "exist, be empty, or be an earlier output of sxcloud synth (its "
                    "manifest.json says so); it is never a symbolic link, /, the home or "
                    "working folder or one of its parents, nor a folder holding an input "
                    "file. Deploy a stack with 'terraform -chdir=OUT/stacks/STACK init' and "
                    "'apply'.")
    add_files(parser)
    parser.add_argument("--out", type=Path, default=Path("cdktf.out"), metavar="DIR",
                        help="output folder, which sxcloud owns (default: cdktf.out, as cdktn/cdktf "
                             "synth writes)")
    add_json(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    files = resolve(args.files)
    target = outdir.check(out, files)  # before anything is read or created
    planned = plan_all(load_all(files))
    warn(render.warnings(planned))
    names = [name for p in planned for name in p.stack_names]
    progress(f"synthesizing {len(names)} stack{'s' * (len(names) != 1)} into {out} ...")
    started = time.monotonic()
    synth(planned, target)
    progress(f"done in {time.monotonic() - started:.1f} s")
    written = [out / "stacks" / name / "cdk.tf.json" for name in names]
    if args.json:
        print_json({"out": str(out), "manifest": str(out / "manifest.json"),
                    "stacks": [{"name": n, "file": str(f)} for n, f in zip(names, written)]})
    else:
        for f in written:
            print(escape.terminal(f))
    return 0
