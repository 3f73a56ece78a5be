"""Catalog x Deployment -> Flows: the cloud-neutral intent of a deployment.

A flow is one service the appliance must be able to use, seen from the appliance: inbound
from a peer role, or outbound to one. The cloud planners turn flows into rules; they never
decide which flows exist.

Site exceptions are the file's, never the catalog's: they are ExceptionFlows, kept apart
from the catalog's Flows (`exception_flows`), and no report may take one for a vendor row.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .catalog import APPLIANCE, Row, Service
from .config import Appliance, Deployment
# The directions are the file's words (exceptions use them too); callers have always found
# them here.
from .exceptions import INBOUND, OUTBOUND, ExceptionPeer, SiteException, Traffic  # noqa: F401

# Rows whose peer is the appliance's own side of the network: every appliance is both ends of
# the flow, so it is needed in both directions.
_BOTH_WAYS = (catalog.APPLIANCE_PEERS, catalog.INTERNAL_NETWORK)


@dataclass(frozen=True)
class Flow:
    row: Row
    direction: str  # INBOUND or OUTBOUND, seen from the appliance
    service: Service
    peer: str  # a role from catalog.PEER_ROLES

    @property
    def origin(self) -> str:
        """What the flow comes from, as reports name it: the row id (R03)."""
        return self.row.id

    def __str__(self) -> str:
        arrow = "from" if self.direction == INBOUND else "to"
        return f"{self.row.id} {self.direction} {self.service} {arrow} {self.peer}"


@dataclass(frozen=True)
class ExceptionFlow:
    """A site exception's flow on one cloud: the cloud-neutral intent the planners turn
    into rules (one per peer and port range on AWS, one per kind of address on Azure)."""

    exception: SiteException
    direction: str  # INBOUND or OUTBOUND, seen from the appliance
    traffic: Traffic
    peer: ExceptionPeer

    @property
    def origin(self) -> str:
        """What the flow comes from, as reports name it: X-<id>."""
        return self.exception.label

    def __str__(self) -> str:
        return str(self.exception)


def applies(row: Row, appliance: Appliance) -> bool:
    """Whether a catalog row is part of a deployment with these appliance options."""
    if row.simple_only and appliance.internal_firewall:
        return False
    if row.internal and not appliance.internal_firewall:
        return False
    if row.cluster and not appliance.cluster:
        return False
    if row.dns is not None and row.dns != appliance.dns:
        return False
    return row.feature is None or row.feature in appliance.features


def flows(deployment: Deployment) -> tuple[Flow, ...]:
    """Every flow the deployment needs, in catalog order."""
    out: list[Flow] = []
    for row in catalog.ROWS:
        if not applies(row, deployment.appliance):
            continue
        for service in row.services:
            if row.source == APPLIANCE:
                out.append(Flow(row, OUTBOUND, service, row.target))
                if row.target in _BOTH_WAYS:
                    out.append(Flow(row, INBOUND, service, row.target))
            else:
                out.append(Flow(row, INBOUND, service, row.source))
    return tuple(out)


def exception_flows(deployment: Deployment, cloud: str) -> tuple[ExceptionFlow, ...]:
    """The site exceptions that apply on `cloud` ("aws" or "azure"), in the file's order."""
    return tuple(ExceptionFlow(e, e.direction, e.traffic, e.peer)
                 for e in deployment.exceptions if cloud in e.clouds)
