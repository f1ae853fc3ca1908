"""Subnets: each network of a task gets an IPv4 subnet leased from a pool, like its ports.

Docker's default address pools hold about 31 bridge networks; N tasks x (workers + 1)
networks run them out ("could not find an available, non-overlapping IPv4 address pool",
issue 10 item 8). So the override names each network's subnet, taken from `networks.pool`
split into /`networks.prefix` subnets. As with port blocks, the search starts at
sha256(task_id) mod the number of subnets (the same task prefers the same subnets) and probes
forward past subnets another live task has leased and past subnets that overlap a host route
or an existing Docker network. This module is pure but for reading /proc/net/route.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from compose_gen.ports import preferred_slot

ROUTE_FILE = Path("/proc/net/route")
# Routes of Docker's own bridges: Docker lists those networks itself, with the Compose project
# that owns them, so a task's own running networks are not mistaken for a collision.
_DOCKER_INTERFACES = ("docker0", "br-")

Subnet = ipaddress.IPv4Network


@dataclass(frozen=True)
class Route:
    interface: str
    network: Subnet


def parse_pool(pool: str, prefix: int) -> tuple[Subnet, int]:
    """The pool and how many subnets of /prefix it holds (config.py validated both)."""
    network = ipaddress.IPv4Network(pool)
    return network, 2 ** (prefix - network.prefixlen)


def subnet_at(pool: Subnet, prefix: int, index: int) -> Subnet:
    size = 2 ** (32 - prefix)
    return ipaddress.IPv4Network((int(pool.network_address) + index * size, prefix))


def probe_order(task_id: str, pool: Subnet, prefix: int) -> Iterator[Subnet]:
    """Every subnet of the pool once: the task's preferred one first, then forward."""
    count = 2 ** (prefix - pool.prefixlen)
    first = preferred_slot(task_id, count)
    return (subnet_at(pool, prefix, (first + step) % count) for step in range(count))


def overlaps_any(subnet: Subnet, others: Iterable[Subnet]) -> bool:
    return any(subnet.overlaps(other) for other in others)


def allocate(task_id: str, pool: str, prefix: int, count: int, *,
             keep: Sequence[str] = (), taken: Iterable[str] = (),
             blocked: Iterable[Subnet] = ()) -> tuple[str, ...] | None:
    """`count` disjoint subnets for the task, or None if the pool cannot hold them.

    keep: the task's current subnets, in order; subnet i stays subnet i while it is still
    inside the pool, of the prefix, and clear of `taken` and `blocked` (so a re-`up` with more
    workers keeps the networks it has and a smaller count keeps a prefix of them).
    taken: subnets leased to other live tasks. blocked: host routes and Docker networks.
    """
    network, _ = parse_pool(pool, prefix)
    taken_nets = [ipaddress.IPv4Network(s) for s in taken]
    blocked_nets = list(blocked)
    chosen: list[Subnet | None] = []
    for text in keep[:count]:
        subnet = _parse(text)
        fits = subnet is not None and subnet.prefixlen == prefix \
            and subnet.subnet_of(network) and subnet not in chosen \
            and not overlaps_any(subnet, taken_nets) and not overlaps_any(subnet, blocked_nets)
        chosen.append(subnet if fits else None)
    chosen += [None] * (count - len(chosen))
    if None not in chosen:
        return tuple(str(s) for s in chosen)
    candidates = probe_order(task_id, network, prefix)
    for i, subnet in enumerate(chosen):
        if subnet is not None:
            continue
        for candidate in candidates:
            if candidate in chosen or overlaps_any(candidate, taken_nets) \
                    or overlaps_any(candidate, blocked_nets):
                continue
            chosen[i] = candidate
            break
        else:
            return None
    return tuple(str(s) for s in chosen)


def free_count(pool: str, prefix: int, taken: Iterable[str],
               blocked: Iterable[Subnet]) -> tuple[int, int]:
    """(free subnets, all subnets) of the pool: its headroom, for `doctor`."""
    network, total = parse_pool(pool, prefix)
    used = [ipaddress.IPv4Network(s) for s in taken] + list(blocked)
    used = [u for u in used if u.overlaps(network)]
    free = sum(not overlaps_any(subnet_at(network, prefix, i), used) for i in range(total))
    return free, total


def _parse(text: str) -> Subnet | None:
    try:
        return ipaddress.IPv4Network(text)
    except ValueError:
        return None


def host_routes(path: Path = ROUTE_FILE) -> list[Route]:
    """The host's IPv4 routes (main table) but the default route; [] where /proc has none."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    routes = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            # Little-endian hex as the kernel writes it on x86 and arm64 alike.
            destination = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
            mask = socket.inet_ntoa(struct.pack("<I", int(fields[7], 16)))
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except (ValueError, struct.error):
            continue
        if network.prefixlen == 0:
            continue  # the default route overlaps everything and takes nothing
        routes.append(Route(fields[0], network))
    return routes


def blocking_routes(routes: Iterable[Route]) -> list[Subnet]:
    """Routes a task's subnet must not overlap: all but those of Docker's own bridges."""
    return [route.network for route in routes
            if not route.interface.startswith(_DOCKER_INTERFACES)]
