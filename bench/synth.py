"""Synthesis cost: `sxcloud synth` of all examples vs. a bare CDK app with one empty stack.

Each is run N times (default 5) under /usr/bin/time -v; prints the median wall time and the
median peak resident memory, and the number of resources per synthesized stack.

    .venv/bin/python bench/synth.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

BARE_APP = """
from sxcloud.cdk import core
app = core.App(outdir=__import__("sys").argv[1])
core.TerraformStack(app, "empty")
app.synth()
"""


def measure(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and median peak RSS in MB over `runs` runs."""
    walls, peaks = [], []
    for _ in range(runs):
        result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"failed: {' '.join(command)}\n{result.stderr}")
        wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
        hours, minutes, seconds = wall.groups()
        walls.append(int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds))
        peaks.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1]) / 1024)
    return statistics.median(walls), statistics.median(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        synth = [sys.executable, "-m", "sxcloud", "synth", *map(str, EXAMPLES), "--out", str(out)]
        bare = [sys.executable, "-c", BARE_APP, str(Path(tmp) / "bare")]
        for label, command in ((f"sxcloud synth, {len(EXAMPLES)} example files", synth),
                               ("bare CDK app, one empty stack", bare)):
            wall, peak = measure(command, args.runs)
            print(f"{label}: median wall {wall:.2f} s, median peak RSS {peak:.0f} MB "
                  f"({args.runs} runs)")
        for stack in sorted((out / "stacks").iterdir()):
            resources = json.loads((stack / "cdk.tf.json").read_text())["resource"]
            print(f"  {stack.name}: {sum(len(v) for v in resources.values())} resources")


if __name__ == "__main__":
    main()
