"""The demo backend's own suites on real stacks, through compose-gen's pytest plugin.

Two tasks are up at once; each runs the same `pytest -n 4 -m api` suite at the same time as
the other, and both must pass with exact per-worker counts: every worker on its own database
of its own task's server. Then a worker is made to crash: its replacement gets a database of
its own on demand and the run leaves no database, media dir or claim behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from compose_gen.database import MAINTENANCE_DB, with_database
from compose_gen.envfile import read_env_file
from compose_gen.media import task_scratch_dir

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Meant for one worker under `--dist loadgroup` (scripts/test.sh); see Stacks for when not.
pytestmark = pytest.mark.xdist_group("plugin-suites")
# What the api suite does, summed over its workers: 1+2+3+5+8 bulk inserts, a duplicate's
# first insert, a form post and two exams created to be deleted.
API_INSERTS = 23
API_DELETES = 2
API_TESTS = 20


def demo_env(state_dir: Path) -> dict[str, str]:
    """This process's environment, the locally built images, a private lease registry."""
    env = {k: v for k, v in os.environ.items() if k != "ZENFLOW_TASK_ID"}
    for line in (REPO / "scripts" / "ci" / "local-images.env").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    env["COMPOSE_GEN_STATE_DIR"] = str(state_dir)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def copy_demo(target: Path) -> Path:
    shutil.copytree(REPO / "examples" / "demo", target, ignore=shutil.ignore_patterns(
        ".zenflow", "node_modules", "test-results", "playwright-report", "__pycache__",
        ".pytest_cache"))
    return target


@dataclass(frozen=True)
class Task:
    id: str
    project: Path
    env: dict[str, str]

    @property
    def settings(self) -> dict[str, str]:
        return read_env_file(self.project / ".zenflow" / "tasks" / self.id / ".env.task")

    @property
    def admin_url(self) -> str:
        return with_database(self.settings["DATABASE_URL"], MAINTENANCE_DB)

    def databases(self) -> list[str]:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return [row[0] for row in conn.execute("SELECT datname FROM pg_database")]

    def pytest(self, *args: str, extra_env: dict[str, str] | None = None
               ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(BIN / "pytest"), "-p", "no:cacheprovider", *args],
            cwd=self.project / "backend", env={**self.env, "ZENFLOW_TASK_ID": self.id,
                                               **(extra_env or {})},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str], timeout: float = 900) -> tuple[int, str]:
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"timed out after {timeout:.0f} s:\n{output[-4000:]}")
    return proc.returncode, output


class Stacks:
    """Tasks of one demo copy, each booted the first time a test asks for it, downed at the end.

    A test that needs one task boots one: under xdist this module's tests may land on several
    workers (pytest-xdist's loadgroup does not group with pytest 9), each with its own Stacks.
    """

    def __init__(self, project: Path, env: dict[str, str]) -> None:
        self.project = project
        self.env = env
        self.suffix = uuid.uuid4().hex[:6]
        self.booted: dict[str, Task] = {}

    def get(self, *names: str) -> tuple[Task, ...]:
        wanted = [Task(f"suites-{name}-{self.suffix}", self.project, self.env)
                  for name in names if name not in self.booted]
        ups = [subprocess.Popen([str(BIN / "compose-gen"), "up", "--task-id", task.id,
                                 "--workers", "1"], cwd=self.project, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for task in wanted]  # booted side by side
        for name, task in zip([n for n in names if n not in self.booted], wanted, strict=True):
            self.booted[name] = task
        for task, proc in zip(wanted, ups, strict=True):
            code, output = _finish(proc, timeout=600)
            assert code == 0, f"up of {task.id} failed:\n{output}"
        return tuple(self.booted[name] for name in names)

    def down(self) -> None:
        for task in self.booted.values():
            subprocess.run([str(BIN / "compose-gen"), "down", "--task-id", task.id],
                           cwd=self.project, env=self.env, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory, docker_engine: None) -> Iterator[Stacks]:
    state = tmp_path_factory.mktemp("state")
    project = copy_demo(tmp_path_factory.mktemp("demo") / "demo")
    pool = Stacks(project, demo_env(state))
    try:
        yield pool
    finally:
        pool.down()


@pytest.fixture
def two_tasks(stacks: Stacks) -> tuple[Task, Task]:
    return stacks.get("a", "b")  # type: ignore[return-value]


@pytest.fixture
def one_task(stacks: Stacks) -> Task:
    return stacks.get("a")[0]


def _worker_databases(task: Task) -> list[str]:
    return [name for name in task.databases() if "_pt_" in name]


def test_two_tasks_run_the_same_api_suite_at_once(two_tasks: tuple[Task, Task],
                                                  tmp_path: Path) -> None:
    runs = []
    for task in two_tasks:
        reports = tmp_path / task.id
        reports.mkdir()
        runs.append((task, reports, task.pytest(
            "-n", "4", "-m", "api", "--dist", "loadscope",
            extra_env={"DEMO_API_REPORT_DIR": str(reports)})))
    results = [(task, reports, *_finish(proc)) for task, reports, proc in runs]

    ports = {task.id: int(task.settings["POSTGRES_PORT"]) for task in two_tasks}
    assert len(set(ports.values())) == 2
    databases: set[tuple[int, str]] = set()
    for task, reports, code, output in results:
        assert code == 0, f"the api suite of {task.id} failed:\n{output[-6000:]}"
        assert f"{API_TESTS} passed" in output
        workers = [json.loads(path.read_text()) for path in sorted(reports.glob("*.json"))]
        assert len(workers) >= 2, output  # loadscope spreads the 4 classes over the workers
        for worker in workers:
            assert worker["task_id"] == task.id
            assert worker["server_port"] == ports[task.id]
            assert worker["worker_id"] in worker["database"]
            # exact: the seed's 3 exams plus what this worker did, nothing from anyone else
            assert worker["exams"] == worker["expected_exams"] \
                == 3 + worker["inserted"] - worker["deleted"]
            databases.add((worker["server_port"], worker["database"]))
        assert sum(w["inserted"] for w in workers) == API_INSERTS
        assert sum(w["deleted"] for w in workers) == API_DELETES
        media_roots = {w["media_root"] for w in workers}
        assert len(media_roots) == len(workers)
        project_name = task.settings["COMPOSE_PROJECT_NAME"]
        assert all(f"/{project_name}/" in root for root in media_roots)
        assert not any(Path(root).exists() for root in media_roots)
    assert len(databases) == sum(len(list(r.glob("*.json"))) for _, r, _, _ in results)

    for task in two_tasks:  # every worker database was dropped at the end of its session
        assert _worker_databases(task) == []
        claims = task.project / ".zenflow" / "tasks" / task.id / "pytest-claims"
        assert list(claims.glob("*.json")) == []
        assert not task_scratch_dir(task.settings["COMPOSE_PROJECT_NAME"]).exists()


CRASHING_SUITE = """
    import os
    from pathlib import Path

    import pytest

    pytestmark = pytest.mark.api
    SEEN = Path(os.environ["CRASH_SEEN"])


    @pytest.mark.parametrize("n", range(6))
    def test_a_worker_database_of_its_own(compose_gen_worker, n):
        with SEEN.open("a") as fh:
            fh.write(f"{compose_gen_worker.worker_id} {compose_gen_worker.database}\\n")
        if n == 2 and not SEEN.with_suffix(".crashed").exists():
            SEEN.with_suffix(".crashed").write_text("once")
            os._exit(3)  # the worker process dies mid-session, its database still there
        assert compose_gen_worker.database.endswith("_" + compose_gen_worker.worker_id)
"""


def test_a_crashed_worker_is_replaced_and_its_database_dropped(one_task: Task,
                                                               tmp_path: Path) -> None:
    task = one_task
    suite = task.project / "backend" / f"crash_{uuid.uuid4().hex[:6]}"
    suite.mkdir()
    (suite / "test_crash.py").write_text(textwrap.dedent(CRASHING_SUITE))
    seen = tmp_path / "seen.txt"
    try:
        code, output = _finish(task.pytest("-n", "1", "-v", str(suite),
                                           extra_env={"CRASH_SEEN": str(seen)}))
    finally:
        shutil.rmtree(suite)
    assert code == 1, output
    assert "worker 'gw0' crashed while running" in output
    assert "1 failed, 5 passed" in output
    lines = [line.split() for line in seen.read_text().splitlines()]
    by_worker = {worker: database for worker, database in lines}
    assert sorted(by_worker) == ["gw0", "gw1"]  # gw1: the replacement, created on demand
    assert by_worker["gw0"] != by_worker["gw1"]
    # The controller dropped the crashed worker's database; gw1 dropped its own.
    assert _worker_databases(task) == []


def test_the_template_is_found_on_the_server_without_the_lease(one_task: Task,
                                                              tmp_path: Path) -> None:
    """pytest run with another lease registry than `up` had: the server still knows."""
    task = one_task
    code, output = _finish(task.pytest("-n", "1", "-m", "api", "-k", "TestSeededDatabase",
                                       extra_env={"COMPOSE_GEN_STATE_DIR": str(tmp_path)}))
    assert code == 0, output[-4000:]
    assert "4 passed" in output


# --- a Django project with pytest-django -----------------------------------------------------

DJANGO_SETTINGS = """
    import os
    from urllib.parse import urlsplit

    # As the guide says: DATABASES from the environment, which the plugin filled in from the
    # task's .env.task before pytest-django imported this module.
    db = urlsplit(os.environ.get("DATABASE_URL", "postgresql://demo:demo@127.0.0.1:5435/demo"))
    SECRET_KEY = "not-a-secret"
    USE_TZ = True
    INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": db.path.lstrip("/"),
        "USER": db.username, "PASSWORD": db.password, "HOST": db.hostname,
        "PORT": os.environ.get("FORCE_PORT") or db.port,
    }}
    MEDIA_ROOT = os.environ.get("FIXED_MEDIA_ROOT") or os.environ["COMPOSE_GEN_MEDIA_ROOT"]
"""

DJANGO_TESTS = """
    import os
    import time

    import pytest
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection


    @pytest.mark.django_db
    @pytest.mark.parametrize("n", range(6))
    def test_each_worker_has_its_own_test_database(n):
        worker = os.environ["PYTEST_XDIST_WORKER"]
        assert connection.settings_dict["NAME"] == f"test_demo_{worker}"
        assert str(connection.settings_dict["PORT"]) == os.environ["POSTGRES_PORT"]
        assert settings.MEDIA_ROOT == os.environ["COMPOSE_GEN_MEDIA_ROOT"]
        User.objects.create(username=f"user-{n}")
        assert User.objects.count() == 1
        time.sleep(0.2)
"""


# pytest-django is an optional companion of the plugin: these run where it is installed
# (with Django), and are skipped before any stack is started where it is not.
needs_django = pytest.mark.skipif(
    importlib.util.find_spec("pytest_django") is None or importlib.util.find_spec("django") is None,
    reason="pytest-django and Django are not installed")


# A project that is not media-safe: with $FIXED_MEDIA_ROOT every test of every worker writes
# its upload into one directory. (A fixed MEDIA_ROOT in the settings module alone no longer
# is one: the plugin gives each worker its own MEDIA_ROOT before the first test.)
DJANGO_CONFTEST = """
    import os

    import pytest


    @pytest.fixture(autouse=True)
    def _fixed_media_root(settings):
        fixed = os.environ.get("FIXED_MEDIA_ROOT")
        if fixed:
            settings.MEDIA_ROOT = fixed
            os.makedirs(fixed, exist_ok=True)
            with open(os.path.join(fixed, f"upload-{os.getpid()}.txt"), "w") as fh:
                fh.write("x")
"""


@pytest.fixture
def django_project(one_task: Task) -> Iterator[Path]:
    project = one_task.project / f"djapp_{uuid.uuid4().hex[:6]}"
    project.mkdir()
    (project / "pytest.ini").write_text(
        "[pytest]\nDJANGO_SETTINGS_MODULE = djsettings\npythonpath = .\n")
    (project / "djsettings.py").write_text(textwrap.dedent(DJANGO_SETTINGS))
    (project / "test_django.py").write_text(textwrap.dedent(DJANGO_TESTS))
    (project / "conftest.py").write_text(textwrap.dedent(DJANGO_CONFTEST))
    yield project
    shutil.rmtree(project, ignore_errors=True)


def _django_run(task: Task, project: Path, **extra_env: str) -> tuple[int, str]:
    proc = subprocess.Popen([str(BIN / "pytest"), "-p", "no:cacheprovider", "-n", "2"],
                            cwd=project, env={**task.env, "ZENFLOW_TASK_ID": task.id,
                                              **extra_env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return _finish(proc)


@needs_django
def test_pytest_django_test_databases_live_on_the_tasks_server(one_task: Task,
        django_project: Path) -> None:
    task = one_task
    code, output = _django_run(task, django_project)
    assert code == 0, output[-6000:]
    assert "6 passed" in output


@needs_django
def test_pytest_django_settings_off_the_tasks_server_fail_loudly(one_task: Task,
        django_project: Path) -> None:
    task = one_task
    code, output = _django_run(task, django_project, FORCE_PORT="5435")
    assert code == 1
    assert "DATABASES['default'] points at 127.0.0.1:5435, not at the server of task" in output
    assert "passed" not in output.splitlines()[-1]


@needs_django
def test_pytest_django_workers_sharing_media_root_fail_loudly(one_task: Task,
        django_project: Path, tmp_path: Path) -> None:
    task = one_task
    code, output = _django_run(task, django_project,
                               FIXED_MEDIA_ROOT=str(tmp_path / "korrigo_test"))
    assert code == 1, output[-4000:]
    assert "MEDIA_ROOT" in output and "is already used by worker gw" in output
