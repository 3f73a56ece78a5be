"""Differential: the exact engine (verify.exact) agrees with the probe engine (verify.check)
at every probe, on every example and its variants, on the whole sweep and on the mutations.

At each probe host, direction, probed port and protocol (TCP, UDP), the probe engine's
findings there (kind, intended flow, allowed or not) are the exact engine's findings whose
region holds that packet. This test retires with the probe engine.
"""

from __future__ import annotations

import copy
import ipaddress

import pytest

import sweep
from sxcloud.policy import INBOUND, OUTBOUND
from sxcloud.verify import aws, azure, check, exact
from sxcloud.verify.intent import Intent
from sxcloud.verify.model import StackResult
from sxcloud.verify.probes import ports as probe_ports
from sxcloud.verify.probes import probes as probe_hosts
from sxcloud.verify.space import TCP, UDP
from sxcloud.verify.tfjson import CDKTF, parse
from test_verify_mutations import _rdp_from_internet, rule_resources
from test_verify_sweep import resources
from verifying import NSG_RULE, stacks

NUMBERS = {"tcp": TCP, "udp": UDP}


def _firewall(d, cloud, document):
    return (aws.SecurityGroup(d, document) if cloud == "aws"
            else azure.NetworkSecurityGroup(d, document))


def _at(result, direction, protocol, port, probe):
    """The exact engine's findings at one packet: (kind, intended, allowed)."""
    member = next(iter(probe.groups), "")
    out = set()
    for f in result.findings:
        r = f.region
        if (r is not None and r.direction == direction and NUMBERS[protocol] in r.protocols
                and r.ports[0] <= port <= r.ports[1] and r.member == member
                and r.first.version == probe.address.version
                and r.first <= probe.address <= r.last):
            out.add((f.kind, f.intended, f.allowed))
    return out


def agree(d, cloud, block) -> int:
    """Both engines on one stack; asserts agreement at every probe; the probes compared."""
    document = parse(copy.deepcopy(block), "differential", CDKTF)
    intent = Intent(d, cloud)
    old = check.compare(intent, _firewall(d, cloud, document),
                        StackResult("s", cloud, "differential", CDKTF))
    new = exact.compare(Intent(d, cloud), _firewall(d, cloud, document),
                        StackResult("s", cloud, "differential", CDKTF))
    firewall = _firewall(d, cloud, document)
    hosts = probe_hosts(d, cloud, firewall.networks())
    ports = probe_ports(firewall.port_ranges())
    by_point: dict[tuple, set] = {}
    for f in old.findings:
        if f.probe is not None:
            key = (f.direction, f.protocol, f.port, f.probe.address, f.probe.groups)
            by_point.setdefault(key, set()).add((f.kind, f.intended, f.allowed))
    compared = 0
    for probe in hosts:
        for direction in (INBOUND,) if probe.inbound_only else (INBOUND, OUTBOUND):
            for protocol in ("tcp", "udp"):
                for port in ports:
                    want = by_point.get((direction, protocol, port, probe.address, probe.groups),
                                        set())
                    got = _at(new, direction, protocol, port, probe)
                    assert got == want, (d.name, cloud, direction, protocol, port, str(probe),
                                         want, got)
                    compared += 1
    assert [f for f in old.findings if f.probe is None] == [
        f for f in new.findings if f.region is None]
    return compared


def mutations(stack, cloud):
    """The mutation suite's edits (test_verify_mutations), each as a mutated stack."""
    yield _rdp_from_internet(cloud, stack)
    for rtype, name in rule_resources(stack, cloud):
        mutated = copy.deepcopy(stack)
        del mutated["resource"][rtype][name]
        yield mutated
        body = stack["resource"][rtype][name]
        for key in ("cidr_ipv4", "cidr_ipv6", "source_address_prefixes",
                    "destination_address_prefixes"):
            values = body.get(key)
            for index, cidr in enumerate(values if isinstance(values, list) else [values]):
                if cidr is None or ipaddress.ip_network(cidr).prefixlen == 0:
                    continue
                mutated = copy.deepcopy(stack)
                wider = str(ipaddress.ip_network(cidr).supernet())
                if isinstance(values, list):
                    mutated["resource"][rtype][name][key][index] = wider
                else:
                    mutated["resource"][rtype][name][key] = wider
                yield mutated
        mutated = copy.deepcopy(stack)
        target = mutated["resource"][rtype][name]
        if cloud == "aws" and target["ip_protocol"] != "-1":
            target["ip_protocol"] = "-1"
            target.pop("from_port")
            target.pop("to_port")
            yield mutated
        elif cloud == "azure" and target["protocol"] != "*" and target["access"] == "Allow":
            target["protocol"] = "*"
            target.pop("destination_port_ranges", None)
            target["destination_port_range"] = "*"
            yield mutated
    if cloud == "azure":
        rules = stack["resource"][NSG_RULE]
        for deny, direction in (("deny-in-all", "Inbound"), ("deny-out-all", "Outbound")):
            for name, body in rules.items():
                if body["direction"] == direction and body["access"] == "Allow":
                    mutated = copy.deepcopy(stack)
                    m = mutated["resource"][NSG_RULE]
                    m[deny]["priority"], m[name]["priority"] = body["priority"], rules[deny]["priority"]
                    yield mutated


def test_examples_and_mutations_agree(synthesized):
    compared = stacks_compared = 0
    for d, cloud in stacks(synthesized):
        stack = synthesized.stack(f"{d.name}-{cloud}")
        compared += agree(d, cloud, stack)
        for mutated in mutations(stack, cloud):
            compared += agree(d, cloud, mutated)
            stacks_compared += 1
    assert stacks_compared > 1000 and compared > 1_000_000


@pytest.mark.exhaustive
@pytest.mark.parametrize("cloud", ["aws", "azure"])
def test_the_sweep_agrees(cloud):
    base = sweep.base_deployment()
    compared = 0
    for options in sweep.combinations():
        d = sweep.with_options(base, options)
        compared += agree(d, cloud, {"resource": resources(d, cloud)})
    assert compared > 4096 * 1000
