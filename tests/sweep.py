"""Every combination of appliance options, and a covering subset of them, for verify's sweep.

Options: the seven features on/off, the four DNS modes, cluster, internal_firewall and
ipv6: 2**7 * 4 * 2**3 = 4,096 combinations. The base deployment has every role (IPv4 and
IPv6 ranges) and bindings on both clouds, so each combination is valid and each peer kind
(CIDR, bound group, prefix list, ASG, the appliance's own group) is exercised.

EXCEPTIONS are site exceptions that are valid with every combination (each protocol form,
each kind of peer, an Azure name and priority given, a reason with a template sequence, and
expiry dates before, within 30 days of and long after the tests' today, 2026-12-01);
`as_document(..., exceptions=True)` adds them.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from pathlib import Path
from typing import Any, Iterator

from sxcloud import catalog, config

SG_MAIL = "sg-0a1b2c3d4e5f60718"
PL_RESOLVERS = "pl-0f1e2d3c4b5a69788"
ASG_ADMIN = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sweep/"
             "providers/Microsoft.Network/applicationSecurityGroups/asg-admins")

BASE: dict[str, Any] = {
    "version": 1,
    "name": "sweep",
    "roles": {
        "internal_network": ["10.60.0.0/16", "fd00:60::/48"],
        "internal_mail_server": ["10.60.1.25/32"],
        "internal_nameserver": ["10.60.0.53/32", "fd00:60::53/128"],
        "external_nameserver": ["9.9.9.9/32", "2620:fe::fe/128"],
        "admin_pc": ["10.60.99.0/24", "10.61.0.0/24"],
    },
    "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0",
            "bindings": {"internal_mail_server": {"security_group_ids": [SG_MAIL]},
                         "external_nameserver": {"prefix_list_ids": [PL_RESOLVERS]}}},
    "azure": {"location": "westeurope", "resource_group": "rg-sweep",
              "bindings": {"admin_pc": {"application_security_group_ids": [ASG_ADMIN]}}},
}

EXCEPTIONS: list[dict[str, Any]] = [
    {"id": "noc-snmp", "direction": "inbound", "protocol": "udp", "ports": [161, "10161-10162"],
     "peer": {"cidrs": ["10.60.50.10/32", "fd00:60:50::10/128"]}, "reason": "SNMP polling by the NOC",
     "owner": "noc-team", "ticket": "CHG-1", "expires": "2027-06-30"},
    {"id": "mail-extra", "direction": "outbound", "protocol": "tcp", "ports": ["8000-8080", 6514],
     "peer": {"role": "internal_mail_server"}, "reason": "Costs ${var.x} and {y}: none",
     "owner": "mail team", "expires": "2026-12-20"},
    {"id": "dns-ping", "direction": "inbound", "protocol": "icmp", "peer": {"role": "internal_nameserver"},
     "reason": "Reachability of the resolvers", "owner": "net", "ticket": "NET-7", "expires": "2026-11-15"},
    {"id": "noc-echo", "direction": "inbound", "protocol": "icmp", "icmp_type": 8, "icmp_code": 0,
     "peer": {"cidrs": ["10.60.50.0/24"]}, "reason": "Echo requests", "owner": "noc-team",
     "expires": "2027-01-01", "clouds": ["aws"]},
    {"id": "cluster-all", "direction": "outbound", "protocol": "all", "peer": {"role": "appliance_peers"},
     "reason": "Cluster traffic", "owner": "mail-team", "expires": "2027-03-01"},
    {"id": "vpn-esp", "direction": "outbound", "protocol": 50, "peer": {"internet": True},
     "reason": "IPsec ESP", "owner": "network-team", "expires": "2027-04-30"},
    {"id": "telemetry", "direction": "outbound", "protocol": "tcp", "ports": [443],
     "peer": {"cidrs": ["10.60.70.0/28"], "aws": {"prefix_list_ids": ["pl-0123456789abcdef0"]},
              "azure": {"service_tags": ["AzureMonitor", "Storage.WestEurope"]}},
     "reason": "Metrics and logs", "owner": "platform", "ticket": "OPS-3", "expires": "2027-05-01"},
    {"id": "admin-ssh", "direction": "inbound", "protocol": "tcp", "ports": [22], "peer": {"role": "admin_pc"},
     "reason": "Console access", "owner": "mail-team", "expires": "2027-02-28",
     "azure": {"name": "ssh-from-admins", "priority": 300}},
    {"id": "gre", "direction": "outbound", "protocol": 47, "peer": {"aws": {"security_group_ids": ["sg-0123456789abcdef0"]}},
     "reason": "GRE to the tunnel hosts", "owner": "net", "expires": "2027-02-01", "clouds": ["aws"]},
]

#: Factor name -> its values, in a fixed order.
FACTORS: dict[str, tuple[Any, ...]] = {
    **{f"features.{f}": (False, True) for f in catalog.FEATURES},
    "dns": catalog.DNS_MODES,
    "cluster": (False, True),
    "internal_firewall": (False, True),
    "ipv6": (False, True),
}

Options = dict[str, Any]


def base_deployment() -> config.Deployment:
    return config.parse(copy.deepcopy(BASE), Path("sweep.yaml"))


def combinations() -> Iterator[Options]:
    names = list(FACTORS)
    for values in itertools.product(*FACTORS.values()):
        yield dict(zip(names, values))


def appliance(options: Options) -> config.Appliance:
    features = frozenset(f for f in catalog.FEATURES if options[f"features.{f}"])
    return config.Appliance(cluster=options["cluster"],
                            internal_firewall=options["internal_firewall"],
                            dns=options["dns"], ipv6=options["ipv6"], features=features)


def with_options(base: config.Deployment, options: Options, name: str | None = None) -> config.Deployment:
    """The base deployment with these options (the schema already validated the base)."""
    return dataclasses.replace(base, appliance=appliance(options), name=name or base.name)


def as_document(options: Options, name: str, exceptions: bool = False) -> dict[str, Any]:
    """A deployment file (as data) with these options, for full synthesis; with EXCEPTIONS
    when `exceptions`."""
    data = copy.deepcopy(BASE)
    if exceptions:
        data["exceptions"] = copy.deepcopy(EXCEPTIONS)
    data["name"] = name
    features = {f: options[f"features.{f}"] for f in catalog.FEATURES}
    data["appliance"] = {"cluster": options["cluster"],
                         "internal_firewall": options["internal_firewall"],
                         "dns": options["dns"], "ipv6": options["ipv6"], "features": features}
    return data


def pairs(options: Options) -> set[tuple[str, Any, str, Any]]:
    names = list(FACTORS)
    return {(a, options[a], b, options[b]) for i, a in enumerate(names) for b in names[i + 1:]}


def all_pairs() -> set[tuple[str, Any, str, Any]]:
    names = list(FACTORS)
    return {(a, va, b, vb) for i, a in enumerate(names) for b in names[i + 1:]
            for va in FACTORS[a] for vb in FACTORS[b]}


def covering() -> list[Options]:
    """A small set of combinations in which every pair of option values occurs: greedily the
    combination that covers most of the pairs still uncovered (first one on ties)."""
    todo = all_pairs()
    candidates = [(c, pairs(c)) for c in combinations()]
    chosen = []
    while todo:
        best, covered = max(candidates, key=lambda item: len(item[1] & todo))
        chosen.append(best)
        todo -= covered
    return chosen
