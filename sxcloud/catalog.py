"""The vendor's firewall table (spec/rules.md, rows R01-R17) as data.

This module is the single source of truth for which flows an SX-MailCrypt appliance needs.
Everything else (policy, cloud plans, reports, docs) is derived from ROWS.
"""

from __future__ import annotations

from dataclasses import dataclass

# Roles, as named in spec/rules.md and spec/config.md.
APPLIANCE = "appliance"
APPLIANCE_PEERS = "appliance_peers"
INTERNET = "internet"
INTERNAL_MAIL_SERVER = "internal_mail_server"
INTERNAL_NAMESERVER = "internal_nameserver"
EXTERNAL_NAMESERVER = "external_nameserver"
ADMIN_PC = "admin_pc"
INTERNAL_NETWORK = "internal_network"

#: Roles whose addresses come from the deployment file's `roles` section.
CONFIGURED_ROLES = (
    INTERNAL_NETWORK,
    INTERNAL_MAIL_SERVER,
    INTERNAL_NAMESERVER,
    EXTERNAL_NAMESERVER,
    ADMIN_PC,
)

#: Every role a flow can name as its peer, in a fixed order (used for stable ordering).
PEER_ROLES = (
    INTERNET,
    INTERNAL_MAIL_SERVER,
    INTERNAL_NAMESERVER,
    EXTERNAL_NAMESERVER,
    ADMIN_PC,
    APPLIANCE_PEERS,
    INTERNAL_NETWORK,
)

TCP = "tcp"
UDP = "udp"
ALL = "all"  # every protocol and port (the simple-installation extension only)


@dataclass(frozen=True, order=True)
class Service:
    """A transport protocol and a destination port; port None means every port."""

    protocol: str
    port: int | None = None

    def __str__(self) -> str:
        if self.protocol == ALL:
            return "all traffic"
        return f"{self.protocol.upper()} {self.port}"


@dataclass(frozen=True)
class Row:
    """One row of the vendor table (or one of the project's documented extensions)."""

    id: str
    slug: str
    services: tuple[Service, ...]
    source: str
    target: str
    rationale: str
    feature: str | None = None  # the `appliance.features` key that enables an optional (*) row
    internal: bool = False  # `**`: dropped in a simple installation
    dns: str | None = None  # the `appliance.dns` mode this row belongs to
    cluster: bool = False  # only for clusters
    simple_only: bool = False  # extension: only in a simple installation
    extension: bool = False  # not in the vendor table; the project's own, documented in rules.md

    @property
    def optional(self) -> bool:
        return self.feature is not None

    @property
    def flags(self) -> str:
        """The vendor's flags as written in the table ('*', '**', '* **')."""
        parts = []
        if self.optional:
            parts.append("*")
        if self.internal:
            parts.append("**")
        return " ".join(parts)

    @property
    def ports(self) -> str:
        return " and ".join(str(s) for s in self.services)


_DNS = (Service(UDP, 53), Service(TCP, 53))

ROWS: tuple[Row, ...] = (
    Row("R01", "ssh-support", (Service(TCP, 22),), APPLIANCE, INTERNET,
        "Fetch software updates and open remote support sessions with the vendor."),
    Row("R02", "ssh-cluster", (Service(TCP, 22),), APPLIANCE, APPLIANCE_PEERS,
        "Appliances of one cluster synchronise with each other over SSH.",
        internal=True, cluster=True),
    Row("R03", "smtp-from-mailserver", (Service(TCP, 25),), INTERNAL_MAIL_SERVER, APPLIANCE,
        "The internal mail server hands outgoing mail to the appliance for encryption."),
    Row("R04", "smtp-inbound", (Service(TCP, 25),), INTERNET, APPLIANCE,
        "Mail servers on the Internet deliver mail to the appliance."),
    Row("R05", "smtp-outbound", (Service(TCP, 25),), APPLIANCE, INTERNET,
        "The appliance delivers outgoing mail directly to the mail servers of recipients."),
    Row("R06", "smtp-to-mailserver", (Service(TCP, 25),), APPLIANCE, INTERNAL_MAIL_SERVER,
        "The appliance passes decrypted inbound mail on to the internal mail server.",
        internal=True),
    Row("R07", "dns-internal", _DNS, APPLIANCE, INTERNAL_NAMESERVER,
        "Name resolution through the internal DNS servers of the organisation.",
        internal=True, dns="internal"),
    Row("R08", "dns-external", _DNS, APPLIANCE, EXTERNAL_NAMESERVER,
        "Name resolution through chosen DNS servers outside the organisation.",
        dns="external"),
    Row("R09", "dns-builtin", _DNS, APPLIANCE, INTERNET,
        "Name resolution by the built-in resolver of the appliance, which asks Internet name servers.",
        dns="builtin"),
    Row("R10", "vspp-updates", (Service(TCP, 80),), APPLIANCE, INTERNET,
        "Signature updates for the virus, spam and phishing protection (VSPP).",
        feature="vspp_updates"),
    Row("R11", "webmail", (Service(TCP, 443),), INTERNET, APPLIANCE,
        "Recipients reach Secure WebMail over TLS."),
    Row("R12", "vspp-dcc", (Service(UDP, 6277),), APPLIANCE, INTERNET,
        "VSPP asks the DCC network whether a message is bulk spam.",
        feature="vspp_dcc"),
    Row("R13", "vspp-pyzor", (Service(UDP, 24441),), APPLIANCE, INTERNET,
        "VSPP asks Pyzor servers for spam signatures.",
        feature="vspp_pyzor"),
    Row("R14", "ntp", (Service(UDP, 123),), APPLIANCE, INTERNET,
        "Clock synchronisation with public time servers.",
        feature="ntp"),
    Row("R15", "admin-http", (Service(TCP, 8080),), ADMIN_PC, APPLIANCE,
        "Administration web interface over plain HTTP; the vendor advises against it.",
        feature="admin_http", internal=True),
    Row("R16", "admin-https", (Service(TCP, 8443),), ADMIN_PC, APPLIANCE,
        "Administration web interface over TLS, the access the vendor recommends.",
        feature="admin_https", internal=True),
    Row("R17", "sms", (Service(TCP, 5061),), APPLIANCE, INTERNET,
        "Text messages (SMS) are sent through the aspsms.com gateway.",
        feature="sms"),
    Row("X01", "simple-internal", (Service(ALL),), APPLIANCE, INTERNAL_NETWORK,
        "Simple installation: no firewall inside, so all traffic with the internal network "
        "is allowed both ways.",
        simple_only=True, extension=True),
)

ROWS_BY_ID: dict[str, Row] = {row.id: row for row in ROWS}

#: `appliance.features` keys, in table order.
FEATURES: tuple[str, ...] = tuple(row.feature for row in ROWS if row.feature)

DNS_MODES = ("internal", "external", "builtin", "cloud")
