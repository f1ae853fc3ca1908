"""pytest plugin (entry point `pytest11`): a task's own database and media dir per xdist worker.

Inert until a compose-gen task is found: `--compose-gen-task ID`, else `$ZENFLOW_TASK_ID`, else
the `<id>` of a current directory inside `.zenflow/worktrees/<id>/` (and, for the last two, a
compose-gen config above the current directory). When a task is found:

- its `.env.task` is loaded into `os.environ` before any conftest or Django settings module is
  imported, so settings that read `$DATABASE_URL`/`$POSTGRES_PORT` point at the task's server;
- each test process gets `COMPOSE_GEN_WORKER_ID`, `COMPOSE_GEN_WORKER_INDEX` and
  `COMPOSE_GEN_MEDIA_ROOT` (a path holding the task slug and the xdist worker id) early too;
- the session fixture `compose_gen_worker` (once per xdist worker) clones the task's seeded
  template into a database of this worker alone, on first use, and drops it at the end;
  `compose_gen_media_root` is the worker's fresh media dir, removed at the end;
- with pytest-django: the test databases must live on the task's server, and no two workers
  (of this run or of another run of the same task) may share a database or a media dir;
- the markers `unit`, `api`, `processing`, `e2e` and `postgres` are registered.

Every resource a worker uses is *claimed*: a small file in the task's dir, next to its
`.env.task`, taken under a lock (`compose-gen down` removes them with the task). A second live
claimant fails loudly; claims of dead processes (a crashed xdist worker, a killed run) are
swept by the next run's controller, which drops their databases.

Importing this module must stay cheap (it loads in every pytest run where compose-gen is
installed): psycopg, python-on-whales and jinja2 are only imported by the fixtures that need them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

log = logging.getLogger(__name__)

TASK_OPTION = "--compose-gen-task"
TASK_ID_ENV = "ZENFLOW_TASK_ID"  # the same name as compose_gen.task.TASK_ID_ENV
RUN_ENV = "COMPOSE_GEN_PYTEST_RUN"
WORKER_ID_ENV = "COMPOSE_GEN_WORKER_ID"
WORKER_INDEX_ENV = "COMPOSE_GEN_WORKER_INDEX"
MEDIA_ROOT_ENV = "COMPOSE_GEN_MEDIA_ROOT"
NO_XDIST_WORKER = "master"  # what pytest-xdist's own `worker_id` fixture says without workers
# How long a new worker waits for the task's server to answer before its first clone.
READY_TIMEOUT = 60.0

MARKERS = {
    "unit": "fast tests with no database, network or shared files (Unit-Fast: -n 8 -m unit)",
    "api": "tests of the API against this worker's own database (Integration-API: -n 4 -m api)",
    "processing": "tests that read and write files in this worker's own media dir "
                  "(Processing: -n 2 -m processing)",
    "e2e": "end-to-end tests in a browser against the task's per-worker backends",
    "postgres": "tests of server-wide PostgreSQL behaviour: run them alone (-n 1 -m postgres)",
}


class SharedResourceError(Exception):
    """Two live test processes would use one database or media dir."""


# --- finding the task ----------------------------------------------------------------------

@dataclass(frozen=True)
class ActiveTask:
    """The task this pytest run works for, with what its `.env.task` says."""

    task_id: str
    how: str  # which rule found it, for the report header
    project_name: str
    slug: str
    env_path: Path
    env: Mapping[str, str]
    url_env: str
    name_prefix: str
    # Inherited environment variables the task's file replaced (a stale export of another task).
    replaced: tuple[str, ...] = ()
    config: Any = field(default=None, repr=False, compare=False)

    @property
    def server(self) -> tuple[str, int | None]:
        parts = urlsplit(self.env.get(self.url_env, ""))
        return parts.hostname or "", parts.port


@dataclass(frozen=True)
class WorkerIdentity:
    """Which test process this is: `gw<N>` under pytest-xdist, `master` without it."""

    worker_id: str
    index: int
    run: str  # the pytest run (its controller), shared by all its workers

    @property
    def is_xdist_worker(self) -> bool:
        return self.worker_id != NO_XDIST_WORKER


@dataclass(frozen=True)
class ComposeGenWorker:
    """What `compose_gen_worker` hands a test: this worker's own resources on the task's stack."""

    index: int
    worker_id: str
    task_id: str
    database: str
    database_url: str
    media_root: Path
    env: Mapping[str, str] = field(repr=False)


def find_task_id(option: str | None, environ: Mapping[str, str], cwd: Path
                 ) -> tuple[str, str] | None:
    """(task ID, how it was found), or None: the option, then $ZENFLOW_TASK_ID, then the path."""
    if option:
        return option, TASK_OPTION
    if environ.get(TASK_ID_ENV):
        return environ[TASK_ID_ENV], f"${TASK_ID_ENV}"
    from compose_gen.task import task_id_from_path

    from_path = task_id_from_path(cwd)
    if from_path:
        return from_path, ".zenflow/worktrees/<id>/"
    return None


def load_task(option: str | None, environ: Mapping[str, str], cwd: Path) -> ActiveTask | None:
    """The task of this run, or None when there is none (the plugin then stays inert).

    An explicit --compose-gen-task must work or fail; a task found by environment or path
    counts only in a project that has a compose-gen config.
    """
    from compose_gen.config import find_config_file, load_config
    from compose_gen.envfile import read_env_file
    from compose_gen.errors import ComposeGenError
    from compose_gen.paths import ENV_FILE
    from compose_gen.task import make_task

    found = find_task_id(option, environ, cwd)
    if found is None:
        return None
    task_id, how = found
    explicit = how == TASK_OPTION
    if not explicit and not environ.get("COMPOSE_GEN_CONFIG") \
            and find_config_file(cwd.resolve()) is None:
        return None  # not a compose-gen project: someone else's $ZENFLOW_TASK_ID
    try:
        config = load_config(cwd, environ=environ)
        task = make_task(task_id, config)
    except ComposeGenError as err:
        raise pytest.UsageError(f"compose-gen: task '{task_id}' (from {how}): {err}") from err
    env_path = task.dir / ENV_FILE
    if not env_path.is_file():
        raise pytest.UsageError(
            f"compose-gen: task '{task.id}' (from {how}) has no {ENV_FILE} in {task.dir}: its "
            f"tests would run against fixed ports and a shared database (run `compose-gen up "
            f"--task-id {task.id}` first, or `-p no:compose_gen` to run without compose-gen)")
    values = read_env_file(env_path)
    if config.database.url_env not in values:
        raise pytest.UsageError(f"compose-gen: {env_path} has no {config.database.url_env}; "
                                f"render the task again with `compose-gen render`")
    return ActiveTask(task_id=task.id, how=how, project_name=task.project_name, slug=task.slug,
                      env_path=env_path, env=values, url_env=config.database.url_env,
                      name_prefix=config.database.name_prefix, config=config)


def apply_env(task: ActiveTask, environ: Any) -> ActiveTask:
    """Put the task's settings into `environ`; the task's file wins over inherited values."""
    replaced = tuple(sorted(key for key, value in task.env.items()
                            if key in environ and environ[key] != value))
    environ.update(task.env)
    return ActiveTask(**{**task.__dict__, "replaced": replaced})


# --- which worker this is ------------------------------------------------------------------

def host_tag() -> str:
    """4 hex digits of the host name: PIDs of two hosts (or containers) sharing a server."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]


def run_token(pid: int) -> str:
    return f"{host_tag()}_{pid}"


def worker_index(worker_id: str) -> int:
    """gw3 -> 3; 0 without xdist."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    return int(match.group(1)) if match else 0


def early_identity(environ: Mapping[str, str]) -> WorkerIdentity:
    """Who we are before pytest-xdist tells us (conftests and settings import before that).

    A real worker has $PYTEST_XDIST_WORKER and a parent that is the controller which set
    $COMPOSE_GEN_PYTEST_RUN; a pytest started from inside some other worker inherits the first
    but not a matching second, and is a run of its own.
    """
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    run = environ.get(RUN_ENV, "")
    if worker and run == run_token(os.getppid()):
        return WorkerIdentity(worker, worker_index(worker), run)
    return WorkerIdentity(NO_XDIST_WORKER, 0, run_token(os.getpid()))


def configured_identity(config: pytest.Config) -> WorkerIdentity:
    """Who we are, from pytest-xdist itself once the config exists."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return WorkerIdentity(NO_XDIST_WORKER, 0, run_token(os.getpid()))
    worker = str(workerinput["workerid"])
    run = str(workerinput.get("compose_gen_run") or run_token(os.getppid()))
    return WorkerIdentity(worker, worker_index(worker), run)


def worker_database_name(prefix: str, identity: WorkerIdentity) -> str:
    """<prefix>_pt_<host>_<pid>_<worker>: unique per run and worker on the task's server.

    The task's server is the task's own, so the task needs no place in the name; the run does:
    two pytest runs of one task at once (say the api and processing suites) must not meet.
    """
    from compose_gen.database import MAX_NAME_BYTES
    from compose_gen.errors import UsageError

    name = f"{prefix}_pt_{identity.run}_{identity.worker_id}"
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UsageError(f"the worker database name {name} is longer than PostgreSQL's "
                         f"{MAX_NAME_BYTES} bytes", hint="shorten database.name_prefix")
    return name


def export_identity(task: ActiveTask, identity: WorkerIdentity, environ: Any) -> Path:
    from compose_gen import media

    media_root = media.worker_media_dir(task.project_name, identity.worker_id, identity.run)
    environ[WORKER_ID_ENV] = identity.worker_id
    environ[WORKER_INDEX_ENV] = str(identity.index)
    environ[MEDIA_ROOT_ENV] = str(media_root)
    return media_root


# --- claims: one live user per database and media dir --------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Claims:
    """One file per claimed resource in a directory, read and written under a lock.

    A claim names its process, run and worker. Taking a resource that a live process of another
    worker holds raises SharedResourceError; a claim whose process is gone is taken over.
    `owned` marks resources this plugin created (and the sweep may therefore drop).
    """

    def __init__(self, directory: Path, identity: WorkerIdentity) -> None:
        self.dir = directory
        self.identity = identity

    def _path(self, kind: str, name: str) -> Path:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return self.dir / f"{kind}-{digest}.json"

    def _lock(self) -> Any:
        from filelock import FileLock

        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return FileLock(str(self.dir / ".lock"), timeout=30, mode=0o600)

    def take(self, kind: str, name: str, *, owned: bool = False,
             what: str | None = None) -> None:
        path = self._path(kind, name)
        with self._lock():
            holder = _read_claim(path)
            if holder and holder.get("pid") != os.getpid() and _pid_alive(int(holder["pid"])):
                same_run = holder.get("run") == self.identity.run
                who = (f"worker {holder.get('worker')} of this run" if same_run else
                       f"worker {holder.get('worker')} of another pytest run of this task")
                raise SharedResourceError(
                    f"compose-gen: {what or kind} {name} is already used by {who} (pid "
                    f"{holder['pid']}); two test workers must never share one {kind}. "
                    + ("Give each worker its own name (e.g. from $PYTEST_XDIST_WORKER or "
                       f"${MEDIA_ROOT_ENV})." if same_run else
                       "Wait for that run to finish, or use another task."))
            record = {"kind": kind, "name": name, "pid": os.getpid(), "run": self.identity.run,
                      "worker": self.identity.worker_id, "owned": owned}
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, path)

    def release(self, kind: str, name: str) -> None:
        path = self._path(kind, name)
        with self._lock():
            holder = _read_claim(path)
            if holder and holder.get("pid") == os.getpid():
                path.unlink(missing_ok=True)

    def dead(self) -> list[dict[str, Any]]:
        """Claims whose process is gone (a crashed worker, a killed run)."""
        if not self.dir.is_dir():
            return []
        found = []
        with self._lock():
            for path in sorted(self.dir.glob("*.json")):
                holder = _read_claim(path)
                if holder is None or not _pid_alive(int(holder.get("pid", 0))):
                    found.append({**(holder or {}), "path": str(path)})
        return found

    def forget(self, claim: Mapping[str, Any]) -> None:
        with self._lock():
            path = Path(claim["path"])
            holder = _read_claim(path)
            if holder is None or not _pid_alive(int(holder.get("pid", 0))):
                path.unlink(missing_ok=True)


def _read_claim(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": 0}
    return data if isinstance(data, dict) and "pid" in data else {"pid": 0}


CLAIMS_DIR = "pytest-claims"


def claims_for(task: ActiveTask, identity: WorkerIdentity) -> Claims:
    """The task's claims live in its own dir: one task, one set; gone with `down`."""
    return Claims(task.env_path.parent / CLAIMS_DIR, identity)


# --- the task's databases -----------------------------------------------------------------

def admin_url(task: ActiveTask) -> str:
    from compose_gen.database import MAINTENANCE_DB, with_database

    return with_database(task.env[task.url_env], MAINTENANCE_DB)


def task_lease(task: ActiveTask) -> Any:
    """The task's lease, or None (another state dir, or an unreadable registry)."""
    from compose_gen.errors import ComposeGenError
    from compose_gen.leases import LeaseRegistry

    try:
        return LeaseRegistry().get(task.project_name)
    except (ComposeGenError, OSError):
        return None


def find_template(task: ActiveTask, url: str, lease: Any = None) -> str | None:
    """The task's seeded template: the one its lease records, else the only ready one.

    None when the project has no seed, or the task was brought up with `--no-seed`: workers
    then get empty databases, as `up` gives its own workers.
    """
    from compose_gen import database
    from compose_gen.errors import UsageError

    seeded = bool(task.config and (task.config.database.seed_command
                                   or task.config.database.seed_sql))
    if lease and lease.template and database.is_ready_template(url, lease.template):
        return lease.template
    pattern = f"{task.name_prefix}{database.TEMPLATE_INFIX}"
    ready = [name for name in database.list_databases(url)
             if name.startswith(pattern) and database.is_ready_template(url, name)]
    if len(ready) > 1 and task.config is not None:
        from compose_gen.lifecycle import seed_digest

        digest = seed_digest(task.config)
        current = database.template_name(task.name_prefix, digest) if digest else None
        ready = [name for name in ready if name == current] or ready
    if len(ready) == 1:
        return ready[0]
    if ready:
        raise UsageError(f"task '{task.task_id}' has several seeded templates "
                         f"({', '.join(ready)}) and its lease names none",
                         hint=f"run `compose-gen up --task-id {task.task_id}` again")
    if seeded and not (lease and lease.state == "up"):
        raise UsageError(f"task '{task.task_id}' has no seeded template database on its server",
                         hint=f"run `compose-gen up --task-id {task.task_id}`")
    return None


def create_worker_database(task: ActiveTask, name: str) -> float:
    """Clone the template into `name` (or create it empty without a seed); returns seconds."""
    from compose_gen import database
    from compose_gen.errors import UsageError

    lease = task_lease(task)
    if lease is not None and lease.state == "rendered":
        # `render` only (e.g. COMPOSE_GEN_SKIP_UP=1): no server to wait for.
        raise UsageError(f"task '{task.task_id}' is rendered but not up",
                         hint=f"run `compose-gen up --task-id {task.task_id}`")
    url = admin_url(task)
    database.wait_until_ready(url, timeout=READY_TIMEOUT,
                              what=f"the database server of task '{task.task_id}'")
    template = find_template(task, url, lease)
    if template is None:
        database.create_empty(url, name)
        return 0.0
    return database.clone(url, template, name)


def sweep_dead_claims(task: ActiveTask, identity: WorkerIdentity) -> list[str]:
    """Drop databases and remove media dirs whose claiming process is gone; returns names."""
    from compose_gen import media

    claims = claims_for(task, identity)
    swept = []
    databases = []
    for claim in claims.dead():
        if claim.get("owned") and claim.get("kind") == "database":
            databases.append(claim)
            continue
        path = Path(str(claim.get("name", "")))
        if claim.get("owned") and claim.get("kind") == "media dir" \
                and media.scratch_root() in path.parents:
            media.remove_dir(path)
            swept.append(str(path))
        claims.forget(claim)
    if databases:
        from compose_gen import database

        database.drop(admin_url(task), [claim["name"] for claim in databases])
        for claim in databases:
            claims.forget(claim)
            swept.append(claim["name"])
    return swept


# --- pytest hooks --------------------------------------------------------------------------

_TASK = pytest.StashKey[ActiveTask]()
_IDENTITY = pytest.StashKey[WorkerIdentity]()
_SAVED_ENV = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("compose-gen", "compose-gen: a task's own stack per test worker")
    group.addoption(
        TASK_OPTION, metavar="ID", default=None,
        help="Run against this compose-gen task's stack (default: $ZENFLOW_TASK_ID, else the "
             "<id> of .zenflow/worktrees/<id>/ around the current directory). Loads its "
             ".env.task and gives each xdist worker its own database and media dir.")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> Iterator[None]:
    # A wrapper runs before every plain implementation, pytest-django's tryfirst one included,
    # which imports the Django settings module: the task's env must be in place by then.
    known = early_config.known_args_namespace
    if getattr(known, "help", False) or getattr(known, "version", False):
        yield  # `pytest --help` must work even where the task is not rendered yet
        return
    option = getattr(known, "compose_gen_task", None)
    task = load_task(option, os.environ, early_config.invocation_params.dir)
    if task is not None:
        keys = (*task.env, RUN_ENV, WORKER_ID_ENV, WORKER_INDEX_ENV, MEDIA_ROOT_ENV)
        early_config.stash[_SAVED_ENV] = {key: os.environ.get(key) for key in keys}
        task = apply_env(task, os.environ)
        identity = early_identity(os.environ)
        if not identity.is_xdist_worker:
            os.environ[RUN_ENV] = identity.run  # inherited by the xdist workers it starts
        export_identity(task, identity, os.environ)
        early_config.stash[_TASK] = task
    yield


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    task = config.stash.get(_TASK, None)
    if task is None:
        return
    identity = configured_identity(config)
    export_identity(task, identity, os.environ)
    config.stash[_IDENTITY] = identity


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist controller: tell each worker which run it belongs to."""
    task = node.config.stash.get(_TASK, None)
    if task is not None:
        node.workerinput["compose_gen_run"] = node.config.stash[_IDENTITY].run


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    task = config.stash.get(_TASK, None)
    if task is None:
        return None
    host, port = task.server
    lines = [f"compose-gen: task '{task.task_id}' (from {task.how}), project "
             f"{task.project_name}, database server {host}:{port}, settings {task.env_path}"]
    if task.replaced:
        lines.append("compose-gen: the task's values replaced inherited "
                     + ", ".join(task.replaced))
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's controller (or the only process) sweeps what crashed workers left behind."""
    config = session.config
    task = config.stash.get(_TASK, None)
    if task is None or hasattr(config, "workerinput"):
        return
    try:
        swept = sweep_dead_claims(task, config.stash[_IDENTITY])
    except Exception as err:  # the run's result matters more than a leftover database
        warnings.warn(f"compose-gen: could not clean up after crashed workers: {err}",
                      stacklevel=1)
        return
    from compose_gen import media

    with contextlib.suppress(OSError):  # only when empty: another run may still use it
        media.task_scratch_dir(task.project_name).rmdir()
    if swept:
        log.info("compose-gen: removed %s left by workers that died", ", ".join(swept))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the environment as it was: pytest may run again in the same process."""
    for key, value in config.stash.get(_SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# --- fixtures ------------------------------------------------------------------------------

def _require_task(request: pytest.FixtureRequest) -> tuple[ActiveTask, WorkerIdentity]:
    task = request.config.stash.get(_TASK, None)
    if task is None:
        pytest.fail("compose-gen: no task for this run, so no per-worker database or media dir: "
                    f"pass {TASK_OPTION} ID, set ${TASK_ID_ENV}, or run inside "
                    ".zenflow/worktrees/<id>/", pytrace=False)
    return task, request.config.stash[_IDENTITY]


@pytest.fixture(scope="session")
def compose_gen_media_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This worker's own fresh media dir (task slug + xdist worker id + run in its path)."""
    from compose_gen import media

    task, identity = _require_task(request)
    path = media.worker_media_dir(task.project_name, identity.worker_id, identity.run)
    claims = claims_for(task, identity)
    try:
        claims.take("media dir", str(path), owned=True)
    except SharedResourceError as err:
        pytest.fail(str(err), pytrace=False)
    media.fresh_dir(path)
    try:
        yield path
    finally:
        media.remove_dir(path)
        claims.release("media dir", str(path))


@pytest.fixture(scope="session")
def compose_gen_worker(request: pytest.FixtureRequest,
                       compose_gen_media_root: Path) -> Iterator[ComposeGenWorker]:
    """This xdist worker's own database (a clone of the task's seeded template) and media dir.

    Created the first time a test of this worker asks for it, so a crashed worker that comes
    back under a new id simply gets a database of its own; dropped at the end of the session.
    """
    from compose_gen.database import with_database
    from compose_gen.errors import ComposeGenError

    task, identity = _require_task(request)
    claims = claims_for(task, identity)
    try:
        name = worker_database_name(task.name_prefix, identity)
        claims.take("database", name, owned=True)
        create_worker_database(task, name)
    except (ComposeGenError, SharedResourceError) as err:
        pytest.fail(f"compose-gen: no database for worker {identity.worker_id} of task "
                    f"'{task.task_id}': {err}", pytrace=False)
    try:
        yield ComposeGenWorker(
            index=identity.index, worker_id=identity.worker_id, task_id=task.task_id,
            database=name, database_url=with_database(task.env[task.url_env], name),
            media_root=compose_gen_media_root, env=task.env)
    finally:
        from compose_gen import database

        try:
            database.drop(admin_url(task), [name])
        except ComposeGenError as err:
            warnings.warn(f"compose-gen: could not drop {name}: {err}", stacklevel=1)
        else:
            claims.release("database", name)


@pytest.fixture(scope="session", autouse=True)
def _compose_gen_django_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """With pytest-django: test databases on the task's server, none shared between workers."""
    task = request.config.stash.get(_TASK, None)
    if task is None or not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    try:
        from pytest_django.lazy_django import django_settings_is_configured
    except ImportError:  # pragma: no cover - another plugin registered as "django"
        yield
        return
    if not django_settings_is_configured():
        yield
        return
    # pytest-django's own fixture adds the xdist suffix (test_<name>_gw0) to the test names.
    request.getfixturevalue("django_db_modify_db_settings")
    from django.conf import settings

    identity = request.config.stash[_IDENTITY]
    media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
    if media_root and Path(media_root) == Path(os.environ.get(MEDIA_ROOT_ENV, "")):
        request.getfixturevalue("compose_gen_media_root")  # fresh now, removed at the end
    try:
        taken = check_django_settings(task, identity, settings.DATABASES, media_root)
    except SharedResourceError as err:
        pytest.fail(str(err), pytrace=False)
    yield
    claims = claims_for(task, identity)
    for kind, name in taken:
        claims.release(kind, name)


def check_django_settings(task: ActiveTask, identity: WorkerIdentity,
                          databases: Mapping[str, Mapping[str, Any]], media_root: str
                          ) -> list[tuple[str, str]]:
    """Fail loudly unless every PostgreSQL test database is on the task's server and this
    worker's alone, and the media dir is this worker's alone; returns the claims taken."""
    host, port = task.server
    claims = claims_for(task, identity)
    taken: list[tuple[str, str]] = []
    for alias, settings_dict in databases.items():
        if "postgresql" not in str(settings_dict.get("ENGINE", "")):
            continue
        got_host = str(settings_dict.get("HOST") or "")
        got_port = str(settings_dict.get("PORT") or "5432")
        if got_port != str(port) or got_host not in (host, "localhost", "127.0.0.1"):
            raise SharedResourceError(
                f"compose-gen: DATABASES['{alias}'] points at {got_host or 'a local socket'}:"
                f"{got_port}, not at the server of task '{task.task_id}' ({host}:{port}); build "
                f"it from ${task.url_env} (or $POSTGRES_PORT) so that every task tests on its "
                "own server")
        test_name = str((settings_dict.get("TEST") or {}).get("NAME")
                        or f"test_{settings_dict.get('NAME')}")
        claims.take("database", test_name, what="test database")
        taken.append(("database", test_name))
    if media_root:
        path = str(Path(media_root).resolve())
        claims.take("media dir", path, what="MEDIA_ROOT")
        taken.append(("media dir", path))
    return taken
