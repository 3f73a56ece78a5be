"""How the exact engine was chosen: the atoms partition (sxcloud.verify.exact) against BDDs
(`dd`, the pure-Python `dd.autoref`) on the same question, measured on the example stacks
and on one stack with 100 CIDRs per role.

The BDD side is built as Batfish builds its header spaces: one variable per bit of the
direction, protocol (8), port or ICMP type/code (16), address family (1) and address (128,
IPv4 in the low 32), the firewall's allowed set as the union of its AWS rules, the intended
set as the union of the flows over the roles' prefixes, then their symmetric difference and
one example. It leaves out what the atoms engine also does (memberships, the scope check,
regions and their merging), so its times are a lower bound for a BDD engine.

    .venv/bin/python -m pip install dd   # not a dependency of sxcloud
    .venv/bin/python bench/verify_engines.py [--repeat N]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from dd.autoref import BDD  # noqa: E402

import sweep  # noqa: E402
import verify_bench  # noqa: E402
from sxcloud import catalog, config  # noqa: E402
from sxcloud.policy import INBOUND, flows  # noqa: E402
from sxcloud.verify.rules import security_group_rules, tagged  # noqa: E402
from sxcloud.verify.aws import GROUP, TAG  # noqa: E402
from sxcloud.verify.space import icmp_ranges, parse_protocol  # noqa: E402
from sxcloud.verify.tfjson import parse  # noqa: E402

FIELDS = (("dir", 1), ("proto", 8), ("port", 16), ("fam", 1), ("addr", 128))


class Space:
    """A BDD over the header bits, most significant first."""

    def __init__(self) -> None:
        self.bdd = BDD()
        self.bits = {name: [f"{name}{i}" for i in range(width)] for name, width in FIELDS}
        self.bdd.declare(*[v for name, _ in FIELDS for v in self.bits[name]])

    def equal(self, name: str, value: int):
        names = self.bits[name]
        out = self.bdd.true
        for i, var in enumerate(names):
            bit = (value >> (len(names) - 1 - i)) & 1
            out &= self.bdd.var(var) if bit else ~self.bdd.var(var)
        return out

    def between(self, name: str, low: int, high: int):
        """low <= field <= high, as a BDD."""
        names = self.bits[name]
        return self._at_least(names, low) & self._at_most(names, high)

    def _at_least(self, names: list[str], value: int):
        out = self.bdd.true
        for i in range(len(names) - 1, -1, -1):  # from the least significant bit up
            var = self.bdd.var(names[i])
            bit = (value >> (len(names) - 1 - i)) & 1
            out = (var & out) if bit else (var | out)
        return out

    def _at_most(self, names: list[str], value: int):
        out = self.bdd.true
        for i in range(len(names) - 1, -1, -1):
            var = self.bdd.var(names[i])
            bit = (value >> (len(names) - 1 - i)) & 1
            out = (~var | out) if bit else (~var & out)
        return out

    def prefix(self, network) -> object:
        out = self.equal("fam", 1 if network.version == 6 else 0)
        value = int(network.network_address)
        shift = 128 - network.max_prefixlen
        for i in range(network.prefixlen):  # the top bits of the family's own width
            bit = (value >> (network.max_prefixlen - 1 - i)) & 1
            var = self.bdd.var(self.bits["addr"][shift + i])
            out &= var if bit else ~var
        for i in range(shift):  # IPv4 lives in the low 32 bits
            out &= ~self.bdd.var(self.bits["addr"][i]) if network.version == 4 else self.bdd.true
        return out

    def traffic(self, protocols, ports):
        proto = (self.bdd.true if protocols is None else
                 self.bdd.false if not protocols else
                 _or(self.bdd, [self.equal("proto", p) for p in protocols]))
        if ports is None:
            return proto
        ranged = _or(self.bdd, [self.between("port", low, high) for low, high in ports])
        return proto & ranged


def _or(bdd, items):
    out = bdd.false
    for item in items:
        out |= item
    return out


def bdd_difference(d: config.Deployment, block: dict) -> tuple[float, str]:
    """Seconds to build both sets and their difference, and one differing assignment."""
    started = time.perf_counter()
    s = Space()
    document = parse({"resource": block}, "bench")
    (group,) = tagged(document, GROUP, TAG, d.name)
    allowed = s.bdd.false
    for rule in security_group_rules(document, group).rules:
        net = ipaddress.ip_network(rule.value) if rule.kind.startswith("cidr") else None
        if net is None:
            continue
        protocols = parse_protocol(rule.protocol)
        ports = None if rule.ports is None else (
            icmp_ranges(*rule.ports) if rule.protocol in ("icmp", "icmpv6") else (rule.ports,))
        allowed |= (s.equal("dir", rule.direction == INBOUND) & s.traffic(protocols, ports)
                    & s.prefix(net))
    internet = [ipaddress.ip_network("0.0.0.0/0")] + (
        [ipaddress.ip_network("::/0")] if d.appliance.ipv6 else [])
    intended = s.bdd.false
    for flow in flows(d):
        nets = internet if flow.peer == catalog.INTERNET else d.roles.get(flow.peer, ())
        service = flow.service
        traffic = (s.bdd.true if service.protocol == catalog.ALL else
                   s.traffic([6 if service.protocol == "tcp" else 17],
                             [(service.port, service.port)]))
        intended |= (s.equal("dir", flow.direction == INBOUND) & traffic
                     & _or(s.bdd, [s.prefix(n) for n in nets]))
    difference = (allowed & ~intended) | (intended & ~allowed)
    example = s.bdd.pick(difference) if difference != s.bdd.false else None
    return time.perf_counter() - started, "equal" if example is None else "differs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        d = config.load(path)
        if d.aws is not None:
            cases.append((d.name, d))
    d100 = sweep.with_options(verify_bench.with_cidrs(100), next(sweep.combinations()) | {
        "dns": "external", "features.admin_https": True})
    cases.append(("100 CIDRs per role", d100))
    print(f"  {'stack (aws)':<28} {'atoms (verify)':>15} {'BDD (dd, lower bound)':>22}")
    for name, d in cases:
        block = verify_bench.resources(d, "aws")
        text = json.dumps({"resource": block})
        atoms = statistics.median(verify_bench.verify_once(d, "aws", text)
                                  for _ in range(args.repeat))
        runs = [bdd_difference(d, block) for _ in range(args.repeat)]
        bdd = statistics.median(t for t, _ in runs)
        print(f"  {name:<28} {atoms * 1000:12.1f} ms {bdd * 1000:17.1f} ms ({runs[0][1]})")


if __name__ == "__main__":
    main()
