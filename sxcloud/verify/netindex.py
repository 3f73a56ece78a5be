"""Networks indexed by IP version and prefix length, so that "which of these networks hold
this address" costs one lookup per prefix length in use, not one test per network (a role
may have thousands of ranges)."""

from __future__ import annotations

from typing import Generic, Iterable, TypeVar

from .model import IPAddress, IPNetwork

T = TypeVar("T")


class NetIndex(Generic[T]):
    """Networks, each with a payload (the network itself unless given)."""

    def __init__(self, items: Iterable[tuple[IPNetwork, T]] = ()) -> None:
        # version -> prefix length -> network address as an integer -> payloads
        self._by: dict[int, dict[int, dict[int, list[T]]]] = {}
        self.size = 0
        for network, payload in items:
            self.add(network, payload)

    @classmethod
    def of(cls, networks: Iterable[IPNetwork]) -> "NetIndex[IPNetwork]":
        return NetIndex((n, n) for n in networks)  # type: ignore[return-value]

    def add(self, network: IPNetwork, payload: T) -> None:
        by_len = self._by.setdefault(network.version, {})
        by_len.setdefault(network.prefixlen, {}).setdefault(
            int(network.network_address), []).append(payload)
        self.size += 1

    def holding(self, address: IPAddress) -> list[T]:
        """The payloads of every network that holds the address."""
        out: list[T] = []
        value, bits = int(address), address.max_prefixlen
        for prefixlen, nets in self._by.get(address.version, {}).items():
            out += nets.get(value >> (bits - prefixlen) << (bits - prefixlen), ())
        return out

    def holds(self, address: IPAddress) -> bool:
        value, bits = int(address), address.max_prefixlen
        return any(value >> (bits - p) << (bits - p) in nets
                   for p, nets in self._by.get(address.version, {}).items())

    def covers(self, network: IPNetwork) -> bool:
        """Whether some network of the index holds all of `network`."""
        value, bits = int(network.network_address), network.max_prefixlen
        return any(value >> (bits - p) << (bits - p) in nets
                   for p, nets in self._by.get(network.version, {}).items()
                   if p <= network.prefixlen)
