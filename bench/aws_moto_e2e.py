"""Wall times of the AWS path against moto, per example: synth (all stacks, one CDK app),
terraform init, apply, plan (right after apply), and `sxcloud audit aws` (in process, and as
a command with its interpreter start-up).

    .venv/bin/python bench/aws_moto_e2e.py [--repeat N]

Uses the test helpers (tests/), so it needs the dev extra and the provider mirror, like the
tests. Prints a table; nothing is asserted. Medians over N runs (default 1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import aws_sites  # noqa: E402
import moto_server  # noqa: E402
import terraform  # noqa: E402
import terraform_live  # noqa: E402
from conftest import EXAMPLES, deployment  # noqa: E402
from sxcloud.app import plan_all, synth  # noqa: E402
from sxcloud.aws import audit, live  # noqa: E402


def once(times: dict[tuple[str, str], list[float]]) -> None:
    server = moto_server.start()
    tmp = Path(tempfile.mkdtemp(prefix="sxcloud-bench-"))
    try:
        ds = []
        for example in aws_sites.aws_examples(EXAMPLES):
            data = aws_sites.on_moto(example, server.url)
            ds.append(deployment(data, aws_sites.write(data, tmp / "files")))
        started = time.monotonic()
        synth(plan_all(ds), tmp / "out")
        times[("all", "synth")].append(time.monotonic() - started)
        for d in ds:
            work = tmp / "apply" / d.name
            shutil.copytree(tmp / "out" / "stacks" / f"{d.name}-aws", work)
            started = time.monotonic()
            tf = terraform.init(work, backend=True)
            times[(d.name, "init")].append(time.monotonic() - started)
            started = time.monotonic()
            terraform_live.apply(tf)
            times[(d.name, "apply")].append(time.monotonic() - started)
            started = time.monotonic()
            terraform_live.plan(tf, "bench.tfplan")
            times[(d.name, "plan+show")].append(time.monotonic() - started)
            assert d.aws is not None
            started = time.monotonic()
            client = live.ec2_client(d.aws.region, endpoint_url=server.url)
            audit.audit(client, d)
            times[(d.name, "audit (in process)")].append(time.monotonic() - started)
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "sxcloud", "audit", "aws", str(d.path),
                            "--use-file-endpoints"],
                           capture_output=True, check=False)
            times[(d.name, "audit (command)")].append(time.monotonic() - started)
            times[(d.name, "rules")].append(len(audit.plan(d).rules))
    finally:
        moto_server.stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for key, value in moto_server.ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        once(times)
    print(f"{'deployment':<20} {'step':<20} {'median':>8}  (n={args.repeat}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    for (name, step), values in times.items():
        unit = "" if step == "rules" else " s"
        print(f"{name:<20} {step:<20} {statistics.median(values):>8.2f}{unit}")


if __name__ == "__main__":
    main()
