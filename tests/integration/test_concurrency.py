"""Many `up`s at once on one machine, as parallel Zenflow tasks start them.

Eight tasks boot together (one `compose-gen up` process each, sharing one lease registry)
and must come up healthy with disjoint port blocks, eight database servers and no shared
volume; brought down together, nothing labelled as theirs remains. Two `up`s of the same
task at once make one stack: the second waits on the task's lock and reports it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import (
    Task,
    TaskTracker,
    containers,
    copy_example,
    docker,
    host_bindings,
    labelled,
    query,
    service_container_exists,
    start_cli,
    wait_for,
)

NOTHING = {"containers": [], "volumes": [], "networks": []}
TASK_COUNT = 8
SERVICE_LABEL = "com.docker.compose.service"
PROJECT_LABEL = "com.docker.compose.project"


def leases() -> dict[str, dict[str, Any]]:
    path = Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json"
    return json.loads(path.read_text(encoding="utf-8"))["leases"] if path.exists() else {}


def finish(procs: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out, err))
    return results


@dataclass(frozen=True)
class Started:
    task: Task
    workers: int


def volume_labels(names: set[str]) -> dict[str, dict[str, str]]:
    if not names:
        return {}
    inspected = json.loads(docker("volume", "inspect", *sorted(names)))
    return {v["Name"]: v["Labels"] or {} for v in inspected}


@pytest.mark.xdist_group("heavy-concurrency")
def test_eight_tasks_up_at_once_are_isolated_and_all_go_down_at_once(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    started = []
    for i in range(TASK_COUNT):
        project = copy_example("minimal", tmp_path / f"worktree-{i}")
        started.append(Started(tasks.add(project, f"{unique_task_id}-{i}"), 1 + i % 2))
    procs = [start_cli(s.task.project, "up", "--task-id", s.task.task_id,
                       "--workers", str(s.workers)) for s in started]
    for (code, _out, err), s in zip(finish(procs, 600), started, strict=True):
        assert code == 0, f"{s.task.task_id}: {err}"

    # Eight leases, eight disjoint blocks, every published port on 127.0.0.1 in its own.
    by_task = {lease["task_id"]: lease for lease in leases().values()}
    assert set(by_task) == {s.task.task_id for s in started}
    blocks = {task_id: range(lease["block_start"], lease["block_start"] + lease["block_size"])
              for task_id, lease in by_task.items()}
    ordered = sorted(blocks.values(), key=lambda block: block.start)
    assert all(a.stop <= b.start for a, b in zip(ordered, ordered[1:], strict=False))

    all_ports: list[int] = []
    db_ids, identities = set(), set()
    mounts_by_task: dict[str, set[str]] = {}
    for s in started:
        task_id, env = s.task.task_id, s.task.env()
        found = containers(task_id)
        services = {c["Config"]["Labels"][SERVICE_LABEL]: c for c in found}
        assert len(services) == len(found)  # one container per service, no duplicates
        assert set(services) == {"db", "redis", "frontend"} | {
            f"backend_w{i}" for i in range(s.workers)}
        for name, container in services.items():
            state = container["State"]
            assert state["Status"] == "running", (task_id, name, state)
            if "Health" in state:
                assert state["Health"]["Status"] == "healthy", (task_id, name)
            for host_ip, port in host_bindings(container):
                assert host_ip == "127.0.0.1" and port in blocks[task_id], (task_id, name)
                all_ports.append(port)
        db_ids.add(services["db"]["Id"])
        [(identity,)] = query(env["DATABASE_URL_W0"],
                              "SELECT system_identifier FROM pg_control_system()")
        identities.add(identity)

        # Each worker's media volume is its own, and belongs to this task's project.
        media = []
        for i in range(s.workers):
            [mount] = [m for m in services[f"backend_w{i}"]["Mounts"]
                       if m["Destination"] == "/app/media"]
            assert mount["Type"] == "volume" and mount["Name"] == env[f"MEDIA_VOLUME_W{i}"]
            media.append(mount["Name"])
        assert len(set(media)) == s.workers
        named = {m["Name"] for c in found for m in c["Mounts"] if m["Type"] == "volume"}
        mounts_by_task[task_id] = named
        for name in media:
            labels = volume_labels({name})[name]
            assert labels.get(PROJECT_LABEL) == env["COMPOSE_PROJECT_NAME"]
            assert labels.get("dev.compose-gen.task") == task_id

    assert len(all_ports) == len(set(all_ports))  # no port published twice
    assert len(db_ids) == TASK_COUNT and len(identities) == TASK_COUNT  # eight servers
    every_mount = [name for names in mounts_by_task.values() for name in names]
    assert len(every_mount) == len(set(every_mount))  # no volume mounted by two tasks

    procs = [start_cli(s.task.project, "down", "--task-id", s.task.task_id) for s in started]
    for (code, _out, err), s in zip(finish(procs, 300), started, strict=True):
        assert code == 0, f"{s.task.task_id}: {err}"
    for s in started:
        assert labelled(s.task.task_id) == NOTHING, s.task.task_id
        assert not s.task.dir.exists()
    assert leases() == {}
    remaining = set(docker("volume", "ls", "-q").split())
    assert not remaining & set(every_mount)  # anonymous volumes (redis's /data) went too


@pytest.mark.xdist_group("heavy-concurrency")
def test_two_ups_of_the_same_task_at_once_make_one_stack(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    procs = [start_cli(minimal_project, "up", "--task-id", task.task_id, "--workers", "2")
             for _ in range(2)]
    try:
        wait_for(lambda: service_container_exists(task.task_id, "db")
                 or any(p.poll() is not None for p in procs),
                 timeout=120, what="the task's db container")
        # The stack is half built: neither `up` can have finished, the second is waiting
        # on the task's lock rather than starting a stack of its own.
        assert [p.poll() for p in procs] == [None, None]
    finally:
        results = finish(procs, 300)

    for code, _out, err in results:
        assert code == 0, err
    outs = [out for _code, out, _err in results]
    verdicts = sorted(bool(re.search(r"^task '.*' is already up:", out, re.M)) for out in outs)
    assert verdicts == [False, True], outs
    assert all(re.search(r"^task '.*' (is|is already) up:", out, re.M) for out in outs)
    blocks = {re.search(r"ports (\d+-\d+) on 127\.0\.0\.1", out).group(1) for out in outs}
    assert len(blocks) == 1  # both report the same, one stack

    dbs = docker("ps", "-aq", "--filter", f"label=dev.compose-gen.task={task.task_id}",
                 "--filter", f"label={SERVICE_LABEL}=db").split()
    assert len(dbs) == 1
    found = containers(task.task_id)
    services = [c["Config"]["Labels"][SERVICE_LABEL] for c in found]
    assert sorted(services) == ["backend_w0", "backend_w1", "db", "frontend", "redis"]
    assert {c["Config"]["Labels"][PROJECT_LABEL] for c in found} == {
        task.env()["COMPOSE_PROJECT_NAME"]}
    [lease] = leases().values()
    assert (lease["state"], lease["workers"]) == ("up", 2)
