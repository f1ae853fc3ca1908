"""Security of a task's stack: its secret, its files, its commands, and whose resources it
removes.

- every task gets a fresh random database password, never the base file's;
- .env.task, the override, workers.json and the lease registry are 0600 and written
  atomically: a reader never sees half a file;
- no task ID or config value ever goes through a shell, in compose-gen or in Compose;
- hostile config values stay inside their quoting for the real `docker compose config`;
- `down` and `gc` remove only what carries the task's label, never a resource that merely
  has one of its names.

Every published port being on 127.0.0.1 is asserted on running containers in
test_stack.py and test_concurrency.py.
"""

from __future__ import annotations

import ast
import json
import re
import stat
import threading
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compose_gen import lifecycle, stack
from compose_gen.config import load_config
from compose_gen.envfile import read_env_file
from compose_gen.task import PROJECT_DIR_LABEL, TASK_LABEL, make_task
from tests._support.compose_model import tree
from tests._support.toml_text import toml_string
from tests.integration.helpers import (
    REPO,
    TaskTracker,
    cli,
    copy_example,
    docker,
    labelled,
    local_images,
)

NOTHING = {"containers": [], "volumes": [], "networks": []}
SHELL_SYNTAX_IDS = ["x;touch${IFS}pwned", "$(touch pwned)", "`touch pwned`", "x|touch pwned",
                    "x&&touch pwned", "x\ntouch pwned", "x'$(touch pwned)'", "x>pwned"]


def task_dir(project: Path, task_id: str) -> Path:
    return project / ".zenflow" / "tasks" / task_id


def state_dir() -> Path:
    import os

    return Path(os.environ["COMPOSE_GEN_STATE_DIR"])


# --- the database password -------------------------------------------------------------------

def test_every_task_gets_a_fresh_random_password_never_the_base_files(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = copy_example("minimal", tmp_path / "minimal")
    base = (project / "docker-compose.yml").read_text(encoding="utf-8")
    [base_password] = re.findall(r"POSTGRES_PASSWORD: (\S+)", base)
    ids = [f"{unique_task_id}-a", f"{unique_task_id}-b"]
    for task_id in ids:
        tasks.add(project, task_id)
        assert cli(project, "render", "--task-id", task_id, "--workers", "1") == 0
    passwords = [read_env_file(task_dir(project, t) / ".env.task")["POSTGRES_PASSWORD"]
                 for t in ids]

    for password in passwords:
        assert re.fullmatch(r"[0-9a-f]{32,}", password), password  # >= 128 random bits
        assert password != base_password
    assert passwords[0] != passwords[1]
    # It is what the task's server gets and what every URL carries.
    env = read_env_file(task_dir(project, ids[0]) / ".env.task")
    override = tree((task_dir(project, ids[0]) / "docker-compose.zenflow.yml").read_text())
    assert override["services"]["db"]["environment"] == {"POSTGRES_PASSWORD": passwords[0]}
    assert f":{passwords[0]}@" in env["DATABASE_URL"] and f":{passwords[0]}@" in env[
        "DATABASE_URL_W0"]

    # A task brought down and rendered again gets a new one: nothing reuses an old secret.
    assert cli(project, "down", "--task-id", ids[0]) == 0
    assert cli(project, "render", "--task-id", ids[0], "--workers", "1") == 0
    again = read_env_file(task_dir(project, ids[0]) / ".env.task")["POSTGRES_PASSWORD"]
    assert again not in (*passwords, base_password)


# --- private files, written atomically --------------------------------------------------------

def complete_env(text: str) -> int:
    """The worker count of a whole .env.task; fails on a partial one."""
    assert text.endswith("\n")
    values = dict(line.split("=", 1) for line in text.splitlines()
                  if line and not line.startswith("#"))
    workers = int(values["E2E_WORKERS"].strip("'"))
    assert f"DATABASE_URL_W{workers - 1}" in values and f"DATABASE_URL_W{workers}" not in values
    assert values[f"MEDIA_VOLUME_W{workers - 1}"].endswith(f"_media_w{workers - 1}'")
    return workers


def complete_override(text: str) -> int:
    services = tree(text)["services"]
    copies = sorted(name for name in services if name.startswith("backend_w"))
    assert copies == [f"backend_w{i}" for i in range(len(copies))] and copies
    assert set(tree(text)) == {"name", "services", "volumes", "networks"}
    return len(copies)


def complete_workers_json(text: str) -> int:
    return len(json.loads(text)["workers"])


def complete_registry(text: str) -> int:
    leases = json.loads(text)["leases"]
    assert len(leases) == 1
    return 1


@pytest.mark.xdist_group("stack-security")
def test_task_files_and_the_registry_are_0600_and_never_seen_half_written(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = copy_example("minimal", tmp_path / "minimal")
    task = tasks.add(project, unique_task_id)
    assert cli(project, "render", "--task-id", task.task_id, "--workers", "1") == 0
    checks = {
        task.dir / ".env.task": complete_env,
        task.dir / "docker-compose.zenflow.yml": complete_override,
        task.dir / "workers.json": complete_workers_json,
        state_dir() / "leases.json": complete_registry,
    }
    for path in checks:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(task.dir.stat().st_mode) == 0o700

    # A reader in another thread reads every file while `render` rewrites them with 1, 2
    # and 3 workers (files of different lengths): each read must be one whole version.
    reads = {path: 0 for path in checks}
    seen: dict[Path, set[int]] = {path: set() for path in checks}
    broken: list[str] = []
    stop = threading.Event()

    def read_all() -> None:
        while not stop.is_set():
            for path, complete in checks.items():
                text = path.read_text(encoding="utf-8")
                try:
                    seen[path].add(complete(text))
                except Exception as err:  # noqa: BLE001 - every broken read is reported
                    broken.append(f"{path.name}: {err!r} in {text[-80:]!r}")
                reads[path] += 1

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    renders = 0
    deadline = time.monotonic() + 120
    try:
        while renders < 30 or min(reads.values()) < 200:
            assert time.monotonic() < deadline, f"only {reads} reads in 120 s"
            workers = 1 + renders % 3
            assert cli(project, "render", "--task-id", task.task_id,
                       "--workers", str(workers)) == 0
            renders += 1
    finally:
        stop.set()
        reader.join(timeout=30)

    assert broken == []
    assert min(reads.values()) >= 200
    assert seen[task.dir / ".env.task"] == {1, 2, 3}  # the reader did see the rewrites
    for path in checks:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Write-then-rename leaves no temporary file behind.
    assert sorted(p.name for p in task.dir.iterdir()) == [
        ".env.task", "docker-compose.zenflow.yml", "workers.json"]
    assert not list(state_dir().glob(".leases.json.*"))


# --- no shell anywhere ----------------------------------------------------------------------

SHELL_CALLS = {("os", "system"), ("os", "popen"), ("subprocess", "getoutput"),
               ("subprocess", "getstatusoutput"), ("asyncio", "create_subprocess_shell"),
               ("pty", "spawn")}


def shell_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (isinstance(keyword.value, ast.Constant)
                                               and keyword.value.value is False):
                found.append(f"line {node.lineno}: shell={ast.unparse(keyword.value)}")
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
                and (func.value.id, func.attr) in SHELL_CALLS:
            found.append(f"line {node.lineno}: {func.value.id}.{func.attr}")
    return found


def test_no_subprocess_in_compose_gen_goes_through_a_shell() -> None:
    sources = sorted((REPO / "compose_gen").rglob("*.py"))
    assert len(sources) > 10
    offenders = {}
    for path in sources:
        text = path.read_text(encoding="utf-8")
        found = shell_uses(text)
        found += [f"text: {m}" for m in re.findall(r"shell\s*=\s*True|os\.system|os\.popen",
                                                  text)]
        if found:
            offenders[str(path.relative_to(REPO))] = found
    assert offenders == {}
    # The checker itself sees what it is looking for.
    assert shell_uses("import os, subprocess\nsubprocess.run('x', shell=True)\nos.system('x')")


def test_a_task_id_with_shell_syntax_is_refused_and_runs_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example("minimal", tmp_path / "minimal")
    monkeypatch.chdir(tmp_path)
    for task_id in SHELL_SYNTAX_IDS:
        for command in (["render"], ["up", "--workers", "1"], ["down"], ["env"],
                        ["reset", "--worker", "0"], ["status"]):
            assert cli(project, *command, "--task-id", task_id) == 2, (command, task_id)
            err = capsys.readouterr().err
            assert "task ID" in err and "not allowed" in err, err
        # The same through $ZENFLOW_TASK_ID, as Zenflow's hooks pass it.
        monkeypatch.setenv("ZENFLOW_TASK_ID", task_id.replace("\n", " "))
        assert cli(project, "up", "--workers", "1") == 2
        monkeypatch.delenv("ZENFLOW_TASK_ID")
        assert not task_dir(project, task_id).exists()
    assert not list(tmp_path.rglob("*pwned*"))
    assert not (state_dir() / "leases.json").exists()


@pytest.mark.xdist_group("stack-security")
def test_seed_command_elements_reach_the_seed_as_literal_arguments(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker) -> None:
    project = copy_example("minimal", tmp_path / "minimal")
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("- ./:/code:ro", "- ./:/code"))
    hostile = ["$(touch pwned)", "`touch pwned`", "; touch pwned", "&& touch pwned #",
               "${IFS}touch${IFS}pwned", "$HOME", "'quoted' \"twice\"", "a\nb", "*"]
    record = "import json, sys; open('/code/argv.json', 'w').write(json.dumps(sys.argv[1:]))"
    seed = json.dumps(["python", "-c", record, *hostile])
    config = project / "compose-gen.toml"
    config.write_text(config.read_text().replace(
        'name = "app"\n', f'name = "app"\nseed_command = {seed}\n'), encoding="utf-8")
    task = tasks.add(project, unique_task_id)

    assert task.up("--workers", "1") == 0

    # The seed got each element as one argument, byte for byte: no shell split or ran them.
    assert json.loads((project / "argv.json").read_text()) == hostile
    assert not list(tmp_path.rglob("*pwned*"))


# --- hostile values through the real Compose ---------------------------------------------

hostile_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00/"),
                       min_size=1, max_size=20) | st.sampled_from([
                           "${HOME}", "$$", "$(id)", "a'b", 'a"b', "a\nb: c", "\\", "# x",
                           "&anchor", "*alias", "!tag", "{a: b}", "- item", "\u2028", "\x85"])


@pytest.fixture(scope="module")
def compose_sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose-oracle")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data_dir=hostile_text, file_name=hostile_text, dir_name=hostile_text,
       task_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._@+:-]{0,30}", fullmatch=True))
@example(data_dir="x${HOME}\n  evil: true'\"", file_name="a'b \"$HOME\n.yml",
         dir_name="$(id) ${X:-y}", task_id="a:b@c+d.e")
def test_hostile_values_stay_in_their_quoting_for_the_real_compose(
        data_dir: str, file_name: str, dir_name: str, task_id: str,
        compose_sample_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if file_name in (".", "..") or dir_name in (".", ".."):
        return
    root = compose_sample_root / uuid.uuid4().hex[:8]
    project = copy_example("minimal", root / dir_name)
    (project / "docker-compose.yml").rename(project / file_name)
    config = project / "compose-gen.toml"
    config.write_text(config.read_text().replace(
        'compose_files = ["docker-compose.yml"]', f"compose_files = [{toml_string(file_name)}]")
        .replace('name = "app"\n', f'name = "app"\ndata_dir = {toml_string(data_dir)}\n'),
        encoding="utf-8")
    monkeypatch.setenv("COMPOSE_GEN_STATE_DIR", str(root / "state"))

    loaded = load_config(project)
    task = make_task(task_id, loaded)
    rendered = lifecycle.render_task(loaded, task, 2)
    merged = stack.validate_files(rendered.files)  # the real `docker compose config`

    db = merged["services"]["db"]
    # Compose's own model after interpolation: each value is exactly what was meant.
    # (`config` prints `$` escaped as `$$`, ready to be read again.)
    assert db["labels"][TASK_LABEL] == task_id
    assert db["labels"][PROJECT_DIR_LABEL] == str(project.resolve()).replace("$", "$$")
    assert db["tmpfs"] == [f"{data_dir}:size=1g".replace("$", "$$")]
    assert db["environment"]["POSTGRES_PASSWORD"] == rendered.lease.password
    # (`backend` is disabled by a profile: only its worker copies are in the model.)
    assert set(merged["services"]) == {"db", "redis", "frontend", "backend_w0", "backend_w1"}
    assert merged["name"] == task.project_name


# --- only our labels --------------------------------------------------------------------------

@pytest.mark.xdist_group("stack-security")
def test_down_and_gc_never_remove_a_resource_without_our_label(
        tmp_path: Path, unique_task_id: str, tasks: TaskTracker,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = copy_example("minimal", tmp_path / "minimal")
    task = tasks.add(project, unique_task_id)
    assert cli(project, "render", "--task-id", task.task_id, "--workers", "2") == 0
    name = task.env()["COMPOSE_PROJECT_NAME"]
    # Exactly the names Compose gives the task's own resources, made by someone else.
    volumes = [f"{name}_media_w0", f"{name}_media_w1", f"{name}_media"]
    network = f"{name}_default"
    container = f"{name}-db-1"
    try:
        for volume in volumes:
            docker("volume", "create", volume)
        docker("network", "create", network)
        docker("create", "--name", container, local_images()["DEMO_PYTHON_IMAGE"], "true")
        capsys.readouterr()

        assert cli(project, "down", "--task-id", task.task_id) == 0
        assert cli(project, "gc") == 0
        out = capsys.readouterr().out

        assert name not in out
        for volume in volumes:
            assert docker("volume", "ls", "-q", "--filter", f"name=^{volume}$").split() == [
                volume], f"down or gc removed the unlabelled volume {volume}"
        assert docker("network", "ls", "-q", "--filter", f"name=^{network}$").split()
        assert docker("ps", "-aq", "--filter", f"name=^{container}$").split()
        assert not task.dir.exists()  # the task itself did go down
        assert labelled(task.task_id) == NOTHING
    finally:
        docker("rm", "-f", container, check=False)
        docker("network", "rm", network, check=False)
        docker("volume", "rm", "-f", *volumes, check=False)
