"""The catalog holds the vendor table (spec/rules.md) exactly."""

import re

from sxcloud import catalog
from sxcloud.catalog import ALL, TCP, UDP, Service

# The vendor table, transcribed independently from spec/rules.md: id -> (ports, source,
# target, flags).
VENDOR = {
    "R01": ({(TCP, 22)}, "appliance", "internet", ""),
    "R02": ({(TCP, 22)}, "appliance", "appliance_peers", "**"),
    "R03": ({(TCP, 25)}, "internal_mail_server", "appliance", ""),
    "R04": ({(TCP, 25)}, "internet", "appliance", ""),
    "R05": ({(TCP, 25)}, "appliance", "internet", ""),
    "R06": ({(TCP, 25)}, "appliance", "internal_mail_server", "**"),
    "R07": ({(UDP, 53), (TCP, 53)}, "appliance", "internal_nameserver", "**"),
    "R08": ({(UDP, 53), (TCP, 53)}, "appliance", "external_nameserver", ""),
    "R09": ({(UDP, 53), (TCP, 53)}, "appliance", "internet", ""),
    "R10": ({(TCP, 80)}, "appliance", "internet", "*"),
    "R11": ({(TCP, 443)}, "internet", "appliance", ""),
    "R12": ({(UDP, 6277)}, "appliance", "internet", "*"),
    "R13": ({(UDP, 24441)}, "appliance", "internet", "*"),
    "R14": ({(UDP, 123)}, "appliance", "internet", "*"),
    "R15": ({(TCP, 8080)}, "admin_pc", "appliance", "* **"),
    "R16": ({(TCP, 8443)}, "admin_pc", "appliance", "* **"),
    "R17": ({(TCP, 5061)}, "appliance", "internet", "*"),
}


def test_vendor_rows_match_the_table():
    vendor_rows = [r for r in catalog.ROWS if not r.extension]
    assert [r.id for r in vendor_rows] == sorted(VENDOR)
    for row in vendor_rows:
        ports, source, target, flags = VENDOR[row.id]
        assert {(s.protocol, s.port) for s in row.services} == ports, row.id
        assert (row.source, row.target, row.flags) == (source, target, flags), row.id


def test_extensions_are_marked_and_documented():
    extensions = [r for r in catalog.ROWS if r.extension]
    assert [r.id for r in extensions] == ["X01"]
    (x01,) = extensions
    assert x01.simple_only and x01.services == (Service(ALL),)
    assert x01.target == catalog.INTERNAL_NETWORK


def test_each_optional_row_has_its_own_feature_and_dns_rows_their_mode():
    assert list(catalog.FEATURES) == ["vspp_updates", "vspp_dcc", "vspp_pyzor", "ntp",
                                      "admin_http", "admin_https", "sms"]
    assert {r.id: r.dns for r in catalog.ROWS if r.dns} == {
        "R07": "internal", "R08": "external", "R09": "builtin"}
    assert [r.id for r in catalog.ROWS if r.cluster] == ["R02"]


def test_slugs_unique_and_rationales_fit_every_cloud():
    slugs = [r.slug for r in catalog.ROWS]
    assert len(set(slugs)) == len(slugs)
    # AWS rule descriptions take these characters (no '&'); "Rxx slug: " comes first.
    allowed = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]+$")
    for row in catalog.ROWS:
        assert allowed.match(row.rationale), row.id
        assert len(f"{row.id} {row.slug}: {row.rationale}") <= 255
        assert re.match(r"^[a-z0-9-]+$", row.slug)
