"""What `up`, `reset` and a smaller `up` promise on a real stack (issue 10 items 4, 6, 7, 11).

Each test starts from a copy of examples/minimal (a backend serving its media dir over HTTP)
and changes its compose file or config the way a real project differs.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from compose_gen.task import TASK_LABEL
from tests.integration.helpers import TaskTracker, cli, copy_example, docker, labelled

SEED_FILE = "seeded.txt"
# Runs in the seed service's own copy: what it writes under /app/media is the media template.
SEED = ["python", "-c",
        "import pathlib; pathlib.Path('/app/media/seeded.txt').write_text('from the seed')"]


def _project(tmp_path: Path, *, seed: bool = False, extra_compose: str = "",
             backend_env: str = "") -> Path:
    project = copy_example("minimal", tmp_path / "project")
    compose = project / "docker-compose.yml"
    text = compose.read_text(encoding="utf-8")
    if backend_env:
        text = text.replace("      MEDIA_ROOT: /app/media\n",
                            f"      MEDIA_ROOT: /app/media\n{backend_env}")
    text = text.replace("volumes:\n  media: {}\n", f"{extra_compose}volumes:\n  media: {{}}\n")
    compose.write_text(text, encoding="utf-8")
    if seed:
        config = project / "compose-gen.toml"
        config.write_text(config.read_text(encoding="utf-8").replace(
            'name = "app"\n',
            f'name = "app"\nseed_service = "backend"\nseed_command = {json.dumps(SEED)}\n'),
            encoding="utf-8")
    return project


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def test_a_service_that_crash_loops_fails_up_naming_it_and_its_logs(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    flaky = ('  flaky:\n    image: ${DEMO_PYTHON_IMAGE:-python:3.12-slim}\n'
             '    restart: always\n'
             '    command: ["python", "-c", "import sys, time; print(\'boom: no config\', '
             'flush=True); time.sleep(1); sys.exit(3)"]\n')
    project = _project(tmp_path, extra_compose="", backend_env="")
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text(encoding="utf-8").replace(
        "\nvolumes:\n", f"\n{flaky}volumes:\n"), encoding="utf-8")
    task = tasks.add(project, unique_task_id)

    assert task.up("--workers", "1") == 1

    err = capsys.readouterr().err
    assert "service 'flaky'" in err and "boom: no config" in err, err
    # A failed `up` leaves nothing of the task behind.
    assert not labelled(task.task_id)["containers"]


def test_a_base_that_interpolates_compose_gens_ports_gets_each_workers_own(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = _project(tmp_path, backend_env="      PUBLIC_URL: http://localhost:${BACKEND_PORT:-8088}\n")
    task = tasks.add(project, unique_task_id)
    assert cli(project, "render", "--task-id", task.task_id, "--workers", "3") == 0
    env = task.env()
    merged = json.loads(docker("compose", "-f", str(project / "docker-compose.yml"),
                               "-f", str(task.dir / "docker-compose.zenflow.yml"),
                               "--env-file", str(task.dir / ".env.task"),
                               "config", "--format", "json"))
    for i in range(3):
        public = merged["services"][f"backend_w{i}"]["environment"]["PUBLIC_URL"]
        assert public == f"http://localhost:{env[f'BACKEND_PORT_W{i}']}"


def test_seeded_media_reaches_every_worker_and_reset_brings_it_back(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = _project(tmp_path, seed=True)
    task = tasks.add(project, unique_task_id)
    assert task.up("--workers", "2") == 0
    env = task.env()
    for i in range(2):
        assert _get(f"{env[f'E2E_BASE_URL_W{i}']}/{SEED_FILE}") == (200, "from the seed")

    worker1 = f"{task.env()['COMPOSE_PROJECT_NAME']}-backend_w1-1"
    docker("exec", worker1, "sh", "-c", f"rm /app/media/{SEED_FILE} && echo x > /app/media/junk")
    assert _get(f"{env['E2E_BASE_URL_W1']}/{SEED_FILE}")[0] == 404

    assert cli(project, "reset", "--task-id", task.task_id, "--worker", "1",
               "--database-only") == 0
    assert _get(f"{env['E2E_BASE_URL_W1']}/{SEED_FILE}")[0] == 404  # media kept as it was

    assert cli(project, "reset", "--task-id", task.task_id, "--worker", "1") == 0
    assert _get(f"{env['E2E_BASE_URL_W1']}/{SEED_FILE}") == (200, "from the seed")
    assert _get(f"{env['E2E_BASE_URL_W1']}/junk")[0] == 404
    # Worker 0 was never touched.
    assert _get(f"{env['E2E_BASE_URL_W0']}/{SEED_FILE}") == (200, "from the seed")


def test_fewer_workers_remove_the_surplus_media_volumes_and_networks(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = _project(tmp_path)
    task = tasks.add(project, unique_task_id)
    assert task.up("--workers", "3") == 0
    project_name = task.env()["COMPOSE_PROJECT_NAME"]
    before = labelled(task.task_id)
    assert {f"{project_name}_media_w{i}" for i in range(3)} <= set(before["volumes"])
    assert {f"{project_name}_default_w{i}" for i in (1, 2)} <= set(before["networks"])
    db_before = _db_container(task.task_id)

    assert task.up("--workers", "1") == 0

    after = labelled(task.task_id)
    assert f"{project_name}_media_w0" in after["volumes"]
    assert not {f"{project_name}_media_w{i}" for i in (1, 2)} & set(after["volumes"])
    assert not {f"{project_name}_default_w{i}" for i in (1, 2)} & set(after["networks"])
    # The database was not recreated (it lives on tmpfs: a new container is an empty server).
    assert _db_container(task.task_id) == db_before


def _db_container(task_id: str) -> str:
    found = docker("ps", "--no-trunc", "--filter", f"label={TASK_LABEL}={task_id}",
                   "--filter", "label=com.docker.compose.service=db", "--format", "{{.ID}}")
    assert found.strip(), "the database container is not running"
    return found.strip()
