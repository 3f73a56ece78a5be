"""Benchmarks of `sxcloud verify` (prints numbers; results are recorded in docs/verify.md).

1. One stack: parse its cdk.tf.json and verify it, for each example (median of runs).
2. The sweep: all 4,096 option combinations per cloud, planned and verified.
3. Growth with CIDRs per role (1, 10, 100, 1000): one stack, and the sweep (a sample of the
   combinations, scaled to 4,096 and marked as such; all of them with --full).

The stacks are built with the attribute functions the constructs use, so no CDK runs.
At 100 and 1000 CIDRs per role AWS's rule quota (at most 1000 per direction and family, the
schema's limit) is lifted here: the point is how verify grows, not a deployable stack.

`--baseline REF` runs the same measurements side by side with another version's verify (the
probe engine is in 9552925, where this branch began): this script, that version's
`sxcloud` and `tests/sweep.py` are taken with `git archive REF` and run in a child process,
in turns with this tree's (baseline first).

    .venv/bin/python bench/verify_bench.py [--repeat N] [--sample K] [--full] [--baseline REF]
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # sweep.py: the option combinations

import sweep  # noqa: E402
from sxcloud import config  # noqa: E402
from sxcloud.aws import attributes as aws_attributes  # noqa: E402
from sxcloud.aws import plan as aws_plan  # noqa: E402
from sxcloud.azure import attributes as azure_attributes  # noqa: E402
from sxcloud.azure import plan as azure_plan  # noqa: E402
from sxcloud.verify import verify  # noqa: E402
from sxcloud.verify.tfjson import parse  # noqa: E402

CLOUDS = ("aws", "azure")


def resources(d: config.Deployment, cloud: str) -> dict:
    if cloud == "aws":
        return aws_attributes.resources(aws_plan.plan(d), d.aws.vpc_id)
    return azure_attributes.resources(azure_plan.plan(d), location=d.azure.location,
                                      resource_group=d.azure.resource_group)


def verify_once(d: config.Deployment, cloud: str, text: str) -> float:
    """Seconds to parse one stack's JSON text and verify it."""
    started = time.perf_counter()
    result = verify(d, cloud, parse(json.loads(text), "bench"))
    elapsed = time.perf_counter() - started
    assert result.ok, [f.message for f in result.findings[:3]]
    return elapsed


def one_stack(d: config.Deployment, cloud: str, repeat: int) -> float:
    text = json.dumps({"resource": resources(d, cloud)})
    return statistics.median(verify_once(d, cloud, text) for _ in range(repeat))


def with_cidrs(n: int) -> config.Deployment:
    """The sweep's base deployment with n CIDRs in every role (quota lifted, see above)."""
    base = sweep.base_deployment()
    blocks = [ipaddress.ip_network(f"10.{i // 200}.{i % 200}.0/24") for i in range(n)]
    roles = {
        "internal_network": tuple(blocks),
        "internal_mail_server": tuple(ipaddress.ip_network(f"{b.network_address + 25}/32") for b in blocks),
        "internal_nameserver": tuple(ipaddress.ip_network(f"{b.network_address + 53}/32") for b in blocks),
        "admin_pc": tuple(ipaddress.ip_network(f"{b.network_address + 128}/26") for b in blocks),
        "external_nameserver": tuple(ipaddress.ip_network(f"198.18.{i // 250}.{i % 250 + 1}/32")
                                     for i in range(n)),
    }
    aws = dataclasses.replace(base.aws, bindings={}, rule_quota=10**9)
    azure = dataclasses.replace(base.azure, bindings={})
    return dataclasses.replace(base, roles=roles, aws=aws, azure=azure)


def sweep_time(base: config.Deployment, cloud: str, step: int) -> tuple[float, int]:
    """Seconds to plan and verify every step-th combination, and how many that was."""
    count, started = 0, time.perf_counter()
    for index, options in enumerate(sweep.combinations()):
        if index % step:
            continue
        d = sweep.with_options(base, options)
        result = verify(d, cloud, parse({"resource": resources(d, cloud)}, "sweep"))
        assert result.ok, (options, [f.message for f in result.findings[:3]])
        count += 1
    return time.perf_counter() - started, count


def _size(result: object) -> int:
    """What the engine decided per stack: peer ranges (exact) or probe hosts (probes)."""
    return getattr(result, "peer_ranges", None) or getattr(result, "probes")


def baseline(ref: str, argv: list[str]) -> None:
    """This bench on another version's verify, in a child process."""
    with tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sxcloud",
                                  "tests/sweep.py", "examples"], check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        (Path(tmp) / "bench").mkdir()
        (Path(tmp) / "bench" / "verify_bench.py").write_text(Path(__file__).read_text())
        env = {**os.environ, "PYTHONPATH": tmp}
        print(f"#### baseline: {ref}", flush=True)
        subprocess.run([sys.executable, str(Path(tmp) / "bench" / "verify_bench.py"), *argv],
                       check=True, env=env, cwd=tmp)
    print("#### this tree", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per one-stack timing")
    parser.add_argument("--sample", type=int, default=64,
                        help="sweeps with more than 1 CIDR per role take every K-th combination")
    parser.add_argument("--full", action="store_true", help="full sweeps at every size")
    parser.add_argument("--baseline", metavar="REF",
                        help="first run the same on REF's verify (e.g. main)")
    args = parser.parse_args()
    if args.baseline:
        argv = [a for a in sys.argv[1:] if a not in ("--baseline", args.baseline)]
        baseline(args.baseline, argv)

    print("== one stack (parse + verify, median of", args.repeat, "runs)")
    for path in sorted((ROOT / "examples").glob("*.yaml")) + [config.builtin_example()]:
        d = config.load(path)
        for cloud in d.targets:
            ms = one_stack(d, cloud, args.repeat) * 1000
            print(f"  {d.name + '-' + cloud:<28} {ms:6.1f} ms")

    print("== sweep, 4,096 combinations per cloud, 1 CIDR per role (plan + verify)")
    base = sweep.base_deployment()
    for cloud in CLOUDS:
        seconds, count = sweep_time(base, cloud, 1)
        print(f"  {cloud:<6} {seconds:6.1f} s  ({seconds / count * 1000:.2f} ms per stack)")

    print("== growth with CIDRs per role (no bindings; every role has n ranges)")
    print(f"  {'n':>5} {'cloud':<6} {'rules':>6} {'decided':>7} {'one stack':>10} {'sweep':>10}")
    for n in (1, 10, 100, 1000):
        d_n = with_cidrs(n)
        step = 1 if args.full else args.sample  # the full sweep at 1 CIDR is above
        for cloud in CLOUDS:
            d = sweep.with_options(d_n, next(sweep.combinations()) | {
                "dns": "external", "features.admin_https": True, "cluster": True})
            block = resources(d, cloud)
            rules = sum(len(v) for k, v in block.items() if "rule" in k)
            result = verify(d, cloud, parse({"resource": block}, "bench"))
            one = one_stack(d, cloud, max(3, args.repeat // (1 + n // 100)))
            seconds, count = sweep_time(d_n, cloud, step)
            total = seconds * 4096 / count
            mark = "" if step == 1 else f"  (from {count} combinations, scaled)"
            print(f"  {n:>5} {cloud:<6} {rules:>6} {_size(result):>7} {one * 1000:8.1f} ms "
                  f"{total:8.1f} s{mark}")


if __name__ == "__main__":
    main()
