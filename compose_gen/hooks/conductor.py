"""Conductor: `conductor.json` `scripts.setup` and `scripts.archive`.

Every Conductor workspace is a git worktree. Conductor runs `scripts.setup` (with zsh) inside
a new workspace and `scripts.archive` when the workspace is archived, with
`$CONDUCTOR_WORKSPACE_NAME`, `$CONDUCTOR_WORKSPACE_PATH` and `$CONDUCTOR_ROOT_PATH` (the
repository root) set. The task ID is the workspace name. A user's own scripts keep running:
their setup after ours (only if ours succeeded), their archive before ours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose_gen import zenflow
from compose_gen.errors import ExitCode, UsageError
from compose_gen.hooks import core
from compose_gen.hooks.core import HookRun

CONFIG = "conductor.json"
NAME_ENV = "CONDUCTOR_WORKSPACE_NAME"
PATH_ENV = "CONDUCTOR_WORKSPACE_PATH"
TEARDOWN = "scripts.archive runs `compose-gen down`"
SCRIPTS = {"setup": (core.hook_command("conductor", "setup"), True),
           "archive": (core.hook_command("conductor", "teardown"), False)}


def merge(settings: dict[str, Any], where: str = CONFIG) -> dict[str, Any]:
    scripts = settings.get("scripts", {})
    if not isinstance(scripts, dict):
        raise UsageError(f"{where}: 'scripts' must be an object")
    merged = dict(scripts)
    for key, (ours, ours_first) in SCRIPTS.items():
        existing = scripts.get(key)
        if existing is not None and not isinstance(existing, str):
            raise UsageError(f"{where}: 'scripts.{key}' must be a string (a shell command)")
        merged[key] = core.chain(ours, existing, ours_first=ours_first)
    return settings if merged == scripts else {**settings, "scripts": merged}


def install(repo: Path, python: str | None = None) -> list[str]:
    return core.install_json(repo, python, CONFIG, merge)


def installed(repo: Path) -> bool:
    scripts = core.read_json(zenflow.repo_root(repo) / CONFIG).get("scripts") or {}
    return all(ours in str(scripts.get(key, "")) for key, (ours, _) in SCRIPTS.items())


def uninstall(repo: Path) -> list[str]:
    path = zenflow.repo_root(repo) / CONFIG
    before = core.read_json(path)
    scripts = dict(before.get("scripts") or {})
    for key, (ours, _) in SCRIPTS.items():
        value = scripts.get(key)
        if isinstance(value, str) and ours in value:
            rest = core.unchain(ours, value)
            if rest is None:
                del scripts[key]
            else:
                scripts[key] = rest
    after = {**before, "scripts": scripts}
    if not scripts:
        del after["scripts"]
    return core.write_json_if_changed(path, before, after, CONFIG) if after != before else []


def _workspace(run: HookRun) -> tuple[Path, str | None]:
    raw = run.environ.get(PATH_ENV)
    where = Path(raw) if raw else run.cwd
    found = core.linked_worktree(where)
    if found is None:
        raise UsageError(f"{where} is not a Conductor workspace (not a linked git worktree)",
                         hint=f"Conductor runs its scripts in the workspace, with ${PATH_ENV}")
    return found[0], run.environ.get(NAME_ENV) or None


def setup(run: HookRun) -> ExitCode:
    workspace, name = _workspace(run)
    return core.setup_worktree(run, workspace, core.task_id_for(workspace, name), "conductor")


def teardown(run: HookRun) -> ExitCode:
    workspace, name = _workspace(run)
    return core.teardown_worktree(run, workspace, core.task_id_for(workspace, name),
                                  "conductor")
