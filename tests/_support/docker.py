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


# What a PostgreSQL server logs when one of its processes died abnormally (it then restarts,
# refusing connections "in recovery mode" meanwhile): named in a failed test's report.
SERVER_CRASH_MARKS = ("was terminated by signal", "PANIC:",
                      "terminating any other active server processes")


def crashed_servers_report() -> str:
    """The crash lines of every running compose-gen container's log, with their context."""
    import subprocess

    def docker(*args: str) -> str:
        return subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=30).stdout

    found = []
    try:
        ids = docker("ps", "-q", "--filter", "label=dev.compose-gen.task").split()
        for container in ids:
            log = subprocess.run(["docker", "logs", "-t", container], capture_output=True,
                                 text=True, timeout=30)
            lines = (log.stdout + log.stderr).splitlines()
            hits = [i for i, line in enumerate(lines)
                    if any(mark in line for mark in SERVER_CRASH_MARKS)]
            if hits:
                name = docker("inspect", "-f", "{{.Name}}", container).strip().lstrip("/")
                start = max(0, hits[0] - 5)
                found.append(f"--- {name}\n" + "\n".join(lines[start:hits[-1] + 5]))
    except (OSError, subprocess.SubprocessError) as err:
        return f"(could not read container logs: {err})"
    return "\n".join(found)
