import pytest


@pytest.fixture(autouse=True)
def _needs_docker(docker_engine: None) -> None:
    """Every integration test runs against a real Docker engine (or fails under CI)."""
