"""Zenflow wiring: install the task hooks and merge them into `.zenflow/settings.json`.

Zenflow runs the repository's `setup_script` (from `.zenflow/settings.json`) in every new task
worktree, `.zenflow/worktrees/<task_id>/`. It has no teardown call: archiving a task deletes
its worktree, and `compose-gen gc` reaps stacks whose worktree is gone.

`compose-gen zenflow init` copies the bootstrap and teardown hooks (compose-gen's `zenflow/`
dir) into `.zenflow/hooks/` and points `setup_script` at the bootstrap hook. It keeps every
other key of the user's settings, and an existing `setup_script` still runs, after the hook.
Running it again changes nothing.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.errors import ConfigError, UsageError

SETTINGS_FILE = Path(".zenflow") / "settings.json"
HOOKS_DIR = Path(".zenflow") / "hooks"
# source name in compose-gen's zenflow/ dir -> installed name in the repository
HOOKS = {"bootstrap.sh": "compose-gen-bootstrap.sh", "teardown.sh": "compose-gen-teardown.sh"}
HOOK_MARKER = "# compose-gen zenflow hook"
SETUP_KEY = "setup_script"
# Relative to the worktree, where Zenflow runs setup_script; `bash` so no +x bit is needed.
SETUP_COMMAND = f"bash {(HOOKS_DIR / HOOKS['bootstrap.sh']).as_posix()}"


@dataclass(frozen=True)
class InitResult:
    repo_dir: Path
    settings_path: Path
    setup_script: str
    changes: tuple[str, ...]  # one line per file written, empty when nothing changed
    chained: str | None = None  # the user's previous setup_script, now run after the hook


def hook_sources() -> dict[str, Path]:
    """The shipped hooks: package data in a wheel, else the source checkout's zenflow/ dir."""
    package = Path(__file__).resolve().parent
    for directory in (package / "zenflow_hooks", package.parent / "zenflow"):
        found = {name: directory / name for name in HOOKS}
        if all(path.is_file() for path in found.values()):
            return found
    raise ConfigError("compose-gen's Zenflow hooks are missing from this installation "
                      f"(looked in {package / 'zenflow_hooks'} and {package.parent / 'zenflow'})",
                      hint="reinstall compose-gen")


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
    is left alone; any other one runs after the hook, in a subshell so that its own `;` or
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
    merged[SETUP_KEY] = f"{SETUP_COMMAND} && ( {existing.strip()} )"
    return merged, existing


def read_settings(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as err:
        raise UsageError(f"{path} is not valid JSON ({err}); compose-gen will not overwrite it",
                         hint="fix it by hand, then run `compose-gen zenflow init` again") from err
    if not isinstance(data, dict):
        raise UsageError(f"{path} must hold a JSON object, got {type(data).__name__}",
                         hint="fix it by hand, then run `compose-gen zenflow init` again")
    return data


def install_hooks(repo_dir: Path) -> list[str]:
    """Copy the hooks into <repo>/.zenflow/hooks/; never over a file that is not ours."""
    changes = []
    for source_name, target_name in HOOKS.items():
        source = hook_sources()[source_name]
        target = repo_dir / HOOKS_DIR / target_name
        text = source.read_text(encoding="utf-8")
        if target.exists():
            current = target.read_text(encoding="utf-8", errors="replace")
            if current == text:
                continue
            if HOOK_MARKER not in current:
                raise UsageError(f"{target} exists and is not compose-gen's hook",
                                 hint="move it away, then run `compose-gen zenflow init` again")
            verb = "updated"
        else:
            verb = "installed"
        paths.write_private(target, text, mode=0o755)
        changes.append(f"{verb} {target.relative_to(repo_dir)}")
    return changes


def init(start: Path | None = None) -> InitResult:
    """Install the hooks and merge setup_script into .zenflow/settings.json; idempotent."""
    repo_dir = repo_root(start or Path.cwd())
    settings_path = repo_dir / SETTINGS_FILE
    changes = install_hooks(repo_dir)
    current = read_settings(settings_path)
    merged, chained = merge_settings(current, str(settings_path))
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
        lines.append(f"your existing {SETUP_KEY} was kept: it now runs after the compose-gen "
                     f"hook, and only if the hook succeeded ({result.chained})")
    lines.append(f"commit {SETTINGS_FILE.as_posix()} and {HOOKS_DIR.as_posix()}/ so that every "
                 "new task worktree has them")
    return lines
