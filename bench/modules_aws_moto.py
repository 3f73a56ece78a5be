"""Wall times of the plain-Terraform AWS path against moto, side by side with the CDK stack of
the same deployment: per AWS example, `terraform init`, `plan` (saved, then `show -json`),
`apply` of that plan, and `plan` again right after apply (refresh, then no changes but
moto's, see tests/aws_sites.py). The CDK side also pays `sxcloud synth` (all stacks, one
app); the module side pays sxcloud-rules' evaluation inside every plan.

    .venv/bin/python bench/modules_aws_moto.py [--repeat N]

Each deployment is applied twice to the same moto server, once per path, in VPCs of its own.
Uses the test helpers (tests/), so it needs the dev extra and the provider mirror, like the
tests. Prints a table of medians over N runs (default 1); nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import aws_sites  # noqa: E402
import module_roots  # noqa: E402
import moto_server  # noqa: E402
import terraform  # noqa: E402
import terraform_live  # noqa: E402
from conftest import EXAMPLES, deployment  # noqa: E402
from sxcloud.app import plan_all, synth  # noqa: E402

Times = dict[tuple[str, str, str], list[float]]  # (deployment, path, step) -> seconds
STEPS = ("synth", "init", "plan+show", "apply", "plan after apply")


def _timed(times: Times, key: tuple[str, str, str], step: Callable[[], object]) -> object:
    started = time.monotonic()
    result = step()
    times[key].append(time.monotonic() - started)
    return result


def _terraform(times: Times, name: str, path: str, root: Path) -> None:
    tf = _timed(times, (name, path, "init"), lambda: terraform.init(root, backend=True))
    _timed(times, (name, path, "plan+show"), lambda: terraform_live.plan(tf, "bench.tfplan"))
    _timed(times, (name, path, "apply"), lambda: terraform_live.apply(tf, "bench.tfplan"))
    _timed(times, (name, path, "plan after apply"), lambda: terraform_live.plan(tf, "again.tfplan"))


def once(times: Times, run: int) -> None:
    server = moto_server.start()
    tmp = Path(tempfile.mkdtemp(prefix="sxcloud-bench-modules-"))
    try:
        module_roots.copy_modules(tmp)
        examples = aws_sites.aws_examples(EXAMPLES)
        cdk = []
        for example in examples:
            data = aws_sites.on_moto(example, server.url)
            cdk.append(deployment(data, aws_sites.write(data, tmp / "files")))
        _timed(times, ("all", "cdk", "synth"), lambda: synth(plan_all(cdk), tmp / "out"))
        for index, (example, d) in enumerate(zip(examples, cdk)):
            work = tmp / "apply" / d.name
            shutil.copytree(tmp / "out" / "stacks" / f"{d.name}-aws", work)
            data = aws_sites.on_moto(example, server.url)  # a VPC of its own
            module = module_roots.minimal_root(tmp, data, server.url)
            # The two paths of one deployment back to back, in turns first, so that a change
            # of the machine's load falls on both alike.
            paths = [("cdk", work), ("module", module)]
            for path, root in paths if (index + run) % 2 == 0 else paths[::-1]:
                _terraform(times, d.name, path, root)
    finally:
        moto_server.stop(server)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    for key, value in moto_server.ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    times: Times = defaultdict(list)
    for run in range(args.repeat):
        once(times, run)
    print(f"{'deployment':<20} {'step':<18} {'CDK stack':>10} {'module':>10}  (n={args.repeat}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    names = list(dict.fromkeys(n for n, _, _ in times))
    for name, step in [(n, s) for n in names for s in STEPS if any(
            (n, p, s) in times for p in ("cdk", "module"))]:
        cells = [times.get((name, path, step)) for path in ("cdk", "module")]
        shown = [f"{statistics.median(c):>8.2f} s" if c else f"{'-':>10}" for c in cells]
        print(f"{name:<20} {step:<18} {shown[0]} {shown[1]}")


if __name__ == "__main__":
    main()
