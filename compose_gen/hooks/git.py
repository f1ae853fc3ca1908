"""Plain git: a `post-checkout` hook that sets up every `git worktree add`.

git runs post-checkout in the new worktree with the previous HEAD as `$1`; only a new
worktree (or a clone) checks out from the null commit, so the hook acts only then, and only in
a linked worktree. The hooks directory is git's own answer (`git rev-parse --git-path hooks`),
so `core.hooksPath` is respected; a post-checkout that was there is kept and runs first, with
the same arguments. git has no hook for `git worktree remove`: `compose-gen gc` reaps the
stack of a worktree that is gone. The task ID is the worktree's directory name.
"""

from __future__ import annotations

from pathlib import Path

from compose_gen import zenflow
from compose_gen.errors import ExitCode, UsageError
from compose_gen.hooks import core
from compose_gen.hooks.core import HookRun

HOOK = "post-checkout"
CONFIG = "post-checkout in git's hooks dir (core.hooksPath when set)"
KEPT_SUFFIX = ".pre-compose-gen"  # where a user's own post-checkout goes, still run first
TEARDOWN = "none in git; `compose-gen gc` reaps the stack of a removed worktree"

HOOK_TEXT = f"""#!/bin/sh
{core.HOOK_MARKER} (git {HOOK}): written by `compose-gen hooks install --for git`.
# The {HOOK} hook that was here before runs first, with the same arguments.
kept="$(dirname "$0")/{HOOK}{KEPT_SUFFIX}"
if [ -x "$kept" ]; then "$kept" "$@" || exit $?; fi
# Only `git worktree add` (or a clone) checks out from the null commit: $1 is all zeros.
case "$1" in *[!0]*|"") exit 0 ;; esac
h="$(git rev-parse --git-common-dir)/{core.STUB_PATH.as_posix()}"
if [ -f "$h" ]; then exec sh "$h" git setup; fi
exec compose-gen hooks run git setup
"""


def hooks_dir(repo: Path) -> Path:
    """git's hooks directory for the repository (core.hooksPath when set)."""
    return (repo / core.git(repo, "rev-parse", "--git-path", "hooks").strip()).resolve()


def install(repo: Path, python: str | None = None) -> list[str]:
    root = zenflow.repo_root(repo)
    folder = hooks_dir(root)
    target, kept = folder / HOOK, folder / (HOOK + KEPT_SUFFIX)
    changes = core.install_stub(root, python)
    if target.exists() and core.HOOK_MARKER not in target.read_text(errors="replace"):
        if kept.exists():
            raise UsageError(f"{target} and {kept} both exist; compose-gen keeps only one "
                             "previous hook", hint="merge them by hand, then install again")
        target.rename(kept)
        changes.append(f"kept your {target} as {kept.name} (it runs first)")
    return changes + core.write_file_if_changed(target, HOOK_TEXT, str(target))


def installed(repo: Path) -> bool:
    target = hooks_dir(zenflow.repo_root(repo)) / HOOK
    return target.is_file() and target.read_text(errors="replace") == HOOK_TEXT


def uninstall(repo: Path) -> list[str]:
    folder = hooks_dir(zenflow.repo_root(repo))
    target, kept = folder / HOOK, folder / (HOOK + KEPT_SUFFIX)
    if not target.is_file() or core.HOOK_MARKER not in target.read_text(errors="replace"):
        return []
    target.unlink()
    changes = [f"removed {target}"]
    if kept.exists():
        kept.rename(target)
        changes.append(f"restored your {target}")
    return changes


def setup(run: HookRun) -> ExitCode:
    found = core.linked_worktree(run.cwd)
    if found is None:  # a clone's first checkout, not a new worktree
        return ExitCode.OK
    return core.setup_worktree(run, found[0], core.task_id_for(found[0]), "git")


def teardown(run: HookRun) -> ExitCode:
    found = core.linked_worktree(run.cwd)
    if found is None:
        raise UsageError(f"{run.cwd} is not a linked git worktree")
    return core.teardown_worktree(run, found[0], core.task_id_for(found[0]), "git")
