"""`up` that fails, is interrupted or is killed: exit codes, messages, and nothing left behind.

Signals go to a `compose-gen up` child started in its own session; everything else runs the
CLI in-process. Each test waits for the task's database container to exist before it
interrupts, so the stack is really half built when the signal lands.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.integration.helpers import (
    TaskTracker,
    cli,
    copy_example,
    labelled,
    nothing_labelled,
    service_container_exists,
    signal_group,
    start_cli,
    wait_for,
)

NOTHING = {"containers": [], "volumes": [], "networks": []}


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    return copy_example("demo", tmp_path / "demo")


def leases() -> dict[str, dict]:
    path = Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json"
    return json.loads(path.read_text(encoding="utf-8"))["leases"] if path.exists() else {}


def test_gc_removes_a_stack_whose_up_was_killed(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    proc = start_cli(minimal_project, "up", "--task-id", task.task_id, "--workers", "1")
    try:
        wait_for(lambda: service_container_exists(task.task_id, "db"), timeout=60,
                 what="the task's db container")
    finally:
        # SIGKILL to the group, as a CI job's kill does: no Python, no Compose left to clean.
        signal_group(proc, signal.SIGKILL)
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert labelled(task.task_id)["containers"]
    [lease] = leases().values()
    assert (lease["task_id"], lease["state"]) == (task.task_id, "starting")

    assert cli(minimal_project, "gc") == 0
    out = capsys.readouterr().out
    assert f"task '{task.task_id}'" in out and "died before finishing" in out
    assert labelled(task.task_id) == NOTHING
    assert leases() == {}
    assert not task.dir.exists()

    assert task.up("--workers", "1") == 0  # the task is usable again


@pytest.mark.parametrize(("signum", "to_group", "sigint_ignored"), [
    (signal.SIGINT, True, False),   # Ctrl-C at a terminal: Python and its `docker compose` child
    (signal.SIGTERM, False, False),  # a CI cancel or `timeout`: the compose-gen process only
    # A script's background job starts with SIGINT ignored; `docker compose` takes it back.
    (signal.SIGINT, True, True),
], ids=["sigint-ctrl-c", "sigterm", "sigint-to-a-background-job"])
def test_an_interrupted_up_exits_130_and_leaves_nothing(
        demo_project: Path, unique_task_id: str, tasks: TaskTracker,
        signum: signal.Signals, to_group: bool, sigint_ignored: bool) -> None:
    task = tasks.add(demo_project, unique_task_id)
    proc = start_cli(demo_project, "up", "--task-id", task.task_id, "--workers", "1",
                     sigint_ignored=sigint_ignored)
    try:
        wait_for(lambda: service_container_exists(task.task_id, "db"), timeout=60,
                 what="the task's db container")
        if to_group:
            signal_group(proc, signum)
        else:
            proc.send_signal(signum)
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            signal_group(proc, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted" in err.strip().splitlines()[-1]
    assert labelled(task.task_id) == NOTHING
    assert leases() == {}
    assert not task.dir.exists()


def test_an_unreachable_docker_exits_3_with_one_line(
        demo_project: Path, unique_task_id: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    assert cli(demo_project, "up", "--task-id", unique_task_id, "--workers", "1") == 3
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("compose-gen: error: Docker is not reachable")
    assert "DOCKER_HOST=unix:///nonexistent.sock" in lines[0]
    assert leases() == {}


def test_a_failing_seed_exits_1_with_its_output_and_leaves_nothing(
        demo_project: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = demo_project / "compose-gen.toml"
    text = config.read_text(encoding="utf-8")
    old = 'seed_command = ["python", "seed_e2e.py"]'
    assert old in text
    config.write_text(text.replace(old, 'seed_command = ["python", "-c", '
                                        '"import sys; print(\'seed-says-boom\'); sys.exit(7)"]'),
                      encoding="utf-8")
    task = tasks.add(demo_project, unique_task_id)

    assert task.up("--workers", "1") == 1
    err = capsys.readouterr().err
    assert "seed-says-boom" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("compose-gen: error: the seed command")
    assert "(exit 7)" in last
    # Torn down: no server is left, so no template and no half-seeded database either.
    assert labelled(task.task_id) == NOTHING
    assert leases() == {}
    assert not task.dir.exists()


def test_more_workers_than_the_config_allows_exit_2(
        demo_project: Path, unique_task_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(demo_project, "up", "--task-id", unique_task_id, "--workers", "9") == 2
    assert "between 1 and 8" in capsys.readouterr().err
    assert nothing_labelled(unique_task_id)
    assert leases() == {}
