"""The Zenflow wiring for real: a git repository (the demo app at its root) with
`compose-gen zenflow init` done and NOT committed, task worktrees made by `git worktree add` in
`.zenflow/worktrees/<id>/`, and the setup_script run there the way Zenflow runs it: as a shell
command in the new worktree, with no task ID in the environment."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_gen.envfile import read_env_file
from compose_gen.zenflow import SETUP_COMMAND

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TASK_LABEL = "dev.compose-gen.task"
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "ZENFLOW_TASK_ID"}
    for line in (REPO / "scripts" / "ci" / "local-images.env").read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return {**values, **GIT_IDENTITY, "PATH": f"{BIN}{os.pathsep}{values.get('PATH', '')}"}


def _run(args: list[str], cwd: Path, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                            **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """The demo app as a git repository of its own, with Zenflow wired in, nothing of it
    committed: a worktree made right after `init` must bootstrap."""
    root = tmp_path / "my-app"
    shutil.copytree(REPO / "examples" / "demo", root, ignore=shutil.ignore_patterns(
        ".zenflow", "node_modules", "test-results", "playwright-report", "__pycache__",
        ".pytest_cache"))
    (root / ".zenflow").mkdir()
    (root / ".zenflow" / "settings.json").write_text(json.dumps(
        {"copy_files": [".env.local"], "setup_script": "echo user-setup > .user-setup-ran"}))
    _run(["git", "init", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "my app"], root, env)
    init = _run(["compose-gen", "zenflow", "init"], root, env)
    assert "your existing setup_script was kept" in init.stdout
    assert _run(["git", "status", "--porcelain", "--untracked-files=all"], root, env).stdout \
        == " M .zenflow/settings.json\n"  # the only change init makes in the work tree
    return root


@pytest.fixture
def worktrees(repo: Path, env: dict[str, str]) -> Iterator[list[tuple[str, Path]]]:
    """Made on demand by the test; every task of them is brought down at the end."""
    made: list[tuple[str, Path]] = []
    yield made
    for task_id, path in made:
        if path.is_dir():
            subprocess.run(["compose-gen", "down", "--task-id", task_id], cwd=path, env=env,
                           capture_output=True, timeout=300)


def add_worktree(repo: Path, env: dict[str, str], made: list, task_id: str) -> Path:
    path = repo / ".zenflow" / "worktrees" / task_id
    _run(["git", "worktree", "add", "-q", "--detach", str(path)], repo, env)
    made.append((task_id, path))
    return path


def setup_script(repo: Path) -> str:
    return json.loads((repo / ".zenflow" / "settings.json").read_text())["setup_script"]


def run_setup(repo: Path, worktree: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """What Zenflow does after creating the worktree: run setup_script there, in a shell."""
    return subprocess.run(setup_script(repo), shell=True, cwd=worktree, env=env,
                          capture_output=True, text=True, timeout=900)


def containers(task_id: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label={TASK_LABEL}={task_id}",
                          "--format", "{{.Names}} {{.State}}"],
                         capture_output=True, text=True, check=True, timeout=60)
    return out.stdout.split("\n")[:-1]


def test_settings_keep_the_users_keys(repo: Path) -> None:
    settings = json.loads((repo / ".zenflow" / "settings.json").read_text())
    assert settings == {
        "copy_files": [".env.local"],
        "setup_script": f"{SETUP_COMMAND} && ( echo user-setup > .user-setup-ran )"}


def test_setup_script_renders_only_with_skip_up(repo: Path, env: dict[str, str],
                                                worktrees: list) -> None:
    task_id = f"zf-skip-{uuid.uuid4().hex[:6]}"
    worktree = add_worktree(repo, env, worktrees, task_id)
    result = run_setup(repo, worktree, {**env, "COMPOSE_GEN_SKIP_UP": "1"})
    assert result.returncode == 0, result.stderr
    assert "COMPOSE_GEN_SKIP_UP=1: rendered only" in result.stdout
    env_file = worktree / ".zenflow" / "tasks" / task_id / ".env.task"
    assert read_env_file(env_file)["ZENFLOW_TASK_ID"] == task_id
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert (worktree / ".user-setup-ran").read_text() == "user-setup\n"  # chained, after
    assert containers(task_id) == []

    # A task that is asked for (the worktree's) but only rendered is never run unisolated:
    # pytest stops before collecting, with one line that says what to run (issue 11 item 1).
    for marks in ("unit or api", "unit"):
        suites = subprocess.run([str(BIN / "pytest"), "-p", "no:cacheprovider", "-n", "2",
                                 "-m", marks], cwd=worktree / "backend", env=env,
                                capture_output=True, text=True, timeout=600)
        output = suites.stdout + suites.stderr
        assert suites.returncode == pytest.ExitCode.USAGE_ERROR, output[-3000:]
        assert f"task '{task_id}' (from .zenflow/worktrees/<id>/) is rendered but not up: " \
            f"run `compose-gen up --task-id {task_id}`" in output
        assert " passed" not in output and " failed" not in output

    teardown = subprocess.run(["compose-gen", "zenflow", "teardown"], cwd=worktree,
                              env=env, capture_output=True, text=True, timeout=300)
    assert teardown.returncode == 0, teardown.stderr
    assert not env_file.exists()


def test_setup_script_brings_the_worktrees_stack_up(repo: Path, env: dict[str, str],
                                                    worktrees: list) -> None:
    task_id = f"zf-up-{uuid.uuid4().hex[:6]}"
    worktree = add_worktree(repo, env, worktrees, task_id)
    result = run_setup(repo, worktree, env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"task '{task_id}' is up" in result.stdout
    settings = read_env_file(worktree / ".zenflow" / "tasks" / task_id / ".env.task")
    running = containers(task_id)
    assert running and all(line.endswith(" running") for line in running), running
    with urllib.request.urlopen(settings["E2E_BASE_URL_W0"] + "/api/stats", timeout=10) as r:
        assert json.load(r)["exams"] == 3

    # Inside the worktree the pytest plugin finds the task by the path alone.
    tests = subprocess.run([str(BIN / "pytest"), "-p", "no:cacheprovider", "-n", "2", "-m",
                            "api"], cwd=worktree / "backend", env=env, capture_output=True,
                           text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert f"compose-gen: task '{task_id}' (from .zenflow/worktrees/<id>/)" in tests.stdout

    teardown = subprocess.run(["compose-gen", "zenflow", "teardown"], cwd=worktree,
                              env=env, capture_output=True, text=True, timeout=300)
    assert teardown.returncode == 0, teardown.stderr
    assert f"task '{task_id}' is down" in teardown.stdout
    assert containers(task_id) == []


def test_setup_script_fails_with_one_clear_line(repo: Path, env: dict[str, str],
                                               worktrees: list) -> None:
    worktree = add_worktree(repo, env, worktrees, "bad..id")
    result = run_setup(repo, worktree, env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "compose-gen: error: task ID 'bad..id' contains '..' (from .zenflow/worktrees/<id>/)"]
    assert not (worktree / ".user-setup-ran").exists()  # the user's part never ran
    assert not (worktree / ".zenflow" / "tasks").exists()
