"""The Docker requirement of tests/integration and tests/e2e: locally a missing engine (or
tool) skips them; with COMPOSE_GEN_REQUIRE_DOCKER=1 (scripts/test.sh, CI) it fails them, so
a run that was meant to prove something against Docker can never pass by skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REQUIRE_DOCKER_ENV = "COMPOSE_GEN_REQUIRE_DOCKER"


def skip_or_fail(problem: str) -> None:
    """Skip the test because of `problem`, or fail it when Docker is required."""
    if os.environ.get(REQUIRE_DOCKER_ENV) == "1":
        pytest.fail(f"{REQUIRE_DOCKER_ENV}=1 but {problem}; run scripts/ci/provision.sh")
    pytest.skip(f"{problem} (run scripts/ci/provision.sh, or set {REQUIRE_DOCKER_ENV}=1 to "
                "make this a failure)")


def compose_problem() -> str | None:
    """Why the docker CLI with the Compose v2 plugin cannot be used, or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    compose = subprocess.run(["docker", "compose", "version", "--short"],
                             capture_output=True, text=True, timeout=20)
    return None if compose.returncode == 0 else "the Compose v2 plugin is missing"


def docker_problem() -> str | None:
    """Why no Docker engine with the Compose v2 plugin answers, or None."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "docker info timed out"
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip().splitlines()[-1:]}"
    return compose_problem()
