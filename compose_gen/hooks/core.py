"""What every worktree tool's hook shares: its config file merged in place, the stub it runs,
the task ID recorded for the worktree, and setup (render, `up`) and teardown (`down`).

A tool's config file (committed, shared by every clone) runs a one-line shell command: the stub
in the git dir shared by every worktree (it records the Python compose-gen was installed with,
like pre-commit's hook template), else `compose-gen hooks run` from PATH. All logic stays here
in Python; nothing has to be committed before a new worktree sets itself up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths, zenflow
from compose_gen.errors import ComposeGenError, ExitCode, UsageError
from compose_gen.task import TASK_ID_ENV, TASK_MARKER, linked_worktree, validate_task_id

# One stub per clone, beside Zenflow's (which runs `compose-gen zenflow ...`).
STUB_PATH = Path("compose-gen") / "hook"
HOOK_MARKER = "# compose-gen worktree hook"

STUB_TEMPLATE = """#!/bin/sh
{marker}: written by `compose-gen hooks install`; run it again to update this file.
# Runs `compose-gen hooks run <tool> <setup|teardown>` with the Python compose-gen was installed
# with (a new worktree has no virtualenv of its own), else ${bin_env}, else compose-gen on PATH.
INSTALL_PYTHON={python}
if [ -n "${{{bin_env}:-}}" ]; then
  exec "${bin_env}" hooks run "$@"
elif [ -x "$INSTALL_PYTHON" ]; then
  exec "$INSTALL_PYTHON" -m compose_gen hooks run "$@"
elif command -v compose-gen >/dev/null 2>&1; then
  exec compose-gen hooks run "$@"
fi
echo "compose-gen worktree hook: compose-gen not found ($INSTALL_PYTHON is gone, none on \
PATH): reinstall it and run 'compose-gen hooks install', or set {bin_env}" >&2
exit 127
"""


def hook_command(tool: str, event: str) -> str:
    """The POSIX shell line a tool's config runs (also valid zsh, which Conductor uses)."""
    return ('h="$(git rev-parse --git-common-dir)/' + STUB_PATH.as_posix() + '"; '
            f'if [ -f "$h" ]; then sh "$h" {tool} {event}; '
            f'else compose-gen hooks run {tool} {event}; fi')


# --- install: config files merged in place -----------------------------------------------

def read_json(path: Path) -> dict[str, Any]:
    """A tool's JSON config, {} when absent; refuses (exit 2) a file it would have to clobber."""
    return zenflow.read_json_object(path, "compose-gen hooks install")


def install_json(repo: Path, python: str | None, config: str,
                 merge: Callable[[dict[str, Any], str], dict[str, Any]]) -> list[str]:
    """Install the stub and merge our hook into the tool's JSON config `config` (in the repo's
    root), keeping every other key; what changed, one line each."""
    root = zenflow.repo_root(repo)
    path = root / config
    before = read_json(path)
    after = merge(before, str(path))
    return install_stub(root, python) + write_json_if_changed(path, before, after, config)


def write_json_if_changed(path: Path, before: dict[str, Any], after: dict[str, Any],
                          shown: str) -> list[str]:
    """Write `after` (key order kept) unless nothing changed; one line per change."""
    if after == before and path.exists() == bool(before):
        return []
    paths.write_private(path, json.dumps(after, indent=2, ensure_ascii=False) + "\n",
                        mode=0o644)
    return [f"{'updated' if before else 'wrote'} {shown}"]


def stub_text(python: str | None = None) -> str:
    return STUB_TEMPLATE.format(marker=HOOK_MARKER, bin_env=zenflow.BIN_ENV,
                                python=shlex.quote(python or sys.executable))


def write_file_if_changed(target: Path, text: str, shown: str, *, mode: int = 0o755,
                          marker: str = HOOK_MARKER) -> list[str]:
    """Write `text` unless it is there already; refuse a file compose-gen did not write."""
    if target.exists():
        current = target.read_text(encoding="utf-8", errors="replace")
        if current == text:
            return []
        if marker not in current:
            raise UsageError(f"{target} exists and is not compose-gen's",
                             hint="move it away, then run `compose-gen hooks install` again")
    verb = "updated" if target.exists() else "installed"
    paths.write_private(target, text, mode=mode)
    return [f"{verb} {shown}"]


def install_stub(repo: Path, python: str | None = None) -> list[str]:
    stub = zenflow.git_common_dir(repo) / STUB_PATH
    return write_file_if_changed(stub, stub_text(python), f"{stub}")


def remove_stub(repo: Path) -> list[str]:
    stub = zenflow.git_common_dir(repo) / STUB_PATH
    if stub.is_file() and HOOK_MARKER in stub.read_text(errors="replace"):
        stub.unlink()
        return [f"removed {stub}"]
    return []


def chain(ours: str, existing: str | None, *, ours_first: bool = True) -> str:
    """A shell line running ours and the user's command (kept whole, in a subshell)."""
    if not existing or not existing.strip():
        return ours
    if ours in existing:
        return existing
    return f"{ours} && ( {existing.strip()} )" if ours_first else f"( {existing.strip()} ); {ours}"


def unchain(ours: str, value: str) -> str | None:
    """The user's command `chain` wrapped, None when only ours was there."""
    if value.strip() == ours:
        return None
    for prefix, suffix in ((f"{ours} && ( ", " )"), ("( ", f" ); {ours}")):
        if value.startswith(prefix) and value.endswith(suffix):
            return value[len(prefix):len(value) - len(suffix)]
    return value.replace(ours, "").strip(" ;&") or None


# --- run: the hooks themselves --------------------------------------------------------------

Echo = Callable[[str], None]


@dataclass(frozen=True)
class HookRun:
    """What `compose-gen hooks run TOOL EVENT` runs with."""

    cwd: Path
    environ: Mapping[str, str]
    load_config: Callable[[Path], Any]  # project dir -> Config (the CLI's --config aware one)
    echo: Echo
    progress: Echo
    stdin: Callable[[], str]


def record_task(worktree: Path, task_id: str) -> None:
    """Write the task ID into the linked worktree's own git dir (see task.TASK_MARKER)."""
    found = linked_worktree(worktree)
    if found is None:
        raise UsageError(f"{worktree} is not a linked git worktree",
                         hint="the worktree hooks run in worktrees made by `git worktree add`")
    paths.write_private(found[1] / TASK_MARKER, task_id + "\n", mode=0o644)


def task_id_for(worktree: Path, given: str | None = None) -> str:
    """The task of a worktree: what its hook recorded, else what the tool gives, else its
    directory name; validated (exit 2, one line, naming where it came from)."""
    from compose_gen.errors import InvalidTaskIdError
    from compose_gen.task import recorded_task_id

    recorded = recorded_task_id(worktree) if worktree.is_dir() else None
    task_id = recorded or given or worktree.name
    try:
        return validate_task_id(task_id)
    except InvalidTaskIdError as err:
        where = "recorded by its hook" if recorded else f"from the worktree {worktree}"
        raise InvalidTaskIdError(f"{err.message} ({where})", hint=err.hint) from None


def _context(run: HookRun, worktree: Path, task_id: str, tool: str) -> zenflow.HookContext:
    return zenflow.HookContext(cwd=worktree, environ={**run.environ, TASK_ID_ENV: task_id},
                               load_config=lambda: run.load_config(worktree), echo=run.echo,
                               progress=run.progress, name=f"hooks run {tool}")


def setup_worktree(run: HookRun, worktree: Path, task_id: str, tool: str) -> ExitCode:
    """Record the task, then render and `up` (the Zenflow setup, same steps and messages);
    the lease remembers the worktree so that `gc` reaps the stack once it is gone."""
    from compose_gen.leases import LeaseRegistry
    from compose_gen.task import make_task

    record_task(worktree, task_id)
    code = zenflow.setup(_context(run, worktree, task_id, tool))
    task = make_task(task_id, run.load_config(worktree))
    LeaseRegistry().update(task.project_name, worktree=str(worktree))
    return code


def teardown_worktree(run: HookRun, worktree: Path, task_id: str, tool: str) -> ExitCode:
    """`down` for the worktree's task; a worktree already gone is left to `compose-gen gc`."""
    if not worktree.is_dir():
        run.echo(f"compose-gen hooks run {tool} teardown: {worktree} is gone; "
                 "`compose-gen gc` removes its stack")
        return ExitCode.OK
    return zenflow.teardown(_context(run, worktree, task_id, tool))


def git(repo: Path, *args: str, environ: Mapping[str, str] | None = None) -> str:
    """Run git in `repo`; its stdout, or a one-line UsageError with git's own message."""
    env = dict(os.environ if environ is None else environ)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)  # a hook's git sets them for itself, never for another worktree
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                                text=True, timeout=120, env=env)
    except (OSError, subprocess.SubprocessError) as err:
        raise UsageError(f"cannot run git in {repo}: {err}") from err
    if result.returncode != 0:
        why = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise ComposeGenError(f"git {' '.join(args[:2])} failed in {repo}: {why}")
    return result.stdout


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[Callable[[str], None]]:
    """Send everything written to fd 1 (ours and children's) to stderr for the block; yield a
    writer to the real stdout, for a tool whose contract reads stdout (Claude Code)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)

    def write(text: str) -> None:
        os.write(saved, text.encode())

    try:
        yield write
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
