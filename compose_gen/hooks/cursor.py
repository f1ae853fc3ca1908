"""Cursor: `.cursor/worktrees.json` `setup-worktree-unix`.

Cursor runs the commands of `setup-worktree-unix` (else `setup-worktree`) one by one in each
new worktree, with `$ROOT_WORKTREE_PATH` set to the main checkout. Its configuration has setup
keys only, no teardown: Cursor deletes old worktrees itself, and `compose-gen gc` reaps the
stack of a worktree that is gone. The task ID is the worktree's directory name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compose_gen import zenflow
from compose_gen.errors import ExitCode, UsageError
from compose_gen.hooks import core
from compose_gen.hooks.core import HookRun

CONFIG = ".cursor/worktrees.json"
KEY = "setup-worktree-unix"
GENERIC_KEY = "setup-worktree"  # used on Unix only when KEY is absent
TEARDOWN = "none in Cursor's worktrees.json; `compose-gen gc` reaps the stack"
COMMAND = core.hook_command("cursor", "setup")


def merge(settings: dict[str, Any], where: str = CONFIG) -> dict[str, Any]:
    """Settings with our command first in setup-worktree-unix; every other key kept (pure).

    A new setup-worktree-unix shadows setup-worktree on Unix, so it starts with a copy of the
    generic commands. A script path (a string) cannot be merged: say so.
    """
    current = settings.get(KEY)
    if current is None:
        generic = settings.get(GENERIC_KEY)
        current = list(generic) if isinstance(generic, list) else []
        if isinstance(generic, str):
            raise UsageError(f"{where}: '{GENERIC_KEY}' is a script path; add `{COMMAND}` "
                             "to that script, or make it a list of commands")
    if isinstance(current, str):
        raise UsageError(f"{where}: '{KEY}' is a script path ({current}); compose-gen only "
                         "merges a list of commands", hint=f"add this line to the script: "
                         f"{COMMAND}")
    if not isinstance(current, list):
        raise UsageError(f"{where}: '{KEY}' must be a list of commands")
    if COMMAND in current:
        return settings
    return {**settings, KEY: [COMMAND, *current]}


def install(repo: Path, python: str | None = None) -> list[str]:
    return core.install_json(repo, python, CONFIG, merge)


def installed(repo: Path) -> bool:
    value = core.read_json(zenflow.repo_root(repo) / CONFIG).get(KEY)
    return isinstance(value, list) and COMMAND in value


def uninstall(repo: Path) -> list[str]:
    path = zenflow.repo_root(repo) / CONFIG
    before = core.read_json(path)
    value = before.get(KEY)
    if not isinstance(value, list) or COMMAND not in value:
        return []
    rest = [command for command in value if command != COMMAND]
    after = {**before, KEY: rest}
    if rest == before.get(GENERIC_KEY, []):  # only the copy `merge` made: the key goes too
        del after[KEY]
    return core.write_json_if_changed(path, before, after, CONFIG)


def _worktree(run: HookRun) -> Path:
    found = core.linked_worktree(run.cwd)
    if found is None:
        raise UsageError(f"{run.cwd} is not a Cursor worktree (not a linked git worktree)",
                         hint="Cursor runs setup-worktree-unix inside the new worktree")
    return found[0]


def setup(run: HookRun) -> ExitCode:
    worktree = _worktree(run)
    return core.setup_worktree(run, worktree, core.task_id_for(worktree), "cursor")


def teardown(run: HookRun) -> ExitCode:
    worktree = _worktree(run)
    return core.teardown_worktree(run, worktree, core.task_id_for(worktree), "cursor")
