"""What the stack tests share: example copies, the CLI, Docker as an oracle, waiting.

Docker is queried with the docker CLI here, not through compose_gen.stack: the tests check
compose-gen's work with an independent tool.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from compose_gen.cli import main
from compose_gen.lifecycle import read_env_file
from tests._support.paths import EXAMPLES, REPO

LOCAL_IMAGES_FILE = REPO / "scripts" / "ci" / "local-images.env"
TASK_LABEL = "dev.compose-gen.task"
SERVICE_LABEL = "com.docker.compose.service"
T = TypeVar("T")


def local_images() -> dict[str, str]:
    """The DEMO_* variables that point the examples at the locally built images."""
    values = {}
    for line in LOCAL_IMAGES_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def copy_example(name: str, target: Path) -> Path:
    """A copy of examples/<name> in target: tests never write into the repository."""
    shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(
        ".zenflow", "node_modules", "test-results", "playwright-report", "__pycache__"))
    return target


# --- waiting ---------------------------------------------------------------------------------

def wait_for(condition: Callable[[], T], *, timeout: float, what: str,
             interval: float = 0.05) -> T:
    """Poll condition until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}")
        time.sleep(interval)


# --- the CLI ---------------------------------------------------------------------------------

def cli(project: Path, *args: str) -> int:
    """`compose-gen -C project ARGS...` in this process; its exit code."""
    return main(["-C", str(project), *args])


def start_cli(project: Path, *args: str, sigint_ignored: bool = False
              ) -> subprocess.Popen[str]:
    """`compose-gen -C project ARGS...` as a child in its own session (signals go to it only).

    sigint_ignored: started as a script's background job is, with SIGINT ignored (set by a
    Python that then execs compose-gen: an ignored signal stays ignored across exec).
    """
    argv = [sys.executable, "-m", "compose_gen.cli", "-C", str(project), *args]
    if sigint_ignored:
        argv = [sys.executable, "-c", "import os, signal, sys; "
                "signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])",
                *argv]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        start_new_session=True)


def signal_group(proc: subprocess.Popen[str], signum: signal.Signals) -> None:
    """What a terminal's Ctrl-C or a CI job's kill does: signal the whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signum)


@dataclass
class Task:
    """A task started by a test; `TaskTracker` brings it down whatever the test did."""

    project: Path
    task_id: str
    state_dir: str = field(default_factory=lambda: os.environ["COMPOSE_GEN_STATE_DIR"])

    @property
    def dir(self) -> Path:
        return self.project / ".zenflow" / "tasks" / self.task_id

    def env(self) -> dict[str, str]:
        return read_env_file(self.dir / ".env.task")

    def up(self, *args: str) -> int:
        return cli(self.project, "up", "--task-id", self.task_id, *args)

    def down(self, *args: str) -> int:
        return cli(self.project, "down", "--task-id", self.task_id, *args)


class TaskTracker:
    """Every task a test starts, torn down at the end (`compose-gen down`, then by label)."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []

    def add(self, project: Path, task_id: str) -> Task:
        task = Task(project, task_id)
        self.tasks.append(task)
        return task

    def tear_down(self) -> None:
        for task in self.tasks:
            saved = os.environ.get("COMPOSE_GEN_STATE_DIR")
            os.environ["COMPOSE_GEN_STATE_DIR"] = task.state_dir
            try:
                task.down()
            except Exception:  # noqa: BLE001 - the sweep below still runs
                pass
            finally:
                if saved is not None:
                    os.environ["COMPOSE_GEN_STATE_DIR"] = saved
            # A failed test must not leak a stack into the next ones.
            remove_labelled(task.task_id)


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ with values set, restored afterwards (for fixtures wider than a test)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# --- one resource per test run, whatever worker uses it -------------------------------------

def run_dir(basetemp: Path) -> Path:
    """A directory every xdist worker of this run shares (the workers' basetemps' parent)."""
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


@contextlib.contextmanager
def shared_by_workers(name: str, root: Path, start: Callable[[], dict[str, Any]],
                      stop: Callable[[dict[str, Any]], None]) -> Iterator[dict[str, Any]]:
    """Start something once per test run and stop it when its last user lets go.

    xdist may spread the tests that use it over every worker (and with pytest 9.2 its
    `loadgroup` no longer groups them: pytest-dev/pytest-xdist#1386), so a session fixture
    alone would start one copy per worker. The first user starts it under a file lock and
    records it; each worker counts itself in, and the last one out stops it.
    """
    from filelock import FileLock

    state_file = root / f"{name}.json"
    lock = FileLock(str(root / f"{name}.lock"))

    def read() -> dict[str, Any]:
        if state_file.exists():
            return json.loads(state_file.read_text(encoding="utf-8"))
        return {"users": 0, "value": None}

    with lock:
        state = read()
        if state["value"] is None:
            state["value"] = start()
        state["users"] += 1
        state_file.write_text(json.dumps(state), encoding="utf-8")
    try:
        yield state["value"]
    finally:
        with lock:
            state = read()
            state["users"] -= 1
            if state["users"] == 0:
                try:
                    stop(state["value"])
                finally:
                    state["value"] = None
            state_file.write_text(json.dumps(state), encoding="utf-8")


# --- Docker as the oracle --------------------------------------------------------------------

def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def labelled(task_id: str) -> dict[str, list[str]]:
    """Names of the containers, volumes and networks labelled with the task."""
    selector = f"label={TASK_LABEL}={task_id}"
    return {
        "containers": docker("ps", "-a", "--filter", selector, "--format", "{{.Names}}").split(),
        "volumes": docker("volume", "ls", "--filter", selector, "--format", "{{.Name}}").split(),
        "networks": docker("network", "ls", "--filter", selector,
                           "--format", "{{.Name}}").split(),
    }


def nothing_labelled(task_id: str) -> bool:
    return not any(labelled(task_id).values())


def remove_labelled(task_id: str) -> None:
    found = labelled(task_id)
    if found["containers"]:
        docker("rm", "-f", "-v", *found["containers"], check=False)
    if found["networks"]:
        docker("network", "rm", *found["networks"], check=False)
    if found["volumes"]:
        docker("volume", "rm", "-f", *found["volumes"], check=False)


def containers(task_id: str) -> list[dict[str, Any]]:
    """`docker inspect` of every container labelled with the task."""
    ids = docker("ps", "-aq", "--filter", f"label={TASK_LABEL}={task_id}").split()
    return json.loads(docker("inspect", *ids)) if ids else []


def container_of(task_id: str, service: str) -> dict[str, Any]:
    found = [c for c in containers(task_id) if c["Config"]["Labels"].get(SERVICE_LABEL) == service]
    assert len(found) == 1, f"expected one container of {service}, found {len(found)}"
    return found[0]


def service_container_exists(task_id: str, service: str) -> bool:
    return bool(docker("ps", "-aq", "--filter", f"label={TASK_LABEL}={task_id}",
                       "--filter", f"label={SERVICE_LABEL}={service}").split())


def host_bindings(container: dict[str, Any]) -> list[tuple[str, int]]:
    """(host ip, host port) of every published port of an inspected container."""
    return [(b["HostIp"], int(b["HostPort"]))
            for bindings in (container["NetworkSettings"]["Ports"] or {}).values()
            for b in bindings or ()]


# --- HTTP ------------------------------------------------------------------------------------

def http(method: str, url: str, body: bytes | None = None,
         content_type: str = "application/json") -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Content-Type": content_type} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get_json(url: str) -> Any:
    status, body = http("GET", url)
    assert status == 200, f"GET {url}: {status} {body[:200]!r}"
    return json.loads(body)


def post_json(url: str, data: Any) -> Any:
    status, body = http("POST", url, json.dumps(data).encode())
    assert status == 201, f"POST {url}: {status} {body[:200]!r}"
    return json.loads(body)


def answers(url: str) -> bool:
    try:
        return http("GET", url)[0] < 500
    except OSError:
        return False


# --- PostgreSQL ------------------------------------------------------------------------------

@contextlib.contextmanager
def connect(url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        yield conn


def query(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()  # type: ignore[arg-type]


def with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database
