"""The pytest plugin without Docker: finding the task, loading its env, names, claims, fixtures.

Runs of pytest with the plugin go through `pytester.runpytest_subprocess`: the plugin changes
os.environ of the run it is in, which must not leak into this test process. A run for a task
first checks that the task's database server accepts connections: `answering` gives these
runs a listening socket in its place.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_gen import processes
from compose_gen.pytest_plugin import claims as claims_mod
from compose_gen.pytest_plugin import discovery, django_settings, workers
from compose_gen.pytest_plugin.claims import ClaimKind, SharedResourceError
from compose_gen.task import find_task_id, slugify

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Media dirs of the runs below go to this test's own temp dir."""
    import tempfile

    private = tmp_path / "tmpdir"
    private.mkdir()
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)


@contextlib.contextmanager
def listening(port: int = 0) -> Iterator[int]:
    """A TCP listener standing in for the task's database server (the plugin only connects)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:  # a real server (another stack) already listens there: it answers too
            yield port
            return
        sock.listen(64)
        yield sock.getsockname()[1]


@pytest.fixture
def answering() -> Iterator[int]:
    with listening() as port:
        yield port


TOML = 'compose_files = ["docker-compose.yml"]\n[database]\nuser = "demo"\nname = "demo"\n'


def make_project(root: Path, task_id: str | None = "task-a", port: int = 25999) -> Path:
    """A compose-gen project with a rendered-looking .env.task (no Compose needed)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose-gen.toml").write_text(TOML, encoding="utf-8")
    (root / "docker-compose.yml").write_text("services: {db: {image: postgres}}\n",
                                             encoding="utf-8")
    if task_id is not None:
        task_dir = root / ".zenflow" / "tasks" / task_id
        task_dir.mkdir(parents=True)
        (task_dir / ".env.task").write_text(
            f"# test\nZENFLOW_TASK_ID='{task_id}'\nCOMPOSE_PROJECT_NAME='zf-{slugify(task_id)}'\n"
            f"POSTGRES_PORT='{port}'\n"
            f"DATABASE_URL='postgresql://demo:secret@127.0.0.1:{port}/demo'\n"
            "E2E_WORKERS='1'\n", encoding="utf-8")
    return root


# --- finding the task ----------------------------------------------------------------------

def _found(option: str | None, env: dict[str, str], cwd: Path) -> tuple[str, str] | None:
    """The plugin's view of compose_gen.task.find_task_id: the ID and its source as shown."""
    found = find_task_id(option, cwd=cwd, environ=env, validate=False)
    return None if found is None else (found.id, found.describe("--compose-gen-task"))


def test_the_option_wins_over_the_environment_and_the_path(tmp_path: Path) -> None:
    cwd = tmp_path / ".zenflow" / "worktrees" / "from-path" / "src"
    cwd.mkdir(parents=True)
    env = {"ZENFLOW_TASK_ID": "from-env"}
    assert _found("opt", env, cwd) == ("opt", "--compose-gen-task")
    assert _found(None, env, cwd) == ("from-env", "$ZENFLOW_TASK_ID")
    assert _found(None, {}, cwd) == ("from-path", ".zenflow/worktrees/<id>/")
    assert _found(None, {"ZENFLOW_TASK_ID": ""}, tmp_path) is None


def test_no_task_means_no_activation(tmp_path: Path) -> None:
    assert discovery.load_task(None, {}, make_project(tmp_path / "p")) is None


def test_a_task_from_the_environment_without_a_config_stops_with_one_line(
        tmp_path: Path) -> None:
    # Issue 11: running unisolated because the config was not found from here was silent.
    with pytest.raises(pytest.UsageError) as caught:
        discovery.load_task(None, {"ZENFLOW_TASK_ID": "task-a"}, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("compose-gen: task 'task-a' (from $ZENFLOW_TASK_ID) is asked for "
                              "but cannot be isolated: no compose-gen configuration in")
    assert "--compose-gen-config PATH or set $COMPOSE_GEN_CONFIG" in message


def test_the_config_is_found_from_a_subfolder_or_named(tmp_path: Path) -> None:
    project = make_project(tmp_path / "repo")
    backend = project / "backend"
    backend.mkdir()
    task = discovery.load_task(None, {"ZENFLOW_TASK_ID": "task-a"}, backend)
    assert task is not None and task.env_path == project / ".zenflow/tasks/task-a/.env.task"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(project / "compose-gen.toml")
    for named in ({"config_file": config}, {}):
        environ = {"ZENFLOW_TASK_ID": "task-a", **({} if named else
                                                   {"COMPOSE_GEN_CONFIG": config})}
        task = discovery.load_task(None, environ, elsewhere, **named)
        assert task is not None and task.env["POSTGRES_PORT"] == "25999"
    with pytest.raises(pytest.UsageError, match=r"config file .*nope.toml does not exist; fix "
                                                r"the path given by --compose-gen-config"):
        discovery.load_task(None, {"ZENFLOW_TASK_ID": "task-a"}, elsewhere,
                            config_file=str(tmp_path / "nope.toml"))


def test_a_task_whose_server_does_not_answer_cannot_serve(tmp_path: Path) -> None:
    with listening() as port:
        pass  # closed again: nothing listens there now
    task = discovery.load_task("task-a", {}, make_project(tmp_path / "p", port=port))
    assert task is not None
    with pytest.raises(pytest.UsageError,
                       match=rf"database server of task 'task-a' .* does not answer at "
                             rf"127.0.0.1:{port} .*run `compose-gen up --task-id task-a`"):
        discovery.check_can_serve(task, timeout=0.3)
    with listening(port):
        discovery.check_can_serve(task, timeout=5)


def test_an_explicit_task_without_a_config_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(pytest.UsageError, match="no compose-gen configuration"):
        discovery.load_task("task-a", {}, tmp_path)


def test_a_task_without_env_file_is_a_usage_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", task_id=None)
    with pytest.raises(pytest.UsageError, match=r"has no \.env\.task .*compose-gen up"):
        discovery.load_task(None, {"ZENFLOW_TASK_ID": "task-b"}, project)


def test_an_invalid_task_id_is_a_usage_error(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    with pytest.raises(pytest.UsageError, match="not allowed"):
        discovery.load_task("bad/id", {}, project)


def test_the_task_env_replaces_inherited_values_and_says_which(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    task = discovery.load_task(None, {"ZENFLOW_TASK_ID": "task-a"}, project)
    assert task is not None
    environ = {"POSTGRES_PORT": "5435", "DATABASE_URL": "postgresql://old", "HOME": "/h",
               "ZENFLOW_TASK_ID": "task-a"}
    task = discovery.apply_env(task, environ)
    assert environ["POSTGRES_PORT"] == "25999"
    assert environ["HOME"] == "/h"
    assert task.replaced == ("DATABASE_URL", "POSTGRES_PORT")
    assert task.server == ("127.0.0.1", 25999)
    assert task.project_name == f"zf-{slugify('task-a')}"


# --- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("worker", "index"), [("gw0", 0), ("gw7", 7), ("gw12", 12),
                                               ("master", 0)])
def test_the_worker_index_comes_from_the_xdist_id(worker: str, index: int) -> None:
    assert workers.worker_index(worker) == index


def test_a_real_worker_is_told_apart_from_an_inherited_worker_variable() -> None:
    run = workers.run_token(os.getppid())
    real = workers.early_identity({"PYTEST_XDIST_WORKER": "gw3", workers.RUN_ENV: run})
    assert (real.worker_id, real.index, real.run) == ("gw3", 3, run)
    # A pytest started from inside another run's worker inherits both variables, but its
    # parent is not the controller that set the run: it is a run of its own.
    nested = workers.early_identity({"PYTEST_XDIST_WORKER": "gw3",
                                    workers.RUN_ENV: workers.run_token(1)})
    assert (nested.worker_id, nested.run) == ("master", workers.run_token(os.getpid()))


def test_worker_database_names_are_unique_per_run_and_worker() -> None:
    a = workers.worker_database_name("test_e2e", workers.WorkerIdentity("gw0", 0, "ab12_100"))
    b = workers.worker_database_name("test_e2e", workers.WorkerIdentity("gw1", 1, "ab12_100"))
    c = workers.worker_database_name("test_e2e", workers.WorkerIdentity("gw0", 0, "ab12_101"))
    assert a == "test_e2e_pt_ab12_100_gw0"
    assert len({a, b, c}) == 3


def test_a_worker_database_name_over_63_bytes_is_refused() -> None:
    from compose_gen.errors import UsageError

    identity = workers.WorkerIdentity("gw100", 100, "ab12_4194304")
    with pytest.raises(UsageError, match="shorten database.name_prefix"):
        workers.worker_database_name("p" * 45, identity)
    assert len(workers.worker_database_name("p" * 40, workers.WorkerIdentity(
        "master", 0, "ab12_4194304"))) <= 63


def test_media_dirs_hold_the_task_slug_and_the_worker(tmp_path: Path) -> None:
    from compose_gen import media

    a0 = media.worker_media_dir("zf-a-1234", "gw0", "ab12_1")
    b0 = media.worker_media_dir("zf-b-5678", "gw0", "ab12_1")
    assert a0 != b0
    assert "zf-a-1234" in str(a0) and a0.name.startswith("media-gw0-")
    assert tmp_path in a0.parents
    media.fresh_dir(a0)
    (a0 / "old").write_text("x")
    assert list(media.fresh_dir(a0).iterdir()) == []
    media.remove_dir(a0)
    assert not a0.exists()


# --- claims --------------------------------------------------------------------------------

def _claims(tmp_path: Path, worker: str = "gw0", run: str = "ab12_1") -> claims_mod.Claims:
    return claims_mod.Claims(tmp_path / "claims", workers.WorkerIdentity(worker, 0, run))


def _write_claim(claims: claims_mod.Claims, kind: str, name: str, pid: int, worker: str,
                 **extra: str) -> None:
    claims.dir.mkdir(parents=True, exist_ok=True)
    claims._path(kind, name).write_text(json.dumps(
        {"kind": kind, "name": name, "pid": pid, "run": claims.identity.run, "worker": worker,
         "owned": True, **extra}))


def test_a_resource_held_by_a_live_worker_cannot_be_claimed(tmp_path: Path) -> None:
    claims = _claims(tmp_path)
    _write_claim(claims, "database", "test_demo_gw0", os.getppid(), "gw1")
    with pytest.raises(SharedResourceError,
                       match="test_demo_gw0 is already used by worker gw1 of this run"):
        claims.take("database", "test_demo_gw0")


def test_another_runs_live_claim_is_named_as_such(tmp_path: Path) -> None:
    mine = _claims(tmp_path, run="ab12_2")
    other = _claims(tmp_path, run="ab12_1")
    _write_claim(other, "media dir", "/tmp/x", os.getppid(), "gw0")
    with pytest.raises(SharedResourceError, match="another pytest run of this task"):
        mine.take("media dir", "/tmp/x")


def test_a_dead_workers_claim_is_taken_over_and_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    claims = _claims(tmp_path)
    _write_claim(claims, "database", "gone_db", int(dead.stdout), "gw2")
    assert [c["name"] for c in claims.dead()] == ["gone_db"]
    claims.take("database", "gone_db", owned=True)
    assert claims.dead() == []
    claims.release("database", "gone_db")
    assert list(claims.dir.glob("*.json")) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_claim_whose_pid_now_names_another_process_is_dead(tmp_path: Path) -> None:
    """PIDs are reused within minutes on a busy machine: a live PID with another start time
    than the claim recorded is another process, and the claim is taken over."""
    parent = os.getppid()
    started = processes.start_time(parent)
    assert started.isdigit()
    assert processes.pid_alive(parent, started)
    claims = _claims(tmp_path)
    _write_claim(claims, "database", "reused", parent, "gw1", started=str(int(started) + 1))
    _write_claim(claims, "database", "same", parent, "gw1", started=started)
    assert [c["name"] for c in claims.dead()] == ["reused"]
    claims.take("database", "reused", owned=True)
    with pytest.raises(SharedResourceError, match="same is already used by worker gw1"):
        claims.take("database", "same")
    this_run = workers.run_token(os.getpid())
    started = workers.run_controller_start(this_run)
    assert started == processes.start_time(os.getpid())
    assert workers.run_alive(this_run, started)
    assert not workers.run_alive(this_run, str(int(started) + 1))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_released_claim_whose_run_pid_now_names_another_process_is_dead(tmp_path: Path
                                                                          ) -> None:
    run = workers.run_token(os.getpid())
    gw0 = _claims(tmp_path, "gw0", run)
    gw0.take("media dir", "/srv/media")
    gw0.release("media dir", "/srv/media")
    [path] = gw0.dir.glob("*.json")
    record = json.loads(path.read_text())
    assert record["run_started"] == processes.start_time(os.getpid())
    assert gw0.dead() == []
    path.write_text(json.dumps({**record, "run_started": str(int(record["run_started"]) + 1)}))
    assert [c["name"] for c in gw0.dead()] == ["/srv/media"]


def test_the_sweep_removes_a_dead_workers_media_dir(tmp_path: Path, monkeypatch) -> None:
    from compose_gen import media

    project = make_project(tmp_path / "p")
    task = discovery.load_task("task-a", {}, project)
    assert task is not None
    identity = workers.WorkerIdentity("master", 0, workers.run_token(os.getpid()))
    left = media.fresh_dir(media.worker_media_dir(task.project_name, "gw3", "ab12_1"))
    (left / "upload.bin").write_bytes(b"x")
    outside = tmp_path / "not-ours"
    outside.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    claims = claims_mod.claims_for(task, identity)
    for path in (left, outside):
        _write_claim(claims, "media dir", str(path), int(dead.stdout), "gw3")
    assert claims_mod.sweep_dead_claims(task, identity) == [str(left)]
    assert not left.exists()
    assert outside.is_dir()  # never removes anything outside compose-gen's scratch dir
    assert list(claims.dir.glob("*.json")) == []


def test_claiming_twice_in_one_process_is_fine(tmp_path: Path) -> None:
    claims = _claims(tmp_path)
    claims.take("database", "x")
    claims.take("database", "x")
    claims.release("database", "x")
    claims.end_run()
    assert list(claims.dir.glob("*.json")) == []


def test_a_released_claim_stays_the_runs_until_its_controller_ends(tmp_path: Path) -> None:
    """gw0 wrote into a project's media dir and finished before gw1 started: still shared."""
    run = workers.run_token(os.getpid())  # this process plays the run's live controller
    gw0 = _claims(tmp_path, "gw0", run)
    gw0.take("media dir", "/srv/media")
    gw0.release("media dir", "/srv/media")
    assert [json.loads(p.read_text())["released"] for p in gw0.dir.glob("*.json")] == [True]
    with pytest.raises(SharedResourceError,
                       match="/srv/media is already used by worker gw0 of this run"):
        _claims(tmp_path, "gw1", run).take("media dir", "/srv/media")
    with pytest.raises(SharedResourceError, match="another pytest run of this task"):
        _claims(tmp_path, "gw0", "ab12_1").take("media dir", "/srv/media")
    assert gw0.dead() == []  # not swept while its run goes on
    _claims(tmp_path, "master", run).end_run()
    assert list(gw0.dir.glob("*.json")) == []
    _claims(tmp_path, "gw1", run).take("media dir", "/srv/media")


def test_a_released_claim_of_a_finished_run_is_taken_over_and_swept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    old_run = workers.run_token(int(dead.stdout))
    old = _claims(tmp_path, "gw0", old_run)
    old.take("database", "test_demo_gw0")
    old.release("database", "test_demo_gw0")
    assert [c["name"] for c in old.dead()] == ["test_demo_gw0"]
    _claims(tmp_path, "gw1", workers.run_token(os.getpid())).take("database", "test_demo_gw0")


def test_an_owned_claim_is_gone_once_released(tmp_path: Path) -> None:
    claims = _claims(tmp_path, "gw0", workers.run_token(os.getpid()))
    claims.take("database", "demo_pt_gw0", owned=True)
    claims.release("database", "demo_pt_gw0")
    assert list(claims.dir.glob("*.json")) == []


# --- pytest-django settings check ----------------------------------------------------------

def _task(tmp_path: Path, monkeypatch) -> discovery.ActiveTask:
    monkeypatch.setattr(django_settings, "claims_for",
                        lambda task, identity: claims_mod.Claims(tmp_path / "claims", identity))
    task = discovery.load_task("task-a", {}, make_project(tmp_path / "p"))
    assert task is not None
    return task


def _pg(name: str, port: object = 25999, test_name: str | None = None) -> dict:
    settings = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "HOST": "127.0.0.1",
                "PORT": port}
    if test_name:
        settings["TEST"] = {"NAME": test_name}
    return settings


def test_django_databases_must_be_on_the_tasks_server(tmp_path: Path, monkeypatch) -> None:
    task = _task(tmp_path, monkeypatch)
    identity = workers.WorkerIdentity("gw0", 0, "ab12_1")
    with pytest.raises(SharedResourceError,
                       match=r"DATABASES\['default'\] points at 127.0.0.1:5435, not at the "
                             r"server of task 'task-a' \(127.0.0.1:25999\)"):
        django_settings.check_django_settings(task, identity, {"default": _pg("demo", 5435)})
    taken = django_settings.check_django_settings(
        task, identity, {"default": _pg("demo", "25999", "test_demo_gw0"),
                         "cache": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}})
    assert taken == [("database", "test_demo_gw0")]
    assert taken[0][0] is ClaimKind.DATABASE


def test_two_workers_with_one_django_test_database_fail_loudly(tmp_path: Path,
                                                               monkeypatch) -> None:
    task = _task(tmp_path, monkeypatch)
    other = claims_mod.Claims(tmp_path / "claims", workers.WorkerIdentity("gw1", 1, "ab12_1"))
    _write_claim(other, "database", "test_demo", os.getppid(), "gw1")
    with pytest.raises(SharedResourceError, match="test database test_demo is already"):
        django_settings.check_django_settings(task, workers.WorkerIdentity("gw0", 0, "ab12_1"),
                                              {"default": _pg("demo")})


def _guard(task: discovery.ActiveTask, worker: str, own: list[Path]
           ) -> django_settings.MediaGuard:
    identity = workers.WorkerIdentity(worker, workers.worker_index(worker), "ab12_1")
    return django_settings.MediaGuard(task, identity, own, started=time.time() - 1)


def test_two_workers_with_one_media_root_fail_loudly(tmp_path: Path, monkeypatch) -> None:
    """Only a MEDIA_ROOT really written into during the run is claimed (issue 11)."""
    task = _task(tmp_path, monkeypatch)
    shared = tmp_path / "korrigo_test"
    shared.mkdir()
    media = str(shared.resolve())
    gw0 = _guard(task, "gw0", [tmp_path / "own-gw0"])
    gw0.check(media)
    assert gw0.claimed == set()  # set but never written: nothing to share
    (shared / "upload.pdf").write_bytes(b"x")
    gw0.check(media)
    assert gw0.claimed == {media}
    # the claim holder is this very process; pretend it is another live worker
    path = claims_mod.Claims(tmp_path / "claims", workers.WorkerIdentity("gw0", 0, "ab12_1")) \
        ._path("media dir", media)
    path.write_text(json.dumps({"pid": os.getppid(), "run": "ab12_1", "worker": "gw0"}))
    with pytest.raises(SharedResourceError, match="MEDIA_ROOT .* worker gw0"):
        _guard(task, "gw1", [tmp_path / "own-gw1"]).check(media)


def test_per_worker_and_untouched_media_roots_are_never_claimed(tmp_path: Path,
                                                               monkeypatch) -> None:
    task = _task(tmp_path, monkeypatch)
    basetemp = tmp_path / "popen-gw0"
    per_test = basetemp / "test_upload0" / "media"  # what an autouse tmp_path fixture sets
    per_test.mkdir(parents=True)
    (per_test / "a.pdf").write_bytes(b"x")
    fixtures_dir = tmp_path / "fixtures"
    fixtures_dir.mkdir()
    (fixtures_dir / "old.png").write_bytes(b"x")
    os.utime(fixtures_dir / "old.png", (1, 1))
    os.utime(fixtures_dir, (1, 1))
    guard = _guard(task, "gw0", [basetemp])
    for media in (str(per_test), str(fixtures_dir), "", str(tmp_path / "missing")):
        guard.check(media)
    assert guard.claimed == set()
    assert not (tmp_path / "claims").exists() or list((tmp_path / "claims").glob("*.json")) == []


# --- whole pytest runs ---------------------------------------------------------------------

def test_importing_the_plugin_stays_light() -> None:
    code = ("import sys, compose_gen.pytest_plugin; "
            "print(sorted(m for m in ('psycopg', 'python_on_whales', 'jinja2', 'click') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_without_a_task_the_plugin_is_inert_and_says_so_under_v(
        pytester: pytest.Pytester) -> None:
    # Issue 11: the markers are the project's; the plugin registers none of its own.
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n"
                     "    unit: the project's own\n    slow: the project's own\n")
    pytester.makepyfile(textwrap.dedent("""
        import os
        import pytest

        @pytest.mark.unit
        @pytest.mark.slow
        def test_markers_are_known():
            assert "COMPOSE_GEN_MEDIA_ROOT" not in os.environ

        def test_the_worker_fixture_says_what_is_missing(compose_gen_worker):
            pass
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["compose-gen: inactive, no task asked for*",
                                 "*no task for this run*--compose-gen-task*"])
    assert "compose-gen: task" not in result.stdout.str()
    quiet = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert "compose-gen: inactive" not in quiet.stdout.str()


def test_the_plugin_registers_none_of_the_demo_markers(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = --strict-markers\nmarkers =\n    unit: ours\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.processing\ndef test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'processing' not found in `markers` configuration option*"])
    markers = pytester.runpytest_subprocess("--markers").stdout.str()
    assert "@pytest.mark.unit: ours" in markers
    assert "@pytest.mark.processing" not in markers and "@pytest.mark.api" not in markers


def test_a_task_without_a_config_stops_the_run_before_collecting(pytester: pytest.Pytester,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("ZENFLOW_TASK_ID", "task-a")
    pytester.makepyfile("def test_never():\n    raise SystemExit('collected')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if "compose-gen" in line]
    assert len(errors) == 1, result.errlines
    assert errors[0].startswith("ERROR: compose-gen: task 'task-a' (from $ZENFLOW_TASK_ID) is "
                                "asked for but cannot be isolated: no compose-gen configuration")
    assert "--compose-gen-config PATH or set $COMPOSE_GEN_CONFIG" in errors[0]
    assert "collected" not in result.stdout.str()


def test_the_config_is_found_from_the_backend_folder(pytester: pytest.Pytester, monkeypatch,
                                                     answering: int) -> None:
    project = make_project(pytester.path, port=answering)
    backend = project / "backend"
    backend.mkdir()
    (backend / "test_it.py").write_text(
        "import os\ndef test_env():\n    assert os.environ['ZENFLOW_TASK_ID'] == 'task-a'\n")
    monkeypatch.setenv("ZENFLOW_TASK_ID", "task-a")
    monkeypatch.chdir(backend)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", str(backend))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"compose-gen: task 'task-a' (from $ZENFLOW_TASK_ID), project "
                                 f"*, database server 127.0.0.1:{answering}*"])


def test_a_task_whose_server_is_down_stops_the_run(pytester: pytest.Pytester) -> None:
    with listening() as port:
        pass  # nothing listens there any more
    make_project(pytester.path, port=port)
    pytester.makepyfile("def test_never():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-gen-task",
                                           "task-a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: compose-gen: the database server of task 'task-a' "
                                 f"(from --compose-gen-task) does not answer at 127.0.0.1:"
                                 f"{port}*compose-gen up --task-id task-a*"])


def test_a_bad_media_ini_value_is_a_usage_error(pytester: pytest.Pytester,
                                                answering: int) -> None:
    make_project(pytester.path, port=answering)
    pytester.makeini("[pytest]\ncompose_gen_media = sometimes\n")
    pytester.makepyfile("def test_never():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compose-gen-task",
                                           "task-a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*compose_gen_media = 'sometimes'; use one of on, off*"])


@pytest.fixture
def answering_25999() -> Iterator[int]:
    with listening(25999) as port:
        yield port


def test_a_task_env_is_loaded_before_conftest_import(pytester: pytest.Pytester,
                                                     monkeypatch, answering_25999: int) -> None:
    project = make_project(pytester.path)
    monkeypatch.setenv("ZENFLOW_TASK_ID", "task-a")
    monkeypatch.setenv("POSTGRES_PORT", "5435")  # a stale export of another task
    (project / "conftest.py").write_text(textwrap.dedent("""
        import os
        # What a Django settings module would read at import time.
        PORT_AT_IMPORT = os.environ["POSTGRES_PORT"]
        MEDIA_AT_IMPORT = os.environ["COMPOSE_GEN_MEDIA_ROOT"]
    """))
    pytester.makepyfile(textwrap.dedent("""
        import os
        import conftest

        def test_settings_saw_the_task(compose_gen_media_root):
            assert conftest.PORT_AT_IMPORT == "25999"
            assert os.environ["DATABASE_URL"].endswith(":25999/demo")
            assert str(compose_gen_media_root) == os.environ["COMPOSE_GEN_MEDIA_ROOT"]
            assert compose_gen_media_root.is_dir()
            assert os.environ["COMPOSE_GEN_WORKER_ID"] == "master"
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "compose-gen: task 'task-a' (from $ZENFLOW_TASK_ID), project zf-task-a-*, "
        "database server 127.0.0.1:25999*",
        "compose-gen: the task's values replaced inherited *POSTGRES_PORT*"])


def test_each_xdist_worker_gets_its_own_fresh_media_dir(pytester: pytest.Pytester,
                                                        tmp_path: Path, answering: int) -> None:
    make_project(pytester.path, port=answering)
    out = tmp_path / "seen"
    out.mkdir()
    pytester.makepyfile(textwrap.dedent(f"""
        import os, pathlib, time
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_media(compose_gen_media_root, worker_id, n):
            assert list(compose_gen_media_root.iterdir()) in ([], [compose_gen_media_root / "f"])
            (compose_gen_media_root / "f").write_text(worker_id)
            time.sleep(0.05)
            assert (compose_gen_media_root / "f").read_text() == worker_id
            pathlib.Path({str(out)!r}, worker_id).write_text(str(compose_gen_media_root))
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--compose-gen-task", "task-a")
    result.assert_outcomes(passed=8)
    seen = {path.name: Path(path.read_text()) for path in out.iterdir()}
    assert sorted(seen) == ["gw0", "gw1"]
    slug = slugify("task-a")
    for worker, path in seen.items():
        assert slug in str(path) and worker in path.name
        assert not path.exists()  # removed at the end of the session
    assert seen["gw0"] != seen["gw1"]


def test_an_explicit_task_that_is_not_rendered_stops_the_run(pytester: pytest.Pytester) -> None:
    make_project(pytester.path, task_id=None)
    pytester.makepyfile("def test_never(): pass\n")
    result = pytester.runpytest_subprocess("--compose-gen-task", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*compose-gen: task 'nope' (from --compose-gen-task) has no "
                                 ".env.task*compose-gen up --task-id nope*"])


def test_the_worktree_path_finds_the_task(pytester: pytest.Pytester, monkeypatch,
                                          answering: int) -> None:
    worktree = pytester.path / ".zenflow" / "worktrees" / "wt-1"
    make_project(worktree, task_id="wt-1", port=answering)
    (worktree / "test_it.py").write_text(textwrap.dedent("""
        import os
        def test_env():
            assert os.environ["ZENFLOW_TASK_ID"] == "wt-1"
    """))
    monkeypatch.chdir(worktree)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["compose-gen: task 'wt-1' (from .zenflow/worktrees/<id>/)*"])


def test_an_in_process_run_gives_the_environment_back(pytester: pytest.Pytester,
                                                      monkeypatch, answering: int) -> None:
    make_project(pytester.path, port=answering)
    monkeypatch.delenv("POSTGRES_PORT", raising=False)
    monkeypatch.setenv("ZENFLOW_TASK_ID", "task-a")
    pytester.makepyfile("import os\ndef test_it():\n    assert os.environ['POSTGRES_PORT']\n")
    result = pytester.inline_run("-p", "no:cacheprovider")
    result.assertoutcome(passed=1)
    assert "POSTGRES_PORT" not in os.environ
    assert os.environ["ZENFLOW_TASK_ID"] == "task-a"
