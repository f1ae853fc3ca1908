"""Faults around `up`: a port taken by someone else, no free block at all, a database that
dies while `up` waits for it, a lease registry damaged under a running stack.

Each ends in a clear exit code and one-line message, never a Compose bind error or a
traceback, and leaves nothing of a stack that did not come up. (SIGKILL + gc, SIGINT,
Docker unreachable and a failing seed are in test_stack_failures.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_gen.ports import port_in_use
from tests.integration.helpers import (
    TaskTracker,
    cli,
    connect,
    container_of,
    containers,
    docker,
    host_bindings,
    labelled,
    query,
    wait_for,
)

NOTHING = {"containers": [], "volumes": [], "networks": []}


def registry_file() -> Path:
    return Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json"


def leases() -> dict[str, dict]:
    path = registry_file()
    return json.loads(path.read_text(encoding="utf-8"))["leases"] if path.exists() else {}


def lease_block(task_id: str) -> range:
    [lease] = [item for item in leases().values() if item["task_id"] == task_id]
    return range(lease["block_start"], lease["block_start"] + lease["block_size"])


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`compose-gen -C project ARGS...` as a user runs it: its real stderr, its exit code."""
    return subprocess.run([sys.executable, "-m", "compose_gen.cli", "-C", str(project), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


@contextlib.contextmanager
def listening(port: int) -> Iterator[socket.socket]:
    """A foreign process's listener on 127.0.0.1:port (this test's own socket)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield sock
    finally:
        sock.close()


def still_ours(listener: socket.socket, port: int) -> bool:
    """A connection to the port reaches our listener, not a container."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        listener.settimeout(5)
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"foreign")
            return client.recv(16) == b"foreign"


# --- a port of the task's block taken by someone else ----------------------------------------

@pytest.mark.xdist_group("stack-faults")
def test_a_foreign_listener_on_a_leased_port_moves_up_to_a_free_block(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    assert cli(minimal_project, "render", "--task-id", task.task_id, "--workers", "1") == 0
    leased = lease_block(task.task_id)
    taken = int(task.env()["POSTGRES_PORT"])
    assert taken in leased

    with listening(taken) as foreign:
        capsys.readouterr()
        assert task.up("--workers", "1") == 0
        _out, err = capsys.readouterr()

        moved = lease_block(task.task_id)
        env = task.env()
        assert taken not in moved and not set(moved) & set(leased)
        assert int(env["POSTGRES_PORT"]) in moved
        bindings = [b for c in containers(task.task_id) for b in host_bindings(c)]
        assert len(bindings) == 4  # db, redis, frontend, backend_w0
        for host_ip, host_port in bindings:
            assert host_ip == "127.0.0.1" and host_port in moved
        assert query(env["DATABASE_URL_W0"], "SELECT current_database()") == [("test_e2e_w0",)]
        assert still_ours(foreign, taken)
    assert "bind" not in err.lower() and "address already in use" not in err.lower()


def free_single_block() -> int:
    """The start of a 20-port block below the ephemeral range with no port in use."""
    rng = random.Random()
    for _ in range(200):
        start = rng.randrange(12000, 19000)
        if not any(port_in_use(port) for port in range(start, start + 20)):
            return start
    raise AssertionError("no free 20-port block found in 12000-19000")


@pytest.mark.parametrize("rendered_first", [False, True], ids=["fresh-task", "leased-task"])
def test_no_free_block_at_all_exits_4_in_one_line(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker, rendered_first: bool,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    start = free_single_block()
    monkeypatch.setenv("COMPOSE_GEN_PORTS_RANGE_START", str(start))
    monkeypatch.setenv("COMPOSE_GEN_PORTS_SLOTS", "1")  # the whole range: one block
    task = tasks.add(minimal_project, unique_task_id)
    if rendered_first:
        assert cli(minimal_project, "render", "--task-id", task.task_id) == 0
        assert int(task.env()["POSTGRES_PORT"]) == start
    before = leases()

    with listening(start) as foreign:
        capsys.readouterr()
        assert task.up("--workers", "1") == 4
        out, err = capsys.readouterr()
        assert still_ours(foreign, start)

    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("compose-gen: error: no free block of 20 ports in "
                               f"{start}-{start + 19} for task '{task.task_id}'")
    assert "Traceback" not in err and "bind" not in err.lower()
    assert "is up" not in out
    assert labelled(task.task_id) == NOTHING
    assert leases() == before  # a lease it had is kept, none is made up


# --- the database dies while `up` waits for it ----------------------------------------------

def kill_when_running(task_id: str, service: str, stop: threading.Event,
                      killed: list[str]) -> None:
    """Kill the service's container the moment it runs (retrying while it is only created)."""
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        ids = docker("ps", "-q", "--filter", f"label=dev.compose-gen.task={task_id}",
                     "--filter", f"label=com.docker.compose.service={service}",
                     "--filter", "status=running").split()
        if ids and docker("kill", ids[0], check=False).strip():
            killed.append(ids[0])
            return
        stop.wait(0.02)


@pytest.mark.xdist_group("stack-faults")
@pytest.mark.parametrize("how", ["killed-while-up-waits", "exits-after-starting"])
def test_a_database_that_dies_during_up_fails_naming_it_and_leaves_nothing(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker, how: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    killed: list[str] = []
    stop = threading.Event()
    killer = None
    if how == "exits-after-starting":
        compose = minimal_project / "docker-compose.yml"
        text = compose.read_text(encoding="utf-8")
        old = "    ports: [\"5435:5432\"]\n"
        assert old in text
        compose.write_text(text.replace(old, old + '    command: ["sh", "-c", "sleep 1; exit 3"]\n',
                                        1), encoding="utf-8")
    else:
        killer = threading.Thread(target=kill_when_running,
                                  args=(task.task_id, "db", stop, killed), daemon=True)
        killer.start()
    try:
        code = task.up("--workers", "1", "--timeout", "20")
    finally:
        stop.set()
        if killer is not None:
            killer.join(timeout=30)
    _out, err = capsys.readouterr()

    if killer is not None:
        assert killed, "the db container was never seen running"
    assert code in (1, 5), err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line: what failed, and Compose's reason
    assert lines[0].startswith("compose-gen: error: "), err
    assert re.search(r"\bdb\b", lines[0]), lines[0]  # names the database service
    assert "exited" in lines[0] or "did not become" in lines[0], lines[0]
    assert "Traceback" not in err and "internal error" not in err
    assert labelled(task.task_id) == NOTHING
    assert leases() == {}
    assert not task.dir.exists()


# --- the lease registry damaged under a running stack ----------------------------------------

@pytest.mark.xdist_group("stack-faults")
def test_a_lease_registry_damaged_under_a_running_stack_is_recovered_with_a_warning(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    assert task.up("--workers", "1") == 0
    registry = registry_file()
    raw = registry.read_bytes()

    def assert_recovered(proc: subprocess.CompletedProcess[str]) -> None:
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert re.search(r"compose-gen: WARNING: the lease registry .* was unreadable "
                         r"\(\w+\); moved it to .*corrupt", proc.stderr), proc.stderr
        if registry.exists():  # a new registry, whole
            json.loads(registry.read_text(encoding="utf-8"))

    # Cut in the middle, as a crash of a non-atomic writer would leave it.
    registry.write_bytes(raw[: len(raw) // 2])
    status = run_cli(minimal_project, "status", "--task-id", task.task_id, "--json")
    assert_recovered(status)
    [info] = json.loads(status.stdout)
    assert info["state"] == "running"  # the stack itself is untouched

    # Garbage: `up` takes a new lease and brings the stack to it.
    registry.write_bytes(b"\x00\xff{not json")
    assert_recovered(run_cli(minimal_project, "up", "--task-id", task.task_id,
                             "--workers", "1"))
    env = task.env()
    block = lease_block(task.task_id)
    assert int(env["POSTGRES_PORT"]) in block
    assert query(env["DATABASE_URL_W0"], "SELECT current_database()") == [("test_e2e_w0",)]
    db = container_of(task.task_id, "db")
    assert db["State"]["Status"] == "running"
    assert host_bindings(db) == [("127.0.0.1", int(env["POSTGRES_PORT"]))]

    # Empty (a full disk): `down` still removes everything.
    registry.write_bytes(b"")
    assert_recovered(run_cli(minimal_project, "down", "--task-id", task.task_id))
    assert labelled(task.task_id) == NOTHING
    assert leases() == {}
    assert not task.dir.exists()
    aside = list(registry.parent.glob("leases.json.corrupt-*"))
    assert aside, "the damaged registry was not kept for inspection"


@pytest.mark.xdist_group("stack-faults")
def test_a_stack_recreated_on_a_new_block_leaves_no_anonymous_volume_after_down(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    # redis's image declares VOLUME /data. When the lease is lost, the next `up` moves the task
    # to a new block and Compose recreates the containers, handing the old anonymous volume to
    # the new container by name, where `docker rm -v` no longer removes it.
    from tests.integration.helpers import copy_example

    project = copy_example("minimal", tmp_path / "minimal")
    task = tasks.add(project, unique_task_id)
    before = set(docker("volume", "ls", "-q").split())
    assert task.up("--workers", "1") == 0
    first_port = task.env()["REDIS_PORT"]
    registry_file().unlink()
    assert task.up("--workers", "1") == 0
    redis = container_of(task.task_id, "redis")
    anonymous = [m["Name"] for m in redis["Mounts"] if m["Type"] == "volume"
                 and re.fullmatch(r"[0-9a-f]{64}", m["Name"])]
    assert anonymous, "the test needs a service with an anonymous volume (redis's /data)"

    assert task.down() == 0

    assert labelled(task.task_id) == NOTHING
    left = set(docker("volume", "ls", "-q").split()) - before
    assert not set(anonymous) & left, f"anonymous volumes left after down: {left}"
    assert first_port  # the first up really ran on a block of its own


# --- an orphan dies in the database container ------------------------------------------------

@pytest.mark.xdist_group("stack-faults")
def test_an_orphan_dying_of_a_signal_in_the_database_container_ends_no_session(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    """A health probe that times out on a loaded machine leaves its `pg_isready` behind, to
    die of SIGPIPE on the closed output pipe. With PostgreSQL as PID 1 that orphan was reaped
    by the server, taken for a crashed backend, and every session of the task ended ("the
    database system is in recovery mode"); with Docker's init as PID 1 nothing happens."""
    task = tasks.add(minimal_project, unique_task_id)
    assert task.up("--workers", "1") == 0
    db = container_of(task.task_id, "db")["Id"]

    def in_db(script: str) -> str:
        return docker("exec", db, "sh", "-c", script, check=False)

    with connect(task.env()["DATABASE_URL_W0"]) as conn:
        session = conn.execute("SELECT pg_backend_pid()").fetchone()
        # The outer shell exits at once, orphaning its child, which writes its PID, waits on
        # a FIFO, then dies of SIGPIPE.
        in_db('rm -f /tmp/cg-fifo /tmp/cg-orphan; mkfifo /tmp/cg-fifo; '
              'sh -c "echo \\$\\$ > /tmp/cg-orphan; read x < /tmp/cg-fifo; kill -PIPE \\$\\$" '
              '>/dev/null 2>&1 </dev/null & exit 0')
        alive = 'kill -0 "$(cat /tmp/cg-orphan)" 2>/dev/null && echo alive'
        wait_for(lambda: "alive" in in_db(alive), timeout=30, what="the orphan to run")
        in_db("echo go > /tmp/cg-fifo")
        # kill -0 answers for a zombie too: once it fails, the orphan has been reaped, by
        # whichever process is PID 1.
        wait_for(lambda: "alive" not in in_db(alive), timeout=60, what="the orphan to be reaped")
        assert conn.execute("SELECT pg_backend_pid()").fetchone() == session
    logs = subprocess.run(["docker", "logs", db], capture_output=True, text=True, timeout=60)
    log = logs.stdout + logs.stderr
    assert "terminated by signal" not in log and "recovery mode" not in log, log[-3000:]
    assert container_of(task.task_id, "db")["HostConfig"]["Init"] is True
