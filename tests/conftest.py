"""Shared fixtures: every path compose-gen writes goes to tmp_path; Docker is real or absent.

Tests that need a Docker engine live in tests/integration or tests/e2e (whose conftest
requests the `docker_engine` fixture for every test). Locally they skip when no engine
answers; with COMPOSE_GEN_REQUIRE_DOCKER=1 (CI) a missing engine is a failure, never a
silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
REQUIRE_DOCKER_ENV = "COMPOSE_GEN_REQUIRE_DOCKER"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory,
                    monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state dir (leases, locks, cache) per test; no task leaks in from outside."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("COMPOSE_GEN_STATE_DIR", str(state))
    for name in list(os.environ):
        if name == "ZENFLOW_TASK_ID" or (name.startswith("COMPOSE_GEN_") and name not in (
                "COMPOSE_GEN_STATE_DIR", REQUIRE_DOCKER_ENV)):
            monkeypatch.delenv(name, raising=False)
    return state


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip().splitlines()[-1:]}"
    compose = subprocess.run(["docker", "compose", "version", "--short"],
                             capture_output=True, text=True, timeout=20)
    if compose.returncode != 0:
        return "the Compose v2 plugin is missing"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = _docker_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE_DOCKER_ENV) == "1":
        pytest.fail(f"{REQUIRE_DOCKER_ENV}=1 but {problem}; run scripts/ci/provision.sh")
    pytest.skip(f"{problem} (run scripts/ci/provision.sh, or set {REQUIRE_DOCKER_ENV}=1 to "
                "make this a failure)")


def _compose_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    compose = subprocess.run(["docker", "compose", "version", "--short"],
                             capture_output=True, text=True, timeout=20)
    return None if compose.returncode == 0 else "the Compose v2 plugin is missing"


@pytest.fixture(scope="session")
def compose_cli() -> None:
    """The Compose CLI only (rendering and `config` need no daemon)."""
    problem = _compose_problem()
    if problem is None:
        return
    if os.environ.get(REQUIRE_DOCKER_ENV) == "1":
        pytest.fail(f"{REQUIRE_DOCKER_ENV}=1 but {problem}; run scripts/ci/provision.sh")
    pytest.skip(problem)


@pytest.fixture
def unique_task_id(request: pytest.FixtureRequest) -> str:
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:30]
    return f"t-{base.strip('-')}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def minimal_project(tmp_path: Path) -> Path:
    """A copy of examples/minimal (PRD-shaped: db 5435, redis 6385, backend 8088, frontend
    5173, a media volume) in tmp_path, so tests never write into the repository."""
    target = tmp_path / "project"
    shutil.copytree(EXAMPLES / "minimal", target,
                    ignore=shutil.ignore_patterns(".zenflow"))
    return target
