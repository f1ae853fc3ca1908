"""The hook path's settings cache (compose_gen.envfile): a repeated `compose-gen env` reads no
config, prints exactly what the full path prints, and never serves a stale entry."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from compose_gen import __main__ as entry
from compose_gen import config as config_module
from compose_gen import envfile, paths, stack
from compose_gen.cli import main as cli_main
from tests._support.compose_model import minimal_base

TASK = "env-cache-t1"


@pytest.fixture(autouse=True)
def _base_without_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "read_compose_config",
                        lambda spec, _interpolation: minimal_base(spec.project_dir))


@pytest.fixture
def project(minimal_project: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Path:
    monkeypatch.chdir(minimal_project)
    assert cli_main(["render", "--task-id", TASK, "--workers", "2"]) == 0
    capsys.readouterr()
    return minimal_project


def env(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = entry.main(["env", *args])
    out, err = capsys.readouterr()
    return code, out, err


def forbid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the config was loaded")

    monkeypatch.setattr(config_module, "load_config", refuse)


def test_the_names_are_those_of_compose_gen_paths() -> None:
    assert (envfile.ENV_FILE, envfile.WORKERS_FILE, envfile.STATE_DIR_ENV) == (
        paths.ENV_FILE, paths.WORKERS_FILE, paths.STATE_DIR_ENV)
    assert envfile.CONFIG_FILE_NAME == config_module.CONFIG_FILE_NAME
    assert envfile.PYPROJECT == config_module.PYPROJECT


@pytest.mark.parametrize("value", ["", "plain", "a b", "it's", "$HOME", "x;y", "é", "a\nb",
                                   "@%+=:,./-_", "'", '"', "back\\slash", "tab\tx", "*?[]"])
def test_shell_quote_is_shlex_quote(value: str) -> None:
    assert envfile.shell_quote(value) == shlex.quote(value)


@pytest.mark.parametrize("args", [(), ("--format", "json"), ("--format", "dotenv"),
                                  ("--worker", "1"), ("--worker", "0", "--format", "json")])
def test_a_repeated_call_reads_no_config_and_prints_the_same(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: tuple[str, ...]) -> None:
    first = env(capsys, "--task-id", TASK, *args)
    assert first[0] == 0, first[2]

    forbid_config(monkeypatch)
    assert env(capsys, "--task-id", TASK, *args) == first


def test_the_task_from_zenflow_task_id_is_served_too(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    first = env(capsys, "--task-id", TASK)
    monkeypatch.setenv("ZENFLOW_TASK_ID", TASK)
    forbid_config(monkeypatch)
    assert env(capsys) == first


def test_an_edited_config_is_read_again(project: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    assert env(capsys, "--task-id", TASK, "--worker", "1", "--format", "json")[0] == 0
    config_file = project / "compose-gen.toml"
    text = config_file.read_text(encoding="utf-8")
    assert "url_env" not in text
    config_file.write_text(text.replace("[database]", '[database]\nurl_env = "DB_URL"'),
                           encoding="utf-8")

    code, out, err = env(capsys, "--task-id", TASK, "--worker", "1", "--format", "json")

    assert code == 0, err
    values = json.loads(out)
    assert values["DB_URL"] == values["DATABASE_URL_W1"]


def test_a_nearer_config_or_another_override_is_not_served_from_the_cache(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert env(capsys, "--task-id", TASK)[0] == 0
    monkeypatch.setenv("COMPOSE_GEN_TASKS_DIR", "elsewhere")
    code, _, err = env(capsys, "--task-id", TASK)
    assert code == 2 and "has no .env.task" in err  # the override is obeyed, not the cache
    monkeypatch.delenv("COMPOSE_GEN_TASKS_DIR")

    inner = project / "sub"
    inner.mkdir()
    monkeypatch.chdir(inner)
    assert env(capsys, "--task-id", TASK)[0] == 0  # found from a parent, cached for sub/
    (inner / "compose-gen.toml").write_text('compose_files = ["../docker-compose.yml"]\n'
                                            'tasks_dir = "other"\n', encoding="utf-8")
    code, _, err = env(capsys, "--task-id", TASK)
    assert code == 2 and "has no .env.task" in err


def test_a_damaged_cache_costs_only_speed(project: Path, capsys: pytest.CaptureFixture[str],
                                          _isolated_state: Path) -> None:
    first = env(capsys, "--task-id", TASK)
    cache = _isolated_state / "cache" / envfile.CACHE_FILE
    assert cache.is_file() and cache.stat().st_mode & 0o777 == 0o600
    cache.write_bytes(b"\x00garbage")
    assert env(capsys, "--task-id", TASK) == first
    assert env(capsys, "--task-id", TASK) == first


def test_a_refused_task_id_goes_to_the_full_path(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert env(capsys, "--task-id", TASK)[0] == 0
    code, out, err = env(capsys, "--task-id", "../x")
    assert code == 2 and out == "" and "'..'" in err
    code, out, err = env(capsys, "--task-id", TASK, "--worker", "5")
    assert code == 2 and "has 2 workers" in err
