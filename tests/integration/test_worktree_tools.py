"""Each worktree tool as it really invokes compose-gen (docs/worktree-tools.md): a real git
repository (examples/minimal, committed), `compose-gen hooks install --for TOOL`, real
worktrees, and the command the tool's config holds run the way the tool runs it: Claude Code's
JSON on stdin from the project dir, Cursor's command in the new worktree with
$ROOT_WORKTREE_PATH, Conductor's scripts with its $CONDUCTOR_* variables (sh here: the line is
also valid zsh, which Conductor uses), git's post-checkout fired by `git worktree add` itself.
COMPOSE_GEN_SKIP_UP=1 (render only) for all but one real end to end: git worktree add → stack
up on its own ports → the docs' agent commands inside the worktree → git worktree remove →
`compose-gen gc` → nothing of the task left on the Docker host."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from compose_gen.leases import Lease, LeaseRegistry
from tests.integration.helpers import labelled, local_images, remove_labelled, wait_for

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "worktree-tools.md"
BIN = Path(sys.executable).parent
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


@pytest.fixture
def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "ZENFLOW_TASK_ID"}
    return {**values, **local_images(), **GIT_IDENTITY, "COMPOSE_GEN_SKIP_UP": "1",
            "PATH": f"{BIN}{os.pathsep}{values.get('PATH', '')}"}


def run(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "",
        check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True,
                            text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def sh(command: str, cwd: Path, env: dict[str, str], stdin: str = "",
       check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(["sh", "-c", command], cwd, env, stdin, check)


@pytest.fixture
def app(tmp_path: Path, env: dict[str, str]) -> Path:
    """examples/minimal as a committed git repository, one worker (a lighter stack)."""
    root = tmp_path / "app"
    shutil.copytree(REPO / "examples" / "minimal", root,
                    ignore=shutil.ignore_patterns(".zenflow"))
    config = root / "compose-gen.toml"
    config.write_text(re.sub(r"(?m)^default = \d+$", "default = 1", config.read_text()))
    run(["git", "init", "-q"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-qm", "app"], root, env)
    return root


def install(app: Path, env: dict[str, str], tool: str) -> None:
    run(["compose-gen", "hooks", "install", "--for", tool], app, env)


def add_worktree(app: Path, env: dict[str, str], path: Path) -> Path:
    run(["git", "worktree", "add", "-q", "--detach", str(path)], app, env)
    return path


def lease_of(task_id: str) -> Lease | None:
    return next((lease for lease in LeaseRegistry().all().values()
                 if lease.task_id == task_id), None)


def env_json(cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """What an agent in the worktree reads, with no task ID given anywhere."""
    return json.loads(run(["compose-gen", "env", "--format", "json"], cwd, env).stdout)


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_claude_worktree_create_prints_only_the_path_and_remove_takes_it_down(
        app: Path, env: dict[str, str]) -> None:
    install(app, env, "claude")
    hooks = json.loads((app / ".claude" / "settings.json").read_text())["hooks"]
    create = hooks["WorktreeCreate"][0]["hooks"][0]["command"]
    remove = hooks["WorktreeRemove"][0]["hooks"][0]["command"]
    task_id = name("agent")
    hook_env = {**env, "CLAUDE_PROJECT_DIR": str(app)}
    payload = {"session_id": "s1", "transcript_path": "/tmp/t.jsonl", "cwd": str(app),
               "hook_event_name": "WorktreeCreate", "name": task_id}

    result = sh(create, app, hook_env, json.dumps(payload))
    worktree = app / ".claude" / "worktrees" / task_id
    assert result.stdout == f"{worktree}\n"  # the contract: the path, and nothing else
    assert "rendered only" in result.stderr
    assert run(["git", "branch", "--show-current"], worktree, env).stdout.strip() \
        == f"worktree-{task_id}"
    assert env_json(worktree, env)["ZENFLOW_TASK_ID"] == task_id
    assert lease_of(task_id).worktree == str(worktree)

    payload = {"session_id": "s1", "cwd": str(app), "hook_event_name": "WorktreeRemove",
               "worktree_path": str(worktree)}
    result = sh(remove, app, hook_env, json.dumps(payload))
    assert result.stdout == ""
    assert f"task '{task_id}' is down" in result.stderr
    assert not worktree.exists()
    assert lease_of(task_id) is None


def test_claude_failed_setup_leaves_no_worktree_no_lease_and_nothing_on_stdout(
        app: Path, env: dict[str, str]) -> None:
    install(app, env, "claude")
    create = json.loads((app / ".claude" / "settings.json").read_text()
                        )["hooks"]["WorktreeCreate"][0]["hooks"][0]["command"]
    task_id = name("agent-bad")
    # Fails after the worktree is made and the task rendered, before anything starts.
    bad_env = {k: v for k, v in env.items() if k != "COMPOSE_GEN_SKIP_UP"}
    bad_env["COMPOSE_GEN_UP_TIMEOUT"] = "soon"
    result = sh(create, app, bad_env, json.dumps({"cwd": str(app), "name": task_id}),
                check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1].startswith(
        "compose-gen: error: up failed (exit 2): $COMPOSE_GEN_UP_TIMEOUT")
    assert not (app / ".claude" / "worktrees" / task_id).exists()
    assert lease_of(task_id) is None

    result = sh(create, app, env, json.dumps({"cwd": str(app), "name": "../escape"}),
                check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert "contains '..'" in result.stderr  # refused before any path is made


def test_cursor_sets_up_the_new_worktree_and_gc_reaps_it_once_cursor_deletes_it(
        app: Path, env: dict[str, str]) -> None:
    install(app, env, "cursor")
    commands = json.loads((app / ".cursor" / "worktrees.json").read_text()
                          )["setup-worktree-unix"]
    task_id = name("cursor")
    worktree = add_worktree(app, env, app.parent / "cursor-worktrees" / task_id)
    for command in commands:
        sh(command, worktree, {**env, "ROOT_WORKTREE_PATH": str(app)})
    assert (worktree / ".zenflow" / "tasks" / task_id / ".env.task").is_file()
    assert env_json(worktree, env)["ZENFLOW_TASK_ID"] == task_id

    run(["git", "worktree", "remove", "--force", str(worktree)], app, env)
    result = run(["compose-gen", "gc"], app, env)
    assert f"its worktree {worktree} is gone" in result.stdout
    assert lease_of(task_id) is None


def test_conductor_setup_and_archive_with_its_environment(app: Path,
                                                          env: dict[str, str]) -> None:
    install(app, env, "conductor")
    scripts = json.loads((app / "conductor.json").read_text())["scripts"]
    workspace_name = name("tokyo")
    workspace = add_worktree(app, env, app.parent / "conductor" / "workspaces" / "app"
                             / workspace_name)
    conductor_env = {**env, "CONDUCTOR_WORKSPACE_NAME": workspace_name,
                     "CONDUCTOR_WORKSPACE_PATH": str(workspace),
                     "CONDUCTOR_ROOT_PATH": str(app), "CONDUCTOR_DEFAULT_BRANCH": "main"}
    sh(scripts["setup"], workspace, conductor_env)
    assert env_json(workspace, env)["ZENFLOW_TASK_ID"] == workspace_name
    assert lease_of(workspace_name).worktree == str(workspace)

    result = sh(scripts["archive"], workspace, conductor_env)
    assert f"task '{workspace_name}' is down" in result.stdout
    assert lease_of(workspace_name) is None
    assert not (workspace / ".zenflow" / "tasks" / workspace_name).exists()


def test_hooks_install_for_zenflow_is_zenflow_init(app: Path, env: dict[str, str]) -> None:
    install(app, env, "zenflow")
    again = run(["compose-gen", "zenflow", "init"], app, env)
    assert "already wired" in again.stdout


DOC_MARK = re.compile(r"<!-- test: (repo|worktree) -->\n```bash\n(.*?)```", re.S)


def doc_blocks(kind: str) -> str:
    text = DOC.read_text()
    assert text.count("```bash") == len(DOC_MARK.findall(text)), \
        "every bash block of docs/worktree-tools.md is marked to be run by a test"
    return "\n".join(code for mark, code in DOC_MARK.findall(text) if mark == kind)


def test_the_docs_install_commands_run_in_a_repository(app: Path, env: dict[str, str]) -> None:
    result = run(["bash", "-c", "set -euo pipefail\n" + doc_blocks("repo")], app, env)
    for tool in ("zenflow", "claude", "cursor", "conductor", "git"):
        assert re.search(rf"(?m)^{tool} +installed ", result.stdout), result.stdout


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_git_worktree_add_brings_a_stack_up_and_gc_takes_it_down_when_it_is_removed(
        app: Path, env: dict[str, str]) -> None:
    """The one real end to end: every step as a user or an agent would type it."""
    install(app, env, "git")
    task_id = name("feature")
    worktree = app.parent / task_id
    real_env = {k: v for k, v in env.items() if k != "COMPOSE_GEN_SKIP_UP"}
    try:
        added = run(["git", "worktree", "add", "-q", "-b", task_id, str(worktree)], app,
                    real_env)
        assert f"task '{task_id}' is up" in added.stdout + added.stderr
        values = env_json(worktree, real_env)
        port = int(values["POSTGRES_PORT"])
        assert port != 5435 and _port_open(port)  # its own port, not the compose file's

        # The docs' "for coding agents" commands, inside the worktree, with no task ID.
        agent = run(["bash", "-c", "set -euo pipefail\n" + doc_blocks("worktree")], worktree,
                    real_env)
        assert "fresh database" in agent.stdout
        stacks = json.loads(run(["compose-gen", "status", "--json"], worktree,
                                real_env).stdout)
        assert [(s["task_id"], s["state"]) for s in stacks] == [(task_id, "running")]

        run(["git", "worktree", "remove", "--force", str(worktree)], app, real_env)
        collected = run(["compose-gen", "gc"], app, real_env)
        assert f"its worktree {worktree} is gone" in collected.stdout
        assert labelled(task_id) == {"containers": [], "volumes": [], "networks": []}
        wait_for(lambda: not _port_open(port), timeout=30, what=f"port {port} to close")
        assert lease_of(task_id) is None
    finally:
        remove_labelled(task_id)
