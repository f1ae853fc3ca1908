"""Zenflow wiring without Docker: settings.json merging, `zenflow init`, and the hook scripts
driven against a stub compose-gen that records what it was asked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from compose_gen import zenflow
from compose_gen.cli import cli
from compose_gen.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
HOOK = zenflow.SETUP_COMMAND


# --- merging settings.json -----------------------------------------------------------------

@pytest.mark.parametrize("current", [{}, {"setup_script": ""}, {"setup_script": "  "}],
                         ids=["absent", "empty", "blank"])
def test_a_missing_setup_script_becomes_the_hook(current: dict) -> None:
    merged, chained = zenflow.merge_settings(current)
    assert merged["setup_script"] == HOOK
    assert chained is None


def test_other_keys_are_kept_in_their_place() -> None:
    current = {"dev_server_script": "npm run dev", "copy_files": [".env"],
               "verification_script": "make test", "custom": {"x": 1}}
    merged, _ = zenflow.merge_settings(current)
    assert list(merged) == [*current, "setup_script"]
    assert {k: merged[k] for k in current} == current


def test_an_existing_setup_script_is_chained_after_the_hook() -> None:
    merged, chained = zenflow.merge_settings({"setup_script": "npm ci; make migrate || true"})
    assert chained == "npm ci; make migrate || true"
    assert merged["setup_script"] == f"{HOOK} && ( npm ci; make migrate || true )"


def test_merging_twice_changes_nothing() -> None:
    once, _ = zenflow.merge_settings({"setup_script": "npm ci"})
    twice, chained = zenflow.merge_settings(once)
    assert twice == once and chained is None


def test_a_setup_script_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(UsageError, match="'setup_script' must be a string"):
        zenflow.merge_settings({"setup_script": ["npm", "ci"]})


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "is not valid JSON"), ("[1, 2]", "must hold a JSON object")],
    ids=["broken", "array"])
def test_a_settings_file_compose_gen_cannot_read_is_left_alone(tmp_path: Path, text: str,
                                                               message: str) -> None:
    settings = tmp_path / ".zenflow" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(text)
    with pytest.raises(UsageError, match=message):
        zenflow.init(tmp_path)
    assert settings.read_text() == text


# --- init ----------------------------------------------------------------------------------

def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_init_installs_the_hooks_and_writes_settings(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / "sub").mkdir()
    result = zenflow.init(repo / "sub")  # from anywhere inside the work tree
    assert result.repo_dir == repo.resolve()
    settings = json.loads((repo / ".zenflow" / "settings.json").read_text())
    assert settings == {"setup_script": HOOK}
    for source, installed in zenflow.HOOKS.items():
        target = repo / ".zenflow" / "hooks" / installed
        assert target.read_text() == (REPO / "zenflow" / source).read_text()
        assert target.stat().st_mode & stat.S_IXUSR
    assert len(result.changes) == 3


def test_init_is_idempotent(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".zenflow").mkdir()
    (repo / ".zenflow" / "settings.json").write_text(
        '{"copy_files": [".env.local"], "setup_script": "npm ci"}')
    first = zenflow.init(repo)
    text = (repo / ".zenflow" / "settings.json").read_text()
    second = zenflow.init(repo)
    assert first.chained == "npm ci"
    assert second.changes == () and second.chained is None
    assert (repo / ".zenflow" / "settings.json").read_text() == text
    assert json.loads(text)["copy_files"] == [".env.local"]


def test_init_never_overwrites_a_hook_that_is_not_compose_gens(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    hook = repo / ".zenflow" / "hooks" / "compose-gen-bootstrap.sh"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(UsageError, match="is not compose-gen's hook"):
        zenflow.init(repo)
    assert hook.read_text() == "#!/bin/sh\necho mine\n"


def test_init_updates_an_older_copy_of_its_own_hook(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    zenflow.init(repo)
    hook = repo / ".zenflow" / "hooks" / "compose-gen-bootstrap.sh"
    hook.write_text(f"{zenflow.HOOK_MARKER}: bootstrap (an older version)\n")
    result = zenflow.init(repo)
    assert result.changes == ("updated .zenflow/hooks/compose-gen-bootstrap.sh",)
    assert hook.read_text() == (REPO / "zenflow" / "bootstrap.sh").read_text()


def test_the_cli_says_when_it_chained_and_when_nothing_changed(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    (repo / ".zenflow").mkdir()
    (repo / ".zenflow" / "settings.json").write_text('{"setup_script": "make deps"}')
    runner = CliRunner()
    first = runner.invoke(cli, ["zenflow", "init", "--repo", str(repo)])
    assert first.exit_code == 0, first.output
    assert "your existing setup_script was kept" in first.output
    assert "(make deps)" in first.output
    second = runner.invoke(cli, ["zenflow", "init", "--repo", str(repo)])
    assert second.exit_code == 0
    assert second.output.startswith("Zenflow is already wired in")


# --- the hooks, against a stub compose-gen -------------------------------------------------

STUB = """#!/usr/bin/env bash
# records one line per call: the arguments, NUL-free, separated by |
printf '%s|' "$@" >> "$STUB_LOG"
echo >> "$STUB_LOG"
if [ -n "${STUB_FAIL_ON:-}" ] && [ "$1" = "$STUB_FAIL_ON" ]; then
  echo "compose-gen: error: task 'x' could not $1 (what to do next)" >&2
  exit "${STUB_FAIL_CODE:-1}"
fi
echo "stub $1 ok"
"""


@pytest.fixture
def stub(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "bin" / "compose-gen"
    path.parent.mkdir()
    path.write_text(STUB)
    path.chmod(0o755)
    log = tmp_path / "calls.log"
    env = {k: v for k, v in os.environ.items() if k != "ZENFLOW_TASK_ID"}
    return {**env, "COMPOSE_GEN": str(path), "STUB_LOG": str(log)}


def _hook(name: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(REPO / "zenflow" / name)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def _calls(env: dict[str, str]) -> list[list[str]]:
    log = Path(env["STUB_LOG"])
    if not log.exists():
        return []
    return [line.rstrip("|").split("|") for line in log.read_text().splitlines()]


def test_bootstrap_takes_the_task_id_from_the_worktree_path(tmp_path: Path, stub) -> None:
    cwd = tmp_path / "repo" / ".zenflow" / "worktrees" / "task-42" / "backend"
    cwd.mkdir(parents=True)
    result = _hook("bootstrap.sh", cwd, stub)
    assert result.returncode == 0, result.stderr
    assert _calls(stub) == [["render", "--task-id", "task-42"],
                            ["up", "--task-id", "task-42", "--timeout", "300"],
                            ["env", "--task-id", "task-42", "--format", "json"]]
    assert "task task-42 is ready" in result.stdout


def test_bootstrap_prefers_zenflow_task_id_and_can_skip_up(tmp_path: Path, stub) -> None:
    cwd = tmp_path / ".zenflow" / "worktrees" / "from-path"
    cwd.mkdir(parents=True)
    env = {**stub, "ZENFLOW_TASK_ID": "from-env", "COMPOSE_GEN_SKIP_UP": "1"}
    result = _hook("bootstrap.sh", cwd, env)
    assert result.returncode == 0, result.stderr
    assert [call[0] for call in _calls(env)] == ["render", "env"]
    assert _calls(env)[0] == ["render", "--task-id", "from-env"]
    assert "COMPOSE_GEN_SKIP_UP=1: rendered only" in result.stdout


def test_bootstrap_passes_a_hostile_id_as_one_plain_argument(tmp_path: Path, stub) -> None:
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` x"
    result = _hook("bootstrap.sh", tmp_path, {**stub, "ZENFLOW_TASK_ID": hostile})
    assert result.returncode == 0  # the stub accepts anything; compose-gen would refuse it
    assert _calls(stub)[0] == ["render", "--task-id", hostile]
    assert not marker.exists()


def test_bootstrap_fails_with_one_line_and_compose_gens_exit_code(tmp_path: Path, stub) -> None:
    env = {**stub, "ZENFLOW_TASK_ID": "t1", "STUB_FAIL_ON": "up", "STUB_FAIL_CODE": "5"}
    result = _hook("bootstrap.sh", tmp_path, env)
    assert result.returncode == 5
    assert result.stderr.splitlines() == [
        "compose-gen bootstrap: up failed (exit 5): error: task 'x' could not up "
        "(what to do next)"]


def test_bootstrap_outside_a_worktree_without_an_id_fails_clearly(tmp_path: Path, stub) -> None:
    result = _hook("bootstrap.sh", tmp_path, stub)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "no task ID: set ZENFLOW_TASK_ID or run inside .zenflow/worktrees/" in result.stderr
    assert _calls(stub) == []


def test_bootstrap_without_compose_gen_says_so(tmp_path: Path, stub) -> None:
    env = {**stub, "ZENFLOW_TASK_ID": "t1", "COMPOSE_GEN": str(tmp_path / "missing")}
    result = _hook("bootstrap.sh", tmp_path, env)
    assert result.returncode == 127
    assert result.stderr.startswith("compose-gen bootstrap: render failed (exit 127)")
    assert len(result.stderr.splitlines()) == 1


def test_teardown_downs_the_worktrees_task(tmp_path: Path, stub) -> None:
    cwd = tmp_path / ".zenflow" / "worktrees" / "task-7"
    cwd.mkdir(parents=True)
    result = _hook("teardown.sh", cwd, stub)
    assert result.returncode == 0, result.stderr
    assert _calls(stub) == [["down", "--task-id", "task-7"]]
    failing = _hook("teardown.sh", cwd, {**stub, "STUB_FAIL_ON": "down", "STUB_FAIL_CODE": "3"})
    assert failing.returncode == 3
    assert failing.stderr.startswith("compose-gen teardown: down failed (exit 3): error:")
