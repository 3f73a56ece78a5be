"""`terraform plan` of modules/sxcloud-rules: one deployment, and many in one plan.

One root calls the module with `for_each` over N deployments (the first N of the sweep's
4,096 option combinations; the built-in example for N=1). Each size is planned --runs times
(default 3) under /usr/bin/time -v; prints the median wall time, the median CPU time (user +
sys) and the median peak resident memory. With --check, the plan's outputs are also compared
with sxcloud's own resource blocks (the equivalence proof at that size).

    .venv/bin/python bench/modules_rules.py [--sizes 1,256,4096] [--runs N] [--check] [--exceptions]

With --exceptions, each sweep deployment also has the sweep's nine site exceptions
(tests/sweep.py EXCEPTIONS; for N=1, the example examples/exceptions-both.yaml).

With --sweep, the whole sweep instead: all 4,096 combinations (each with both cloud
sections and the sweep's site exceptions), planned in chunks of --chunk deployments, --parallel plans at a time, every
chunk's outputs compared with sxcloud's (0 differences expected).

    .venv/bin/python bench/modules_rules.py --sweep [--chunk 128] [--parallel 1]
"""

from __future__ import annotations

import argparse
import resource
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import yaml  # noqa: E402

import module_rules as mr  # noqa: E402
import sweep  # noqa: E402
from sxcloud import config  # noqa: E402


def documents(size: int, exceptions: bool = False) -> dict[str, dict]:
    if size == 1:
        example = ROOT / "examples" / "exceptions-both.yaml" if exceptions else config.builtin_example()
        return {"example": yaml.safe_load(example.read_text())}
    return {f"sweep-{i:04d}": sweep.as_document(options, "sweep", exceptions)
            for i, options in zip(range(size), sweep.combinations())}


def measure(workdir: Path, runs: int) -> tuple[float, float, float]:
    """Median wall seconds, CPU seconds and peak RSS (MB) of `terraform plan -out`."""
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        result = subprocess.run(["/usr/bin/time", "-v", "terraform", "plan", "-out=tfplan", "-json",
                                 "-no-color"], cwd=workdir, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"terraform plan failed in {workdir}:\n{result.stdout[-3000:]}")
        err = result.stderr
        h, m, s = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err).groups()
        walls.append(int(h or 0) * 3600 + int(m) * 60 + float(s))
        cpus.append(float(re.search(r"User time \(seconds\): ([\d.]+)", err)[1])
                    + float(re.search(r"System time \(seconds\): ([\d.]+)", err)[1]))
        peaks.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)[1]) / 1024)
    return statistics.median(walls), statistics.median(cpus), statistics.median(peaks)


def check(workdir: Path, docs: dict[str, dict]) -> int:
    """Scenarios whose outputs differ from sxcloud's (after the plan that measure() made)."""
    return len(mr.differences(mr.plan_outputs(workdir), docs))


def whole_sweep(chunk: int, parallel: int) -> None:
    """The whole sweep (mr.sweep_in_chunks), with its wall time and peak memory."""
    start = time.monotonic()
    compared, different = mr.sweep_in_chunks(chunk, parallel, progress=print)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"sweep: {compared} combinations (aws and azure each), chunks of {chunk}, {parallel} "
          f"at a time: {len(different)} differences, {time.monotonic() - start:.0f} s wall, "
          f"peak RSS of one terraform {peak:.0f} MB")
    for line in different[:20]:
        print("  differs:", line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,64,256")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--exceptions", action="store_true",
                        help="with the sweep's site exceptions in every deployment")
    parser.add_argument("--sweep", action="store_true",
                        help="compare all 4,096 combinations, in chunks (see --chunk, --parallel)")
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args()
    if args.sweep:
        whole_sweep(args.chunk, args.parallel)
        return
    print("| deployments | plan wall (median) | CPU | peak RSS | differences |")
    print("|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        docs = documents(size, args.exceptions)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = mr.root(Path(tmp), docs)
            init = mr.terraform(workdir, "init", "-backend=false")
            if init.returncode != 0:
                sys.exit(init.stdout)
            wall, cpu, peak = measure(workdir, args.runs)
            diff = str(check(workdir, docs)) if args.check else "-"
        print(f"| {size} | {wall:.1f} s | {cpu:.1f} s | {peak:.0f} MB | {diff} |", flush=True)


if __name__ == "__main__":
    main()
