"""Idle workers cost nothing (issue 13.3): worker copies' health checks probe at the base's
interval only while starting, then rarely, where the engine has start_interval (>= 25)."""

from __future__ import annotations

from typing import Any

import pytest

from compose_gen import healthchecks, lifecycle, stack
from compose_gen.errors import DockerUnavailableError


def copy_with(check: dict[str, Any] | None) -> dict[str, Any]:
    definition: dict[str, Any] = {"image": "x"}
    if check is not None:
        definition["healthcheck"] = check
    healthchecks.idle_healthcheck(definition, "60s")
    return definition


@pytest.mark.parametrize(("raw", "seconds"), [("1s", 1.0), ("1m30s", 90.0), ("500ms", 0.5),
                                              ("2h", 7200.0), (5, 5.0), (None, 7.0),
                                              ("soon", 7.0), ("1s junk", 7.0)])
def test_compose_durations(raw: Any, seconds: float) -> None:
    assert healthchecks.duration_seconds(raw, 7.0) == seconds


def test_a_frequent_check_probes_often_only_while_starting() -> None:
    check = {"test": ["CMD", "true"], "interval": "1s", "timeout": "3s", "retries": 30}
    result = copy_with(check)["healthcheck"]
    assert result["interval"] == "60s"
    assert result["start_interval"] == "1s"
    # As long to become healthy as the base allowed (30 retries at 1 s) before failures count.
    assert result["start_period"] == "30s"
    assert result["test"] == check["test"] and result["timeout"] == "3s"
    assert check["interval"] == "1s"  # the base definition is not changed


def test_a_base_start_period_is_kept_on_top() -> None:
    result = copy_with({"test": ["CMD", "true"], "interval": "2s", "retries": 5,
                        "start_period": "10s"})["healthcheck"]
    assert (result["start_interval"], result["start_period"]) == ("2s", "20s")


@pytest.mark.parametrize("check", [None, {"disable": True}, {"test": ["NONE"]},
                                   {"test": ["CMD", "true"], "interval": "2m"}])
def test_no_check_a_disabled_one_or_an_already_rare_one_is_left_alone(
        check: dict[str, Any] | None) -> None:
    before = None if check is None else dict(check)
    assert copy_with(check).get("healthcheck") == before


@pytest.mark.parametrize(("version", "expected"), [("25.0.3", "60s"), ("27.1.1", "60s"),
                                                   ("20.10.24+dfsg1", None), ("24.0.7", None)])
def test_start_interval_only_from_engine_25(monkeypatch: pytest.MonkeyPatch, version: str,
                                            expected: str | None) -> None:
    monkeypatch.setattr(stack, "ping_daemon", lambda: version)
    assert lifecycle.idle_health_interval() == expected


def test_no_daemon_means_the_base_healthcheck(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_daemon() -> str:
        raise DockerUnavailableError("no daemon")

    monkeypatch.setattr(stack, "ping_daemon", no_daemon)
    assert lifecycle.idle_health_interval() is None
