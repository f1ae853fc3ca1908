"""compose_gen/ports.py: block arithmetic, hash-then-probe allocation, and the host probe
against real listening sockets."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose_gen.config import PortsConfig
from compose_gen.errors import ConfigError
from compose_gen.ports import (
    PortBlock,
    block_for_slot,
    block_is_free,
    check_range,
    ephemeral_range,
    find_free_block,
    port_in_use,
    preferred_slot,
    probe_order,
)

# Well below Linux's default ephemeral range (32768-60999) and away from the default
# compose-gen range, so nothing else on the host is likely to sit there.
PROBE_PORTS = PortsConfig(range_start=24100, block_size=4, slots=200)


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _ipv6_loopback()


@contextlib.contextmanager
def listening(family: socket.AddressFamily, address: str, port: int) -> Iterator[None]:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        sock.listen()
        yield
    finally:
        sock.close()


def free_task_block(ports: PortsConfig = PROBE_PORTS) -> tuple[str, PortBlock]:
    """A task ID whose preferred block is entirely free on this host right now."""
    for n in range(200):
        task_id = f"probe-{n}"
        block = block_for_slot(preferred_slot(task_id, ports.slots), ports)
        if block_is_free(block):
            return task_id, block
    pytest.skip("no free block found in the probe range on this host")


# --- arithmetic --------------------------------------------------------------------------

def test_a_block_is_range_start_plus_slot_times_size() -> None:
    ports = PortsConfig(range_start=20000, block_size=20, slots=600)
    block = block_for_slot(3, ports)
    assert (block.start, block.end, block.size) == (20060, 20079, 20)
    assert list(block.ports) == list(range(20060, 20080))
    assert block.port(0) == 20060 and block.port(19) == 20079


@pytest.mark.parametrize("index", [-1, 20])
def test_an_index_outside_the_block_is_an_error(index: int) -> None:
    with pytest.raises(IndexError, match="outside a block of 20"):
        block_for_slot(0, PortsConfig()).port(index)


@settings(deadline=None)
@given(st.text(min_size=1, max_size=50), st.integers(min_value=1, max_value=3000))
def test_the_preferred_slot_is_stable_and_inside_the_range(task_id: str, slots: int) -> None:
    slot = preferred_slot(task_id, slots)
    assert 0 <= slot < slots
    assert preferred_slot(task_id, slots) == slot
    order = list(probe_order(task_id, slots))
    assert order[0] == slot
    assert sorted(order) == list(range(slots))


def test_the_preferred_slot_is_pinned() -> None:
    # sha256-based, so it is the same in every process and on every machine.
    assert preferred_slot("ci-suite-tests-parallele-zenflow-9947", 600) == 425


def test_the_prd_pair_does_not_collide_like_the_prd_formula_does() -> None:
    # base_port + task_number % 1000 gives 9947 and 10947 the same offset (947).
    slots = {preferred_slot(f"ci-suite-tests-parallele-zenflow-{n}", 600) for n in (9947, 10947)}
    assert len(slots) == 2


def test_probing_skips_taken_and_busy_slots() -> None:
    ports = PortsConfig(range_start=20000, block_size=10, slots=10)
    first = preferred_slot("t", 10)
    taken = {first}
    busy = {(first + 1) % 10}

    block = find_free_block("t", ports, taken, lambda b: b.slot not in busy)

    assert block is not None and block.slot == (first + 2) % 10


def test_no_block_when_every_slot_is_taken_or_busy() -> None:
    ports = PortsConfig(range_start=20000, block_size=10, slots=4)
    assert find_free_block("t", ports, {0, 2}, lambda b: b.slot not in {1, 3}) is None


@settings(deadline=None)
@given(st.sets(st.text(min_size=1, max_size=20), min_size=1, max_size=60),
       st.sets(st.integers(min_value=0, max_value=59), max_size=20),
       st.integers(min_value=1, max_value=25))
def test_tasks_allocated_in_turn_get_disjoint_blocks_inside_the_range(
        task_ids: set[str], busy: set[int], block_size: int) -> None:
    ports = PortsConfig(range_start=20000, block_size=block_size, slots=60)
    taken: set[int] = set()
    used: set[int] = set()
    for task_id in sorted(task_ids):
        block = find_free_block(task_id, ports, taken, lambda b: b.slot not in busy)
        if len(taken) + len(busy - taken) >= ports.slots:
            assert block is None
            continue
        assert block is not None
        assert block.slot not in busy
        assert ports.range_start <= block.start and block.end <= ports.range_end
        assert used.isdisjoint(block.ports)
        taken.add(block.slot)
        used.update(block.ports)


# --- the host probe ----------------------------------------------------------------------

def test_a_free_port_is_not_in_use() -> None:
    _, block = free_task_block()
    assert not port_in_use(block.start)


@pytest.mark.parametrize(("family", "address"), [
    (socket.AF_INET, "127.0.0.1"),
    (socket.AF_INET, "0.0.0.0"),
    pytest.param(socket.AF_INET6, "::1", marks=pytest.mark.skipif(
        not HAS_IPV6, reason="no IPv6 loopback on this host")),
    pytest.param(socket.AF_INET6, "::", marks=pytest.mark.skipif(
        not HAS_IPV6, reason="no IPv6 on this host")),
], ids=["ipv4-loopback", "ipv4-any", "ipv6-loopback-only", "ipv6-any-only"])
def test_a_listener_on_any_address_makes_the_port_in_use(
        family: socket.AddressFamily, address: str) -> None:
    task_id, block = free_task_block()
    port = block.port(2)

    with listening(family, address, port):
        assert port_in_use(port)
        assert not block_is_free(block)
        # The allocator moves past the slot the listener sits in.
        moved = find_free_block(task_id, PROBE_PORTS, (), block_is_free)
        assert moved is not None and moved.slot != block.slot
        assert port not in moved.ports

    assert not port_in_use(port)


def _in_time_wait(port: int) -> bool:
    """Whether the kernel lists a TCP socket on local `port` in TIME_WAIT (state 06)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if int(local.rsplit(":", 1)[1], 16) == port and state == "06":
                    return True
    return False


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp")
def test_a_port_whose_connection_sits_in_time_wait_is_free_as_docker_sees_it() -> None:
    task_id, block = free_task_block()
    port = block.port(1)
    # Docker's proxy listens with SO_REUSEADDR and closes first when the stack stops: its
    # side of each connection stays in TIME_WAIT on the published port for a minute.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen()
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    server, _ = listener.accept()
    server.close()
    assert client.recv(1) == b""  # the server's FIN arrived
    client.close()
    listener.close()
    deadline = time.monotonic() + 5
    while not _in_time_wait(port) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _in_time_wait(port)
    # A plain bind (the probe before issue 10 item 9) fails on it ...
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, \
            pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))

    # ... but Docker would publish it, so the task keeps its preferred block.
    assert not port_in_use(port)
    assert block_is_free(block)
    assert find_free_block(task_id, PROBE_PORTS, (), block_is_free) == block


def test_a_dual_stack_ipv6_listener_makes_the_port_in_use() -> None:
    if not HAS_IPV6:
        pytest.skip("no IPv6 on this host")
    _, block = free_task_block()
    port = block.port(3)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
        sock.listen()
        assert port_in_use(port)
    assert not port_in_use(port)


# --- the ephemeral range ------------------------------------------------------------------

def test_the_ephemeral_range_is_read_from_proc(tmp_path: Path) -> None:
    path = tmp_path / "ip_local_port_range"
    path.write_text("32768\t60999\n")
    assert ephemeral_range(path) == (32768, 60999)
    path.write_text("garbage\n")
    assert ephemeral_range(path) is None
    assert ephemeral_range(tmp_path / "missing") is None


@pytest.mark.parametrize(("range_start", "slots", "overlaps"), [
    (20000, 600, False),   # 20000-31999: the default, just below
    (20000, 639, True),    # 20000-32779 ends inside
    (32768, 10, True),     # starts at the first ephemeral port
    (30000, 200, True),    # 30000-33999 straddles the low end
    (61000, 10, False),    # 61000-61199, above
    (60900, 10, True),     # 60900-61099 straddles the high end
], ids=["default", "ends-inside", "starts-at-low", "straddles-low", "above", "straddles-high"])
def test_a_range_overlapping_the_ephemeral_ports_is_refused(range_start: int, slots: int,
                                                            overlaps: bool) -> None:
    ports = PortsConfig(range_start=range_start, block_size=20, slots=slots)
    if not overlaps:
        check_range(ports, (32768, 60999))
        return
    with pytest.raises(ConfigError, match=r"overlaps the kernel's ephemeral range "
                                          r"32768-60999") as info:
        check_range(ports, (32768, 60999))
    assert f"{ports.range_start}-{ports.range_end}" in str(info.value)
    assert "ports.range_start" in str(info.value)


def test_the_last_port_before_the_ephemeral_range_is_fine_and_the_next_is_not() -> None:
    check_range(PortsConfig(range_start=32748, block_size=20, slots=1), (32768, 60999))
    with pytest.raises(ConfigError, match="ephemeral"):
        check_range(PortsConfig(range_start=32749, block_size=20, slots=1), (32768, 60999))
