"""When `up` may say "up": every long-running service running (healthy where it has a
healthcheck, never restarted), and every worker answering HTTP.

Dev compose files rarely give the app a healthcheck, and `compose up --wait` then returns
as soon as the container *runs* — seconds before the app listens. So `up` also waits for an
HTTP answer (any status: a 404 or 500 is an app that listens) from each worker, and watches
every container meanwhile: one that exits non-zero, restarts or turns unhealthy fails `up` at
once with its last log lines, instead of a timeout minutes later.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from compose_gen import stack
from compose_gen.errors import ServiceFailedError, WaitTimeoutError

if TYPE_CHECKING:
    from compose_gen.planning import RenderPlan

POLL_SECONDS = 0.2
STATES_EVERY = 1.0


def failed_services(states: Sequence[stack.ServiceState],
                    services: Sequence[str]) -> list[tuple[stack.ServiceState, str]]:
    """The containers of `services` that are not fine, each with why (pure)."""
    failed = []
    for state in states:
        if state.service not in services:
            continue
        if state.status == "exited" and state.exit_code == 0:
            continue  # a one-shot service that did its job
        if state.status in ("exited", "dead"):
            failed.append((state, f"exited with code {state.exit_code}"))
        elif state.status == "restarting" or state.restarts > 0:
            failed.append((state, f"restarted {max(state.restarts, 1)} time(s)"))
        elif state.health == "unhealthy":
            failed.append((state, "is unhealthy"))
    return failed


def answers_http(url: str, *, timeout: float = 2.0) -> bool:
    """True when something at `url` speaks HTTP (any status)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                      timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"User-Agent": "compose-gen"})
        conn.getresponse().read(0)
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_until_serving(spec: stack.ComposeFiles, plan: RenderPlan, ready_path: str, *,
                       timeout: float, what: str) -> None:
    """Return when every started service is fine and every worker answers; raise
    ServiceFailedError (a crash) or WaitTimeoutError (the deadline) otherwise."""
    urls = {w.index: f"{w.base_url}{ready_path}" for w in plan.workers if w.base_url}
    services = plan.start_services
    deadline = time.monotonic() + timeout
    next_states = 0.0
    while True:
        now = time.monotonic()
        if now >= next_states:
            _check_states(spec, services, what)
            next_states = now + STATES_EVERY
        urls = {i: url for i, url in urls.items() if not answers_http(url)}
        if not urls:
            _check_states(spec, services, what)
            return
        if time.monotonic() >= deadline:
            waiting = ", ".join(f"worker {i} at {url}" for i, url in sorted(urls.items()))
            raise WaitTimeoutError(
                f"{what}: no HTTP answer within {timeout:.0f} s from {waiting}",
                hint="see `docker compose logs`; set workers.ready_path / workers.ready_timeout")
        time.sleep(POLL_SECONDS)  # polling a condition with a deadline, not hiding a race


def _check_states(spec: stack.ComposeFiles, services: Sequence[str], what: str) -> None:
    failed = failed_services(stack.service_states(spec), services)
    if not failed:
        return
    state, why = failed[0]
    logs = stack.last_logs(spec, state.service)
    tail = " | ".join(line.strip() for line in logs.splitlines()[-5:] if line.strip())
    others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    raise ServiceFailedError(f"{what}: service '{state.service}' {why}{others}"
                             + (f"; last log lines: {tail}" if tail else ""),
                             service=state.service, logs=logs)
