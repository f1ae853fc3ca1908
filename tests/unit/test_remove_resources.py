"""compose_gen/stack/resources.remove_resources against a fake Docker client: a container that
another client (a concurrent `down` or `gc`) is removing already is waited for, not an error.
The real removals are covered by every Docker test's teardown and tests/integration."""

from __future__ import annotations

from typing import Any

import pytest
from python_on_whales.exceptions import DockerException

from compose_gen.errors import ComposeCommandError
from compose_gen.stack import resources

IN_PROGRESS = ("Error response from daemon: removal of container zf-a-redis-1 is already in "
               "progress")


class FakeContainers:
    def __init__(self, stderr: str, exists_for: int) -> None:
        self.stderr = stderr
        self.exists_for = exists_for  # how many more `exists` calls answer True
        self.exists_calls = 0

    def remove(self, name: str, **_: Any) -> None:
        raise DockerException(["docker", "container", "rm", name], 1, stderr=self.stderr.encode())

    def exists(self, name: str) -> bool:
        self.exists_calls += 1
        return self.exists_calls <= self.exists_for

    def inspect(self, name: str) -> Any:
        raise DockerException(["docker", "inspect", name], 1)


class FakeDocker:
    def __init__(self, containers: FakeContainers) -> None:
        self.container = containers


def container(name: str = "zf-a-redis-1") -> resources.Resource:
    return resources.Resource("container", name, "zf-a", "a", {})


def use(monkeypatch: pytest.MonkeyPatch, containers: FakeContainers) -> None:
    monkeypatch.setattr(resources, "client", lambda: FakeDocker(containers))
    monkeypatch.setattr(resources.time, "sleep", lambda _s: None)


def test_a_removal_already_in_progress_is_waited_for_until_the_container_is_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    containers = FakeContainers(IN_PROGRESS, exists_for=3)
    use(monkeypatch, containers)
    resources.remove_resources([container()])
    assert containers.exists_calls == 4  # three times still there, then gone


def test_a_removal_in_progress_that_never_ends_fails_at_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    use(monkeypatch, FakeContainers(IN_PROGRESS, exists_for=10**9))
    monkeypatch.setattr(resources, "REMOVAL_WAIT_SECONDS", 0.0)
    with pytest.raises(ComposeCommandError, match="failed to remove container zf-a-redis-1"):
        resources.remove_resources([container()])


def test_any_other_removal_error_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    containers = FakeContainers("Error response from daemon: permission denied", exists_for=0)
    use(monkeypatch, containers)
    with pytest.raises(ComposeCommandError, match="failed to remove container"):
        resources.remove_resources([container()])
    assert containers.exists_calls == 0
