from collections.abc import Iterator

import pytest

from tests.integration.helpers import TaskTracker, local_images


@pytest.fixture(autouse=True)
def _needs_docker(docker_engine: None) -> None:
    """Every integration test runs against a real Docker engine (or fails under CI)."""


@pytest.fixture(autouse=True)
def _local_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples use the locally built images (scripts/ci/build_images.sh): no registry."""
    for key, value in local_images().items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def tasks() -> Iterator[TaskTracker]:
    """Tasks a test starts; each is brought down (and swept by label) whatever happened."""
    tracker = TaskTracker()
    try:
        yield tracker
    finally:
        tracker.tear_down()
