"""Zenflow wiring: `compose-gen zenflow setup/teardown` and the `init` that points Zenflow at them.

Zenflow runs the repository's `setup_script` (from `.zenflow/settings.json`) in every new task
worktree, `.zenflow/worktrees/<task_id>/`. It has no teardown call: archiving a task deletes
its worktree, and `compose-gen gc` reaps stacks whose worktree is gone.

The hook logic is Python (`setup`, `teardown` below), run as `compose-gen zenflow setup`.
`init` writes a few-line stub into the git dir shared by every worktree
(`<git-common-dir>/compose-gen/zenflow-hook`), recording the Python compose-gen was installed
with, the way pre-commit's hook template does: a fresh worktree has no virtualenv, and nothing
in the work tree has to be committed before a worktree bootstraps. `setup_script` runs that
stub, or `compose-gen zenflow setup` from PATH in a clone where `init` was never run. Every
other key of the user's settings is kept, and an existing `setup_script` still runs, after
ours. Running `init` again changes nothing; an install of the older shell hooks
(`.zenflow/hooks/compose-gen-*.sh`) is upgraded. The user-facing reference: zenflow/README.md.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.errors import ComposeGenError, ExitCode, UsageError

SETTINGS_FILE = Path(".zenflow") / "settings.json"
SETUP_KEY = "setup_script"
# The stub, relative to `git rev-parse --git-common-dir` (one per clone, shared by worktrees).
STUB_PATH = Path("compose-gen") / "zenflow-hook"
HOOK_MARKER = "# compose-gen zenflow hook"
# Which compose-gen the stub runs when set (the same name the scripts and the TS fixture use).
BIN_ENV = "COMPOSE_GEN_BIN"
SKIP_UP_ENV = "COMPOSE_GEN_SKIP_UP"
UP_TIMEOUT_ENV = "COMPOSE_GEN_UP_TIMEOUT"
DEFAULT_UP_TIMEOUT = 300.0
# Zenflow runs setup_script with a POSIX shell in the worktree; the stub path is computed there,
# so the same committed settings.json works in every clone.
SETUP_COMMAND = ('h="$(git rev-parse --git-common-dir)/' + STUB_PATH.as_posix() + '"; '
                 'if [ -f "$h" ]; then sh "$h" setup; else compose-gen zenflow setup; fi')
# What `init` wrote before the hooks were commands; `init` replaces and removes them.
LEGACY_HOOKS_DIR = Path(".zenflow") / "hooks"
LEGACY_HOOKS = ("compose-gen-bootstrap.sh", "compose-gen-teardown.sh")
LEGACY_SETUP_COMMAND = "bash .zenflow/hooks/compose-gen-bootstrap.sh"

STUB_TEMPLATE = """#!/bin/sh
{marker}: written by `compose-gen zenflow init`; run it again to update this file.
# Runs `compose-gen zenflow <setup|teardown>` with the Python compose-gen was installed with
# (a new task worktree has no virtualenv of its own), else ${bin_env}, else compose-gen on PATH.
INSTALL_PYTHON={python}
if [ -n "${{{bin_env}:-}}" ]; then
  exec "${bin_env}" zenflow "$@"
elif [ -x "$INSTALL_PYTHON" ]; then
  exec "$INSTALL_PYTHON" -m compose_gen zenflow "$@"
elif command -v compose-gen >/dev/null 2>&1; then
  exec compose-gen zenflow "$@"
fi
echo "compose-gen zenflow hook: compose-gen not found ($INSTALL_PYTHON is gone, none on \
PATH): reinstall it and run 'compose-gen zenflow init', or set {bin_env}" >&2
exit 127
"""


@dataclass(frozen=True)
class InitResult:
    repo_dir: Path
    settings_path: Path
    setup_script: str
    changes: tuple[str, ...]  # one line per file written or removed, empty when nothing changed
    chained: str | None = None  # the user's previous setup_script, now run after ours


class HookStepError(ComposeGenError):
    """A step of `zenflow setup/teardown` failed: one line naming the step, the step's code."""

    def __init__(self, step: str, err: ComposeGenError) -> None:
        super().__init__(f"{step} failed (exit {int(err.exit_code)}): {err}")
        self.exit_code = err.exit_code


def repo_root(start: Path) -> Path:
    """The git work tree around `start` (where .zenflow/ belongs), else `start` itself."""
    try:
        result = subprocess.run(["git", "-C", str(start), "rev-parse", "--show-toplevel"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return start.resolve()
    top = result.stdout.strip()
    return Path(top).resolve() if result.returncode == 0 and top else start.resolve()


def merge_settings(current: dict[str, Any], where: str = str(SETTINGS_FILE)
                   ) -> tuple[dict[str, Any], str | None]:
    """(new settings, the previous setup_script when it was chained); pure.

    Every other key is kept as it is, in its place. A setup_script that already runs the hook
    is left alone (one that runs the older shell hook gets the new command in its
    place); any other one runs after ours, in a subshell so that its own `;` or
    `||` cannot run it when the hook failed.
    """
    existing = current.get(SETUP_KEY)
    if existing is not None and not isinstance(existing, str):
        raise UsageError(f"{where}: '{SETUP_KEY}' must be a string (a shell command), got "
                         f"{type(existing).__name__}", hint="fix it by hand, then run init again")
    merged = dict(current)
    if existing is None or not existing.strip():
        merged[SETUP_KEY] = SETUP_COMMAND
        return merged, None
    if SETUP_COMMAND in existing:
        return merged, None
    if LEGACY_SETUP_COMMAND in existing:  # an install of the shell hooks: upgrade in place
        merged[SETUP_KEY] = existing.replace(LEGACY_SETUP_COMMAND, SETUP_COMMAND, 1)
        return merged, None
    merged[SETUP_KEY] = f"{SETUP_COMMAND} && ( {existing.strip()} )"
    return merged, existing


def read_settings(path: Path) -> dict[str, Any]:
    return read_json_object(path, "compose-gen zenflow init")


def read_json_object(path: Path, again: str) -> dict[str, Any]:
    """A tool's JSON config, {} when absent; refuses (exit 2) a file compose-gen would have to
    clobber, naming the command to run again once it is fixed."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as err:
        raise UsageError(f"{path} is not valid JSON ({err}); compose-gen will not overwrite it",
                         hint=f"fix it by hand, then run `{again}` again") from err
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object, got {type(data).__name__}",
                         hint=f"fix it by hand, then run `{again}` again")
    return data


def git_common_dir(repo_dir: Path) -> Path:
    """The git dir every worktree of the repository shares (where the stub lives)."""
    try:
        result = subprocess.run(["git", "-C", str(repo_dir), "rev-parse", "--git-common-dir"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as err:
        raise UsageError(f"cannot run git in {repo_dir}: {err}",
                         hint="Zenflow's task worktrees are git worktrees: install git") from err
    if result.returncode != 0 or not result.stdout.strip():
        raise UsageError(f"{repo_dir} is not in a git repository",
                         hint="Zenflow's task worktrees are git worktrees: run `git init` first")
    return (repo_dir / result.stdout.strip()).resolve()


def stub_text(python: str | None = None) -> str:
    return STUB_TEMPLATE.format(marker=HOOK_MARKER, bin_env=BIN_ENV,
                                python=shlex.quote(python or sys.executable))


def _write_if_changed(target: Path, text: str, shown: str, mode: int) -> str | None:
    """Write `text` unless it is there already; refuse a file compose-gen did not write."""
    if target.exists():
        current = target.read_text(encoding="utf-8", errors="replace")
        if current == text:
            return None
        if HOOK_MARKER not in current:
            raise UsageError(f"{target} exists and is not compose-gen's hook",
                             hint="move it away, then run `compose-gen zenflow init` again")
        verb = "updated"
    else:
        verb = "installed"
    paths.write_private(target, text, mode=mode)
    return f"{verb} {shown}"


def remove_legacy_hooks(repo_dir: Path) -> list[str]:
    """Delete the shell hooks an older `init` copied in (only files that carry our marker)."""
    changes = []
    for name in LEGACY_HOOKS:
        path = repo_dir / LEGACY_HOOKS_DIR / name
        if path.is_file() and HOOK_MARKER in path.read_text(encoding="utf-8", errors="replace"):
            path.unlink()
            changes.append(f"removed {(LEGACY_HOOKS_DIR / name).as_posix()} (the hooks are "
                           "compose-gen commands now; commit the removal)")
    hooks_dir = repo_dir / LEGACY_HOOKS_DIR
    if changes and hooks_dir.is_dir() and not any(hooks_dir.iterdir()):
        hooks_dir.rmdir()
    return changes


def init(start: Path | None = None, *, python: str | None = None) -> InitResult:
    """Write the stub, merge setup_script into .zenflow/settings.json; idempotent."""
    repo_dir = repo_root(start or Path.cwd())
    settings_path = repo_dir / SETTINGS_FILE
    current = read_settings(settings_path)
    merged, chained = merge_settings(current, str(settings_path))
    stub = git_common_dir(repo_dir) / STUB_PATH
    changes = [change for change in [_write_if_changed(
        stub, stub_text(python), f"{stub} (runs `compose-gen zenflow setup`)", 0o755)] if change]
    changes += remove_legacy_hooks(repo_dir)
    if merged != current or not settings_path.exists():
        text = json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
        paths.write_private(settings_path, text, mode=0o644)
        changes.append(f"{'updated' if current else 'wrote'} {SETTINGS_FILE}: "
                       f"{SETUP_KEY} = {merged[SETUP_KEY]}")
    return InitResult(repo_dir=repo_dir, settings_path=settings_path,
                      setup_script=merged[SETUP_KEY], changes=tuple(changes), chained=chained)


def describe(result: InitResult) -> list[str]:
    """What `compose-gen zenflow init` prints."""
    if not result.changes:
        return [f"Zenflow is already wired in {result.repo_dir}: {SETUP_KEY} = "
                f"{result.setup_script}"]
    lines = list(result.changes)
    if result.chained is not None:
        lines.append(f"your existing {SETUP_KEY} was kept: it now runs after compose-gen's "
                     f"setup, and only if that succeeded ({result.chained})")
    lines.append("new task worktrees bootstrap now, with nothing committed; commit "
                 f"{SETTINGS_FILE.as_posix()} to share the wiring (each clone runs "
                 "`compose-gen zenflow init` once, or has compose-gen on PATH)")
    return lines


# --- the hooks themselves: `compose-gen zenflow setup` / `teardown` ---------------------------

Echo = Callable[[str], None]


@dataclass(frozen=True)
class HookContext:
    """What a hook runs with: where it runs, its environment, how to load the config."""

    cwd: Path
    environ: Mapping[str, str]
    load_config: Callable[[], Any]  # -> Config; the CLI passes its --config/-C aware loader
    echo: Echo
    progress: Echo = lambda _message: None
    # How the messages name the command: "zenflow", or "hooks <tool>" for the other tools.
    name: str = "zenflow"


def _step(ctx: HookContext, name: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except ComposeGenError as err:
        output = getattr(err, "output", "")
        if output:  # e.g. the seed's own output: to stdout, so that stderr stays one line
            ctx.echo(output.rstrip())
        raise HookStepError(name, err) from err


def _task(ctx: HookContext):  # noqa: ANN202 - a TaskSpec, imported lazily
    from compose_gen.task import discover_task_id, make_task

    # Its own errors already say what is wrong and where the ID came from.
    found = discover_task_id(cwd=ctx.cwd, environ=ctx.environ)
    config = _step(ctx, "config", ctx.load_config)
    return config, make_task(found.id, config)


def _up_timeout(environ: Mapping[str, str]) -> float:
    raw = environ.get(UP_TIMEOUT_ENV, "")
    if not raw:
        return DEFAULT_UP_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise HookStepError("up", UsageError(f"${UP_TIMEOUT_ENV} must be a positive number "
                                             f"of seconds, got {raw!r}"))
    return seconds


def setup(ctx: HookContext) -> ExitCode:
    """Zenflow's setup_script: the worktree's task, rendered, then up unless skipped."""
    from compose_gen.boot import up as boot
    from compose_gen.envfile import task_env
    from compose_gen.lifecycle import render_task

    config, task = _task(ctx)
    workers = config.workers.default
    if ctx.environ.get(SKIP_UP_ENV, "0") == "1":
        rendered = _step(ctx, "render", lambda: render_task(config, task, workers))
        ctx.echo(f"compose-gen {ctx.name} setup: {SKIP_UP_ENV}=1: rendered only (ports "
                 f"{rendered.lease.block.start}-{rendered.lease.block.end}); start it with: "
                 f"compose-gen up --task-id {task.id}")
    else:
        timeout = _up_timeout(ctx.environ)
        result = _step(ctx, "up", lambda: boot(config, task, workers, timeout=timeout,
                                          progress=ctx.progress))
        block = result.rendered.lease.block
        verb = "is already up" if result.already_up else "is up"
        ctx.echo(f"compose-gen {ctx.name} setup: task '{task.id}' {verb}: project "
                 f"{task.project_name}, ports {block.start}-{block.end} on 127.0.0.1")
    # What the tests and the Playwright fixture will read: prove it is readable now.
    _step(ctx, "env", lambda: task_env(task.id, task.dir, config.database.url_env))
    ctx.echo(f"compose-gen {ctx.name} setup: task '{task.id}' is ready; its settings: "
             f"compose-gen env --task-id {task.id}")
    return ExitCode.OK


def teardown(ctx: HookContext) -> ExitCode:
    """`compose-gen down` for the worktree's task (Zenflow itself calls nothing on archive)."""
    from compose_gen.lifecycle import down

    config, task = _task(ctx)
    _step(ctx, "down", lambda: down(config, task))
    ctx.echo(f"compose-gen {ctx.name} teardown: task '{task.id}' is down")
    return ExitCode.OK


def hook_context(load_config: Callable[[], Any], echo: Echo, progress: Echo | None = None,
                 *, cwd: Path | None = None, environ: Mapping[str, str] | None = None
                 ) -> HookContext:
    return HookContext(cwd=cwd or Path.cwd(), environ=os.environ if environ is None else environ,
                       load_config=load_config, echo=echo,
                       progress=progress or (lambda _message: None))
