"""The `render` and `env` commands, run in-process through the same entry point as the
console script (`main([...])` returns the exit code), on a copy of examples/minimal.

Compose's reading of the base file is replaced by its known output (tests/unit needs no
Compose); tests/integration/test_render_compose.py runs the same commands for real.
"""

from __future__ import annotations

import importlib
import json
import shlex
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from compose_gen import __version__, stack
from compose_gen.cli import cli
from compose_gen.cli import main as cli_main
from compose_gen.ports import ephemeral_range
from tests._support.compose_model import minimal_base

TASK = "ci-suite-tests-parallele-zenflow-9947"
Main = Callable[[list[str]], int]


def _entry_points() -> list:
    points = [pytest.param(cli_main, id="cli")]
    try:  # the click-free fast path for `env`, when the package has one
        fast = importlib.import_module("compose_gen.__main__").main
    except (ImportError, AttributeError):
        return points
    return [*points, pytest.param(fast, id="fast-path")]


@pytest.fixture(autouse=True)
def _base_without_compose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack, "read_compose_config",
                        lambda spec, _interpolation: minimal_base(spec.project_dir))


@pytest.fixture
def project(minimal_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(minimal_project)
    return minimal_project


def run(capsys: pytest.CaptureFixture, *args: str, entry: Main = cli_main) -> tuple[int, str,
                                                                                      str]:
    code = entry(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def rendered(capsys: pytest.CaptureFixture, task_id: str = TASK, workers: int = 4) -> str:
    code, out, err = run(capsys, "render", "--task-id", task_id, "--workers", str(workers))
    assert code == 0, err
    return out


def env_file(project: Path, task_id: str = TASK) -> dict[str, str]:
    lines = (project / ".zenflow" / "tasks" / task_id / ".env.task").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key: value.strip("'") for key, value in pairs}


# --- --version and --help -----------------------------------------------------------------

def test_version(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == f"compose-gen, version {__version__}"


def _command_paths(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple]:
    """Every command and subcommand, as the words that name it (`()` is compose-gen itself)."""
    paths = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths += _command_paths(command, (*prefix, name))
        else:
            paths.append((*prefix, name))
    return paths


def _resolve(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", _command_paths(), ids=lambda path: " ".join(path) or "main")
def test_help_exits_0_and_names_every_option(capsys: pytest.CaptureFixture,
                                             path: tuple[str, ...]) -> None:
    code, out, _ = run(capsys, *path, "--help")

    assert code == 0
    target = _resolve(path)
    assert out.startswith(" ".join(("Usage: compose-gen", *path)))
    for param in target.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert any(opt in out for opt in param.opts), (path, param.opts)
    for name in getattr(target, "commands", {}):
        assert name in out


def test_render_and_env_are_commands() -> None:
    assert {"render", "env"} <= set(cli.commands)


# --- render -------------------------------------------------------------------------------

def test_render_writes_the_three_files_and_reports_the_block(
        project: Path, capsys: pytest.CaptureFixture) -> None:
    out = rendered(capsys)

    task_dir = project / ".zenflow" / "tasks" / TASK
    assert {p.name for p in task_dir.iterdir()} == {
        "docker-compose.zenflow.yml", ".env.task", "workers.json"}
    values = env_file(project)
    start = int(values["POSTGRES_PORT"])
    assert f"ports {start}-{start + 19}" in out
    assert values["COMPOSE_PROJECT_NAME"] in out


def test_render_twice_keeps_the_ports_and_the_password(
        project: Path, capsys: pytest.CaptureFixture) -> None:
    rendered(capsys)
    first = env_file(project)
    rendered(capsys, workers=2)
    second = env_file(project)

    assert second["POSTGRES_PORT"] == first["POSTGRES_PORT"]
    assert second["POSTGRES_PASSWORD"] == first["POSTGRES_PASSWORD"]
    assert second["E2E_WORKERS"] == "2" and "DATABASE_URL_W2" not in second


@pytest.mark.parametrize("workers", ["0", "9"])
def test_render_with_too_many_or_no_workers_exits_2(
        project: Path, capsys: pytest.CaptureFixture, workers: str,
        _isolated_state: Path) -> None:
    code, _, err = run(capsys, "render", "--task-id", TASK, "--workers", workers)

    assert code == 2
    assert "--workers must be between 1 and 8" in err
    assert not (project / ".zenflow" / "tasks" / TASK).exists()
    assert not (_isolated_state / "leases.json").exists()


def test_a_full_range_exits_4_naming_the_range(project: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    (project / "compose-gen.toml").write_text(
        (project / "compose-gen.toml").read_text().replace(
            "[ports]\n", "[ports]\nrange_start = 23456\nslots = 1\n"))
    rendered(capsys, task_id="first")

    code, out, err = run(capsys, "render", "--task-id", "second")

    assert code == 4
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "no free block of 20 ports in 23456-23475" in err
    assert "ports.slots" in err
    assert not (project / ".zenflow" / "tasks" / "second").exists()


def test_a_range_in_the_ephemeral_ports_exits_2(project: Path, capsys: pytest.CaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch,
                                                _isolated_state: Path) -> None:
    ephemeral = ephemeral_range()
    if ephemeral is None:
        pytest.skip("no /proc/sys/net/ipv4/ip_local_port_range on this host")
    monkeypatch.setenv("COMPOSE_GEN_PORTS_RANGE_START", str(ephemeral[0]))
    monkeypatch.setenv("COMPOSE_GEN_PORTS_SLOTS", "10")

    code, _, err = run(capsys, "render", "--task-id", TASK)

    assert code == 2
    assert f"ephemeral range {ephemeral[0]}-{ephemeral[1]}" in err
    assert not (project / ".zenflow" / "tasks" / TASK).exists()
    assert not (_isolated_state / "leases.json").exists()


def test_render_recovers_from_a_damaged_lease_file(
        project: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture,
        _isolated_state: Path) -> None:
    (_isolated_state / "leases.json").write_text('{"version": 1, "leases": {"zf-x": {')

    rendered(capsys)

    assert "unreadable" in caplog.text
    leases = json.loads((_isolated_state / "leases.json").read_text())["leases"]
    assert [lease["task_id"] for lease in leases.values()] == [TASK]


# --- env ----------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", _entry_points())
def test_env_before_render_exits_2_with_a_hint(project: Path, capsys: pytest.CaptureFixture,
                                               entry: Main) -> None:
    code, out, err = run(capsys, "env", "--task-id", TASK, entry=entry)

    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert "has no .env.task" in err and f"compose-gen render --task-id {TASK}" in err


@pytest.mark.parametrize("entry", _entry_points())
def test_env_formats_all_carry_what_render_wrote(project: Path, capsys: pytest.CaptureFixture,
                                                 entry: Main) -> None:
    rendered(capsys)
    # What render wrote, plus where workers.json is (for the Playwright package).
    expected = {**env_file(project), "COMPOSE_GEN_WORKERS_JSON":
                str(project / ".zenflow" / "tasks" / TASK / "workers.json")}

    code, shell_out, _ = run(capsys, "env", "--task-id", TASK, entry=entry)
    assert code == 0
    shell = {}
    for line in shell_out.splitlines():
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, line
        key, _, value = words[1].partition("=")
        shell[key] = value
    assert shell == expected

    code, dotenv_out, _ = run(capsys, "env", "--task-id", TASK, "--format", "dotenv",
                              entry=entry)
    assert code == 0
    assert {k: shlex.split(v)[0] for k, v in
            (line.split("=", 1) for line in dotenv_out.splitlines())} == expected

    code, json_out, _ = run(capsys, "env", "--task-id", TASK, "--format", "json", entry=entry)
    assert code == 0
    assert json.loads(json_out) == expected


@pytest.mark.parametrize("entry", _entry_points())
@pytest.mark.parametrize("worker", [0, 3])
def test_env_for_a_worker_maps_the_generic_names(project: Path, capsys: pytest.CaptureFixture,
                                                 entry: Main, worker: int) -> None:
    rendered(capsys)

    code, out, _ = run(capsys, "env", "--task-id", TASK, "--worker", str(worker),
                       "--format", "json", entry=entry)

    values = json.loads(out)
    assert code == 0
    assert values["E2E_WORKER_INDEX"] == str(worker)
    assert values["E2E_BASE_URL"] == values[f"E2E_BASE_URL_W{worker}"]
    assert values["DATABASE_URL"] == values[f"DATABASE_URL_W{worker}"]
    assert values["DATABASE_URL"].endswith(f"/test_e2e_w{worker}")
    assert values["MEDIA_VOLUME"] == values[f"MEDIA_VOLUME_W{worker}"]


@pytest.mark.parametrize("entry", _entry_points())
@pytest.mark.parametrize("worker", ["4", "-1", "x"])
def test_env_for_an_unknown_worker_exits_2(project: Path, capsys: pytest.CaptureFixture,
                                           entry: Main, worker: str) -> None:
    rendered(capsys)

    code, out, err = run(capsys, "env", "--task-id", TASK, "--worker", worker, entry=entry)

    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    if worker != "x":
        assert "has 4 workers (0..3)" in err


@pytest.mark.parametrize("entry", _entry_points())
def test_env_with_an_unknown_format_exits_2(project: Path, capsys: pytest.CaptureFixture,
                                            entry: Main) -> None:
    rendered(capsys)
    code, out, err = run(capsys, "env", "--task-id", TASK, "--format", "xml", entry=entry)
    assert code == 2
    assert out == "" and "xml" in err


@pytest.mark.parametrize("entry", _entry_points())
def test_env_takes_the_task_from_zenflow_task_id(project: Path, capsys: pytest.CaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 entry: Main) -> None:
    rendered(capsys)
    monkeypatch.setenv("ZENFLOW_TASK_ID", TASK)

    code, out, _ = run(capsys, "env", "--format", "json", entry=entry)

    assert code == 0
    assert json.loads(out)["ZENFLOW_TASK_ID"] == TASK
