"""Django backend suites, unchanged, under the plugin on real task stacks (issue 11).

`ZENFLOW_TASK_ID=T pytest -n 4` from the project's backend folder, the config found in a
parent: the suite gives the same results as a plain 1-process run; each xdist worker's test
database is a clone of a migrated template (no migration runs in a worker: the migrations'
`applied` times predate the run and are the same in every worker); pytest-django's options
keep their meaning; two tasks run at once on their own servers; a project whose tests really
share one media dir between workers is stopped; a task that cannot be served stops the run
with one line. The suite is tests/_support/django_project.py's (65 migrations, an autouse
fixture that gives each test its own MEDIA_ROOT, --strict-markers, filterwarnings = error).

This module runs in whichever pytest runs it: `scripts/test_pytest9.sh` runs it on pytest 9,
compose-gen's own venv on pytest 8; the suites below run with the same interpreter's pytest.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compose_gen.envfile import read_env_file
from tests._support.django_project import write_django_project
from tests.integration.helpers import local_images

BIN = Path(sys.executable).parent
TESTS_IN_SUITE = 19
pytestmark = [
    pytest.mark.xdist_group("plugin-django"),
    pytest.mark.skipif(
        not all(__import__("importlib").util.find_spec(m) for m in ("django", "pytest_django",
                                                                    "xdist")),
        reason="needs Django, pytest-django and pytest-xdist"),
]


@dataclass(frozen=True)
class ShopTask:
    id: str
    root: Path
    env: dict[str, str]

    @property
    def backend(self) -> Path:
        return self.root / "backend"

    @property
    def settings(self) -> dict[str, str]:
        return read_env_file(self.root / ".zenflow" / "tasks" / self.id / ".env.task")

    def pytest(self, *args: str, cwd: Path | None = None, task: bool = True,
               **extra_env: str) -> subprocess.Popen[str]:
        env = {**self.env, **extra_env}
        if task:
            env["ZENFLOW_TASK_ID"] = self.id
        return subprocess.Popen(
            [str(BIN / "python"), "-m", "pytest", "-p", "no:cacheprovider", *args],
            cwd=cwd or self.backend, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 900) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"timed out after {timeout:.0f} s:\n{out[-4000:]}\n{err[-2000:]}")
    return proc.returncode, out, err


def base_env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "ZENFLOW_TASK_ID" and not k.startswith(("COMPOSE_GEN_", "PYTEST_"))}
    env.update(local_images())
    env["COMPOSE_GEN_STATE_DIR"] = str(state)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class Tasks:
    """Shop projects, each with a task booted on first use, all downed at the end."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.suffix = uuid.uuid4().hex[:6]
        self.booted: dict[str, ShopTask] = {}

    def get(self, *names: str) -> tuple[ShopTask, ...]:
        new = [name for name in names if name not in self.booted]
        procs = []
        for name in new:
            project = self.root / name
            write_django_project(project)
            task = ShopTask(f"dj-{name}-{self.suffix}", project, self.env)
            self.booted[name] = task
            procs.append((task, subprocess.Popen(
                [str(BIN / "compose-gen"), "up", "--task-id", task.id, "--workers", "1"],
                cwd=project, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True)))
        for task, proc in procs:  # booted side by side
            code, out, _ = finish(proc, timeout=600)
            assert code == 0, f"up of {task.id} failed:\n{out}"
        return tuple(self.booted[name] for name in names)

    def down(self) -> None:
        for task in self.booted.values():
            subprocess.run([str(BIN / "compose-gen"), "down", "--task-id", task.id],
                           cwd=task.root, env=self.env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[Tasks]:
    pool = Tasks(tmp_path_factory.mktemp("shops"), base_env(tmp_path_factory.mktemp("state")))
    try:
        yield pool
    finally:
        pool.down()


def outcomes(junit: Path) -> dict[str, str]:
    """test id -> passed/failed/error/skipped, from a JUnit XML report."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        result[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return result


def reports(directory: Path) -> list[dict[str, str]]:
    return [json.loads(line) for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_text().splitlines()]


def test_the_unchanged_suite_passes_at_n4_on_clones_of_a_migrated_template(
        tasks: Tasks, tmp_path: Path) -> None:
    (task,) = tasks.get("a")
    settings = task.settings
    # The project's own plain run: one process, no compose-gen, the task's server by hand.
    code, out, err = finish(task.pytest(
        "-p", "no:compose_gen", f"--junitxml={tmp_path / 'plain.xml'}", task=False,
        DATABASE_URL=settings["DATABASE_URL"]))
    assert code == 0, out[-4000:] + err[-2000:]
    plain = outcomes(tmp_path / "plain.xml")
    assert len(plain) == TESTS_IN_SUITE

    runs = []
    for i in (1, 2):  # the first run may build the template; the second must only clone
        report = tmp_path / f"run{i}"
        report.mkdir()
        started = time.time()
        code, out, err = finish(task.pytest("-n", "4", "--create-db",
                                            f"--junitxml={tmp_path / f'run{i}.xml'}",
                                            SHOP_REPORT_DIR=str(report)))
        assert code == 0, out[-6000:] + err[-2000:]
        assert f"compose-gen: task '{task.id}' (from $ZENFLOW_TASK_ID)" in out
        assert outcomes(tmp_path / f"run{i}.xml") == plain
        runs.append((started, reports(report)))

    for _started, rows in runs:
        workers = {row["worker"] for row in rows}
        assert len(workers) >= 2, rows  # really spread over xdist workers
        assert {row["port"] for row in rows} == {settings["POSTGRES_PORT"]}
        databases = {row["worker"]: row["database"] for row in rows}
        assert all(db == f"test_shop_{worker}" for worker, db in databases.items())
        # One migration state for every worker: each worker's database is the same template's
        # copy (workers migrating themselves would record their own times).
        assert len({row["applied"] for row in rows}) == 1, rows
        # Media: each test its own dir (the project's autouse fixture), no guard tripped.
        assert len({row["media_root"] for row in rows}) == len(rows)
    started, rows = runs[1]
    applied = calendar.timegm(time.strptime(rows[0]["applied"][:19], "%Y-%m-%d %H:%M:%S"))
    assert applied < started - 1, "a worker ran migrations in the second run"


def test_reuse_db_and_no_migrations_keep_pytest_djangos_meaning(tasks: Tasks,
                                                                tmp_path: Path) -> None:
    (task,) = tasks.get("a")
    seen = []
    for i, options in enumerate((["--reuse-db"], ["--reuse-db"], ["--no-migrations"])):
        report = tmp_path / f"run{i}"
        report.mkdir()
        code, out, err = finish(task.pytest("-n", "2", *options, SHOP_REPORT_DIR=str(report)))
        assert code == 0, out[-6000:] + err[-2000:]
        seen.append(reports(report))
    first, second, bare = seen
    # --reuse-db: the databases outlive the run and are used again, migrations and all.
    assert {r["applied"] for r in first} == {r["applied"] for r in second} != {None}
    # --no-migrations: pytest-django builds the tables from the models; nothing was migrated.
    assert {r["applied"] for r in bare} == {None}


def test_two_tasks_run_the_suite_at_once_each_on_its_own_server(tasks: Tasks,
                                                                tmp_path: Path) -> None:
    both = tasks.get("a", "b")
    procs = []
    for task in both:
        report = tmp_path / task.id
        report.mkdir()
        procs.append((task, report, task.pytest("-n", "4", "--create-db",
                                                SHOP_REPORT_DIR=str(report))))
    ports = set()
    for task, report, proc in procs:
        code, out, err = finish(proc)
        assert code == 0, out[-6000:] + err[-2000:]
        assert f"{TESTS_IN_SUITE} passed" in out
        rows = reports(report)
        assert {row["port"] for row in rows} == {task.settings["POSTGRES_PORT"]}
        ports |= {row["port"] for row in rows}
    assert len(ports) == 2


def test_a_media_dir_really_shared_by_two_workers_stops_them(tasks: Tasks,
                                                             tmp_path: Path) -> None:
    (task,) = tasks.get("a")
    shared = tmp_path / "korrigo_test"
    code, out, err = finish(task.pytest("-n", "2", "-k", "uploads",
                                        SHOP_SHARED_MEDIA=str(shared)))
    assert code == 1, out[-4000:]
    assert "MEDIA_ROOT" in out and "is already used by worker gw" in out
    # The opt-out: a project that handles media itself is left alone.
    shutil.rmtree(shared, ignore_errors=True)
    code, out, err = finish(task.pytest("-n", "2", "-k", "uploads", "--compose-gen-media=off",
                                        SHOP_SHARED_MEDIA=str(shared)))
    assert code == 0, out[-4000:]
    assert "is already used" not in out


def test_without_a_config_the_run_stops_with_one_line(tasks: Tasks, tmp_path: Path) -> None:
    (task,) = tasks.get("a")
    alone = tmp_path / "backend"  # the backend folder without the repository around it
    shutil.copytree(task.backend, alone)
    code, out, err = finish(task.pytest("-n", "4", cwd=alone))
    assert code == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"ERROR: compose-gen: task '{task.id}' (from $ZENFLOW_TASK_ID) "
                               "is asked for but cannot be isolated: no compose-gen "
                               "configuration in")
    assert "passed" not in out and "collected" not in out


# --- the shape fixture projects (tests/projects), unchanged ----------------------------------

SHAPES = Path(__file__).resolve().parents[1] / "projects"
# Where each shape's backend suite runs from, how it is pointed at PostgreSQL (shape A's
# default settings are SQLite), the pytest major it pins, what it imports beyond Django.
SHAPE_RUNS = {
    "shape_a": {"cwd": "backend", "args": ["--ds=config.settings_postgres"], "pytest": 8,
                "imports": ("celery",)},
    "shape_b": {"cwd": ".", "args": [], "pytest": 9, "imports": ("celery", "environ")},
}
DB_ONLY_COMPOSE = """\
services:
  db:
    image: ${DEMO_POSTGRES_IMAGE:-postgres:16-alpine}
    ports: ["5432"]
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: app, POSTGRES_DB: app}
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U app -d app"]
      interval: 1s
      timeout: 3s
      retries: 60
"""
DB_ONLY_CONFIG = """\
compose_files = ["docker-compose.yml"]
project_prefix = "shp"
[ports]
names = { db = "POSTGRES_PORT" }
[database]
service = "db"
user = "app"
name = "app"
"""


def _shape_skip(shape: str) -> str | None:
    import importlib.util

    spec = SHAPE_RUNS[shape]
    if not (SHAPES / shape).is_dir():
        return f"tests/projects/{shape} is not in this checkout"
    if int(pytest.__version__.split(".")[0]) < int(spec["pytest"]):  # type: ignore[call-overload]
        return f"{shape} pins pytest {spec['pytest']}: scripts/test_pytest9.sh runs it"
    missing = [m for m in spec["imports"] if importlib.util.find_spec(m) is None]  # type: ignore[attr-defined]
    if missing:
        return f"{shape}'s backend imports {', '.join(missing)}, not installed here"
    return None


def _databases(url: str) -> dict[str, str | None]:
    """test database -> the `applied` time of its last migration, on the task's server."""
    import psycopg

    from compose_gen.database import with_database

    found = {}
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%\\_gw%'")]
    for name in names:
        with psycopg.connect(with_database(url, name), autocommit=True) as conn:
            found[name] = conn.execute("SELECT max(applied)::text FROM django_migrations"
                                       ).fetchone()[0]
    return found


def _pytest_major() -> int:
    return int(pytest.__version__.split(".")[0])


# A shape pinned to a newer pytest is not collected here (scripts/test_pytest9.sh runs it in a
# second venv), rather than skipped: a skipped Docker test fails CI.
@pytest.mark.parametrize("shape", sorted(
    shape for shape, spec in SHAPE_RUNS.items()
    if _pytest_major() >= int(spec["pytest"])))  # type: ignore[call-overload]
def test_a_shape_suite_unchanged_passes_at_n4_like_its_plain_run(
        shape: str, tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> None:
    reason = _shape_skip(shape)
    if reason:
        pytest.skip(reason)
    spec = SHAPE_RUNS[shape]
    root = tmp_path_factory.mktemp(shape)
    project = root / shape
    shutil.copytree(SHAPES / shape, project, ignore=shutil.ignore_patterns(
        ".zenflow", "node_modules", ".ruff_cache", "__pycache__", ".pytest_cache"))
    # A db-only compose-gen config next to the copy (the shape's own starts its whole stack):
    # named by $COMPOSE_GEN_CONFIG, as a project may.
    stack = root / "db-only"
    stack.mkdir()
    (stack / "docker-compose.yml").write_text(DB_ONLY_COMPOSE)
    (stack / "compose-gen.toml").write_text(DB_ONLY_CONFIG)
    env = base_env(tmp_path_factory.mktemp("state"))
    task_id = f"{shape.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    up = subprocess.run([str(BIN / "compose-gen"), "up", "--task-id", task_id, "--workers", "1"],
                        cwd=stack, env=env, capture_output=True, text=True, timeout=600)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        settings = read_env_file(stack / ".zenflow" / "tasks" / task_id / ".env.task")
        cwd = project / str(spec["cwd"])
        run = ShopTask(task_id, project, {**env, "COMPOSE_GEN_CONFIG": str(
            stack / "compose-gen.toml")})
        args = [*spec["args"]]  # type: ignore[misc]
        plain_code, out, err = finish(run.pytest(
            *args, "-p", "no:compose_gen", f"--junitxml={root / 'plain.xml'}", cwd=cwd,
            task=False, DATABASE_URL=settings["DATABASE_URL"]))
        plain = outcomes(root / "plain.xml")
        assert plain, out[-3000:] + err[-2000:]
        code, out, err = finish(run.pytest(*args, "-n", "4", "--create-db",
                                           f"--junitxml={root / 'n4.xml'}", cwd=cwd))
        assert f"compose-gen: task '{task_id}' (from $ZENFLOW_TASK_ID)" in out, out + err
        assert outcomes(root / "n4.xml") == plain, out[-6000:]
        assert code == plain_code
        # The databases of a --reuse-db run outlive it: every worker's is a clone of the one
        # migrated template, migrated before the run started.
        started = time.time()
        code, out, err = finish(run.pytest(*args, "-n", "4", "--reuse-db",
                                           f"--junitxml={root / 'reuse.xml'}", cwd=cwd))
        assert outcomes(root / "reuse.xml") == plain and code == plain_code, out[-6000:]
        applied = _databases(settings["DATABASE_URL"])
        assert len(applied) >= 2, (applied, out[-3000:])
        assert len(set(applied.values())) == 1 and None not in applied.values(), applied
        last = calendar.timegm(time.strptime(next(iter(applied.values()))[:19],
                                             "%Y-%m-%d %H:%M:%S"))
        assert last < started - 1
    finally:
        subprocess.run([str(BIN / "compose-gen"), "down", "--task-id", task_id], cwd=stack,
                       env=env, capture_output=True, timeout=300)
