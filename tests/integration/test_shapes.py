"""The two shapes of real projects (../shared/REAL_PROJECTS.md) adopted with a config only.

tests/projects/shape_a is a monorepo with its compose files in infra/docker/ (`../..` build
contexts and bind mounts, a proxying frontend, a Celery worker sharing the media volume, a
seed writing media); tests/projects/shape_b is laid out as a popular Django template
generates it (container_name, env_files with the database password, an entrypoint that builds
DATABASE_URL and the broker URL from them, no published database port, Celery worker + beat
+ flower, `COPY .` into the image). The only compose-gen file in each is its compose-gen.toml.

Each shape gets one 2-worker stack per run (module fixture; its tests stay on one xdist
worker through their group), brought up by the CLI as a user runs it: a subprocess from the
project root. The checks use Docker, HTTP and psycopg as independent oracles.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compose_gen.lifecycle import read_env_file
from tests.integration.helpers import (
    REPO,
    SERVICE_LABEL,
    answers,
    connect,
    container_of,
    containers,
    docker,
    get_json,
    http,
    labelled,
    local_images,
    nothing_labelled,
    query,
    remove_labelled,
    wait_for,
    with_database,
)

PROJECTS = REPO / "tests" / "projects"
# Seconds. The first `up` builds the projects' images, and CI hosts here are busy 2-core
# machines (load averages of 50+ seen): up's own deadline is raised, never the checks'.
UP_DEADLINE = 900
UP_TIMEOUT = UP_DEADLINE + 120
WORKERS = 2
AUTH_FAILED = "password authentication failed"


def copy_project(name: str, target: Path) -> Path:
    """A copy of tests/projects/<name>: tests never write into the repository."""
    shutil.copytree(PROJECTS / name, target, ignore=shutil.ignore_patterns(
        ".zenflow", "__pycache__", ".ruff_cache", ".pytest_cache", "db.sqlite3", "media",
        "celerybeat-schedule*"))
    return target


def compose_gen(cwd: Path, state_dir: str, *args: str,
                timeout: float = UP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """`compose-gen ARGS...` as a user runs it: a child process in `cwd`."""
    env = {**os.environ, **local_images(), "COMPOSE_GEN_STATE_DIR": state_dir}
    env.pop("ZENFLOW_TASK_ID", None)
    return subprocess.run([sys.executable, "-m", "compose_gen", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def outcome(proc: subprocess.CompletedProcess[str]) -> str:
    """compose-gen's own error line and the last errors quoted from the services' output."""
    lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    own = [line for line in lines if line.startswith("compose-gen")][:2]
    quoted = [line.strip() for line in lines
              if ("Error" in line or "error" in line) and line not in own][-3:]
    return f"exit {proc.returncode}: " + " | ".join(own + quoted or lines[-5:])


@dataclass
class ShapeStack:
    """A task of a fixture project as `up` left it, and what was seen when `up` returned."""

    project: Path
    task_id: str
    state_dir: str
    up: subprocess.CompletedProcess[str]
    up_seconds: float
    answered_at_return: dict[int, bool] = field(default_factory=dict)

    def project_name(self) -> str | None:
        """The Compose project of the task, when `up` got as far as rendering it."""
        env_file = self.project / ".zenflow" / "tasks" / self.task_id / ".env.task"
        return read_env_file(env_file).get("COMPOSE_PROJECT_NAME") if env_file.exists() else None

    def require_up(self) -> None:
        if self.up.returncode != 0:
            pytest.fail(f"compose-gen up failed ({self.up_seconds:.0f} s), {outcome(self.up)}")

    @property
    def env(self) -> dict[str, str]:
        return read_env_file(self.project / ".zenflow" / "tasks" / self.task_id / ".env.task")

    def base_url(self, i: int) -> str:
        return self.env[f"E2E_BASE_URL_W{i}"]

    def database_url(self, i: int) -> str:
        return self.env[f"DATABASE_URL_W{i}"]

    def services(self) -> dict[str, dict[str, Any]]:
        return {c["Config"]["Labels"].get(SERVICE_LABEL, c["Name"]): c
                for c in containers(self.task_id)}

    def hostname(self, service: str) -> str:
        return container_of(self.task_id, service)["Config"]["Hostname"]

    def logs(self, service: str) -> str:
        proc = subprocess.run(["docker", "logs", container_of(self.task_id, service)["Id"]],
                              capture_output=True, text=True, timeout=60)
        return proc.stdout + proc.stderr


def start_stack(project: Path, task_id: str, state_dir: str, *up_args: str,
                cwd: Path | None = None) -> ShapeStack:
    """`up` the task, then (at once, no waiting) probe each worker's base URL."""
    t0 = time.monotonic()
    proc = compose_gen(cwd or project, state_dir, *up_args, "up", "--task-id", task_id,
                       "--workers", str(WORKERS), "--timeout", str(UP_DEADLINE))
    stack = ShapeStack(project, task_id, state_dir, proc, time.monotonic() - t0)
    if proc.returncode == 0:
        for i in range(WORKERS):
            url = stack.env.get(f"E2E_BASE_URL_W{i}")
            stack.answered_at_return[i] = bool(url) and answers(url + "/")
    return stack


def project_leftovers(project_name: str) -> dict[str, list[str]]:
    """Containers, volumes and networks of a Compose project, by Compose's own label/names."""
    selector = f"label=com.docker.compose.project={project_name}"
    return {
        "containers": docker("ps", "-a", "--filter", selector, "--format", "{{.Names}}").split(),
        "volumes": [v for v in docker("volume", "ls", "--format", "{{.Name}}").split()
                    if v.startswith(f"{project_name}_")],
        "networks": [n for n in docker("network", "ls", "--format", "{{.Name}}").split()
                     if n.startswith(f"{project_name}_")],
    }


def stop_stack(stack: ShapeStack) -> subprocess.CompletedProcess[str]:
    return compose_gen(stack.project, stack.state_dir, "down", "--task-id", stack.task_id,
                       timeout=300)


def sweep(stack: ShapeStack, project_name: str | None) -> None:
    """Whatever a test left: `down`, then by label, then the task's built images."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        stop_stack(stack)
    remove_labelled(stack.task_id)
    if project_name:
        left = project_leftovers(project_name)
        if left["containers"]:
            docker("rm", "-f", "-v", *left["containers"], check=False)
        if left["networks"]:
            docker("network", "rm", *left["networks"], check=False)
        if left["volumes"]:
            docker("volume", "rm", "-f", *left["volumes"], check=False)
        images = docker("image", "ls", "--filter", f"reference={project_name}-*",
                        "--format", "{{.Repository}}:{{.Tag}}", check=False).split()
        if images:
            docker("image", "rm", "-f", *images, check=False)



@contextlib.contextmanager
def running_stack(tmp: Path, shape: str, prefix: str) -> Iterator[ShapeStack]:
    project = copy_project(shape, tmp / shape)
    state_dir = str(tmp / "state")
    os.makedirs(state_dir, exist_ok=True)
    stack = start_stack(project, f"{prefix}-{uuid.uuid4().hex[:8]}", state_dir)
    project_name = stack.project_name()
    try:
        yield stack
    finally:
        sweep(stack, project_name)


def not_running(stack: ShapeStack, expected: set[str]) -> dict[str, str]:
    """Services missing, exited, restarting, restarted or unhealthy (one word each)."""
    found = stack.services()
    bad = {name: "missing" for name in expected - set(found)}
    for name, c in found.items():
        state = c["State"]
        health = (state.get("Health") or {}).get("Status")
        if state["Status"] != "running" or state.get("Restarting"):
            bad[name] = f"{state['Status']} (exit {state.get('ExitCode')})"
        elif c.get("RestartCount"):
            bad[name] = f"restarted {c['RestartCount']}x"
        elif health == "unhealthy":
            bad[name] = "unhealthy"
    return bad


def auth_failures(stack: ShapeStack, database_service: str) -> list[str]:
    """Clients of the database whose logs show a refused password (the server's own log is
    left out: a test here tries the base file's password on purpose)."""
    return [name for name in stack.services()
            if name != database_service and AUTH_FAILED in stack.logs(name)]


def runs_under_init_and_never_restarted(stack: ShapeStack, database_service: str) -> None:
    """The database server has Docker's init as PID 1 (the override's `init: true`) and its log
    shows no crashed process nor the restart that follows one."""
    assert container_of(stack.task_id, database_service)["HostConfig"]["Init"] is True
    log = stack.logs(database_service)
    for mark in ("terminated by signal", "terminating any other active server processes"):
        assert mark not in log, log[-3000:]


def images_with_task_files(stack: ShapeStack) -> dict[str, str]:
    """Images the task's containers run that were built from the project, with .env.task."""
    found = {}
    images = {c["Config"]["Image"] for c in stack.services().values()}
    for image in sorted(images):
        if image.startswith("compose-gen-local/"):
            continue
        proc = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "--entrypoint", "find", image, "/",
             "-xdev", "-name", ".env.task"], capture_output=True, text=True, timeout=120)
        if proc.stdout.strip():
            found[image] = proc.stdout.strip().replace("\n", ", ")
    return found


def wait_task_done(base_url: str, run_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = get_json(f"{base_url}/api/tasks/{run_id}")
        return body if body["status"] == "done" else None

    return wait_for(done, timeout=90, what=f"task {run_id} sent via {base_url} to finish",
                    interval=0.5)


def check_tasks_stay_in_their_worker(stack: ShapeStack, worker_service: str) -> None:
    """Tasks sent via worker i run on worker i's Celery copy, against worker i's database."""
    wrong = []
    for i in range(WORKERS):
        base_url = stack.base_url(i)
        database = stack.database_url(i).rsplit("/", 1)[1]
        celery_host = stack.hostname(f"{worker_service}_w{i}")
        # Several tasks: with a broker shared between workers, some would land elsewhere.
        ids = []
        for _ in range(4):
            status, body = http("POST", f"{base_url}/api/tasks")
            assert status == 201, f"POST {base_url}/api/tasks: {status} {body[:200]!r}"
            ids.append(json.loads(body)["id"])
        for run_id in ids:
            run = wait_task_done(base_url, run_id)
            if (run["database"], run["worker"]) != (database, celery_host) or not run["result"]:
                wrong.append(f"w{i} task {run_id}: ran on {run['worker']} against "
                             f"{run['database']} (result in media: {bool(run['result'])})")
    assert not wrong, "; ".join(wrong)


def check_down_leaves_nothing(stack: ShapeStack) -> None:
    project_name = stack.env["COMPOSE_PROJECT_NAME"]
    proc = stop_stack(stack)
    assert proc.returncode == 0, f"down: {outcome(proc)}"
    assert nothing_labelled(stack.task_id), f"left by label: {labelled(stack.task_id)}"
    left = project_leftovers(project_name)
    assert not any(left.values()), f"left of project {project_name}: {left}"


# --- shape A: monorepo, compose files in infra/docker/ ---------------------------------------

SHAPE_A_SERVICES = {"db", "redis", *(f"{s}_w{i}" for s in ("backend", "celery", "frontend")
                                     for i in range(WORKERS))}
SHAPE_A_PASSWORD = "shape-secret"  # the base file's, in db's env and the hard-coded URLs
SHAPE_A_MEDIA = {"documents/page-001.png": b"\x89PNG", "documents/exam.pdf": b"%PDF"}

shape_a_group = pytest.mark.xdist_group("shape-a")


@pytest.fixture(scope="module")
def shape_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShapeStack]:
    with running_stack(tmp_path_factory.mktemp("shape-a"), "shape_a", "shape-a") as stack:
        yield stack


@shape_a_group
def test_shape_a_up_exits_0_from_the_project_root(shape_a: ShapeStack) -> None:
    shape_a.require_up()


@shape_a_group
def test_shape_a_every_service_is_running(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    assert not_running(shape_a, SHAPE_A_SERVICES) == {}


@shape_a_group
def test_shape_a_workers_answer_when_up_returns(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    assert shape_a.answered_at_return == {i: True for i in range(WORKERS)}


@shape_a_group
def test_shape_a_each_worker_has_its_own_database(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    seen = {i: get_json(f"{shape_a.base_url(i)}/api/whoami") for i in range(WORKERS)}
    databases = [seen[i]["database"] for i in range(WORKERS)]
    assert databases == [shape_a.database_url(i).rsplit("/", 1)[1] for i in range(WORKERS)]
    assert len(set(databases)) == WORKERS and "shape_a" not in databases
    for i in range(WORKERS):  # cloned from the seeded template
        assert "e2e-admin" in seen[i]["users"], f"w{i} has no seeded users: {seen[i]['users']}"


@shape_a_group
def test_shape_a_seeded_media_is_served_by_every_worker(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    for i in range(WORKERS):
        for name, magic in SHAPE_A_MEDIA.items():
            status, body = http("GET", f"{shape_a.base_url(i)}/media/{name}")
            assert (status, body[:len(magic)]) == (200, magic), f"w{i} /media/{name}: {status}"


@shape_a_group
def test_shape_a_celery_task_runs_in_its_own_worker_group(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    check_tasks_stay_in_their_worker(shape_a, "celery")
    brokers = {get_json(f"{shape_a.base_url(i)}/api/whoami")["broker"] for i in range(WORKERS)}
    assert len(brokers) == WORKERS, f"workers share a broker: {brokers}"


@shape_a_group
def test_shape_a_frontend_proxies_to_its_own_backend(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    for i in range(WORKERS):
        port = shape_a.env[f"FRONTEND_PORT_W{i}"]
        seen = get_json(f"http://127.0.0.1:{port}/api/whoami")
        assert seen["hostname"] == shape_a.hostname(f"backend_w{i}"), (
            f"frontend_w{i} reached {seen['hostname']}, not backend_w{i}")
        assert seen["database"] == shape_a.database_url(i).rsplit("/", 1)[1]


@shape_a_group
def test_shape_a_stack_uses_the_tasks_password_not_the_base_files(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    env = shape_a.env
    assert SHAPE_A_PASSWORD not in env["DATABASE_URL_W0"]
    base_url = f"postgresql://shape:{SHAPE_A_PASSWORD}@127.0.0.1:{env['POSTGRES_PORT']}/shape_a"
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        query(base_url, "SELECT 1")
    assert query(shape_a.database_url(0), "SELECT 1") == [(1,)]
    for name in ("backend_w0", "celery_w1"):
        environment = container_of(shape_a.task_id, name)["Config"]["Env"]
        assert not [e for e in environment if SHAPE_A_PASSWORD in e], name


@shape_a_group
def test_shape_a_no_service_fails_authentication(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    assert auth_failures(shape_a, "db") == []


@shape_a_group
def test_shape_a_database_runs_under_init_and_never_restarted(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    runs_under_init_and_never_restarted(shape_a, "db")


@shape_a_group
def test_shape_a_built_images_hold_no_task_files(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    assert images_with_task_files(shape_a) == {}


@shape_a_group
def test_shape_a_down_leaves_nothing(shape_a: ShapeStack) -> None:
    shape_a.require_up()
    assert not_running(shape_a, SHAPE_A_SERVICES) == {}, "a service died during the checks"
    check_down_leaves_nothing(shape_a)


@shape_a_group
def test_shape_a_up_with_config_from_another_directory(tmp_path: Path) -> None:
    project = copy_project("shape_a", tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state_dir = str(tmp_path / "state")
    stack = start_stack(project, f"shape-a-cfg-{uuid.uuid4().hex[:8]}", state_dir,
                        "--config", str(project / "compose-gen.toml"), cwd=elsewhere)
    project_name = stack.project_name()
    try:
        stack.require_up()
        assert stack.answered_at_return == {i: True for i in range(WORKERS)}
        assert get_json(f"{stack.base_url(0)}/api/whoami")["vendor"] == "postgresql"
        assert not (elsewhere / ".zenflow").exists(), "task files went to the working dir"
        check_down_leaves_nothing(stack)
    finally:
        sweep(stack, project_name)


# --- shape B: a Django-template project -------------------------------------------------------

SHAPE_B_SERVICES = {"postgres", "redis", "mailpit", "docs", "celerybeat", "flower",
                    *(f"{s}_w{i}" for s in ("django", "celeryworker") for i in range(WORKERS))}
SHAPE_B_ENV = PROJECTS / "shape_b" / ".envs" / ".local" / ".postgres"
SHAPE_B_MEDIA = {"documents/cover.png": b"\x89PNG", "documents/handbook.pdf": b"%PDF"}

shape_b_group = pytest.mark.xdist_group("shape-b")


def shape_b_base_credentials() -> dict[str, str]:
    return read_env_file(SHAPE_B_ENV)


@pytest.fixture(scope="module")
def shape_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShapeStack]:
    with running_stack(tmp_path_factory.mktemp("shape-b"), "shape_b", "shape-b") as stack:
        yield stack


@shape_b_group
def test_shape_b_up_exits_0_from_the_project_root(shape_b: ShapeStack) -> None:
    shape_b.require_up()


@shape_b_group
def test_shape_b_every_service_is_running(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    assert not_running(shape_b, SHAPE_B_SERVICES) == {}


@shape_b_group
def test_shape_b_container_names_do_not_collide_across_tasks(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    names = {c["Name"].lstrip("/") for c in shape_b.services().values()}
    fixed = {n for n in names if n.startswith("shape_b_local_")}
    assert not fixed, f"the base file's container_name kept (a second task would clash): {fixed}"


@shape_b_group
def test_shape_b_workers_answer_when_up_returns(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    assert shape_b.answered_at_return == {i: True for i in range(WORKERS)}


@shape_b_group
def test_shape_b_each_worker_has_its_own_database(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    base_name = shape_b_base_credentials()["POSTGRES_DB"]
    seen = {i: get_json(f"{shape_b.base_url(i)}/api/whoami") for i in range(WORKERS)}
    databases = [seen[i]["database"] for i in range(WORKERS)]
    assert databases == [shape_b.database_url(i).rsplit("/", 1)[1] for i in range(WORKERS)]
    assert len(set(databases)) == WORKERS and base_name not in databases
    for i in range(WORKERS):
        assert "e2e-admin" in seen[i]["users"], f"w{i} has no seeded users: {seen[i]['users']}"


@shape_b_group
def test_shape_b_seeded_media_is_served_by_every_worker(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    for i in range(WORKERS):
        for name, magic in SHAPE_B_MEDIA.items():
            status, body = http("GET", f"{shape_b.base_url(i)}/media/{name}")
            assert (status, body[:len(magic)]) == (200, magic), f"w{i} /media/{name}: {status}"
    # MEDIA_ROOT is a folder of the bind-mounted project: the seed must not write there.
    assert not (shape_b.project / "shape_b" / "media" / "documents").exists()


@shape_b_group
def test_shape_b_celery_task_runs_in_its_own_worker_group(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    check_tasks_stay_in_their_worker(shape_b, "celeryworker")


@shape_b_group
def test_shape_b_stack_uses_the_tasks_password_not_the_env_files(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    base = shape_b_base_credentials()
    env = shape_b.env
    assert "POSTGRES_PORT" in env, "the unpublished database got no port of the task's block"
    assert base["POSTGRES_PASSWORD"] not in env["DATABASE_URL_W0"]
    import psycopg

    base_url = (f"postgresql://{base['POSTGRES_USER']}:{base['POSTGRES_PASSWORD']}"
                f"@127.0.0.1:{env['POSTGRES_PORT']}/{base['POSTGRES_DB']}")
    with pytest.raises(psycopg.OperationalError):
        query(base_url, "SELECT 1")
    assert query(shape_b.database_url(0), "SELECT 1") == [(1,)]


@shape_b_group
def test_shape_b_no_service_fails_authentication(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    assert auth_failures(shape_b, "postgres") == []


@shape_b_group
def test_shape_b_database_runs_under_init_and_never_restarted(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    runs_under_init_and_never_restarted(shape_b, "postgres")


@shape_b_group
def test_shape_b_beat_reads_and_writes_the_base_database(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    base_db = with_database(shape_b.database_url(0), shape_b_base_credentials()["POSTGRES_DB"])

    def synced() -> bool:
        with connect(base_db) as conn:
            rows = conn.execute("SELECT last_synced_at FROM beat_periodictask "
                                "WHERE name = 'heartbeat'").fetchall()
        return bool(rows and rows[0][0])

    wait_for(synced, timeout=60, what="celerybeat to sync its schedule table in the base "
             "database", interval=1)


@shape_b_group
def test_shape_b_built_images_hold_no_task_files(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    assert images_with_task_files(shape_b) == {}


@shape_b_group
def test_shape_b_bind_mount_shows_no_task_secret(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    name = container_of(shape_b.task_id, "django_w0")["Id"]
    found = docker("exec", name, "find", "/app", "-name", ".env.task").strip()
    assert found == "", f"the project's bind mount shows the task's secrets: {found}"


@shape_b_group
def test_shape_b_down_leaves_nothing(shape_b: ShapeStack) -> None:
    shape_b.require_up()
    assert not_running(shape_b, SHAPE_B_SERVICES) == {}, "a service died during the checks"
    check_down_leaves_nothing(shape_b)
