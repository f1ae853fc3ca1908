"""Real stacks of the examples: `up`, isolation between workers and tasks, reuse, `down`.

Real Docker, real Compose, real PostgreSQL. The read-only checks of a 3-worker demo stack
share one stack, booted once per run whichever xdist workers run them; every test that
writes to a stack or changes its life cycle boots its own under a unique task ID.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from compose_gen import stack as stack_module
from tests.integration.helpers import (
    Task,
    TaskTracker,
    answers,
    cli,
    connect,
    container_of,
    containers,
    copy_example,
    docker,
    get_json,
    host_bindings,
    http,
    labelled,
    local_images,
    nothing_labelled,
    patched_environ,
    post_json,
    query,
    run_dir,
    shared_by_workers,
    start_cli,
    wait_for,
    with_database,
)

SEED_TITLES = {"Algebra I — midterm", "Organic Chemistry — final", "World History — quiz"}


@pytest.fixture
def demo_project(tmp_path: Path) -> Path:
    return copy_example("demo", tmp_path / "demo")


def exam_titles(base_url: str) -> set[str]:
    return {exam["title"] for exam in get_json(f"{base_url}/api/exams")}


def upload_names(base_url: str) -> set[str]:
    return {upload["name"] for upload in get_json(f"{base_url}/api/uploads")}


# --- one 3-worker demo stack, shared by the checks that only read it ------------------------

@dataclass(frozen=True)
class RunningStack:
    task: Task
    env: dict[str, str]
    workers: int


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One running 3-worker demo stack for the whole run; nothing may write to it."""
    root = run_dir(tmp_path_factory.getbasetemp())

    def environment(state_dir: str) -> dict[str, str]:
        return {"COMPOSE_GEN_STATE_DIR": state_dir, **local_images()}

    def start() -> dict[str, str]:
        base = Path(tempfile.mkdtemp(prefix="shared-stack-", dir=root))
        project = copy_example("demo", base / "demo")
        (base / "state").mkdir()
        value = {"project": str(project), "task_id": f"t-shared-{uuid.uuid4().hex[:8]}",
                 "state_dir": str(base / "state")}
        with patched_environ(environment(value["state_dir"])):
            task = Task(project, value["task_id"])
            try:
                assert task.up("--workers", "3") == 0
            except BaseException:
                stop(value)
                raise
        return value

    def stop(value: dict[str, str]) -> None:
        with patched_environ(environment(value["state_dir"])):
            tracker = TaskTracker()
            tracker.add(Path(value["project"]), value["task_id"])
            tracker.tear_down()

    with shared_by_workers("demo-stack", root, start, stop) as value:
        task = Task(Path(value["project"]), value["task_id"], value["state_dir"])
        yield RunningStack(task, task.env(), 3)


@pytest.fixture
def shared(demo_stack: RunningStack, monkeypatch: pytest.MonkeyPatch) -> RunningStack:
    """The shared stack, with this test pointed at the lease registry that holds it."""
    monkeypatch.setenv("COMPOSE_GEN_STATE_DIR", demo_stack.task.state_dir)
    return demo_stack


def test_every_worker_database_exists_and_holds_the_seed(shared: RunningStack) -> None:
    env = shared.env
    admin = with_database(env["DATABASE_URL"], "postgres")
    databases = {row[0]: row[1:] for row in query(
        admin, "SELECT datname, datistemplate, datallowconn FROM pg_database")}
    for i in range(shared.workers):
        name = f"test_e2e_w{i}"
        assert name in databases
        assert env[f"DATABASE_URL_W{i}"].endswith(f"/{name}")
        titles = {row[0] for row in query(env[f"DATABASE_URL_W{i}"], "SELECT title FROM exams")}
        assert titles == SEED_TITLES
    templates = [name for name, (is_template, allow) in databases.items()
                 if name.startswith("test_e2e_tpl_")]
    assert len(templates) == 1
    assert databases[templates[0]] == (True, False)  # frozen: nobody can connect and dirty it


def test_every_worker_backend_answers_on_its_own_port_with_its_own_database_and_media(
        shared: RunningStack) -> None:
    env, project = shared.env, shared.task
    urls = [env[f"E2E_BASE_URL_W{i}"] for i in range(shared.workers)]
    assert len(set(urls)) == shared.workers
    for i, url in enumerate(urls):
        stats = get_json(f"{url}/api/stats")
        assert stats["database"] == f"test_e2e_w{i}"
        assert stats["exams"] == 3
        backend = container_of(project.task_id, f"backend_w{i}")
        media = [m for m in backend["Mounts"] if m["Destination"] == stats["media_root"]]
        assert [m["Type"] for m in media] == ["volume"]
        assert media[0]["Name"] == env[f"MEDIA_VOLUME_W{i}"]
    assert len({env[f"MEDIA_VOLUME_W{i}"] for i in range(shared.workers)}) == shared.workers


def test_every_published_port_is_on_127_0_0_1_inside_the_task_block(
        shared: RunningStack) -> None:
    first, last = lease_block(shared.task)
    found = containers(shared.task.task_id)
    assert {c["Config"]["Labels"]["com.docker.compose.service"] for c in found} == {
        "db", "redis", "frontend", "backend_w0", "backend_w1", "backend_w2"}
    bindings = [b for c in found for b in host_bindings(c)]
    assert len(bindings) == 6  # one port each: nothing of the base's fixed ports survives
    for host_ip, host_port in bindings:
        assert host_ip == "127.0.0.1"
        assert first <= host_port <= last


def test_the_database_password_is_generated_and_the_env_file_is_private(
        shared: RunningStack) -> None:
    import psycopg

    env_file = shared.task.dir / ".env.task"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    password = shared.env["POSTGRES_PASSWORD"]
    assert password != "demo" and len(password) >= 16
    db_env = container_of(shared.task.task_id, "db")["Config"]["Env"]
    assert f"POSTGRES_PASSWORD={password}" in db_env
    url = shared.env["DATABASE_URL"]
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url.replace(f":{password}@", ":demo@"), connect_timeout=10).close()


def lease_block(task: Task) -> tuple[int, int]:
    """First and last port of the task's block, from the lease registry."""
    leases = json.loads((Path(task.state_dir) / "leases.json").read_text(encoding="utf-8"))
    [lease] = [item for item in leases["leases"].values() if item["task_id"] == task.task_id]
    return lease["block_start"], lease["block_start"] + lease["block_size"] - 1


def test_status_and_ls_json_list_the_running_stack_with_ports_and_workers(
        shared: RunningStack, capsys: pytest.CaptureFixture[str]) -> None:
    task = shared.task
    assert cli(task.project, "status", "--task-id", task.task_id, "--json") == 0
    [status] = json.loads(capsys.readouterr().out)
    assert status["task_id"] == task.task_id
    assert status["state"] == "running"
    assert status["workers"] == 3
    assert status["databases"] == ["test_e2e_w0", "test_e2e_w1", "test_e2e_w2"]
    first, last = status["ports"]
    assert first == int(shared.env["POSTGRES_PORT"])
    services = {c["service"]: c for c in status["containers"]}
    assert set(services) == {"db", "redis", "frontend", "backend_w0", "backend_w1",
                             "backend_w2"}
    for i in range(3):
        port = shared.env[f"BACKEND_PORT_W{i}"]
        assert services[f"backend_w{i}"]["ports"] == [f"127.0.0.1:{port}->8000/tcp"]
        assert services[f"backend_w{i}"]["state"] == "running"

    assert cli(task.project, "ls", "--json") == 0
    listed = {item["project"]: item for item in json.loads(capsys.readouterr().out)}
    mine = listed[shared.env["COMPOSE_PROJECT_NAME"]]
    assert (mine["state"], mine["workers"], mine["ports"]) == ("running", 3, [first, last])


# --- writes: a stack of its own, since the checks above share theirs --------------------------

def test_writes_stay_in_their_worker_and_reset_gives_back_a_pristine_database(
        demo_project: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    task = tasks.add(demo_project, unique_task_id)
    assert task.up("--workers", "3") == 0
    env = task.env()
    w0, w1, w2 = (env[f"E2E_BASE_URL_W{i}"] for i in range(3))

    # An exam and an upload through worker 0: its own database and media volume only.
    post_json(f"{w0}/api/exams", {"title": "Only on worker 0"})
    status, _ = http("POST", f"{w0}/api/uploads?name=only-w0.txt", b"worker 0 only",
                     "application/octet-stream")
    assert status == 201
    assert "Only on worker 0" in exam_titles(w0)
    assert upload_names(w0) == {"only-w0.txt"}
    for other in (w1, w2):
        assert exam_titles(other) == SEED_TITLES
        assert upload_names(other) == set()
        assert get_json(f"{other}/api/stats")["uploads"] == 0

    # Worker 1 adds a row and deletes a seed row; a reset brings back the seed, only there.
    post_json(f"{w1}/api/exams", {"title": "Added by a test"})
    first = get_json(f"{w1}/api/exams")[0]
    assert http("DELETE", f"{w1}/api/exams/{first['id']}")[0] == 204
    assert exam_titles(w1) == SEED_TITLES - {first["title"]} | {"Added by a test"}
    capsys.readouterr()
    assert cli(demo_project, "reset", "--task-id", task.task_id, "--worker", "1") == 0
    assert "worker 1" in capsys.readouterr().out
    assert exam_titles(w1) == SEED_TITLES
    assert query(env["DATABASE_URL_W1"], "SELECT count(*) FROM questions") == [(6,)]
    # The first exam a test adds after a reset gets the id it would get after a fresh seed.
    assert post_json(f"{w1}/api/exams", {"title": "After reset"})["id"] == 4
    assert "Only on worker 0" in exam_titles(w0)


# --- the template: seeded once, reused, rebuilt when the seed changes ----------------------

def test_a_second_up_reuses_the_template_and_a_changed_seed_rebuilds_it(
        demo_project: Path, unique_task_id: str, tasks: TaskTracker,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seed_runs: list[tuple[str, ...]] = []
    run_once = stack_module.run_once

    def counting_run_once(spec, service, command, env):  # noqa: ANN001, ANN202
        seed_runs.append(tuple(command))
        return run_once(spec, service, command, env)

    monkeypatch.setattr(stack_module, "run_once", counting_run_once)
    task = tasks.add(demo_project, unique_task_id)

    def template() -> tuple[str, int]:
        admin = with_database(task.env()["DATABASE_URL"], "postgres")
        [(name, oid)] = query(admin, "SELECT datname, oid::int FROM pg_database "
                                     "WHERE datistemplate AND datname LIKE 'test_e2e_tpl_%'")
        return name, oid

    assert task.up("--workers", "1") == 0
    assert "(seeded now)" in capsys.readouterr().out
    assert len(seed_runs) == 1
    first = template()

    # More workers on the running stack: new clones of the same template, no seed run.
    assert task.up("--workers", "2") == 0
    assert "(reused)" in capsys.readouterr().out
    assert len(seed_runs) == 1
    assert template() == first
    assert exam_titles(task.env()["E2E_BASE_URL_W1"]) == SEED_TITLES

    # A changed seed input: a new template, and every worker gets a clone of it.
    seed = demo_project / "backend" / "seed_e2e.py"
    seed.write_text(seed.read_text(encoding="utf-8").replace(
        '("World History — quiz", ["When did the Berlin Wall fall?"]),',
        '("World History — quiz", ["When did the Berlin Wall fall?"]),\n'
        '    ("Added to the seed", ["Is the template rebuilt?"]),'), encoding="utf-8")
    assert task.up("--workers", "2") == 0
    assert "(seeded now)" in capsys.readouterr().out
    assert len(seed_runs) == 2
    assert template()[0] != first[0]
    for i in range(2):
        assert exam_titles(task.env()[f"E2E_BASE_URL_W{i}"]) == SEED_TITLES | {
            "Added to the seed"}


# --- two tasks at once ----------------------------------------------------------------------

def test_two_tasks_up_at_once_share_no_port_and_no_database_server(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    started = []
    for name in ("a", "b"):
        project = copy_example("minimal", tmp_path / name)
        task = tasks.add(project, f"{unique_task_id}-{name}")
        started.append((task, start_cli(project, "up", "--task-id", task.task_id,
                                        "--workers", "2")))
    for _task, proc in started:
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err

    a, b = (task for task, _ in started)
    assert container_of(a.task_id, "db")["Id"] != container_of(b.task_id, "db")["Id"]
    ports_a = {port for c in containers(a.task_id) for _ip, port in host_bindings(c)}
    ports_b = {port for c in containers(b.task_id) for _ip, port in host_bindings(c)}
    assert len(ports_a) == len(ports_b) == 5  # db, redis, frontend, 2 backends
    assert not ports_a & ports_b

    # Different servers, not just different containers: each cluster has its own identity,
    # and the same database name on both holds each task's own rows.
    identity = "SELECT system_identifier FROM pg_control_system()"
    url_a, url_b = a.env()["DATABASE_URL_W0"], b.env()["DATABASE_URL_W0"]
    assert query(url_a, identity) != query(url_b, identity)
    for url, text in ((url_a, "task a only"), (url_b, "task b only")):
        with connect(url) as conn:
            conn.execute("CREATE TABLE notes (text text)")
            conn.execute("INSERT INTO notes VALUES (%s)", (text,))
    assert query(url_a, "SELECT text FROM notes") == [("task a only",)]
    assert query(url_b, "SELECT text FROM notes") == [("task b only",)]


# --- examples/minimal (fixed ports 5435, 6385, 8088, 5173), and `down` -----------------------

def test_minimal_project_gets_three_isolated_workers_and_down_leaves_nothing(
        minimal_project: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    task = tasks.add(minimal_project, unique_task_id)
    assert task.up("--workers", "3") == 0
    env = task.env()
    assert env["POSTGRES_PASSWORD"] != "app"

    admin = with_database(env["DATABASE_URL"], "postgres")
    names = {row[0] for row in query(admin, "SELECT datname FROM pg_database")}
    assert {"test_e2e_w0", "test_e2e_w1", "test_e2e_w2"} <= names
    for i in range(3):
        assert query(env[f"DATABASE_URL_W{i}"], "SELECT current_database()") == [
            (f"test_e2e_w{i}",)]
    ports = [int(env[f"BACKEND_PORT_W{i}"]) for i in range(3)]
    assert len(set(ports)) == 3
    for c in containers(task.task_id):
        assert all(ip == "127.0.0.1" for ip, _port in host_bindings(c))

    # Own media volume per worker: a file written in worker 0's is not served by the others.
    docker("exec", container_of(task.task_id, "backend_w0")["Id"], "python", "-c",
           "open('/app/media/only-w0.txt', 'w').write('w0')")
    urls = [env[f"E2E_BASE_URL_W{i}"] for i in range(3)]
    for url in urls:  # backend has no healthcheck: `up --wait` means running, not serving
        wait_for(lambda url=url: answers(url), timeout=30, what=f"{url} to answer")
    assert http("GET", f"{urls[0]}/only-w0.txt") == (200, b"w0")
    assert http("GET", f"{urls[1]}/only-w0.txt")[0] == 404
    assert http("GET", f"{urls[2]}/only-w0.txt")[0] == 404

    lease_file = Path(os.environ["COMPOSE_GEN_STATE_DIR"]) / "leases.json"
    assert env["COMPOSE_PROJECT_NAME"] in json.loads(lease_file.read_text())["leases"]
    capsys.readouterr()
    assert task.down() == 0
    assert labelled(task.task_id) == {"containers": [], "volumes": [], "networks": []}
    assert not task.dir.exists()
    assert json.loads(lease_file.read_text())["leases"] == {}
    assert task.down() == 0  # idempotent
    assert "is down" in capsys.readouterr().out


def test_down_of_a_task_that_never_started_exits_0(
        demo_project: Path, unique_task_id: str) -> None:
    assert cli(demo_project, "down", "--task-id", unique_task_id) == 0
    assert nothing_labelled(unique_task_id)


# --- doctor ---------------------------------------------------------------------------------

def test_doctor_passes_on_the_demo(demo_project: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(demo_project, "doctor") == 0
    assert not [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("error")]


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("docker-compose.yml", '    ports: ["6385:6379"]\n', "    network_mode: host\n",
     "error service 'redis' uses network_mode: host; its ports cannot be isolated per task"),
    ("compose-gen.toml", 'services = ["backend"]', 'services = ["api"]',
     "error service 'api' named in the config is not in the compose files"),
], ids=["network-mode-host", "missing-service"])
def test_doctor_fails_on_a_project_that_cannot_be_isolated(
        demo_project: Path, file: str, old: str, new: str, expected: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = demo_project / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert cli(demo_project, "doctor") == 1
    errors = [line for line in capsys.readouterr().out.splitlines() if line.startswith("error")]
    assert len(errors) == 1
    assert errors[0].startswith(expected)
