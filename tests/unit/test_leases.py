"""compose_gen/leases.py: the registry that makes port blocks disjoint across tasks."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import stat
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose_gen import leases as leases_module
from compose_gen import paths
from compose_gen import ports as ports_module
from compose_gen import subnets as subnets_module
from compose_gen.config import Config, NetworksConfig, PortsConfig
from compose_gen.errors import (
    ConfigError,
    DockerUnavailableError,
    NoFreePortBlockError,
    NoFreeSubnetError,
    UsageError,
    WaitTimeoutError,
)
from compose_gen.leases import LeaseRegistry, LeaseState, blocked_subnets_for
from compose_gen.ports import block_for_slot, preferred_slot
from compose_gen.stack import DockerNetwork
from compose_gen.task import make_task


def always_free(_block: object) -> bool:
    return True


def config_for(project_dir: Path, **ports: int) -> Config:
    settings_ = {"range_start": 24000, "block_size": 20, "slots": 50, **ports}
    return Config(project_dir=project_dir, source=None, ports=PortsConfig(**settings_))


@pytest.fixture(autouse=True)
def _no_ephemeral_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ranges used here sit below Linux's default; do not depend on this host's sysctl."""
    monkeypatch.setattr(ports_module, "ephemeral_range", lambda: (32768, 60999))


@pytest.fixture
def registry(tmp_path: Path) -> LeaseRegistry:
    return LeaseRegistry(tmp_path / "state" / "leases.json")


def acquire(registry: LeaseRegistry, task_id: str, config: Config, block_is_free=always_free,
            **kwargs: object):
    return registry.acquire(make_task(task_id, config), config, block_is_free=block_is_free,
                            **kwargs)


# --- one task ----------------------------------------------------------------------------

def test_the_same_task_keeps_its_block_and_password_while_leased(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    first = acquire(registry, "task-a", config)
    # Even if the preferred block were busy now, a kept lease is not re-probed by render.
    second = acquire(registry, "task-a", config, block_is_free=lambda _b: False)

    assert second.block == first.block
    assert second.password == first.password and len(first.password) >= 32
    assert second.created == first.created
    assert first.slot == preferred_slot("task-a", 50)
    assert registry.get(first.project_name) == second


def test_a_released_lease_is_gone_and_a_new_one_gets_a_new_password(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    first = acquire(registry, "task-a", config)

    assert registry.release(first.project_name) == first
    assert registry.get(first.project_name) is None
    assert registry.release(first.project_name) is None  # idempotent
    again = acquire(registry, "task-a", config)
    assert again.block == first.block  # the preferred slot is free again
    assert again.password != first.password


def test_recheck_moves_a_kept_lease_whose_block_became_busy(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    first = acquire(registry, "task-a", config)

    moved = acquire(registry, "task-a", config, recheck=True,
                    block_is_free=lambda b: b.slot != first.slot)

    assert moved.slot != first.slot
    assert moved.password == first.password  # same task, same database password
    assert registry.get(first.project_name).slot == moved.slot


def test_a_changed_block_size_gives_a_new_block_that_fits(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    acquire(registry, "task-a", config_for(tmp_path, block_size=20))
    bigger = config_for(tmp_path, block_size=30)

    lease = acquire(registry, "task-a", bigger)

    assert lease.block_size == 30
    assert lease.block == block_for_slot(lease.slot, bigger.ports)


def test_the_same_task_id_from_another_existing_project_is_refused(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    acquire(registry, "shared-id", config_for(tmp_path / "one"))

    with pytest.raises(UsageError, match="already leased by the project in"):
        acquire(registry, "shared-id", config_for(tmp_path / "two"))


def test_the_lease_file_and_its_lock_are_private(tmp_path: Path,
                                                  registry: LeaseRegistry) -> None:
    acquire(registry, "task-a", config_for(tmp_path))

    assert stat.S_IMODE(registry.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(registry.lock_path.stat().st_mode) == 0o600
    data = json.loads(registry.path.read_text())
    assert data["version"] == 1
    assert [lease["task_id"] for lease in data["leases"].values()] == ["task-a"]


def test_the_default_registry_lives_in_the_state_dir(_isolated_state: Path,
                                                     tmp_path: Path) -> None:
    registry = LeaseRegistry()
    acquire(registry, "task-a", config_for(tmp_path))
    assert registry.path == _isolated_state / "leases.json"
    assert registry.path.is_file()


# --- many tasks --------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.from_regex(r"[a-j0-9][a-j0-9-]{0,11}", fullmatch=True),
                unique=True, min_size=1, max_size=30),
       st.sets(st.integers(min_value=0, max_value=39), max_size=8))
def test_live_tasks_get_pairwise_disjoint_blocks_inside_the_range(
        task_ids: list[str], busy: set[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = config_for(Path(tmp), slots=40, block_size=7, range_start=25000)
        registry = LeaseRegistry(Path(tmp) / "leases.json")
        leases = {}
        for task_id in task_ids:
            try:
                leases[task_id] = acquire(registry, task_id, config,
                                          block_is_free=lambda b: b.slot not in busy)
            except NoFreePortBlockError:
                assert len(leases) + len(busy) >= 40
        # Asking again gives every task the block it already has.
        for task_id, lease in leases.items():
            assert acquire(registry, task_id, config).block == lease.block

    ports = [set(lease.block.ports) for lease in leases.values()]
    assert sum(len(p) for p in ports) == len(set().union(*ports))
    for lease in leases.values():
        assert lease.slot not in busy
        assert config.ports.range_start <= lease.block.start
        assert lease.block.end <= config.ports.range_end
    assert len(leases) == min(len(task_ids), 40 - len(busy))


def test_a_full_range_raises_no_free_port_block_naming_the_range(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path, slots=3)
    for n in range(3):
        acquire(registry, f"task-{n}", config)

    with pytest.raises(NoFreePortBlockError, match=r"in 24000-24059 for task 'task-3'") as info:
        acquire(registry, "task-3", config)
    assert "3 of 3 slots leased" in str(info.value)
    assert "compose-gen gc" in str(info.value) and "ports.slots" in str(info.value)
    assert info.value.exit_code == 4


def test_a_range_in_the_ephemeral_ports_is_refused_before_anything_is_written(
        tmp_path: Path, registry: LeaseRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports_module, "ephemeral_range", lambda: (24500, 60999))

    with pytest.raises(ConfigError, match="ephemeral range 24500-60999"):
        acquire(registry, "task-a", config_for(tmp_path))
    assert not registry.path.exists()


def _acquire_in_another_process(args: tuple[str, str, str]) -> tuple[str, int]:
    registry_path, project_dir, task_id = args
    config = config_for(Path(project_dir), slots=40)
    # Every process prefers the same few slots, so they race for them under the lock.
    lease = acquire(LeaseRegistry(Path(registry_path)), task_id, config)
    return task_id, lease.slot


def test_processes_racing_for_the_registry_get_distinct_slots(tmp_path: Path) -> None:
    jobs = [(str(tmp_path / "leases.json"), str(tmp_path), f"race-{n}") for n in range(12)]
    with ProcessPoolExecutor(max_workers=6) as pool:
        slots = dict(pool.map(_acquire_in_another_process, jobs))

    assert len(set(slots.values())) == 12
    stored = json.loads((tmp_path / "leases.json").read_text())["leases"]
    assert {lease["task_id"]: lease["slot"] for lease in stored.values()} == slots


# --- a damaged registry ------------------------------------------------------------------

CORRUPT = [
    (b'{"version": 1, "leases": {"zf-a": {"task_id": "a", ', "truncated"),
    (b"", "empty"),
    (b"\x00\xff\xfe garbage \x80", "binary"),
    (b"null", "null"),
    (b"[]", "list"),
    (b'{"version": 1, "leases": []}', "leases-list"),
    (b'{"version": 1, "leases": {"zf-a": "nope"}}', "lease-string"),
    (b'{"version": 1, "leases": {"zf-a": {"task_id": "a"}}}', "lease-missing-fields"),
    (b'{"version": 1}', "no-leases-key"),
]


@pytest.mark.parametrize("content", [c for c, _ in CORRUPT], ids=[i for _, i in CORRUPT])
def test_a_damaged_registry_is_moved_aside_with_a_warning_and_rebuilt(
        tmp_path: Path, registry: LeaseRegistry, caplog: pytest.LogCaptureFixture,
        content: bytes) -> None:
    registry.path.parent.mkdir(parents=True)
    registry.path.write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="compose_gen.leases"):
        lease = acquire(registry, "task-a", config_for(tmp_path))

    assert "unreadable" in caplog.text and "compose-gen gc" in caplog.text
    aside = list(registry.path.parent.glob("leases.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    data = json.loads(registry.path.read_text())
    assert data["leases"][lease.project_name]["slot"] == lease.slot


def test_leases_written_by_a_newer_version_keep_loading(tmp_path: Path,
                                                        registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    lease = acquire(registry, "task-a", config)
    data = json.loads(registry.path.read_text())
    data["leases"][lease.project_name]["added_later"] = "x"
    registry.path.write_text(json.dumps(data))

    assert acquire(registry, "task-a", config).block == lease.block


# --- states, old files, one coercer ------------------------------------------------------

def test_the_state_is_an_enum_stored_as_the_same_text(tmp_path: Path,
                                                      registry: LeaseRegistry) -> None:
    lease = acquire(registry, "task-a", config_for(tmp_path))
    assert lease.state is LeaseState.RENDERED

    registry.update(lease.project_name, state=LeaseState.STARTING)

    stored = json.loads(registry.path.read_text())["leases"][lease.project_name]
    assert stored["state"] == "starting"
    assert registry.get(lease.project_name).state is LeaseState.STARTING
    assert f"{LeaseState.UP:<4}|" == "up  |" and LeaseState.UP == "up"


def test_a_lease_file_written_before_subnets_and_enums_still_loads(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    lease = acquire(registry, "task-a", config)
    data = json.loads(registry.path.read_text())
    old = data["leases"][lease.project_name]
    for key in ("subnets", "media_seed"):
        del old[key]
    old["state"] = "up"
    registry.path.write_text(json.dumps(data))

    loaded = registry.get(lease.project_name)

    assert loaded is not None and loaded.state is LeaseState.UP
    assert loaded.subnets == () and loaded.block == lease.block


@pytest.mark.parametrize(("field", "value"), [
    ("state", "running"), ("slot", "3"), ("slot", True), ("subnets", "10.199.0.0/24"),
    ("databases", [1]), ("created", "now")],
    ids=["unknown-state", "slot-string", "slot-bool", "subnets-string", "databases-ints",
         "created-string"])
def test_a_lease_field_of_the_wrong_type_makes_the_registry_unreadable(
        tmp_path: Path, registry: LeaseRegistry, caplog: pytest.LogCaptureFixture,
        field: str, value: object) -> None:
    lease = acquire(registry, "task-a", config_for(tmp_path))
    data = json.loads(registry.path.read_text())
    data["leases"][lease.project_name][field] = value
    registry.path.write_text(json.dumps(data))

    with caplog.at_level(logging.WARNING, logger="compose_gen.leases"):
        assert registry.get(lease.project_name) is None
    assert "unreadable (TypeError)" in caplog.text


# --- subnets -----------------------------------------------------------------------------

def test_subnets_are_leased_disjoint_recorded_and_kept(tmp_path: Path,
                                                       registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    a = acquire(registry, "task-a", config, subnets=3, blocked_subnets=list)
    b = acquire(registry, "task-b", config, subnets=3, blocked_subnets=list)

    nets = [ipaddress.IPv4Network(s) for s in (*a.subnets, *b.subnets)]
    assert len(nets) == 6
    assert not any(x.overlaps(y) for i, x in enumerate(nets) for y in nets[i + 1:])
    assert all(n.subnet_of(ipaddress.IPv4Network(config.networks.pool)) for n in nets)
    stored = json.loads(registry.path.read_text())["leases"]
    assert stored[a.project_name]["subnets"] == list(a.subnets)
    # Kept by a plain re-acquire (render without a count), extended, then cut to a prefix.
    assert acquire(registry, "task-a", config).subnets == a.subnets
    more = acquire(registry, "task-a", config, subnets=5, blocked_subnets=list)
    assert more.subnets[:3] == a.subnets and len(set(more.subnets)) == 5
    assert not set(more.subnets) & set(b.subnets)
    assert acquire(registry, "task-a", config, subnets=1, blocked_subnets=list).subnets \
        == a.subnets[:1]


def test_subnets_avoid_what_is_blocked_and_the_check_runs_only_when_asked(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path)
    free = acquire(registry, "task-a", config, subnets=1, blocked_subnets=list)
    registry.release(free.project_name)
    calls = []

    def blocked() -> list[ipaddress.IPv4Network]:
        calls.append(1)
        return [ipaddress.IPv4Network(free.subnets[0])]

    lease = acquire(registry, "task-a", config, subnets=1, blocked_subnets=blocked)
    assert lease.subnets != free.subnets and calls == [1]
    acquire(registry, "task-a", config, blocked_subnets=blocked)
    assert calls == [1]


def test_a_full_subnet_pool_raises_naming_the_pool_and_the_key(tmp_path: Path,
                                                               registry: LeaseRegistry) -> None:
    config = replace(config_for(tmp_path),
                     networks=NetworksConfig(pool="10.199.0.0/23", prefix=24))
    acquire(registry, "task-a", config, subnets=2, blocked_subnets=list)

    with pytest.raises(NoFreeSubnetError, match=r"no 1 free /24 subnet\(s\) in 10\.199\.0\.0/23 "
                                                r"for task 'task-b' \(2 of 2 leased") as info:
        acquire(registry, "task-b", config, subnets=1, blocked_subnets=list)
    assert "networks.pool" in str(info.value) and info.value.exit_code == 4


def test_blocked_subnets_are_routes_and_other_projects_docker_networks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subnets_module, "host_routes", lambda: [
        subnets_module.Route("eth0", ipaddress.IPv4Network("192.0.2.0/24")),
        subnets_module.Route("br-abc", ipaddress.IPv4Network("10.199.7.0/24"))])
    networks = [DockerNetwork("zf-mine_default", "zf-mine", ("10.199.7.0/24",)),
                DockerNetwork("other_default", "other", ("10.199.9.0/24",)),
                DockerNetwork("host", "", ())]

    found = blocked_subnets_for("zf-mine", lambda: networks)

    assert [str(n) for n in found] == ["192.0.2.0/24", "10.199.9.0/24"]


def test_without_a_daemon_subnets_are_checked_against_routes_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subnets_module, "host_routes", lambda: [])

    def no_daemon() -> list[DockerNetwork]:
        raise DockerUnavailableError("Docker is not reachable")

    assert blocked_subnets_for("zf-x", no_daemon) == []


# --- one lock helper ---------------------------------------------------------------------

def test_a_task_lock_held_elsewhere_times_out_with_exit_5_and_a_hint(
        _isolated_state: Path, tmp_path: Path) -> None:
    from filelock import FileLock, Timeout

    registry = LeaseRegistry()
    task = make_task("task-a", config_for(tmp_path))
    lock_file = str(paths.locks_dir() / f"{task.project_name}.lock")
    # Held: another holder (a separate handle, as in another process) cannot take it.
    with registry.locked_task(task, 1, doing="start"), pytest.raises(Timeout):
        FileLock(lock_file, timeout=0.05).acquire()
    with FileLock(lock_file), pytest.raises(WaitTimeoutError) as info, \
            registry.locked_task(task, 0.1, doing="tear down"):
        pass
    assert str(info.value).startswith("cannot tear down task 'task-a': another compose-gen has "
                                      "held it for more than 0 s (it is starting, stopping or "
                                      "resetting the task; wait for it, or remove ")
    assert info.value.exit_code == 5
    # Released on the way out: the next holder gets it at once.
    with registry.locked_task(task, 0.1, doing="reset"):
        pass


def test_a_registry_lock_held_elsewhere_is_the_same_timeout_error(
        tmp_path: Path, registry: LeaseRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    from filelock import FileLock

    monkeypatch.setattr(leases_module, "LOCK_TIMEOUT", 0.1)
    registry.path.parent.mkdir(parents=True)
    with FileLock(str(registry.lock_path)), \
            pytest.raises(WaitTimeoutError, match="the lease registry .* stayed locked") as info:
        registry.get("zf-task-a")
    assert info.value.exit_code == 5 and f"remove {registry.lock_path}" in str(info.value)


# --- TIME_WAIT and a kept block ----------------------------------------------------------

def test_a_re_up_keeps_its_block_while_its_last_connections_sit_in_time_wait(
        tmp_path: Path, registry: LeaseRegistry) -> None:
    config = config_for(tmp_path, range_start=24600, slots=50, block_size=4)
    first = acquire(registry, "task-tw", config, block_is_free=ports_module.block_is_free)
    port = first.block.port(0)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Docker's proxy does
    listener.bind(("127.0.0.1", port))
    listener.listen()
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    server, _ = listener.accept()
    server.close()  # the published side closes first, as when the stack stops
    assert client.recv(1) == b""
    client.close()
    listener.close()

    again = acquire(registry, "task-tw", config, recheck=True,
                    block_is_free=ports_module.block_is_free)

    assert again.block == first.block
