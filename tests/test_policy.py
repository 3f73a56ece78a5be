"""Catalog x options -> flows: every row under the options that enable it and those that don't."""

import pytest

from conftest import deployment
from sxcloud import catalog
from sxcloud.policy import INBOUND, OUTBOUND, applies, flows

ALL_ROLES = {
    "internal_network": ["10.0.0.0/16"],
    "internal_mail_server": ["10.0.1.10/32"],
    "internal_nameserver": ["10.0.0.53/32"],
    "external_nameserver": ["9.9.9.9/32"],
    "admin_pc": ["10.0.99.0/24"],
}
NO_FEATURES = {f: False for f in catalog.FEATURES}


def make(**appliance):
    features = {**NO_FEATURES, **appliance.pop("features", {})}
    return deployment({
        "version": 1, "name": "policy-test",
        "appliance": {"features": features, **appliance},
        "roles": ALL_ROLES,
        "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0"},
    })


def enabling(row):
    """Appliance options under which the row applies."""
    options = {"internal_firewall": not row.simple_only, "cluster": row.cluster,
               "dns": row.dns or "cloud"}
    if row.feature:
        options["features"] = {row.feature: True}
    return options


def disablings(row):
    """Option sets that each take the row away (and only change one thing)."""
    base = enabling(row)
    out = []
    if row.feature:
        out.append({**base, "features": {row.feature: False}})
    if row.dns:
        out += [{**base, "dns": mode} for mode in catalog.DNS_MODES if mode != row.dns]
    if row.cluster:
        out.append({**base, "cluster": False})
    if row.internal or row.simple_only:
        out.append({**base, "internal_firewall": not base["internal_firewall"]})
    return out


def row_ids(d):
    return {f.row.id for f in flows(d)}


@pytest.mark.parametrize("row", catalog.ROWS, ids=lambda r: r.id)
def test_row_enabled(row):
    d = make(**enabling(row))
    assert applies(row, d.appliance)
    mine = [f for f in flows(d) if f.row.id == row.id]
    expected = set()
    for service in row.services:
        if row.source == catalog.APPLIANCE:
            expected.add((OUTBOUND, service, row.target))
            if row.target in (catalog.APPLIANCE_PEERS, catalog.INTERNAL_NETWORK):
                expected.add((INBOUND, service, row.target))
        else:
            expected.add((INBOUND, service, row.source))
    assert {(f.direction, f.service, f.peer) for f in mine} == expected
    assert len(mine) == len(expected)


@pytest.mark.parametrize("row", [r for r in catalog.ROWS if disablings(r)], ids=lambda r: r.id)
def test_row_disabled(row):
    for options in disablings(row):
        assert row.id not in row_ids(make(**options)), options


def test_rows_that_always_apply():
    always = {"R01", "R03", "R04", "R05", "R11"}
    for internal_firewall in (True, False):
        for dns in catalog.DNS_MODES:
            assert always <= row_ids(make(internal_firewall=internal_firewall, dns=dns))


def test_simple_installation_drops_every_internal_row_and_adds_x01():
    segmented = row_ids(make(cluster=True, dns="internal",
                             features={"admin_http": True, "admin_https": True}))
    simple = row_ids(make(cluster=True, dns="internal", internal_firewall=False,
                          features={"admin_http": True, "admin_https": True}))
    internal = {r.id for r in catalog.ROWS if r.internal}
    assert internal == {"R02", "R06", "R07", "R15", "R16"}
    assert internal <= segmented and not internal & simple
    assert simple == (segmented - internal) | {"X01"}


def test_dns_cloud_needs_no_rule():
    assert not {"R07", "R08", "R09"} & row_ids(make(dns="cloud"))


def test_default_options():
    d = deployment({"version": 1, "name": "defaults", "roles": ALL_ROLES,
                    "aws": {"region": "eu-central-1", "vpc_id": "vpc-0123456789abcdef0"}})
    assert row_ids(d) == {"R01", "R03", "R04", "R05", "R06", "R08", "R10", "R11", "R14", "R16"}
