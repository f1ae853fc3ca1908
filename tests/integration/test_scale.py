"""Forty tasks on one host with Docker's default settings (issue 10 item 8).

Docker's default address pools hold about 31 bridge networks, and every task has a network
per worker group besides its own, so a host of parallel tasks ran out ("could not find an
available, non-overlapping IPv4 address pool"). Here 40 light tasks (a database and a tiny
HTTP worker service, 2 workers each) are brought up by 40 `compose-gen up` processes, 8 at a
time, until all 40 run at once: every one must come up healthy, every network of theirs must
sit on its own leased subnet inside the pool, and after 40 `down`s nothing labelled as theirs
may remain. Slow (minutes on 2 cores): deselect locally with `-m "not scale"`; CI runs it.
SCALE_TEST_TASKS / SCALE_TEST_WORKERS shrink it to check the harness.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from compose_gen import leases as leases_module
from compose_gen.config import NetworksConfig
from compose_gen.subnets import allocate
from tests.integration.helpers import TASK_LABEL, TaskTracker, docker, labelled

TASKS = int(os.environ.get("SCALE_TEST_TASKS", "40"))
WORKERS = int(os.environ.get("SCALE_TEST_WORKERS", "2"))
PARALLEL = 8
NOTHING = {"containers": [], "volumes": [], "networks": []}
SERVICE_LABEL = "com.docker.compose.service"

CONFIG = """\
compose_files = ["docker-compose.yml"]
project_prefix = "scale"

[database]
service = "db"
user = "app"
name = "app"

[workers]
services = ["web"]
default = 2
"""

# As light as a stack gets: PostgreSQL and a stdlib HTTP server per worker, local images.
COMPOSE = """\
services:
  db:
    image: ${DEMO_POSTGRES_IMAGE:-postgres:16-alpine}
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app
      POSTGRES_DB: app
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app -d app"]
      interval: 1s
      retries: 120
  web:
    image: ${DEMO_PYTHON_IMAGE:-python:3.12-slim}
    command: ["python", "-m", "http.server", "8000"]
    ports: ["8000:8000"]
    environment:
      DATABASE_URL: postgresql://app:app@db:5432/app
    depends_on:
      db: {condition: service_healthy}
"""


def write_project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "compose-gen.toml").write_text(CONFIG, encoding="utf-8")
    (root / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    return root


def run_cli(project: Path, *args: str, timeout: float) -> tuple[int, str, float]:
    """`compose-gen -C project ARGS` as its own process: (exit code, stderr, seconds)."""
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "compose_gen.cli", "-C", str(project), *args],
                          capture_output=True, text=True, env=dict(os.environ),
                          timeout=timeout, check=False)
    return proc.returncode, proc.stderr.strip(), time.monotonic() - started


def inspect_all(kind: str, task_ids: list[str]) -> list[dict]:
    ids = [line for task_id in task_ids for line in docker(
        kind, "ls", "-q", *(("-a",) if kind == "container" else ()),
        "--filter", f"label={TASK_LABEL}={task_id}").split()]
    return json.loads(docker(kind, "inspect", *ids)) if ids else []


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"{name}: {len(ordered)} in {max(ordered):.0f} s wall-clock max, median "
            f"{ordered[len(ordered) // 2]:.1f} s, min {ordered[0]:.1f} s")


@pytest.mark.scale
@pytest.mark.xdist_group("heavy-concurrency")
def test_forty_tasks_of_two_workers_run_at_once_and_leave_nothing(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker,
        record_property: pytest.RecordProperty) -> None:
    started = [tasks.add(write_project(tmp_path / f"worktree-{i}"), f"{unique_task_id}-{i}")
               for i in range(TASKS)]
    task_ids = [task.task_id for task in started]

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        ups = list(pool.map(lambda task: run_cli(task.project, "up", "--task-id", task.task_id,
                                                 "--workers", str(WORKERS), timeout=900),
                            started))
    up_wall = time.monotonic() - t0
    failed = [(task.task_id, err) for task, (code, err, _s) in zip(started, ups, strict=True)
              if code != 0]
    assert not failed, failed

    # All of them at once: every container running, the database healthy.
    found = inspect_all("container", task_ids)
    assert len(found) == TASKS * (1 + WORKERS)
    for container in found:
        state = container["State"]
        name = container["Config"]["Labels"][SERVICE_LABEL]
        assert state["Status"] == "running", (container["Name"], state)
        if "Health" in state:
            assert state["Health"]["Status"] == "healthy", (container["Name"], name)

    # Every network of every task on a subnet of its own, inside the configured pool.
    pool_net = ipaddress.IPv4Network(NetworksConfig().pool)
    subnets = [ipaddress.IPv4Network(entry["Subnet"])
               for net in inspect_all("network", task_ids)
               for entry in (net.get("IPAM") or {}).get("Config") or ()]
    assert len(subnets) >= TASKS
    assert all(subnet.subnet_of(pool_net) for subnet in subnets), subnets
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1:])

    t1 = time.monotonic()
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        downs = list(pool.map(lambda task: run_cli(task.project, "down", "--task-id",
                                                   task.task_id, timeout=600), started))
    down_wall = time.monotonic() - t1
    failed = [(task.task_id, err) for task, (code, err, _s) in zip(started, downs, strict=True)
              if code != 0]
    assert not failed, failed
    for task in started:
        assert labelled(task.task_id) == NOTHING, task.task_id
        assert not task.dir.exists()
    leases = Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json"
    assert json.loads(leases.read_text(encoding="utf-8"))["leases"] == {}

    timing = (f"{TASKS} tasks x {WORKERS} workers, {PARALLEL} at a time: all up in "
              f"{up_wall:.0f} s ({summary('up', [s for _c, _e, s in ups])}); all down in "
              f"{down_wall:.0f} s ({summary('down', [s for _c, _e, s in downs])}); "
              f"{len(subnets)} networks")
    record_property("scale_timing", timing)
    print(timing)


def test_a_subnet_taken_by_another_registry_after_the_lease_is_leased_again(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Another lease registry (another user or state dir) creates a network on the subnet
    # this task prefers after this task's lease looked at Docker's networks: the listing the
    # lease saw was stale, and Docker refuses the task's network ("Pool overlaps").
    task = tasks.add(write_project(tmp_path / "project"), unique_task_id)
    pool = NetworksConfig()
    preferred = allocate(unique_task_id, pool.pool, pool.prefix, 1)
    assert preferred is not None
    foreign = f"foreign-{unique_task_id}"
    docker("network", "create", "--subnet", preferred[0], foreign)
    real = leases_module.blocked_subnets_for
    calls = []

    def stale_then_real(project_name: str) -> list[ipaddress.IPv4Network]:
        calls.append(project_name)
        return [] if len(calls) == 1 else real(project_name)

    monkeypatch.setattr(leases_module, "blocked_subnets_for", stale_then_real)
    try:
        assert task.up("--workers", "1") == 0, capsys.readouterr().err
        # Leased twice: first from the stale listing (Docker refused it), then past it.
        assert len(calls) == 2
        [lease] = json.loads((Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json")
                             .read_text(encoding="utf-8"))["leases"].values()
        assert lease["subnets"] and preferred[0] not in lease["subnets"]
        ours = [ipaddress.IPv4Network(entry["Subnet"])
                for net in inspect_all("network", [task.task_id])
                for entry in (net.get("IPAM") or {}).get("Config") or ()]
        assert ours and not any(n.overlaps(ipaddress.IPv4Network(preferred[0])) for n in ours)
        assert task.down() == 0
        assert labelled(task.task_id) == NOTHING
    finally:
        docker("network", "rm", foreign)
