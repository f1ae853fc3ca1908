"""Shared fixtures: every path compose-gen writes goes to tmp_path; Docker is real or absent.

Tests that need a Docker engine live in tests/integration or tests/e2e: every test there gets
the `docker` marker from `pytest_collection_modifyitems` below (so `-m "not docker"` selects
the rest), and their conftest requests the `docker_engine` fixture for every test. Locally
they skip when no engine answers; with COMPOSE_GEN_REQUIRE_DOCKER=1 (CI) a missing engine is
a failure, never a silent skip (tests/_support/docker.py). Helpers shared by test modules
live in tests/_support.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Generator
from pathlib import Path

import pytest

from tests._support.docker import (
    CRASH_SECTION,
    REQUIRE_DOCKER_ENV,
    compose_problem,
    crashed_servers_report,
    docker_problem,
    skip_or_fail,
)
from tests._support.paths import EXAMPLES

# Everything under these folders of tests/ needs a real Docker engine.
DOCKER_DIRS = ("integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration and tests/e2e `docker`, by where it lives."""
    here = Path(__file__).parent
    for item in items:
        parts = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
        if parts[:1] and parts[0] in DOCKER_DIRS:
            item.add_marker(pytest.mark.docker)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed Docker test names any server process that crashed in a running container:
    a database 'in recovery mode' is a symptom, the crash in the server's log is the cause."""
    report: pytest.TestReport = yield
    if report.failed and item.get_closest_marker("docker") is not None:
        crashes = crashed_servers_report()
        if crashes:
            report.sections.append((CRASH_SECTION, crashes))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The causes of any server crash seen by a failed test, again near the end of the output
    (under xdist the reports come from the workers): a long failure may push its own report
    section out of what a CI log shows."""
    causes: list[str] = []
    for report in (*terminalreporter.stats.get("failed", ()),
                   *terminalreporter.stats.get("error", ())):
        for title, content in getattr(report, "sections", ()):
            if title == CRASH_SECTION:
                head = content.split("\n\n", 1)[0].splitlines()
                causes += [line for line in head if line not in causes]
    if causes:
        terminalreporter.section("server crashes seen by failed tests")
        for line in causes[:20]:
            terminalreporter.write_line(line[:300])


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


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine with the Compose v2 plugin (else skip, or fail when required)."""
    problem = docker_problem()
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture(scope="session")
def compose_cli() -> None:
    """The Compose CLI only (rendering and `config` need no daemon)."""
    problem = compose_problem()
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture
def unique_task_id(request: pytest.FixtureRequest) -> str:
    base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:30]
    return f"t-{base.strip('-')}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def minimal_project(tmp_path: Path) -> Path:
    """A copy of examples/minimal (the fixed ports a project starts from: db 5435, redis 6385,
    backend 8088, frontend 5173, and a media volume) in tmp_path, so tests never write into
    the repository."""
    target = tmp_path / "project"
    shutil.copytree(EXAMPLES / "minimal", target,
                    ignore=shutil.ignore_patterns(".zenflow"))
    return target
