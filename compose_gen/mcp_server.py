"""`compose-gen mcp`: an MCP server on stdio, so that coding agents can ask for their stack.

Each tool is a thin call into the same core functions the CLI calls (inventory, envfile,
lifecycle, proof) and returns plain JSON. stdout is the protocol channel: nothing else may
write to it, so progress and a proof's output go to stderr. A compose-gen error becomes the
tool's error result (its one-line message). The SDK is the optional extra `compose-gen[mcp]`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compose_gen.errors import ComposeGenError, UsageError


def _server_class() -> Any:
    try:
        from mcp.server.mcpserver import MCPServer  # the SDK's 2.x name

        return MCPServer
    except ImportError:
        pass
    try:
        from mcp.server.fastmcp import FastMCP  # type: ignore[attr-defined] # 1.x

        return FastMCP
    except ImportError as err:
        raise UsageError("the MCP server needs the MCP SDK",
                         hint="pip install 'compose-gen[mcp]'") from err


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Tools:
    """The tools, as plain methods (tested without the SDK too)."""

    def __init__(self, project_dir: Path | None = None, config_file: Path | None = None) -> None:
        self.project_dir = project_dir
        self.config_file = config_file

    def _config(self) -> Any:
        from compose_gen.config import load_config

        return load_config(self.project_dir, config_file=self.config_file)

    def _task(self, config: Any, task_id: str | None) -> Any:
        from compose_gen.task import discover_task_id, make_task

        return make_task(discover_task_id(task_id or None, cwd=self.project_dir).id, config)

    def status(self, task_id: str | None = None) -> dict[str, Any]:
        """The task's stack (or every stack): state, port range, workers, containers."""
        from compose_gen.inventory import stacks
        from compose_gen.task import find_task_id

        found = find_task_id(task_id or None, cwd=self.project_dir)
        return {"stacks": [info.as_json() for info in stacks(found.id if found else None)]}

    def env(self, task_id: str | None = None, worker: int | None = None) -> dict[str, str]:
        """The task's settings: ports, URLs, database URLs (worker I's under generic names)."""
        from compose_gen.envfile import task_env

        config = self._config()
        task = self._task(config, task_id)
        return dict(task_env(task.id, task.dir, config.database.url_env, worker))

    def up(self, task_id: str | None = None, workers: int | None = None,
           timeout: float = 300.0) -> dict[str, Any]:
        """Boot the task's stack (render, database, seed once, clone per worker, services)."""
        from compose_gen.boot import up

        config = self._config()
        task = self._task(config, task_id)
        result = up(config, task, workers or config.workers.default, timeout=timeout,
                    progress=_stderr)
        block = result.rendered.lease.block
        return {"task_id": task.id, "project": task.project_name,
                "already_up": result.already_up, "ports": [block.start, block.end],
                "env": self.env(task.id)}

    def reset(self, worker: int, task_id: str | None = None) -> dict[str, Any]:
        """Give worker I a fresh database cloned from the seeded template."""
        from compose_gen.lifecycle import reset

        config = self._config()
        task = self._task(config, task_id)
        return {"task_id": task.id, "worker": worker,
                "seconds": reset(config, task, worker)}

    def down(self, task_id: str | None = None, keep_volumes: bool = False) -> dict[str, Any]:
        """Remove the task's containers, networks, volumes, files and lease."""
        from compose_gen.lifecycle import down

        config = self._config()
        task = self._task(config, task_id)
        down(config, task, keep_volumes=keep_volumes)
        return {"task_id": task.id, "down": True}

    def prove(self, command: list[str], runs: int = 5, task_id: str | None = None
              ) -> dict[str, Any]:
        """Run COMMAND `runs` times; ok only when every run passed with no flaky test."""
        from compose_gen import paths
        from compose_gen.proof import prove

        if not command:
            raise UsageError("no command to prove")
        env: dict[str, str] = {}
        out_dir = Path("proof")
        if task_id:
            task = self._task(self._config(), task_id)
            env["ZENFLOW_TASK_ID"] = task.id
            out_dir = task.dir
        result = prove(list(command), runs=runs, out_dir=out_dir, junit_glob=None,
                       keep_going=False, env=env, echo=_stderr,
                       history_dir=paths.state_dir() / "history")
        return {"ok": result.ok, "exit_code": int(result.exit_code),
                "summary": result.summary(), "out_dir": str(result.out_dir)}


TOOL_NAMES = ("status", "env", "up", "reset", "down", "prove")


def _tool_error() -> type[Exception]:
    """The SDK's "the tool failed, tell the model why" error (others are logged as crashes)."""
    try:
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        from mcp.server.fastmcp.exceptions import (  # type: ignore[no-redef]
            ToolError,  # 1.x
        )
    return ToolError


def _reported(method: Callable[..., Any], tool_error: type[Exception]) -> Callable[..., Any]:
    """The method, its compose-gen errors turned into the tool's one-line error result."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ComposeGenError as err:
            raise tool_error(f"{err} (exit {int(err.exit_code)})") from err

    return call


def build_server(project_dir: Path | None = None, config_file: Path | None = None) -> Any:
    tools = Tools(project_dir, config_file)
    server = _server_class()("compose-gen", instructions=(
        "An isolated Docker Compose stack per task (git worktree). `env` gives the task's "
        "ports, URLs and database URLs; `reset` gives a test worker a fresh database."))
    tool_error = _tool_error()
    for name in TOOL_NAMES:
        server.tool(name=name)(_reported(getattr(tools, name), tool_error))
    return server


def serve(project_dir: Path | None = None, config_file: Path | None = None) -> None:
    build_server(project_dir, config_file).run("stdio")
