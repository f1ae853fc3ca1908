"""`compose-gen mcp` answers a real MCP client session: the official SDK's own client starts
the server over stdio (as an agent's MCP config does), lists its tools and calls `env` and
`status` for a rendered task, and gets a compose-gen error back as the tool's error result."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import cli

mcp = pytest.importorskip("mcp", reason="the [mcp] extra (in [test]) is not installed")


def _text(result: Any) -> str:
    return "".join(block.text for block in result.content if hasattr(block, "text"))


def _is_error(result: Any) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


async def _session(project: Path, task_id: str) -> dict[str, Any]:
    params = mcp.StdioServerParameters(command=sys.executable,
                                       args=["-m", "compose_gen", "mcp"], cwd=str(project),
                                       env=dict(os.environ))
    async with mcp.stdio_client(params) as streams:
        read, write = streams[0], streams[1]
        async with mcp.ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            env = await session.call_tool("env", {"task_id": task_id})
            worker = await session.call_tool("env", {"task_id": task_id, "worker": 0})
            status = await session.call_tool("status", {"task_id": task_id})
            missing = await session.call_tool("env", {"task_id": task_id + "-none"})
    return {"tools": sorted(tool.name for tool in tools.tools), "env": env,
            "worker": worker, "status": status, "missing": missing}


def test_an_mcp_client_session_lists_the_tools_and_reads_env_and_status(
        minimal_project: Path) -> None:
    task_id = f"mcp-{uuid.uuid4().hex[:6]}"
    assert cli(minimal_project, "render", "--task-id", task_id) == 0
    try:
        answers = asyncio.run(asyncio.wait_for(_session(minimal_project, task_id), 120))
    finally:
        assert cli(minimal_project, "down", "--task-id", task_id) == 0

    assert answers["tools"] == ["down", "env", "prove", "reset", "status", "up"]
    env = json.loads(_text(answers["env"]))
    assert env["ZENFLOW_TASK_ID"] == task_id
    assert int(env["POSTGRES_PORT"]) != 5435
    assert json.loads(_text(answers["worker"]))["E2E_WORKER_INDEX"] == "0"
    stacks = json.loads(_text(answers["status"]))["stacks"]
    assert [(s["task_id"], s["state"]) for s in stacks] == [(task_id, "rendered")]
    assert _is_error(answers["missing"])
    assert f"{task_id}-none" in _text(answers["missing"])
