"""Warnings and notes a reviewer must see, derived from the openings themselves.

They are computed from openings, not from the deployment options, so that a review built
from a Terraform plan warns about the same things as one built from the files.
"""

from __future__ import annotations

from ..catalog import ROWS_BY_ID
from ..config import Deployment
from ..policy import INBOUND, OUTBOUND
from .openings import EXTENSION, PLATFORM, UNINTENDED, Firewall, Opening

ADMIN_HTTP_PORT = 8080

# Warnings of the planners and the loader that the review states in its own words (from
# the openings); the originals are left out so the reviewer reads each fact once.
RESTATED = (
    "security groups cannot deny, so the rules to the Internet",  # sxcloud.aws.plan
    "appliance.features.admin_http opens plain-HTTP",  # sxcloud.config: R15
)


def _peer(o: Opening) -> str:
    return f"{o.peer.short()} ({o.role})" if o.role else o.peer.short()


def _ports(openings: list[Opening]) -> str:
    return ", ".join(dict.fromkeys(str(o.ports) for o in sorted(openings, key=lambda o: o.ports)))


def _covers(o: Opening, port: int) -> bool:
    if o.ports.protocol not in ("tcp", "all"):
        return False
    return o.ports.low is None or (o.ports.low <= port <= (o.ports.high or o.ports.low))


def warnings(fw: Firewall) -> list[str]:
    """What the reviewer should question in this firewall, most serious first."""
    out = []
    http = [o for o in fw.openings if o.direction == INBOUND and (
        "R15" in o.rows or (o.ports.single and _covers(o, ADMIN_HTTP_PORT)))]
    if http:
        peers = ", ".join(dict.fromkeys(_peer(o) for o in http))
        out.append(f"Plain-HTTP administration is open: TCP {ADMIN_HTTP_PORT} from {peers} "
                   "(R15). Passwords and session cookies cross the network unencrypted; the "
                   "vendor recommends only admin_https (R16, TCP 8443). Turn off "
                   "'appliance.features.admin_http'.")
    out += _wider(fw)
    if fw.cloud == "aws":
        out += _aws_internet(fw)
    return out


def _wider(fw: Firewall) -> list[str]:
    """Openings wider than any row of the vendor table."""
    out = []
    extension = [o for o in fw.sorted_openings() if o.origin == EXTENSION]
    if extension:
        peers = ", ".join(dict.fromkeys(_peer(o) for o in extension))
        rows = ", ".join(dict.fromkeys(r for o in extension for r in o.rows))
        out.append(f"Wider than the vendor table: {_ports(extension)} to and from {peers} "
                   f"({rows}, a simple installation). The appliances and every internal host "
                   "reach each other on every port, as the vendor's simple installation has "
                   "no firewall inside; sxcloud's extension, see spec/rules.md.")
    for o in fw.sorted_openings():
        if o.origin == PLATFORM:
            out.append(f"Wider than the vendor table: {o.ports} {o.direction} from "
                       f"{_peer(o)} ({o.resource}). Azure's load balancer health probes must "
                       "reach the appliances; the vendor table does not list them.")
        elif o.origin == UNINTENDED and (not o.ports.single or o.peer.internet):
            note = f" It is {o.note}." if o.note else ""
            out.append(f"Wider than the vendor table: {o.direction} {o.ports} "
                       f"{'from' if o.direction == INBOUND else 'to'} {_peer(o)} "
                       f"({o.resource}), which the deployment files do not intend.{note}")
            continue
        if o.note:
            out.append(f"{o.resource}: {o.note}")
    return list(dict.fromkeys(out))


def _aws_internet(fw: Firewall) -> list[str]:
    wide = [o for o in fw.openings if o.peer.internet]
    if not wide:
        return []
    parts = []
    outbound = [o for o in wide if o.direction == OUTBOUND]
    inbound = [o for o in wide if o.direction == INBOUND]
    if outbound:
        parts.append(f"the outbound rules to the Internet ({_ports(outbound)}) also reach "
                     "every internal host on those ports")
    if inbound:
        parts.append(f"the inbound rules from the Internet ({_ports(inbound)}) also admit "
                     "every internal host")
    return ["AWS security groups cannot deny, and 0.0.0.0/0 includes the VPC and the "
            f"networks routed to it: {'; '.join(parts)}. (Azure's 'Internet' service tag "
            "excludes the virtual network; AWS has no such peer.)"]


def notes(fw: Firewall, deployment: Deployment | None) -> list[str]:
    """Facts that explain the report: why no DNS rule, what denies the rest, other warnings."""
    out = []
    if deployment is not None and deployment.appliance.dns == "cloud":
        if fw.cloud == "aws":
            out.append("No DNS rule: 'appliance.dns: cloud' uses the Amazon-provided DNS "
                       "server (the VPC base address + 2, 169.254.169.253), which security "
                       "groups do not filter.")
        else:
            out.append("No DNS rule: 'appliance.dns: cloud' uses Azure's platform DNS "
                       "(168.63.129.16), which NSGs do not filter unless a rule names the "
                       "'AzurePlatformDNS' service tag.")
    if fw.guards:
        out.append("Everything else is denied: " + "; ".join(fw.guards) + ".")
    elif fw.cloud == "aws":
        out.append("Everything else is denied: a security group allows only its rules (and "
                   "the replies to them).")
    out += list(fw.notes)
    return out


def other_warnings(messages: list[str] | tuple[str, ...]) -> list[str]:
    """The planners' and loader's warnings, less those the review restates."""
    return [m[:1].upper() + m[1:] for m in messages if not any(r in m for r in RESTATED)]


def describe_rows(rows: tuple[str, ...]) -> str:
    """'R15 admin-http' for a row id (used in the matrix and the change lists)."""
    return ", ".join(f"{r} {ROWS_BY_ID[r].slug}" if r in ROWS_BY_ID else r for r in rows)
