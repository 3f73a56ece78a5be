"""Benchmark of review's exact change in packets (review.packets over verify.delta).

For 1, 10, 100 and 1000 CIDRs in every role (verify_bench's deployments, no CDK), a head
that moves one internal_network range elsewhere is compared with its base: both versions' resource
blocks are read as verify reads them and every packet is decided on both sides. Prints the
median time per cloud and the regions found. Results are recorded in docs/review.md.

    .venv/bin/python bench/review_packets.py [--repeat N]
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # sweep.py: the option combinations
sys.path.insert(0, str(ROOT / "bench"))

import sweep  # noqa: E402
import verify_bench  # noqa: E402
from sxcloud.app import plan_all  # noqa: E402
from sxcloud.review.packets import between  # noqa: E402
from sxcloud.review.verification import planned_document  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing")
    args = parser.parse_args()
    print("== review: change in packets, one internal_network range moved (median of runs)")
    print(f"  {'n':>5} {'cloud':<6} {'time':>10} {'regions':>8}")
    for n in (1, 10, 100, 1000):
        base = sweep.with_options(verify_bench.with_cidrs(n), next(sweep.combinations()) | {
            "dns": "external", "features.admin_https": True, "cluster": True})
        moved = (ipaddress.ip_network("10.250.0.0/24"), *base.roles["internal_network"][1:])
        head = dataclasses.replace(base, roles={**base.roles, "internal_network": moved})
        (p_base,), (p_head,) = plan_all([base]), plan_all([head])
        for cloud in verify_bench.CLOUDS:
            times, delta = [], None
            for _ in range(max(1, args.repeat // (1 + n // 100))):
                started = time.perf_counter()
                delta = between(cloud, (base, planned_document(p_base, cloud)),
                                (head, planned_document(p_head, cloud)))
                times.append(time.perf_counter() - started)
            assert delta is not None and delta.newly_allowed and delta.no_longer_allowed
            print(f"  {n:>5} {cloud:<6} {statistics.median(times) * 1000:8.1f} ms "
                  f"{len(delta.shifts):>8}")


if __name__ == "__main__":
    main()
