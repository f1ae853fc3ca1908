"""compose_gen/render.py and templates/: the plan (pure) and the three files it writes.

The base stack is given as Compose's own normalised model (`docker compose config --format
json` of examples/minimal), so these tests need no Compose; tests/integration feeds the real
output of Compose and checks the files with the real `docker compose config`.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compose_gen import planning, render
from compose_gen.config import Config, DatabaseConfig, MediaConfig, WorkersConfig
from compose_gen.errors import ConfigError, UsageError
from compose_gen.ports import PortBlock, block_for_slot
from compose_gen.task import TaskSpec, make_task, slugify
from tests._support.compose_model import minimal_base, yaml_lines

PRD_TASKS = ("ci-suite-tests-parallele-zenflow-9947", "ci-suite-tests-parallele-zenflow-10947")
BASE_FIXED_PORTS = {5435, 6385, 8088, 5173}
PASSWORD = "0123456789abcdef0123456789abcdef"


def minimal_config(project_dir: Path, **database: Any) -> Config:
    """examples/minimal/compose-gen.toml as a Config."""
    return Config(project_dir=project_dir, source=project_dir / "compose-gen.toml",
                  database=DatabaseConfig(user="app", name="app", **database),
                  workers=WorkersConfig(services=("backend",), default=2),
                  media=MediaConfig(volume="media"))


def plan_for(task_id: str, project_dir: Path = Path("/project"), workers: int = 4,
             slot: int = 7, config: Config | None = None,
             password: str = PASSWORD) -> planning.RenderPlan:
    config = config or minimal_config(project_dir)
    block = block_for_slot(slot, config.ports)
    return planning.plan(config, make_task(task_id, config), block, minimal_base(project_dir),
                       workers, password)


def all_host_ports(result: planning.RenderPlan) -> set[int]:
    return {p.host_port for p in result.shared_ports} | {
        p.host_port for w in result.workers for p in w.ports}


# --- the plan ----------------------------------------------------------------------------

def test_every_published_port_moves_into_the_block_on_loopback() -> None:
    result = plan_for(PRD_TASKS[0])

    ports = all_host_ports(result)
    assert ports <= set(result.block.ports)
    assert not ports & BASE_FIXED_PORTS
    specs = [p.spec for p in result.shared_ports] + [
        p.spec for w in result.workers for p in w.ports]
    assert all(spec.startswith("127.0.0.1:") for spec in specs)
    assert len(specs) == len(ports) == 3 + 4  # db, redis, frontend + 4 backend copies


def test_the_database_is_first_in_the_block_and_workers_start_at_the_worker_offset() -> None:
    result = plan_for(PRD_TASKS[0])
    start = result.block.start

    shared = {p.service: p.host_port for p in result.shared_ports}
    assert shared["db"] == start
    assert sorted(shared.values()) == [start, start + 1, start + 2]
    assert [w.ports[0].host_port for w in result.workers] == [start + 10 + i for i in range(4)]
    assert result.database_port == start


def test_the_prd_tasks_on_different_blocks_share_no_port() -> None:
    first = plan_for(PRD_TASKS[0], slot=425)
    second = plan_for(PRD_TASKS[1], slot=426)
    assert not all_host_ports(first) & all_host_ports(second)


def test_the_env_has_the_prd_keys_and_the_task_values() -> None:
    result = plan_for(PRD_TASKS[0], slot=7)
    env = result.env
    start = result.block.start

    assert env["ZENFLOW_TASK_ID"] == PRD_TASKS[0]
    assert env["ZENFLOW_PORT_OFFSET"] == str(start - 20000) == "140"
    assert env["POSTGRES_PORT"] == str(start)
    assert {env["REDIS_PORT"], env["FRONTEND_PORT"]} == {str(start + 1), str(start + 2)}
    assert env["BACKEND_PORT"] == env["BACKEND_PORT_W0"] == str(start + 10)
    assert env["DATABASE_URL"] == f"postgresql://app:{PASSWORD}@127.0.0.1:{start}/app"
    assert env["POSTGRES_PASSWORD"] == PASSWORD
    assert env["E2E_WORKERS"] == "4"
    for i in range(4):
        assert env[f"E2E_BASE_URL_W{i}"] == f"http://127.0.0.1:{start + 10 + i}"
        assert env[f"DATABASE_URL_W{i}"] == \
            f"postgresql://app:{PASSWORD}@127.0.0.1:{start}/test_e2e_w{i}"
        assert env[f"MEDIA_VOLUME_W{i}"] == f"{result.task.project_name}_media_w{i}"
    assert "DATABASE_URL_W4" not in env


def test_worker_copies_get_their_own_database_media_and_port() -> None:
    result = plan_for(PRD_TASKS[0])
    copies = {c.name: c.definition for c in result.override.copies}

    assert sorted(copies) == [f"backend_w{i}" for i in range(4)]
    for i in range(4):
        definition = copies[f"backend_w{i}"]
        url = definition["environment"]["DATABASE_URL"]
        # Inside the network: the service name and the container port.
        assert url == f"postgresql://app:{PASSWORD}@db:5432/test_e2e_w{i}"
        sources = {m["target"]: m["source"] for m in definition["volumes"]}
        assert sources == {"/app/media": f"media_w{i}", "/code": "/project"}
        assert definition["ports"] == [f"127.0.0.1:{result.block.start + 10 + i}:8000/tcp"]
        assert definition["labels"]["dev.compose-gen.task"] == PRD_TASKS[0]
        assert definition["labels"]["dev.compose-gen.worker"] == str(i)
        assert definition["depends_on"] == {"db": {"condition": "service_healthy",
                                                   "required": True}}
    assert copies["backend_w0"]["networks"]["default"]["aliases"] == ["backend"]


def test_the_base_worker_service_is_disabled_and_dependents_follow_worker_0() -> None:
    result = plan_for(PRD_TASKS[0])
    services = {s.name: s for s in result.override.services}

    assert services["backend"].disabled is True
    assert services["frontend"].depends_on == {
        "backend_w0": {"condition": "service_started", "required": True}}
    assert services["db"].environment == {"POSTGRES_PASSWORD": PASSWORD}
    for entry in services.values():
        assert entry.labels["dev.compose-gen.task"] == PRD_TASKS[0]
    assert set(result.override.volumes) >= {f"media_w{i}" for i in range(4)}


def test_the_base_is_not_modified_by_planning() -> None:
    base = minimal_base(Path("/project"))
    before = copy.deepcopy(base)
    config = minimal_config(Path("/project"))
    planning.plan(config, make_task("t", config), block_for_slot(0, config.ports), base, 4,
                PASSWORD)
    assert base == before


@pytest.mark.parametrize("workers", [0, 9, -1])
def test_a_worker_count_outside_1_to_max_is_a_usage_error(workers: int) -> None:
    with pytest.raises(UsageError, match=r"--workers must be between 1 and workers\.max=8"):
        plan_for("t", workers=workers)


def test_a_configured_service_missing_from_the_compose_files_is_named() -> None:
    config = Config(project_dir=Path("/project"), source=Path("/project/compose-gen.toml"),
                    workers=WorkersConfig(services=("api",)))
    with pytest.raises(ConfigError, match=r"workers\.services names 'api', which the compose "
                                          r"files do not define \(services: backend, db"):
        planning.plan(config, make_task("t", config), block_for_slot(0, config.ports),
                    minimal_base(Path("/project")), 2, PASSWORD)


def test_a_block_too_small_for_the_workers_says_how_big_it_must_be() -> None:
    from compose_gen.config import PortsConfig

    config = Config(project_dir=Path("/project"), source=None,
                    ports=PortsConfig(block_size=15),
                    workers=WorkersConfig(services=("backend",), max=8),
                    media=MediaConfig(volume="media"))
    with pytest.raises(ConfigError, match="set ports.block_size to at least 18"):
        planning.plan(config, make_task("t", config), block_for_slot(0, config.ports),
                    minimal_base(Path("/project")), 2, PASSWORD)


def test_a_second_published_port_gets_its_own_env_name() -> None:
    base = minimal_base(Path("/project"))
    base["services"]["redis"]["ports"].append(
        {"mode": "ingress", "target": 8001, "published": "8001", "protocol": "tcp"})
    config = minimal_config(Path("/project"))
    result = planning.plan(config, make_task("t", config), block_for_slot(0, config.ports), base,
                         2, PASSWORD)
    assert {"REDIS_PORT", "REDIS_PORT_8001"} <= set(result.env)
    assert result.env["REDIS_PORT"] != result.env["REDIS_PORT_8001"]


# --- the files ---------------------------------------------------------------------------

def rendered_files(result: planning.RenderPlan, config: Config | None = None) -> dict[str, str]:
    config = config or minimal_config(Path("/project"))
    return render.render_files(config, result, [Path("/project/docker-compose.yml")])


def parse_dotenv(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)='([^']*)'", line)
        assert match, f"not a KEY='value' line: {line!r}"
        values[match.group(1)] = match.group(2)
    return values


def test_the_env_file_holds_every_planned_value_single_quoted() -> None:
    result = plan_for(PRD_TASKS[0])
    assert parse_dotenv(rendered_files(result)[".env.task"]) == dict(result.env)


def test_workers_json_lists_each_worker() -> None:
    result = plan_for(PRD_TASKS[0])
    data = json.loads(rendered_files(result)["workers.json"])

    assert data["task_id"] == PRD_TASKS[0]
    assert data["project_name"] == result.task.project_name
    assert [w["index"] for w in data["workers"]] == [0, 1, 2, 3]
    for i, worker in enumerate(data["workers"]):
        assert {"index", "base_url", "database", "database_url", "media_volume"} <= set(worker)
        assert worker["database"] == f"test_e2e_w{i}"
        assert worker["database_url"] == result.env[f"DATABASE_URL_W{i}"]
        assert worker["base_url"] == result.env[f"E2E_BASE_URL_W{i}"]
        assert worker["media_volume"] == result.env[f"MEDIA_VOLUME_W{i}"]


def test_the_override_names_the_project_and_overrides_every_port_list() -> None:
    text = rendered_files(plan_for(PRD_TASKS[0]))["docker-compose.zenflow.yml"]

    project = slugify(PRD_TASKS[0])
    assert f'name: "zf-{project}"' in text.splitlines()
    assert "ports: !reset []" in text  # the disabled base backend
    assert text.count("ports: !override") == 3  # db, redis, frontend
    assert "0.0.0.0" not in text
    assert not re.search(r'"(5435|6385|8088|5173):', text)


def test_files_are_written_private(tmp_path: Path) -> None:
    config = minimal_config(tmp_path)
    task = make_task("t-private", config)
    result = planning.plan(config, task, block_for_slot(0, config.ports), minimal_base(tmp_path),
                         2, PASSWORD)

    render.write_files(task, rendered_files(result, config))

    assert stat.S_IMODE(task.dir.stat().st_mode) == 0o700
    for name in ("docker-compose.zenflow.yml", ".env.task", "workers.json"):
        assert stat.S_IMODE((task.dir / name).stat().st_mode) == 0o600
    assert not list(task.dir.glob(".*.tmp"))


def test_a_project_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    own = tmp_path / ".compose-gen" / "templates"
    own.mkdir(parents=True)
    (own / "workers.json.j2").write_text('{"mine": {{ task_id | rawjson }}}\n')
    config = minimal_config(tmp_path)
    result = planning.plan(config, make_task("t", config), block_for_slot(0, config.ports),
                         minimal_base(tmp_path), 2, PASSWORD)

    assert json.loads(rendered_files(result, config)["workers.json"]) == {"mine": "t"}


def test_templates_refuse_undefined_names(tmp_path: Path) -> None:
    own = tmp_path / ".compose-gen" / "templates"
    own.mkdir(parents=True)
    (own / "env.task.j2").write_text("X={{ no_such_value }}\n")
    config = minimal_config(tmp_path)
    result = planning.plan(config, make_task("t", config), block_for_slot(0, config.ports),
                         minimal_base(tmp_path), 2, PASSWORD)

    with pytest.raises(jinja2.UndefinedError, match="no_such_value"):
        rendered_files(result, config)


# --- .git/info/exclude --------------------------------------------------------------------

def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


def test_the_tasks_dir_is_excluded_from_git_once(tmp_path: Path) -> None:
    git("init", "-q", cwd=tmp_path)
    project = tmp_path / "services" / "app"
    project.mkdir(parents=True)
    config = minimal_config(project)

    render.exclude_from_git(config)
    render.exclude_from_git(config)

    lines = (tmp_path / ".git" / "info" / "exclude").read_text().splitlines()
    assert lines.count("/services/app/.zenflow/tasks/") == 1
    secret = project / ".zenflow" / "tasks" / "t" / ".env.task"
    secret.parent.mkdir(parents=True)
    secret.write_text("POSTGRES_PASSWORD='x'\n")
    assert git("status", "--porcelain", "--untracked-files=all", cwd=tmp_path) == ""


def test_outside_a_git_repo_nothing_is_written(tmp_path: Path) -> None:
    render.exclude_from_git(minimal_config(tmp_path))
    assert list(tmp_path.iterdir()) == []


# --- hostile values: nothing breaks out of the YAML or dotenv quoting --------------------

# What .env.task must refuse: a quote, NUL, anything `str.splitlines` breaks on (the reader
# of `compose-gen env` uses it), and a trailing backslash (Compose reads `\'` as a quote).
DOTENV_REFUSED = set("'\0\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def refused_by_dotenv(value: str) -> bool:
    return bool(set(value) & DOTENV_REFUSED) or value.endswith("\\")


hostile_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from([
    "$HOME", "${HOME}", "$$", "${X:-$(id)}", "a'b", 'a"b', "a\nb: c", "a\r\nb", "\\", "a\\",
    "# x", "&anchor", "*alias", "!tag", "{a: b}", "[1]", "- item", "\u2028", "\x85", "\x00",
    "'; rm -rf ~; echo '", "`id`",
])


@functools.cache
def _benign_shape() -> list[tuple[int, str]]:
    """(indent, key) of every line of the override for benign values."""
    text = rendered_files(plan_for("t-hostile", workers=2, slot=0))["docker-compose.zenflow.yml"]
    return [(indent, key) for indent, key, _ in yaml_lines(text)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_text)
@example("${HOME}\n  evil: true")
def test_hostile_config_values_stay_inside_their_yaml_quotes(value: str) -> None:
    # database.data_dir is a free-form string that lands in the override (the db's tmpfs);
    # the project dir lands in every label and in the copies' bind mounts.
    project_dir = Path("/project") / value.replace("/", "_").replace("\x00", "_")
    config = minimal_config(project_dir, data_dir=f"/var/lib/{value}")
    task = make_task("t-hostile", config)
    result = planning.plan(config, task, block_for_slot(0, config.ports),
                         minimal_base(project_dir), 2, PASSWORD)

    text = rendered_files(result, config)["docker-compose.zenflow.yml"]
    assert not surrogate_escapes(text)
    lines = yaml_lines(text)
    assert [(i, k) for i, k, _ in lines] == _benign_shape()
    values = {(indent, key): v for indent, key, v in lines}
    # Compose reads `$$` as a literal `$`: un-escaping must give back the exact value.
    assert values[(4, "tmpfs")] == [f"/var/lib/{value}:size=1g".replace("$", "$$")]
    labels = values[(4, "labels")]
    assert labels["dev.compose-gen.project-dir"] == str(project_dir).replace("$", "$$")


@settings(max_examples=150, deadline=None)
@given(hostile_text)
@example("a\\")
@example("abc\n")
def test_dotenv_values_are_literal_or_refused(value: str) -> None:
    try:
        line = f"K={render._dotenv(value)}"
    except UsageError as err:
        assert "cannot write" in str(err) and ".env.task" in str(err)
        assert refused_by_dotenv(value)
        return
    # One line, single-quoted, nothing inside that a parser would treat specially:
    # Compose's dotenv reader only escapes a quote with a backslash, sh none at all.
    assert not refused_by_dotenv(value)
    assert line.splitlines() == [line] == [f"K='{value}'"]


@settings(max_examples=100, deadline=None)
@given(hostile_text)
@example("rocket \U0001f680 and \U00010000")
def test_the_yaml_filter_is_one_json_line_with_dollars_escaped(value: str) -> None:
    out = render._yaml({"k": value, "l": [value]})
    assert "\n" not in out and "\r" not in out
    # ASCII but for characters past U+FFFF, which YAML cannot take as JSON's escaped
    # surrogate pairs (go-yaml: "found invalid Unicode character escape code").
    assert all(ord(ch) < 0x80 or ord(ch) > 0xFFFF for ch in out)
    assert not surrogate_escapes(out)
    assert json.loads(out) == {"k": value.replace("$", "$$"), "l": [value.replace("$", "$$")]}


def surrogate_escapes(text: str) -> list[str]:
    escapes = re.findall(r"\\(\\|u[0-9a-fA-F]{4}|.)", text)
    return [e for e in escapes if e.startswith("u") and 0xD800 <= int(e[1:], 16) <= 0xDFFF]


def test_rawjson_keeps_astral_characters_as_they_are_for_yaml_and_json() -> None:
    value = {"source": "/home/me/\U0001f680 app", "literal": "\\ud83d\\ude80"}
    out = render._raw_json(value, 2)
    assert not surrogate_escapes(out)
    assert json.loads(out) == value


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="utf-8"), min_size=1, max_size=30))
def test_a_hostile_task_id_that_got_past_validation_is_still_contained(value: str) -> None:
    # Defence in depth: the ID is validated before rendering, but the filters must hold on
    # their own. It reaches the env file (dotenv), comments and labels (yaml).
    config = minimal_config(Path("/project"))
    task = TaskSpec(id=value, slug=slugify(value), project_name=f"zf-{slugify(value)}",
                    dir=Path("/project/.zenflow/tasks/x"))
    result = planning.plan(config, task, PortBlock(slot=0, start=20000, size=20),
                         minimal_base(Path("/project")), 2, PASSWORD)
    try:
        files = rendered_files(result, config)
    except UsageError:
        assert refused_by_dotenv(value)
        return
    assert parse_dotenv(files[".env.task"])["ZENFLOW_TASK_ID"] == value
    labels = {k: v for _, k, v in yaml_lines(files["docker-compose.zenflow.yml"])}["labels"]
    assert labels["dev.compose-gen.task"] == value.replace("$", "$$")
    assert json.loads(files["workers.json"])["task_id"] == value
