"""Claude Code: its `WorktreeCreate` / `WorktreeRemove` hooks in `.claude/settings.json`.

The contract (Claude Code's hooks reference):
- `WorktreeCreate` runs for `claude --worktree NAME` and subagents with `isolation: worktree`
  and REPLACES Claude Code's own `git worktree add`: the hook creates the worktree and prints
  its absolute path on stdout, and nothing else. Any non-zero exit fails the creation.
  stdin is JSON: session_id, transcript_path, cwd, hook_event_name and the name, sent as
  `name` (documented as `worktree_name`, with optional `base_path` and `source_ref`).
- `WorktreeRemove` gets `worktree_path` on stdin; it cannot block the removal, and cleans up.
So setup makes `<repo>/.claude/worktrees/<name>` (Claude Code's own place; `base_path` when
sent) on branch `worktree-<name>` from HEAD (`source_ref` when sent), then brings the stack up;
if that fails it takes down what it made and removes the worktree: no half stack, no orphan.
The task ID is the name. Progress goes to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compose_gen import zenflow
from compose_gen.errors import ComposeGenError, ExitCode, UsageError
from compose_gen.hooks import core
from compose_gen.hooks.core import HookRun
from compose_gen.task import validate_task_id

CONFIG = ".claude/settings.json"
EVENTS = {"WorktreeCreate": "setup", "WorktreeRemove": "teardown"}
TEARDOWN = "WorktreeRemove runs `compose-gen down` and removes the worktree"
WORKTREES_DIR = Path(".claude") / "worktrees"
BRANCH_PREFIX = "worktree-"


def _ours(entry: Any, command: str) -> bool:
    return isinstance(entry, dict) and any(
        isinstance(hook, dict) and hook.get("command") == command
        for hook in entry.get("hooks", []) or [])


def merge(settings: dict[str, Any], where: str = CONFIG) -> dict[str, Any]:
    """Settings with our two hooks added; every other key and hook kept (pure)."""
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise UsageError(f"{where}: 'hooks' must be an object")
    merged_hooks = dict(hooks)
    for event, step in EVENTS.items():
        command = core.hook_command("claude", step)
        entries = hooks.get(event, [])
        if not isinstance(entries, list):
            raise UsageError(f"{where}: 'hooks.{event}' must be a list")
        if any(_ours(entry, command) for entry in entries):
            continue
        if event == "WorktreeCreate" and entries:
            # Two create hooks would both make the worktree; Claude Code uses one path.
            raise UsageError(f"{where} already has a WorktreeCreate hook: it creates the "
                             "worktree itself, and only one hook can",
                             hint="remove it, or call `compose-gen hooks run claude setup` "
                             "from it, then run install again")
        merged_hooks[event] = [*entries, {"hooks": [{"type": "command", "command": command}]}]
    return {**settings, "hooks": merged_hooks}


def unmerge(settings: dict[str, Any]) -> dict[str, Any]:
    hooks = dict(settings.get("hooks") or {})
    for event, step in EVENTS.items():
        command = core.hook_command("claude", step)
        kept = [entry for entry in hooks.get(event, []) if not _ours(entry, command)]
        if kept:
            hooks[event] = kept
        else:
            hooks.pop(event, None)
    result = {**settings, "hooks": hooks}
    if not hooks:
        del result["hooks"]
    return result


def install(repo: Path, python: str | None = None) -> list[str]:
    return core.install_json(repo, python, CONFIG, merge)


def installed(repo: Path) -> bool:
    settings = core.read_json(zenflow.repo_root(repo) / CONFIG)
    return merge_is_noop(settings)


def merge_is_noop(settings: dict[str, Any]) -> bool:
    try:
        return merge(settings) == settings
    except UsageError:
        return False


def uninstall(repo: Path) -> list[str]:
    path = zenflow.repo_root(repo) / CONFIG
    before = core.read_json(path)
    after = unmerge(before)
    return core.write_json_if_changed(path, before, after, CONFIG) if after != before else []


def _payload(run: HookRun) -> dict[str, Any]:
    raw = run.stdin()
    try:
        data = json.loads(raw or "{}")
    except ValueError as err:
        raise UsageError(f"the hook input on stdin is not JSON ({err})") from err
    if not isinstance(data, dict):
        raise UsageError("the hook input on stdin must be a JSON object")
    return data


def setup(run: HookRun, print_path: core.Echo) -> ExitCode:
    """WorktreeCreate: make the worktree, bring its stack up, print its path (only that)."""
    data = _payload(run)
    name = data.get("name") or data.get("worktree_name")
    if not isinstance(name, str) or not name:
        raise UsageError("the WorktreeCreate input has no 'name' (nor 'worktree_name')")
    task_id = validate_task_id(name)  # a valid task ID is also a safe directory name
    repo = zenflow.repo_root(Path(data.get("cwd") or run.cwd))
    base = Path(data["base_path"]) if data.get("base_path") else repo / WORKTREES_DIR
    worktree = (base / name).resolve()
    made = not worktree.exists()
    if made:
        branch = BRANCH_PREFIX + name
        has_branch = bool(core.git(repo, "branch", "--list", branch).strip())
        ref = str(data.get("source_ref") or "HEAD")
        # Without git's hooks: a post-checkout of ours would set the same worktree up twice.
        core.git(repo, "-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet",
                 *([str(worktree), branch] if has_branch else ["-b", branch, str(worktree), ref]))
    try:
        core.setup_worktree(run, worktree, task_id, "claude")
    except (ComposeGenError, KeyboardInterrupt):
        if made:
            _undo(run, repo, worktree, task_id)
        raise
    print_path(f"{worktree}\n")
    return ExitCode.OK


def _undo(run: HookRun, repo: Path, worktree: Path, task_id: str) -> None:
    """After a failed setup: the task's leftovers down, then the worktree we made removed."""
    try:
        core.teardown_worktree(run, worktree, task_id, "claude")
    except ComposeGenError as err:
        run.echo(f"compose-gen hooks run claude setup: cleaning up after the failure: {err}")
    try:
        core.git(repo, "worktree", "remove", "--force", str(worktree))
    except ComposeGenError as err:
        run.echo(f"compose-gen hooks run claude setup: {err}")


def teardown(run: HookRun) -> ExitCode:
    """WorktreeRemove: `down` for the worktree's task, then the worktree goes (the branch,
    which may hold the agent's commits, stays)."""
    data = _payload(run)
    raw = data.get("worktree_path")
    if not isinstance(raw, str) or not raw:
        raise UsageError("the WorktreeRemove input has no 'worktree_path'")
    worktree = Path(raw).resolve()
    code = core.teardown_worktree(run, worktree, core.task_id_for(worktree), "claude")
    if worktree.is_dir() and core.linked_worktree(worktree) is not None:
        main = zenflow.git_common_dir(worktree).parent  # git will not remove the cwd's tree
        core.git(main, "worktree", "remove", "--force", str(worktree))
    return code
