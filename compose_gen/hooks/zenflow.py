"""Zenflow: `.zenflow/settings.json` `setup_script` (what `compose-gen zenflow init` does).

Zenflow has no teardown call: archiving a task deletes its worktree and `compose-gen gc` reaps
the stack. The logic is compose_gen.zenflow's; this module only fits it to `hooks`.
"""

from __future__ import annotations

from pathlib import Path

from compose_gen import zenflow
from compose_gen.errors import ExitCode
from compose_gen.hooks.core import HookRun

CONFIG = zenflow.SETTINGS_FILE.as_posix()
TEARDOWN = "none: Zenflow calls nothing on archive; `compose-gen gc` reaps the stack"


def install(repo: Path, python: str | None = None) -> list[str]:
    return list(zenflow.init(repo, python=python).changes)


def installed(repo: Path) -> bool:
    settings = zenflow.read_settings(zenflow.repo_root(repo) / zenflow.SETTINGS_FILE)
    return zenflow.SETUP_COMMAND in str(settings.get(zenflow.SETUP_KEY, ""))


def uninstall(repo: Path) -> list[str]:
    from compose_gen.hooks.core import unchain, write_json_if_changed

    root = zenflow.repo_root(repo)
    path = root / zenflow.SETTINGS_FILE
    before = zenflow.read_settings(path)
    after = dict(before)
    current = before.get(zenflow.SETUP_KEY)
    if isinstance(current, str) and zenflow.SETUP_COMMAND in current:
        rest = unchain(zenflow.SETUP_COMMAND, current)
        if rest is None:
            del after[zenflow.SETUP_KEY]
        else:
            after[zenflow.SETUP_KEY] = rest
    changes = write_json_if_changed(path, before, after, CONFIG) if after != before else []
    stub = zenflow.git_common_dir(root) / zenflow.STUB_PATH
    if stub.is_file() and zenflow.HOOK_MARKER in stub.read_text(errors="replace"):
        stub.unlink()
        changes.append(f"removed {stub}")
    return changes


def _context(run: HookRun) -> zenflow.HookContext:
    return zenflow.HookContext(cwd=run.cwd, environ=run.environ,
                               load_config=lambda: run.load_config(run.cwd),
                               echo=run.echo, progress=run.progress)


def setup(run: HookRun) -> ExitCode:
    return zenflow.setup(_context(run))


def teardown(run: HookRun) -> ExitCode:
    return zenflow.teardown(_context(run))
