"""Compose health checks: durations, and the idle probe interval of worker copies (pure)."""

from __future__ import annotations

import re
from typing import Any

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


def duration_seconds(value: Any, default: float) -> float:
    """A Compose duration ("1s", "1m30s", "500ms", or seconds as a number) in seconds."""
    if value is None:
        return default
    if isinstance(value, int | float):
        return float(value)
    parts = _DURATION_RE.findall(str(value))
    if not parts or "".join(n + u for n, u in parts) != str(value).strip():
        return default
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def idle_healthcheck(definition: dict[str, Any], idle: str) -> None:
    """Probe at the base's interval until healthy (start_interval, within a start period as
    long as the base gives a service to become healthy), then only every `idle`."""
    check = definition.get("healthcheck")
    if not check or check.get("disable") or (check.get("test") or ["NONE"])[0] == "NONE":
        return
    interval = duration_seconds(check.get("interval"), 30.0)
    if interval >= duration_seconds(idle, 60.0):
        return
    retries = int(check.get("retries") or 3)
    start = duration_seconds(check.get("start_period"), 0.0) + interval * retries
    check = dict(check)
    check["start_interval"] = check.get("start_interval") or f"{interval:g}s"
    check["start_period"] = f"{start:g}s"
    check["interval"] = idle
    definition["healthcheck"] = check
