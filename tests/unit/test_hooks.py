"""`compose-gen hooks install|uninstall|status` against real git repositories in tmp_path (no
Docker): each tool's config merged in place keeping the user's keys, install twice changes
nothing, uninstall gives the user's config back; the task ID a hook records is what every
command inside the worktree finds; `gc` judges a task by the worktree its lease records."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from compose_gen.cli import main
from compose_gen.errors import UsageError
from compose_gen.hooks import (
    claude,
    conductor,
    core,
    cursor,
    git,
    install,
    status,
    uninstall,
)
from compose_gen.inventory import StackInfo, gc_reason
from compose_gen.leases import Lease
from compose_gen.task import TaskIdSource, find_task_id

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def run_git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    run_git(root, "init", "-q")
    (root / "README").write_text("app\n")
    run_git(root, "add", "README")
    run_git(root, "commit", "-qm", "init")
    return root


# The user's own settings, one per tool's file, which every install must keep.
USER_FILES = {
    "claude": (".claude/settings.json", {
        "permissions": {"allow": ["Bash(npm test)"]},
        "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "echo stop"}]}],
                  "WorktreeRemove": [{"hooks": [{"type": "command", "command": "echo bye"}]}]}}),
    "cursor": (".cursor/worktrees.json", {"setup-worktree": ["npm ci"], "other": 1}),
    "conductor": ("conductor.json", {"scripts": {"setup": "npm ci", "run": "npm run dev",
                                                 "archive": "echo archived"},
                                     "runScriptMode": "nonconcurrent"}),
    "zenflow": (".zenflow/settings.json", {"copy_files": [".env"], "setup_script": "make"}),
}


@pytest.mark.parametrize("tool", sorted(USER_FILES))
def test_install_keeps_the_users_keys_is_idempotent_and_uninstall_gives_them_back(
        repo: Path, tool: str) -> None:
    name, user = USER_FILES[tool]
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(user, indent=2))

    assert install(tool, repo)
    merged = json.loads(path.read_text())
    for key, value in user.items():
        if key not in ("hooks", "scripts", "setup_script"):
            assert merged[key] == value
    text = json.dumps(merged)
    assert "echo stop" in text or tool != "claude"
    if tool in ("cursor", "conductor"):
        assert "npm ci" in text  # the user's setup still runs
    assert status(repo, (tool,))[0].installed

    before = path.read_bytes()
    assert install(tool, repo) == []  # the second install changes nothing
    assert path.read_bytes() == before

    assert main(["hooks", "uninstall", "--for", tool, "--repo", str(repo)]) == 0
    assert json.loads(path.read_text()) == user
    assert not status(repo, (tool,))[0].installed


def test_claude_hooks_follow_the_settings_shape(repo: Path) -> None:
    install("claude", repo)
    hooks = json.loads((repo / ".claude/settings.json").read_text())["hooks"]
    for event, step in (("WorktreeCreate", "setup"), ("WorktreeRemove", "teardown")):
        (entry,) = hooks[event]
        assert entry == {"hooks": [{"type": "command",
                                    "command": core.hook_command("claude", step)}]}


def test_claude_refuses_a_second_worktree_create_hook() -> None:
    settings = {"hooks": {"WorktreeCreate": [{"hooks": [{"type": "command",
                                                         "command": "my-wt"}]}]}}
    with pytest.raises(UsageError, match="already has a WorktreeCreate hook"):
        claude.merge(settings)


def test_cursor_unix_key_starts_with_the_generic_commands_it_shadows() -> None:
    merged = cursor.merge({"setup-worktree": ["npm ci", "cp $ROOT_WORKTREE_PATH/.env .env"]})
    assert merged["setup-worktree-unix"] == [cursor.COMMAND, "npm ci",
                                             "cp $ROOT_WORKTREE_PATH/.env .env"]
    with pytest.raises(UsageError, match="script path"):
        cursor.merge({"setup-worktree-unix": "scripts/setup.sh"})


def test_conductor_runs_the_users_setup_after_ours_and_archive_before() -> None:
    scripts = conductor.merge({"scripts": {"setup": "npm ci", "archive": "echo a"}})["scripts"]
    setup, archive = (conductor.SCRIPTS[key][0] for key in ("setup", "archive"))
    assert scripts["setup"] == f"{setup} && ( npm ci )"
    assert scripts["archive"] == f"( echo a ); {archive}"


def test_git_keeps_an_existing_post_checkout_and_respects_core_hooks_path(repo: Path) -> None:
    hooks_dir = repo / ".githooks"
    hooks_dir.mkdir()
    run_git(repo, "config", "core.hooksPath", ".githooks")
    mine = hooks_dir / "post-checkout"
    mine.write_text("#!/bin/sh\necho mine\n")
    mine.chmod(0o755)

    changes = install("git", repo)
    assert any("kept your" in line for line in changes)
    assert (hooks_dir / "post-checkout").read_text() == git.HOOK_TEXT
    assert (hooks_dir / "post-checkout.pre-compose-gen").read_text() == "#!/bin/sh\necho mine\n"
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()
    assert install("git", repo) == []

    git.uninstall(repo)
    assert mine.read_text() == "#!/bin/sh\necho mine\n"


def test_the_recorded_task_is_found_inside_the_worktree_only(repo: Path) -> None:
    worktree = repo.parent / "wt-one"
    run_git(repo, "worktree", "add", "-q", "--detach", str(worktree))
    (worktree / "sub").mkdir()
    assert find_task_id(cwd=worktree / "sub", environ={}) is None  # not set up: no task

    core.record_task(worktree, "wt-one")
    found = find_task_id(cwd=worktree / "sub", environ={})
    assert found is not None and (found.id, found.source) == ("wt-one",
                                                             TaskIdSource.GIT_WORKTREE)
    assert find_task_id(cwd=repo, environ={}) is None  # the main work tree has no task
    assert core.task_id_for(worktree, "other") == "wt-one"  # recorded wins, every time
    with pytest.raises(UsageError, match="not a linked git worktree"):
        core.record_task(repo, "x")


def test_an_invalid_worktree_name_is_one_line_naming_the_worktree(tmp_path: Path) -> None:
    from compose_gen.errors import InvalidTaskIdError

    with pytest.raises(InvalidTaskIdError, match=r"contains ' '.*from the worktree"):
        core.task_id_for(tmp_path / "my tree")


def _lease(tmp_path: Path, **changes: object) -> Lease:
    values: dict = dict(task_id="t", project_name="zf-t", slot=0, block_start=20000,
                        block_size=20, project_dir=str(tmp_path), task_dir=str(tmp_path / "t"),
                        password="ab" * 16, pid=os.getpid(), created=0.0, updated=0.0)
    return Lease(**{**values, **changes})


def test_gc_reaps_a_task_whose_recorded_worktree_is_gone(tmp_path: Path) -> None:
    lease = _lease(tmp_path, worktree=str(tmp_path / "gone"))
    info = StackInfo(project="zf-t", task_id="t", project_dir=str(tmp_path), state="running",
                     containers=(), volumes=(), networks=(), lease=lease)
    assert gc_reason(info) == f"its worktree {tmp_path / 'gone'} is gone"
    (tmp_path / "gone").mkdir()
    assert gc_reason(info) is None


def test_a_lease_written_before_worktrees_loads(tmp_path: Path) -> None:
    from dataclasses import asdict

    old = asdict(_lease(tmp_path))
    del old["worktree"]
    assert Lease.from_json(old).worktree == ""


def test_unknown_tool_is_a_usage_error(repo: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["hooks", "install", "--for", "vim", "--repo", str(repo)]) == 2
    assert "unknown worktree tool 'vim'" in capsys.readouterr().err


def test_uninstalling_the_last_tool_removes_the_shared_stub(repo: Path) -> None:
    stub = repo / ".git" / core.STUB_PATH
    install("cursor", repo)
    install("conductor", repo)
    assert stub.is_file()
    assert not any("removed" in line and "hook" in line
                   for line in uninstall("cursor", repo))  # conductor still runs it
    assert stub.is_file()
    assert f"removed {stub}" in uninstall("conductor", repo)
    assert not stub.exists()


def test_git_setup_outside_a_linked_worktree_does_nothing(
        repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """git runs post-checkout after a clone too: only a new worktree gets a stack."""
    monkeypatch.chdir(repo)
    assert main(["hooks", "run", "git", "setup"]) == 0
    assert capsys.readouterr().out == ""
    assert not (repo / ".zenflow").exists()
