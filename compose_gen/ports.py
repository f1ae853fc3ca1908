"""Port blocks: one contiguous block of ports per task, found by hashing and probing.

port = range_start + slot * block_size + index. The slot starts at sha256(task_id) mod slots
(the same task prefers the same ports) and probes forward past slots that another task has
leased or that have a port Docker could not bind on this host (a listener; connections in
TIME_WAIT do not count). Hashing alone collides (about half of all pairs at 35 tasks over 900
slots); the lease registry makes blocks disjoint.
"""

from __future__ import annotations

import errno
import hashlib
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from compose_gen.config import PortsConfig
from compose_gen.errors import ConfigError

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@dataclass(frozen=True)
class PortBlock:
    slot: int
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size - 1

    @property
    def ports(self) -> range:
        return range(self.start, self.start + self.size)

    def port(self, index: int) -> int:
        if not 0 <= index < self.size:
            raise IndexError(f"port index {index} outside a block of {self.size}")
        return self.start + index


def block_for_slot(slot: int, ports: PortsConfig) -> PortBlock:
    return PortBlock(slot=slot, start=ports.range_start + slot * ports.block_size,
                     size=ports.block_size)


def preferred_slot(task_id: str, slots: int) -> int:
    return int.from_bytes(hashlib.sha256(task_id.encode("utf-8")).digest()[:8], "big") % slots


def probe_order(task_id: str, slots: int) -> Iterator[int]:
    """Every slot once: the preferred one first, then forward with wrap-around."""
    first = preferred_slot(task_id, slots)
    return ((first + step) % slots for step in range(slots))


def find_free_block(task_id: str, ports: PortsConfig, taken: Iterable[int],
                    block_is_free: Callable[[PortBlock], bool]) -> PortBlock | None:
    taken = set(taken)
    for slot in probe_order(task_id, ports.slots):
        if slot in taken:
            continue
        block = block_for_slot(slot, ports)
        if block_is_free(block):
            return block
    return None


# Probe the way Docker binds a published port: its proxy listens with SO_REUSEADDR (Go sets it
# on every listener), so a port whose only sockets are connections in TIME_WAIT (left by the
# task's own previous stack) is free for Docker and must be free here, or a re-`up` moves the
# task's block (issue 10 item 9). A listener still blocks a SO_REUSEADDR bind on Linux. Each
# address family is probed separately: a listener bound only to ::1 or only to 127.0.0.1 must
# count as "in use" (most peer tools only try 0.0.0.0).
_PROBES = (
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET, "0.0.0.0"),
    (socket.AF_INET6, "::1"),
    (socket.AF_INET6, "::"),
)
_UNSUPPORTED = {errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT}


def port_in_use(port: int) -> bool:
    """True if Docker could not publish `port` on this host right now (something listens)."""
    for family, address in _PROBES:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as err:
            if err.errno in _UNSUPPORTED:
                continue
            raise
        with sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((address, port))
            except OSError as err:
                if err.errno in _UNSUPPORTED:
                    continue
                return True
    return False


def block_is_free(block: PortBlock) -> bool:
    return not any(port_in_use(port) for port in block.ports)


def ephemeral_range(path: Path = EPHEMERAL_RANGE_FILE) -> tuple[int, int] | None:
    try:
        low, high = path.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def check_range(ports: PortsConfig, ephemeral: tuple[int, int] | None = None) -> None:
    """Refuse a range that overlaps the kernel's ephemeral ports (outgoing connections)."""
    ephemeral = ephemeral if ephemeral is not None else ephemeral_range()
    if ephemeral is None:
        return
    low, high = ephemeral
    if ports.range_start <= high and low <= ports.range_end:
        raise ConfigError(
            f"the port range {ports.range_start}-{ports.range_end} overlaps the kernel's "
            f"ephemeral range {low}-{high}",
            hint="move ports.range_start or shrink ports.slots so the range ends below "
            f"{low}")
