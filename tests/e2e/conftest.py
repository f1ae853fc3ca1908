"""The E2E tests run the demo's Playwright suite for real: Docker, the demo images, Node with
the Playwright packages and a Chromium. Locally a missing piece skips them; with
COMPOSE_GEN_REQUIRE_DOCKER=1 (scripts/test.sh, CI) it fails them, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.docker import skip_or_fail
from tests.e2e.helpers import (
    E2E_DIR,
    Stack,
    child_env,
    chromium_path,
    images_missing,
    labelled,
    remove_labelled,
)


def _browser_problem() -> str | None:
    if shutil.which("node") is None or shutil.which("npx") is None:
        return "Node.js (node, npx) is not installed"
    if not (E2E_DIR / "node_modules" / "@playwright" / "test").is_dir():
        return f"the Playwright packages are not installed in {E2E_DIR} (npm ci)"
    chromium = chromium_path()
    bundled = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH",
                                  Path.home() / ".cache" / "ms-playwright"))
    if not (chromium and Path(chromium).exists()) and not any(bundled.glob("chromium*")):
        return "no Chromium: neither PLAYWRIGHT_CHROMIUM_PATH/CHROME_PATH nor `chromium` on PATH"
    return None


@pytest.fixture(scope="session")
def e2e_ready(docker_engine: None) -> None:
    """Docker (via docker_engine), the demo images, Node + Playwright and a Chromium."""
    problem = _browser_problem()
    if problem is None:
        missing = images_missing(child_env("/nonexistent"))
        if missing:
            problem = f"the demo images are missing: {', '.join(missing)} " \
                      "(scripts/ci/build_images.sh)"
    if problem is not None:
        skip_or_fail(problem)


@pytest.fixture(autouse=True)
def _needs_e2e(e2e_ready: None) -> None:
    """Every E2E test needs the whole tool chain (or fails under CI)."""


@pytest.fixture(scope="module")
def single_worker_stack(tmp_path_factory: pytest.TempPathFactory,
                        e2e_ready: None) -> Iterator[Stack]:
    """The demo with ONE stack worker (one backend, database, media volume), for the module."""
    import uuid

    stack = Stack(f"e2e-single-{uuid.uuid4().hex[:8]}", 1, tmp_path_factory.mktemp("state"))
    try:
        stack.cli("up", "--task-id", stack.task_id, "--workers", "1")
        yield stack
    finally:
        stack.cli("down", "--task-id", stack.task_id, check=False)
        remove_labelled(stack.task_id)
        assert not any(labelled(stack.task_id).values())
