"""Hostile input through the whole command line, in-process, thousands of cases.

Task IDs (any text), worker counts (any integer), values in compose-gen.toml and in the
COMPOSE_GEN_* overrides (any string, integer, float, boolean, list or table in any key), and a
damaged lease registry go through `compose_gen.cli.main` and the click-free entry point
`compose_gen.__main__.main`, exactly as the console script gets them. Whatever comes in:

- the exit code is 0, 2 (bad input) or 4 (no free port block), never an internal error or a
  traceback, and a refusal is one line;
- nothing is written outside the task's own dir and the state dir;
- what is written stays inside its quoting: the override parses line by line as
  `key: <one JSON value>` with the expected keys (JSON flow values are YAML), and .env.task
  reads back the same through compose-gen's reader and through `sh`'s `.`.

Compose's reading of the base file is replaced by its known output for examples/minimal
(tests/unit needs no Compose); tests/integration/test_security.py feeds a sample of hostile
values to the real `docker compose config`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from compose_gen import __main__ as entry
from compose_gen import boot, cli, paths, render, stack
from compose_gen.config import CONFIG_FILE_NAME, load_config
from compose_gen.envfile import read_env_file
from compose_gen.errors import ComposeGenError, InvalidTaskIdError
from compose_gen.paths import ENV_FILE, OVERRIDE_FILE, WORKERS_FILE
from compose_gen.task import (
    MAX_TASK_ID_LENGTH,
    PROJECT_DIR_LABEL,
    TASK_LABEL,
    make_task,
    validate_task_id,
)
from tests._support.compose_model import minimal_base, tree
from tests._support.paths import EXAMPLES
from tests._support.toml_text import write_toml

Main = Callable[[list[str]], int]
MAX_WORKERS = 8  # workers.max of examples/minimal (the default)
# Names a shell sets or keeps for itself: `.` of a file cannot be expected to round-trip them.
SHELL_MANAGED = {"PWD", "OLDPWD", "PPID", "IFS", "OPTIND", "OPTARG", "PS1", "PS2", "PS4",
                 "LINENO", "SHLVL", "_", "HOME", "PATH", "ENV", "MAIL", "MAILPATH"}


def fuzz(examples: int) -> settings:
    # Function-scoped fixtures are fine here: each example makes its own sandbox.
    return settings(max_examples=examples, deadline=None, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _base_without_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "read_compose_config",
                        lambda spec, _interpolation: minimal_base(spec.project_dir))


@pytest.fixture(autouse=True)
def _fast_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of renders: skip what costs time without changing what is written.

    The Jinja environment is built once per template search path instead of once per render
    (same loader, same filters, same templates), and fsync is skipped (durability is not
    under test here; test_security.py checks the real atomic writes).
    """
    build = render.jinja_env
    built: dict[tuple[str, ...], Any] = {}

    def cached(config: Any = None) -> Any:
        key = tuple(str(d) for d in render.template_dirs(config))
        if key not in built:
            built[key] = build(config)
        return built[key]

    monkeypatch.setattr(render, "jinja_env", cached)
    monkeypatch.setattr(paths.os, "fsync", lambda _fd: None)


@pytest.fixture(autouse=True)
def _never_boot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here may reach Docker: `up` with a bad worker count must stop before it."""
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("boot.up was called: bad input got past the CLI")

    monkeypatch.setattr(boot, "up", refuse)


# --- a fresh sandbox per example -------------------------------------------------------------

@dataclass
class Sandbox:
    """A copy of examples/minimal and a state dir under one root; nothing else may change."""

    root: Path

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def task_dir(self, task_id: str, tasks_dir: str = ".zenflow/tasks") -> Path:
        return (self.project / tasks_dir).resolve() / task_id

    def snapshot(self) -> dict[str, tuple[str, int, int]]:
        """Every path under the root: kind, size and modification time."""
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in (*dirnames, *filenames):
                path = Path(dirpath, name)
                info = path.lstat()
                kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
                size = 0 if kind == "dir" else info.st_size
                found[str(path)] = (kind, size, 0 if kind == "dir" else info.st_mtime_ns)
        return found


@pytest.fixture
def sandboxes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Sandbox]]:
    """A factory: each hypothesis example gets its own project copy and state dir."""
    def make() -> Sandbox:
        box = Sandbox(Path(tempfile.mkdtemp(prefix="ex-", dir=tmp_path)))
        shutil.copytree(EXAMPLES / "minimal", box.project,
                        ignore=shutil.ignore_patterns(".zenflow"))
        box.state.mkdir()
        monkeypatch.setenv("COMPOSE_GEN_STATE_DIR", str(box.state))
        # The click-free `env` finds the config from the cwd; this points it (and -C) here.
        monkeypatch.setenv("COMPOSE_GEN_CONFIG", str(box.project / CONFIG_FILE_NAME))
        return box

    yield make


def run(capsys: pytest.CaptureFixture[str], main: Main, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return int(code), out, err


def assert_no_crash(code: int, err: str, allowed: set[int]) -> None:
    assert code in allowed, err
    assert "Traceback" not in err
    assert "internal error" not in err, err


def assert_one_line_refusal(err: str) -> None:
    """A refusal is one line: a hostile value may not inject lines into the message."""
    lines = [line for line in err.split("\n") if line]
    assert len(lines) == 1, err
    assert lines[0].startswith("compose-gen: error: "), err


def assert_written_only_inside(box: Sandbox, before: dict, allowed: list[Path]) -> None:
    """New or changed paths lie inside an allowed dir; new dirs may also lead to one."""
    after = box.snapshot()
    changed = [path for path, facts in after.items() if before.get(path) != facts]
    assert set(before) <= set(after), "something was deleted outside the task"
    roots = [p.resolve() for p in allowed]
    for raw in changed:
        path = Path(raw)
        inside = any(path == root or root in path.parents for root in roots)
        leads_to = after[raw][0] == "dir" and any(path in root.parents for root in roots)
        assert inside or leads_to, f"{path} was written outside {roots}"


# --- checking what was written ---------------------------------------------------------------

_DOTENV_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*='[^']*'$")


def sourced_by_sh(path: Path) -> dict[str, str]:
    """What `set -a; . FILE` exports; the path is an argument, never part of the script."""
    proc = subprocess.run(["sh", "-c", 'set -a; . "$1"; exec /usr/bin/env -0', "sh", str(path)],
                          env={"PATH": "/usr/bin:/bin"}, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    pairs = (item.split("=", 1) for item in proc.stdout.decode("utf-8").split("\0") if item)
    return {key: value for key, value in pairs}


def check_env_file(path: Path) -> dict[str, str]:
    """Every line KEY='literal'; compose-gen's reader and sh read the same values."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    for line in text.split("\n")[:-1]:
        assert line.startswith("#") or _DOTENV_LINE.match(line), repr(line)
    values = read_env_file(path)
    from_sh = sourced_by_sh(path)
    for key, value in values.items():
        if key not in SHELL_MANAGED:
            assert from_sh.get(key) == value, key
    return values


_SERVICE_KEYS = {"profiles", "ports", "container_name", "depends_on", "environment", "tmpfs",
                 "volumes", "init", "labels"}


def check_override(path: Path, task_id: str, project: Path, workers: int) -> dict[str, Any]:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    override = tree(path.read_text(encoding="utf-8"))
    assert set(override) <= {"name", "services", "volumes", "networks"}
    assert override["name"] == make_task(task_id, load_config(project)).project_name
    copies = {f"backend_w{i}" for i in range(workers)}
    assert set(override["services"]) == {"db", "redis", "backend", "frontend"} | copies
    for name, service in override["services"].items():
        if name not in copies:
            assert set(service) <= _SERVICE_KEYS, (name, service)
            assert service.get("init") is (True if name == "db" else None), (name, service)
        # Compose reads `$$` as one `$`: the label is the exact value once unescaped.
        assert service["labels"][TASK_LABEL] == task_id.replace("$", "$$")
        assert service["labels"][PROJECT_DIR_LABEL] == str(project).replace("$", "$$")
    return override


def check_rendered(box: Sandbox, task_id: str, workers: int,
                   tasks_dir: str = ".zenflow/tasks") -> dict[str, str]:
    task_dir = box.task_dir(task_id, tasks_dir)
    values = check_env_file(task_dir / ENV_FILE)
    assert values["ZENFLOW_TASK_ID"] == task_id
    assert values["E2E_WORKERS"] == str(workers)
    check_override(task_dir / OVERRIDE_FILE, task_id, box.project, workers)
    facts = json.loads((task_dir / WORKERS_FILE).read_text(encoding="utf-8"))
    assert facts["task_id"] == task_id and len(facts["workers"]) == workers
    return values


# --- task IDs --------------------------------------------------------------------------------

HOSTILE_IDS = [
    "x;touch${IFS}pwned", "$(touch pwned)", "`touch pwned`", "a b", "a\nb", "a\rb", "a\x00b",
    "../../etc", "..", ".", "a/b", "a\\b", "/abs", "~root", "-rf", "--help", "-", "'", '"',
    "${HOME}", "$HOME", "a$$b", "\u2028", "\x85", "é", "\U0001f680", "x" * 129, "x" * 128,
    "a:b", "a@b", "a+b", "a.b", "A", "9", "_", "@", ":", "+",
]
task_ids = (st.text(max_size=MAX_TASK_ID_LENGTH + 20)
            | st.from_regex(r"[A-Za-z0-9_@+:][A-Za-z0-9._@+:-]{0,127}", fullmatch=True)
            | st.sampled_from(HOSTILE_IDS))


def is_valid_task_id(task_id: str) -> bool:
    try:
        validate_task_id(task_id)
    except InvalidTaskIdError:
        return False
    return True


@fuzz(1000)
@given(task_id=task_ids)
@example(task_id="x;touch${IFS}pwned")
@example(task_id="a:b@c+d.e_f-9")
def test_any_task_id_renders_or_is_refused_in_one_line_and_stays_in_its_dir(
        task_id: str, sandboxes: Callable[[], Sandbox],
        capsys: pytest.CaptureFixture[str]) -> None:
    box = sandboxes()
    before = box.snapshot()

    code, _out, err = run(capsys, cli.main, "-C", str(box.project), "render",
                          f"--task-id={task_id}", "--workers=2")

    event(f"render exit {code}")
    assert_no_crash(code, err, {0, 2})
    valid = is_valid_task_id(task_id)
    assert code == (0 if valid else 2), err
    if not valid:
        assert_one_line_refusal(err)
        assert box.snapshot() == before
        assert not any(box.root.rglob("pwned"))
        return
    assert_written_only_inside(box, before, [box.task_dir(task_id), box.state])
    values = check_rendered(box, task_id, 2)

    # The hook path (no click) and the click path print the same settings.
    for main in (entry.main, cli.main):
        code, out, err = run(capsys, main, "env", "--task-id", task_id, "--format", "json")
        assert_no_crash(code, err, {0})
        assert json.loads(out) == {**values, "COMPOSE_GEN_WORKERS_JSON":
                                   str(box.task_dir(task_id) / WORKERS_FILE)}


@fuzz(600)
@given(task_id=task_ids)
@example(task_id="x;touch${IFS}pwned")
@example(task_id="a\nb")
def test_the_click_free_env_path_refuses_or_reports_any_task_id(
        task_id: str, sandboxes: Callable[[], Sandbox],
        capsys: pytest.CaptureFixture[str]) -> None:
    box = sandboxes()
    before = box.snapshot()

    code, out, err = run(capsys, entry.main, "env", "--task-id", task_id)

    # Never rendered: a valid ID has no .env.task yet, an invalid one is refused; both 2.
    assert_no_crash(code, err, {2})
    assert out == ""
    assert_one_line_refusal(err)
    assert ("has no .env.task" in err) == is_valid_task_id(task_id)
    assert box.snapshot() == before


# --- worker counts ---------------------------------------------------------------------------

worker_counts = (st.integers() | st.integers(min_value=-3, max_value=MAX_WORKERS + 3)
                 | st.sampled_from([0, -1, MAX_WORKERS, MAX_WORKERS + 1, 2**31, 2**63, -2**63,
                                    10**30]))


@fuzz(800)
@given(workers=worker_counts, worker=worker_counts)
@example(workers=0, worker=0)
@example(workers=MAX_WORKERS + 1, worker=0)
@example(workers=MAX_WORKERS, worker=MAX_WORKERS - 1)
def test_any_worker_count_renders_within_1_to_max_and_exits_2_outside(
        workers: int, worker: int, sandboxes: Callable[[], Sandbox],
        capsys: pytest.CaptureFixture[str]) -> None:
    box = sandboxes()
    task_id = "fuzz-workers"
    in_range = 1 <= workers <= MAX_WORKERS

    if not in_range:  # refused before anything starts (boot.up would fail the test)
        code, _out, err = run(capsys, cli.main, "-C", str(box.project), "up",
                              f"--task-id={task_id}", f"--workers={workers}")
        assert_no_crash(code, err, {2})
        assert f"--workers must be between 1 and {MAX_WORKERS}" in err
    code, _out, err = run(capsys, cli.main, "-C", str(box.project), "render",
                          f"--task-id={task_id}", f"--workers={workers}")
    assert_no_crash(code, err, {0, 2})
    if not in_range:
        assert code == 2
        assert_one_line_refusal(err)
        assert f"--workers must be between 1 and {MAX_WORKERS}" in err
        assert not box.task_dir(task_id).exists()
        assert not (box.state / "leases.json").exists()
        return
    assert code == 0, err
    values = check_rendered(box, task_id, workers)

    for main in (cli.main, entry.main):
        code, out, err = run(capsys, main, "env", f"--task-id={task_id}", f"--worker={worker}",
                             "--format=json")
        assert_no_crash(code, err, {0, 2})
        if 0 <= worker < workers:
            assert code == 0, err
            view = json.loads(out)
            assert view["E2E_WORKER_INDEX"] == str(worker)
            assert view["DATABASE_URL"] == values[f"DATABASE_URL_W{worker}"]
        else:
            assert code == 2
            assert_one_line_refusal(err)


# --- config values ---------------------------------------------------------------------------

# Every key compose-gen knows, with the kind of value it expects.
KEYS: dict[tuple[str, ...], str] = {
    ("compose_files",): "list", ("project_prefix",): "str", ("tasks_dir",): "str",
    ("ports", "range_start"): "int", ("ports", "block_size"): "int", ("ports", "slots"): "int",
    ("ports", "worker_offset"): "int", ("ports", "names"): "table",
    ("database", "service"): "str", ("database", "port"): "int", ("database", "user"): "str",
    ("database", "name"): "str", ("database", "password_env"): "str",
    ("database", "url_env"): "str", ("database", "name_prefix"): "str",
    ("database", "seed_service"): "str", ("database", "seed_command"): "list",
    ("database", "seed_sql"): "str", ("database", "seed_inputs"): "list",
    ("database", "fast"): "bool", ("database", "tmpfs"): "bool",
    ("database", "tmpfs_size"): "str", ("database", "data_dir"): "str",
    ("database", "ready_timeout"): "float",
    ("workers", "services"): "list", ("workers", "default"): "int", ("workers", "max"): "int",
    ("workers", "http_service"): "str", ("media", "volume"): "str",
}
HOSTILE_TEXT = ["", " ", "$HOME", "${HOME}", "${X:-$(id)}", "$$", "a'b", 'a"b', "a\nb: c",
                "a\r\nevil: true", "\\", "a\\", "# x", "&anchor", "*alias", "!tag", "{a: b}",
                "[1]", "- item", "\u2028", "\x85", "\x00", "'; touch pwned; echo '", "`id`",
                "$(touch pwned)", "db", "backend", "POSTGRES_PORT", "PATH", "1g", "../../x",
                "/abs/path", "é\U0001f680", "x" * 300]
hostile_text = st.text(max_size=40) | st.sampled_from(HOSTILE_TEXT)
any_int = st.integers() | st.integers(min_value=-2, max_value=70000)
scalars = (hostile_text | any_int | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True))
VALUES_OF_KIND = {
    "str": hostile_text,
    "int": any_int,
    "bool": st.booleans(),
    "float": st.floats(allow_nan=True, allow_infinity=True) | any_int,
    "list": st.lists(hostile_text, max_size=4),
    "table": st.dictionaries(hostile_text, hostile_text, max_size=3),
}
any_value = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(hostile_text, inner, max_size=3), max_leaves=6)


# Keys that take free text, so that hostile values get past validation into the files.
env_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
FREE_TEXT = {
    ("database", "data_dir"): hostile_text.map(lambda text: "/var/lib/" + text),
    ("compose_files",): st.lists(hostile_text, min_size=1, max_size=2),
    ("tasks_dir",): hostile_text.filter(lambda text: text.strip()),
    ("database", "seed_command"): st.lists(hostile_text.filter(bool), min_size=1, max_size=4),
    ("database", "seed_inputs"): st.lists(hostile_text.filter(bool), max_size=3),
    ("ports", "names"): st.dictionaries(hostile_text, env_names, max_size=3),
}


@st.composite
def config_edits(draw: st.DrawFn) -> list[tuple[tuple[str, ...], Any]]:
    """1-3 edits of the example's config: a free-text key with hostile text, a known key
    (usually with its own kind of value, sometimes any value), an unknown key, or a whole
    section replaced."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.integers(0, 11))
        if choice < 4:
            key = draw(st.sampled_from(sorted(FREE_TEXT)))
            value = draw(FREE_TEXT[key])
        elif choice < 10:
            key = draw(st.sampled_from(sorted(KEYS)))
            value = draw(VALUES_OF_KIND[KEYS[key]] if choice < 8 else any_value)
        elif choice == 10:
            section = draw(st.sampled_from(["", "ports", "database", "workers", "media"]))
            key = (*((section,) if section else ()), draw(hostile_text.filter(bool)))
            value = draw(any_value)
        else:
            key = (draw(st.sampled_from(["ports", "database", "workers", "media"])),)
            value = draw(any_value)
        edits.append((key, value))
    return edits


PATH_KEYS = {("compose_files",), ("tasks_dir",), ("database", "seed_sql"),
             ("database", "seed_inputs")}
PATH_ENV = {"COMPOSE_GEN_COMPOSE_FILES", "COMPOSE_GEN_TASKS_DIR", "COMPOSE_GEN_CONFIG",
            "COMPOSE_GEN_DATABASE_SEED_SQL", "COMPOSE_GEN_DATABASE_SEED_INPUTS"}
ENV_OVERRIDES = sorted(
    ["COMPOSE_GEN_" + "_".join(key).upper() for key in KEYS]
    + ["COMPOSE_GEN_CONFIG"])
env_overrides = st.dictionaries(
    st.sampled_from(ENV_OVERRIDES),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
    | st.sampled_from(["1", "0", "-1", "true", "nan", "inf", "20000", "1_000", "a=b,c=D",
                       "x,y", ",", "99999999999999999999"]),
    max_size=2)


def example_config() -> dict[str, Any]:
    return {
        "compose_files": ["docker-compose.yml"], "project_prefix": "zf",
        "ports": {"names": {"db": "POSTGRES_PORT", "redis": "REDIS_PORT",
                            "backend": "BACKEND_PORT", "frontend": "FRONTEND_PORT"}},
        "database": {"service": "db", "user": "app", "name": "app"},
        "workers": {"services": ["backend"], "default": 2},
        "media": {"volume": "media"},
    }


def apply_edit(config: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    target = config
    for part in key[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[key[-1]] = value


def inside_the_project(tasks_dir: str) -> str:
    """A fuzzed tasks_dir kept under the sandbox: the real one is the user's own choice."""
    return tasks_dir.lstrip("/").replace("..", "__") if isinstance(tasks_dir, str) else tasks_dir


def is_plain_file_name(name: object) -> bool:
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\x00" not in name and len(name.encode()) < 200)


@fuzz(1200)
@given(edits=config_edits(), environ=env_overrides)
@example(edits=[(("database", "data_dir"), "/var/lib/${HOME}\n  evil: true'\"")], environ={})
@example(edits=[(("compose_files",), ["a'b \"$HOME\n.yml"])], environ={})
@example(edits=[(("tasks_dir",), "a\x00b")], environ={})
@example(edits=[(("database", "password_env"), "PATH")], environ={})
@example(edits=[(("tasks_dir",), "docker-compose.yml")], environ={})  # a file, not a dir
@example(edits=[(("compose_files",), ["x" * 300])], environ={})  # longer than NAME_MAX
def test_any_config_value_renders_or_is_refused_and_nothing_breaks_out(
        edits: list[tuple[tuple[str, ...], Any]], environ: dict[str, str],
        sandboxes: Callable[[], Sandbox], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    box = sandboxes()
    config = example_config()
    for key, value in edits:
        if key == ("tasks_dir",):
            value = inside_the_project(value)
        apply_edit(config, key, value)
        if key == ("compose_files",):
            # A hostile but existing compose file: its name lands in the override.
            for name in value if isinstance(value, list) else [value]:
                if is_plain_file_name(name):
                    shutil.copy(box.project / "docker-compose.yml", box.project / name)
    write_toml(box.project / CONFIG_FILE_NAME, config)
    before = box.snapshot()
    task_id = "fuzz-config"

    with monkeypatch.context() as env:
        for name, value in environ.items():
            if name == "COMPOSE_GEN_CONFIG":
                value = str(box.project / inside_the_project(value))
            elif name == "COMPOSE_GEN_TASKS_DIR":
                value = inside_the_project(value)
            env.setenv(name, value)
        code, _out, err = run(capsys, cli.main, "-C", str(box.project), "render",
                              f"--task-id={task_id}")
        event(f"render exit {code}")
        assert_no_crash(code, err, {0, 2, 4})
        if code != 0:
            # Messages show file paths as they are; any other value may not add a line.
            path_values = [str(v) for k, v in edits if k in PATH_KEYS]
            path_values += [v for k, v in environ.items() if k in PATH_ENV]
            if not any("\n" in value for value in path_values):
                assert_one_line_refusal(err)
            assert err.startswith("compose-gen: error: ") or err.startswith("Usage:"), err
            assert not any(box.root.rglob("pwned"))
            return
        loaded = load_config(box.project)
    workers = loaded.workers.default
    task_dir = loaded.tasks_path / task_id
    assert_written_only_inside(box, before, [task_dir, box.state])
    values = check_env_file(task_dir / ENV_FILE)
    assert values["ZENFLOW_TASK_ID"] == task_id and values["E2E_WORKERS"] == str(workers)
    override = tree((task_dir / OVERRIDE_FILE).read_text(encoding="utf-8"))
    db = override["services"][loaded.database.service]
    assert db["labels"][PROJECT_DIR_LABEL] == str(box.project).replace("$", "$$")
    if loaded.database.tmpfs:
        expected = f"{loaded.database.data_dir}:size={loaded.database.tmpfs_size}"
        assert db["tmpfs"] == [expected.replace("$", "$$")]
    assert db["environment"] == {loaded.database.password_env: values[
        loaded.database.password_env]}
    assert not any(box.root.rglob("pwned"))


# --- a damaged lease registry ----------------------------------------------------------------

LEASE_FIELDS = ["task_id", "project_name", "slot", "block_start", "block_size", "project_dir",
                "task_dir", "password", "pid", "created", "updated", "state", "databases",
                "workers", "template"]
RANGE_START, RANGE_END = 20000, 20000 + 600 * 20 - 1  # the example's (default) port range
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5)


@st.composite
def damages(draw: st.DrawFn) -> Callable[[bytes], bytes]:
    kind = draw(st.sampled_from(["truncate", "garbage", "field", "drop-field", "shape", "slot"]))
    if kind == "truncate":
        fraction = draw(st.floats(0, 1, exclude_max=True))
        return lambda raw: raw[:int(len(raw) * fraction)]
    if kind == "garbage":
        junk = draw(st.binary(min_size=1, max_size=64))
        at = draw(st.floats(0, 1))
        return lambda raw: raw[:int(len(raw) * at)] + junk
    if kind in ("field", "drop-field"):
        name = draw(st.sampled_from(LEASE_FIELDS))
        value = draw(json_values)

        def edit(raw: bytes) -> bytes:
            data = json.loads(raw)
            for lease in data["leases"].values():
                if kind == "field":
                    lease[name] = value
                else:
                    lease.pop(name, None)
            return json.dumps(data).encode()
        return edit
    if kind == "slot":  # consistent with its block, but maybe outside the range (or slots)
        slot = draw(st.integers(-700, 1300) | st.integers())

        def move(raw: bytes) -> bytes:
            data = json.loads(raw)
            for lease in data["leases"].values():
                lease["slot"] = slot
                lease["block_start"] = RANGE_START + slot * lease["block_size"]
            return json.dumps(data).encode()
        return move
    shape = draw(json_values)
    return lambda _raw: json.dumps(shape).encode()


@fuzz(300)
@given(damage=damages())
@example(damage=lambda raw: raw[: len(raw) // 2])
@example(damage=lambda raw: b"")
@example(damage=lambda raw: raw.replace(b'"slot": ', b'"slot": "1" ,"x": ', 1))
def test_a_damaged_lease_registry_is_recovered_by_the_next_command(
        damage: Callable[[bytes], bytes], sandboxes: Callable[[], Sandbox],
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    box = sandboxes()
    registry = box.state / "leases.json"
    project = ["-C", str(box.project)]
    assert run(capsys, cli.main, *project, "render", "--task-id=fuzz-lease")[0] == 0
    raw = registry.read_bytes()
    damaged = damage(raw)
    registry.write_bytes(damaged)
    caplog.clear()

    code, _out, err = run(capsys, cli.main, *project, "render", "--task-id=fuzz-lease",
                          "--workers=3")
    assert_no_crash(code, err, {0})
    code, _out, err = run(capsys, cli.main, *project, "render", "--task-id=fuzz-other")
    assert_no_crash(code, err, {0})

    leases = json.loads(registry.read_text(encoding="utf-8"))["leases"]
    assert sorted(lease["task_id"] for lease in leases.values()) == ["fuzz-lease", "fuzz-other"]
    blocks = [lease["block_start"] for lease in leases.values()]
    assert blocks[0] != blocks[1]
    for lease in leases.values():
        assert lease["block_start"] >= RANGE_START
        assert lease["block_start"] + lease["block_size"] - 1 <= RANGE_END
    aside = list(box.state.glob("leases.json.corrupt-*"))
    if aside:  # unreadable: moved aside with a warning, never silently dropped
        assert "unreadable" in caplog.text
        assert aside[0].read_bytes() == damaged
    check_rendered(box, "fuzz-lease", 3)


def test_a_leased_task_renders_after_the_block_size_grows(
        sandboxes: Callable[[], Sandbox], capsys: pytest.CaptureFixture[str]) -> None:
    box = sandboxes()
    project = ["-C", str(box.project)]
    assert run(capsys, cli.main, *project, "render", "--task-id=grows", "--workers=2")[0] == 0
    config = example_config()
    config["ports"].update(block_size=40, slots=300)  # the same range, in bigger blocks
    config["workers"]["max"] = 25
    write_toml(box.project / CONFIG_FILE_NAME, config)

    # 25 workers need ports 10..34 of a block: more than the lease's old 20-port block.
    code, _out, err = run(capsys, cli.main, *project, "render", "--task-id=grows",
                          "--workers=25")

    assert_no_crash(code, err, {0})
    values = check_rendered(box, "grows", 25)
    [lease] = json.loads((box.state / "leases.json").read_text())["leases"].values()
    assert lease["block_size"] == 40
    ports = [int(values[f"BACKEND_PORT_W{i}"]) for i in range(25)]
    assert all(lease["block_start"] <= port < lease["block_start"] + 40 for port in ports)


def test_the_hostile_examples_really_are_refused() -> None:
    """The fixed hostile IDs above include both sides, so the fuzzers test both branches."""
    refused = [task_id for task_id in HOSTILE_IDS if not is_valid_task_id(task_id)]
    assert "x;touch${IFS}pwned" in refused and "$(touch pwned)" in refused
    assert {"a:b", "a@b", "a+b", "a.b", "x" * 128} <= set(HOSTILE_IDS) - set(refused)
    with pytest.raises(ComposeGenError):
        validate_task_id("x" * 129)
