"""`compose-gen render` against the real Compose CLI: Compose reads the base files, and the
real `docker compose -f base -f override --env-file .env.task config` is the oracle for what
was written. No container is started (no daemon is needed for `config`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compose_gen.cli import main
from tests._support.paths import EXAMPLES

# Tasks 9947 and 10947 share ports under `base_port + task_number % 1000` (README.md, top).
PRD_TASKS = ("ci-suite-tests-parallele-zenflow-9947", "ci-suite-tests-parallele-zenflow-10947")
BASE_FIXED_PORTS = {5435, 6385, 8088, 5173}
PRD_ENV_KEYS = {"ZENFLOW_TASK_ID", "ZENFLOW_PORT_OFFSET", "POSTGRES_PORT", "REDIS_PORT",
                "BACKEND_PORT", "FRONTEND_PORT", "COMPOSE_PROJECT_NAME", "DATABASE_URL",
                "E2E_WORKERS"}
RANGE_START, BLOCK_SIZE = 20000, 20


@pytest.fixture(autouse=True)
def _needs_compose(compose_cli: None) -> None:
    """Every test here runs the real Compose CLI (and fails under CI when it is missing)."""


def task_dir(project: Path, task_id: str) -> Path:
    return project / ".zenflow" / "tasks" / task_id


def read_env(project: Path, task_id: str) -> dict[str, str]:
    values = {}
    for line in (task_dir(project, task_id) / ".env.task").read_text().split("\n"):
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert value[0] == value[-1] == "'", line
            values[key] = value[1:-1]
    return values


def compose_config(project: Path, task_id: str) -> dict[str, Any]:
    """The oracle: Compose's own merge of the base file, the override and the env file."""
    files = task_dir(project, task_id)
    command = ["docker", "compose", "--project-directory", str(project),
               "-f", str(project / "docker-compose.yml"),
               "-f", str(files / "docker-compose.zenflow.yml"),
               "--env-file", str(files / ".env.task"), "config", "--format", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"Compose refused the rendered files:\n{result.stderr}"
    return json.loads(result.stdout)


def render(project: Path, task_id: str, workers: int = 4) -> None:
    code = main(["--project-dir", str(project), "render", "--task-id", task_id,
                 "--workers", str(workers)])
    assert code == 0


def literal(value: str) -> str:
    """What a value in `config` output means: Compose prints a literal `$` as `$$`."""
    return value.replace("$$", "$")


# --- examples/minimal: fixed ports 5435, 6385, 8088, 5173 -----------------------------------

@pytest.fixture
def prd_render(minimal_project: Path) -> dict[str, Any]:
    for task_id in PRD_TASKS:
        render(minimal_project, task_id)
    return {task_id: compose_config(minimal_project, task_id) for task_id in PRD_TASKS}


def published(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [port for service in config["services"].values() for port in service.get("ports", ())]


@pytest.mark.parametrize("task_id", PRD_TASKS)
def test_compose_accepts_the_files_and_no_port_is_fixed_or_public(
        prd_render: dict[str, Any], task_id: str) -> None:
    ports = published(prd_render[task_id])

    assert len(ports) == 3 + 4  # db, redis, frontend, backend_w0..w3
    assert all(port["host_ip"] == "127.0.0.1" for port in ports), ports
    hosts = {int(port["published"]) for port in ports}
    assert len(hosts) == len(ports)
    assert not hosts & BASE_FIXED_PORTS
    assert all(RANGE_START <= port < RANGE_START + 600 * BLOCK_SIZE for port in hosts)


def test_the_two_prd_tasks_share_no_port(prd_render: dict[str, Any]) -> None:
    first, second = ({int(p["published"]) for p in published(prd_render[t])} for t in PRD_TASKS)
    assert first and second and not first & second


@pytest.mark.parametrize("task_id", PRD_TASKS)
def test_four_worker_copies_replace_the_base_backend(
        minimal_project: Path, prd_render: dict[str, Any], task_id: str) -> None:
    config = prd_render[task_id]
    services = config["services"]
    env = read_env(minimal_project, task_id)

    assert "backend" not in services  # disabled by profile: defined, never started
    assert set(services) == {"db", "redis", "frontend", *(f"backend_w{i}" for i in range(4))}
    worker_ports = set()
    for i in range(4):
        worker = services[f"backend_w{i}"]
        (port,) = worker["ports"]
        worker_ports.add(port["published"])
        assert port["target"] == 8000
        assert env[f"E2E_BASE_URL_W{i}"] == f"http://127.0.0.1:{port['published']}"
        assert literal(worker["environment"]["DATABASE_URL"]).endswith(f"/test_e2e_w{i}")
        mounts = {m["target"]: m for m in worker["volumes"]}
        assert mounts["/app/media"]["type"] == "volume"
        assert mounts["/app/media"]["source"] == f"media_w{i}"
        assert mounts["/code"]["source"] == str(minimal_project)  # other mounts kept
        assert config["volumes"][f"media_w{i}"]["name"] == env[f"MEDIA_VOLUME_W{i}"]
        assert worker["depends_on"]["db"]["condition"] == "service_healthy"
    assert len(worker_ports) == 4
    assert services["frontend"]["depends_on"] == {
        "backend_w0": {"condition": "service_started", "required": True}}


@pytest.mark.parametrize("task_id", PRD_TASKS)
def test_every_service_is_labelled_with_the_task(prd_render: dict[str, Any],
                                                 task_id: str) -> None:
    config = prd_render[task_id]
    for name, service in config["services"].items():
        assert service["labels"]["dev.compose-gen.task"] == task_id, name
    for name, volume in config["volumes"].items():
        assert volume["labels"]["dev.compose-gen.task"] == task_id, name
    assert re.fullmatch(r"zf-[a-z0-9][a-z0-9_-]*", config["name"])


@pytest.mark.parametrize("task_id", PRD_TASKS)
def test_env_task_is_private_and_agrees_with_compose(
        minimal_project: Path, prd_render: dict[str, Any], task_id: str) -> None:
    path = task_dir(minimal_project, task_id) / ".env.task"
    env = read_env(minimal_project, task_id)
    services = prd_render[task_id]["services"]

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(env) >= PRD_ENV_KEYS
    for i in range(4):
        assert {f"E2E_BASE_URL_W{i}", f"DATABASE_URL_W{i}", f"MEDIA_VOLUME_W{i}"} <= set(env)
    assert env["ZENFLOW_TASK_ID"] == task_id
    assert env["E2E_WORKERS"] == "4"
    assert env["COMPOSE_PROJECT_NAME"] == prd_render[task_id]["name"]
    for service, key in (("db", "POSTGRES_PORT"), ("redis", "REDIS_PORT"),
                         ("frontend", "FRONTEND_PORT"), ("backend_w0", "BACKEND_PORT")):
        assert services[service]["ports"][0]["published"] == env[key], key
    offset = int(env["ZENFLOW_PORT_OFFSET"])
    assert offset % BLOCK_SIZE == 0
    assert int(env["POSTGRES_PORT"]) == RANGE_START + offset
    assert env["DATABASE_URL"].startswith(
        f"postgresql://app:{env['POSTGRES_PASSWORD']}@127.0.0.1:{env['POSTGRES_PORT']}/")


def test_each_task_gets_its_own_generated_password(minimal_project: Path,
                                                   prd_render: dict[str, Any]) -> None:
    passwords = [prd_render[t]["services"]["db"]["environment"]["POSTGRES_PASSWORD"]
                 for t in PRD_TASKS]
    assert passwords[0] != passwords[1]
    assert "app" not in passwords  # the base file's password
    assert all(len(p) >= 32 for p in passwords)
    for task_id, password in zip(PRD_TASKS, passwords, strict=True):
        env = read_env(minimal_project, task_id)
        assert env["POSTGRES_PASSWORD"] == password
        for i in range(4):
            worker = prd_render[task_id]["services"][f"backend_w{i}"]
            assert f":{password}@db:5432/" in worker["environment"]["DATABASE_URL"]


@pytest.mark.parametrize("task_id", PRD_TASKS)
def test_workers_json_describes_each_worker(minimal_project: Path, prd_render: dict[str, Any],
                                            task_id: str) -> None:
    data = json.loads((task_dir(minimal_project, task_id) / "workers.json").read_text())
    env = read_env(minimal_project, task_id)

    assert data["task_id"] == task_id
    assert len(data["workers"]) == 4
    for i, worker in enumerate(data["workers"]):
        assert worker["index"] == i
        assert worker["database"] == f"test_e2e_w{i}"
        assert worker["database_url"] == env[f"DATABASE_URL_W{i}"]
        assert worker["base_url"] == env[f"E2E_BASE_URL_W{i}"]
        assert worker["media_volume"] == env[f"MEDIA_VOLUME_W{i}"]


# --- git ----------------------------------------------------------------------------------

def test_the_tasks_dir_is_kept_out_of_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "minimal", repo, ignore=shutil.ignore_patterns(".zenflow"))
    subprocess.run(["git", "init", "-q", str(repo)], check=True)

    render(repo, PRD_TASKS[0], workers=2)

    exclude = (repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert "/.zenflow/tasks/" in exclude
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True,
                            check=True).stdout
    assert ".zenflow" not in status and ".env.task" not in status
    assert "compose-gen.toml" in status  # the check itself sees untracked files


# --- the base is read once ------------------------------------------------------------------

def test_a_repeated_render_does_not_run_compose_again(minimal_project: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    render(minimal_project, PRD_TASKS[0], workers=2)
    first = read_env(minimal_project, PRD_TASKS[0])
    # No docker on PATH now: only the cache of Compose's answer can serve the base files.
    empty = minimal_project / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))

    render(minimal_project, PRD_TASKS[0], workers=2)

    assert read_env(minimal_project, PRD_TASKS[0]) == first


# --- 40 renders at once -------------------------------------------------------------------

def test_forty_concurrent_renders_get_forty_disjoint_blocks(minimal_project: Path,
                                                            _isolated_state: Path) -> None:
    count = 40
    env = {**os.environ, "COMPOSE_GEN_STATE_DIR": str(_isolated_state)}
    processes = [
        subprocess.Popen([sys.executable, "-m", "compose_gen.cli", "render",
                          "--task-id", f"conc-{i}", "--workers", "2"],
                         cwd=minimal_project, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for i in range(count)]
    failures = []
    for i, process in enumerate(processes):
        try:
            _, err = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if process.returncode != 0:
            failures.append(f"conc-{i}: exit {process.returncode}: {err.strip()}")
    assert not failures, "\n".join(failures)

    blocks = {}
    for i in range(count):
        values = read_env(minimal_project, f"conc-{i}")
        start = RANGE_START + int(values["ZENFLOW_PORT_OFFSET"])
        block = range(start, start + BLOCK_SIZE)
        ports = {int(v) for k, v in values.items() if k.endswith("_PORT") or "_PORT_W" in k}
        assert ports and all(port in block for port in ports), (i, ports, block)
        blocks[f"conc-{i}"] = block
    starts = sorted(block.start for block in blocks.values())
    assert len(set(starts)) == count
    assert all(b - a >= BLOCK_SIZE for a, b in zip(starts, starts[1:], strict=False))

    leases = json.loads((_isolated_state / "leases.json").read_text())["leases"]
    assert {lease["task_id"]: lease["block_start"] for lease in leases.values()} == {
        task: block.start for task, block in blocks.items()}
    # And Compose accepts what every one of them wrote (a sample keeps this quick).
    for task_id in ("conc-0", "conc-17", f"conc-{count - 1}"):
        assert published(compose_config(minimal_project, task_id))


# --- hostile values -----------------------------------------------------------------------

def compose_default_name(dir_name: str) -> str:
    """Compose's default project name for a directory (compose-go NormalizeProjectName)."""
    return re.sub(r"[^-_a-z0-9]", "", dir_name.lower()).lstrip("-_")


# Names without a usable default project name are covered by the test below.
dir_names = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1,
                    max_size=24).filter(lambda name: name not in (".", "..")
                                        and compose_default_name(name))
config_values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=24)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dir_names, config_values)
@example("p$HOME ${X:-y} $$", "/var/lib/${PGDATA:-x}$$")
@example("q\"u'o\\te #x", "a\nb: [c]\n  evil: true")
@example("nl\nx", "'; rm -rf ~ #")
def test_hostile_paths_and_config_values_reach_compose_literally(dir_name: str,
                                                                 data_dir: str) -> None:
    # The project's directory lands in labels and bind mounts; database.data_dir (here from
    # its env override) in the database's tmpfs. Compose must read back exactly what was
    # meant, or compose-gen must refuse with a usage error.
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / dir_name
        shutil.copytree(EXAMPLES / "minimal", project, ignore=shutil.ignore_patterns(".zenflow"))
        task_id = f"hostile-{uuid.uuid4().hex[:8]}"
        with mock.patch.dict(os.environ, {"COMPOSE_GEN_DATABASE_DATA_DIR": data_dir}):
            code = main(["--project-dir", str(project), "render", "--task-id", task_id,
                         "--workers", "2"])
        if code == 2:
            return
        assert code == 0
        config = compose_config(project, task_id)

    db = config["services"]["db"]
    assert [literal(entry) for entry in db["tmpfs"]] == [f"{data_dir}:size=1g"]
    for name, service in config["services"].items():
        assert literal(service["labels"]["dev.compose-gen.project-dir"]) == str(project), name
        assert service["labels"]["dev.compose-gen.task"] == task_id
    code_mount = next(m for m in config["services"]["backend_w1"]["volumes"]
                      if m["target"] == "/code")
    assert literal(code_mount["source"]) == str(project)


@pytest.mark.parametrize("dir_name", ["@@@", "ééé", "_-_"])
def test_a_project_dir_without_a_default_compose_name_still_renders(tmp_path: Path,
                                                                    dir_name: str) -> None:
    assert compose_default_name(dir_name) == ""
    project = tmp_path / dir_name
    shutil.copytree(EXAMPLES / "minimal", project, ignore=shutil.ignore_patterns(".zenflow"))

    render(project, "t-dirname", workers=2)

    assert compose_config(project, "t-dirname")["name"].startswith("zf-t-dirname-")
