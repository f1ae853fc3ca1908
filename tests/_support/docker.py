"""The Docker requirement of tests/integration and tests/e2e: locally a missing engine (or
tool) skips them; with COMPOSE_GEN_REQUIRE_DOCKER=1 (scripts/test.sh, CI) it fails them, so
a run that was meant to prove something against Docker can never pass by skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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
SERVER_CRASH_MARKS = ("was terminated by signal", "PANIC:", "was terminated by exception",
                      "terminating any other active server processes")
# The lines that name the cause (the others are the restart that follows).
SERVER_CAUSE_MARKS = ("was terminated by signal", "PANIC:", "was terminated by exception",
                      "exited with exit code", "Failed process was running")
# What the kernel logs when it kills or faults a process.
KERNEL_MARKS = ("Killed process", "Out of memory", "oom-kill", "segfault", "general protection",
                "traps:")
CRASH_SECTION = "crashed server processes"


def crashed_servers_report() -> str:
    """What crashed in the servers of running compose-gen containers: first one line per cause
    (the server's own words, with the statement that was running) and the kernel's OOM and
    fault records, then each log's context. Short first lines, as CI shows only a report's
    head."""
    def docker(*args: str) -> str:
        return subprocess.run(["docker", *args], capture_output=True, text=True,
                              timeout=30).stdout

    causes: list[str] = []
    contexts: list[str] = []
    try:
        ids = docker("ps", "-q", "--filter", "label=dev.compose-gen.task").split()
        for container in ids:
            log = subprocess.run(["docker", "logs", "-t", container], capture_output=True,
                                 text=True, timeout=30)
            lines = (log.stdout + log.stderr).splitlines()
            hits = [i for i, line in enumerate(lines)
                    if any(mark in line for mark in SERVER_CRASH_MARKS)]
            if not hits:
                continue
            name = docker("inspect", "-f", "{{.Name}}", container).strip().lstrip("/")
            start = max(0, hits[0] - 5)
            window = lines[start:hits[-1] + 5]
            causes += [f"{name}: {line.split(' ', 1)[-1]}" for line in window
                       if any(mark in line for mark in SERVER_CAUSE_MARKS)]
            contexts.append(f"--- {name}\n" + "\n".join(window))
    except (OSError, subprocess.SubprocessError) as err:
        return f"(could not read container logs: {err})"
    if not contexts:
        return ""
    return "\n".join([*causes, *kernel_report(), "", *contexts])


def kernel_report() -> list[str]:
    """The kernel's OOM-kill count and its last kill or fault records, where readable."""
    found = []
    try:
        vmstat = Path("/proc/vmstat").read_text(encoding="ascii").splitlines()
        found += [f"kernel: {line}" for line in vmstat if line.startswith("oom_kill ")]
    except OSError:
        pass
    try:
        dmesg = subprocess.run(["dmesg", "-T"], capture_output=True, text=True, timeout=10)
        marked = [line for line in dmesg.stdout.splitlines()
                  if any(mark in line for mark in KERNEL_MARKS)]
        found += [f"kernel: {line}" for line in marked[-5:]]
    except (OSError, subprocess.SubprocessError):
        pass
    return found
