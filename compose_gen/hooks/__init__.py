"""Worktree tools wired to compose-gen: `compose-gen hooks install|status|uninstall --for TOOL`
and `compose-gen hooks run TOOL setup|teardown`, the command each tool's config calls.

One module per tool (its config file, how it is merged, what its hook is given); the shared
parts in `core`. The user-facing reference: docs/worktree-tools.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from compose_gen.errors import ExitCode, UsageError
from compose_gen.hooks.core import HookRun

TOOLS = ("zenflow", "claude", "cursor", "conductor", "git")
EVENTS = ("setup", "teardown")


def tool_module(tool: str) -> ModuleType:
    if tool not in TOOLS:
        raise UsageError(f"unknown worktree tool '{tool}'", hint=f"one of: {', '.join(TOOLS)}")
    return importlib.import_module(f"compose_gen.hooks.{tool}")


def install(tool: str, repo: Path, python: str | None = None) -> list[str]:
    """Wire compose-gen into the tool's config; one line per change, none when already done."""
    return tool_module(tool).install(repo, python)


def uninstall(tool: str, repo: Path) -> list[str]:
    """Take ours out of the tool's config; the shared stub goes with the last tool using it
    (Zenflow has a stub of its own)."""
    from compose_gen.hooks.core import remove_stub

    changes = tool_module(tool).uninstall(repo)
    others = tuple(name for name in TOOLS if name != "zenflow")
    if changes and not any(item.installed for item in status(repo, others)):
        changes += remove_stub(repo)
    return changes


@dataclass(frozen=True)
class ToolStatus:
    tool: str
    installed: bool
    config: str
    teardown: str


def status(repo: Path, tools: tuple[str, ...] = TOOLS) -> list[ToolStatus]:
    result = []
    for tool in tools:
        module = tool_module(tool)
        result.append(ToolStatus(tool, bool(module.installed(repo)), module.CONFIG,
                                 module.TEARDOWN))
    return result


def run(tool: str, event: str, hook: HookRun) -> ExitCode:
    """The hook itself, as the tool invokes it (its stdin, env vars and directory)."""
    if event not in EVENTS:
        raise UsageError(f"unknown hook event '{event}'", hint="setup or teardown")
    module = tool_module(tool)
    if tool == "claude" and event == "setup":
        from compose_gen.hooks.core import stdout_to_stderr

        # Claude Code reads the worktree path from stdout: everything else goes to stderr.
        with stdout_to_stderr() as print_path:
            return module.setup(hook, print_path)
    if tool == "claude":
        from compose_gen.hooks.core import stdout_to_stderr

        with stdout_to_stderr():
            return module.teardown(hook)
    return getattr(module, event)(hook)
