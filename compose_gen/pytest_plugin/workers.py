"""Which test process this is: `gw<N>` under pytest-xdist, `master` without it, and its run.

Conftests and Django settings modules are imported before pytest-xdist says who a worker is,
so the identity is first read from the environment (`early_identity`) and confirmed from
xdist's `workerinput` once the config exists (`configured_identity`).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen.processes import pid_alive, start_time
from compose_gen.pytest_plugin.discovery import ActiveTask
from compose_gen.pytest_plugin.options import (
    MEDIA_ROOT_ENV,
    RUN_ENV,
    WORKER_ID_ENV,
    WORKER_INDEX_ENV,
)

NO_XDIST_WORKER = "master"  # what pytest-xdist's own `worker_id` fixture says without workers


@dataclass(frozen=True)
class WorkerIdentity:
    """Which test process this is, and which pytest run (its controller) it belongs to."""

    worker_id: str
    index: int
    run: str  # shared by all the workers of one run

    @property
    def is_xdist_worker(self) -> bool:
        return self.worker_id != NO_XDIST_WORKER


def host_tag() -> str:
    """4 hex digits of the host name: PIDs of two hosts (or containers) sharing a server."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]


def run_token(pid: int) -> str:
    return f"{host_tag()}_{pid}"


def _local_controller(run: str) -> int | None:
    """The PID of the controller of `run` (a `run_token`), or None for another host's run."""
    tag, _, pid = run.partition("_")
    return int(pid) if tag == host_tag() and pid.isdigit() else None


def run_controller_start(run: str) -> str:
    """The start time of the controller of `run` (see processes.start_time), read while the
    run goes on: recorded with a claim, it tells that controller from a reuse of its PID."""
    pid = _local_controller(run)
    return start_time(pid) if pid is not None else ""


def run_alive(run: str, started: str = "") -> bool:
    """Whether the controller of `run` (started at `started`, when known) is still running; a
    run of another host cannot be checked from here and counts as over."""
    pid = _local_controller(run)
    return pid is not None and pid_alive(pid, started)


def worker_index(worker_id: str) -> int:
    """gw3 -> 3; 0 without xdist."""
    match = re.fullmatch(r"gw(\d+)", worker_id)
    return int(match.group(1)) if match else 0


def early_identity(environ: Mapping[str, str]) -> WorkerIdentity:
    """Who we are before pytest-xdist tells us (conftests and settings import before that).

    A real worker has $PYTEST_XDIST_WORKER and a parent that is the controller which set
    $COMPOSE_GEN_PYTEST_RUN; a pytest started from inside some other worker inherits the first
    but not a matching second, and is a run of its own.
    """
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    run = environ.get(RUN_ENV, "")
    if worker and run == run_token(os.getppid()):
        return WorkerIdentity(worker, worker_index(worker), run)
    return WorkerIdentity(NO_XDIST_WORKER, 0, run_token(os.getpid()))


def configured_identity(config: Any) -> WorkerIdentity:
    """Who we are, from pytest-xdist itself once the config exists."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return WorkerIdentity(NO_XDIST_WORKER, 0, run_token(os.getpid()))
    worker = str(workerinput["workerid"])
    run = str(workerinput.get("compose_gen_run") or run_token(os.getppid()))
    return WorkerIdentity(worker, worker_index(worker), run)


def worker_database_name(prefix: str, identity: WorkerIdentity) -> str:
    """<prefix>_pt_<host>_<pid>_<worker>: unique per run and worker on the task's server.

    The task's server is the task's own, so the task needs no place in the name; the run does:
    two pytest runs of one task at once (say the api and processing suites) must not meet.
    """
    from compose_gen.database import MAX_NAME_BYTES
    from compose_gen.errors import UsageError

    name = f"{prefix}_pt_{identity.run}_{identity.worker_id}"
    if len(name.encode()) > MAX_NAME_BYTES:
        raise UsageError(f"the worker database name {name} is longer than PostgreSQL's "
                         f"{MAX_NAME_BYTES} bytes", hint="shorten database.name_prefix")
    return name


def worker_media_root(task: ActiveTask, identity: WorkerIdentity) -> Path:
    """This worker's media dir: task, xdist worker and run in the path (not created here)."""
    from compose_gen import media

    return media.worker_media_dir(task.project_name, identity.worker_id, identity.run)


def export_identity(task: ActiveTask, identity: WorkerIdentity,
                    environ: MutableMapping[str, str]) -> Path:
    """Tell the test process (and code that is not Django) who it is and where its media go."""
    media_root = worker_media_root(task, identity)
    environ[WORKER_ID_ENV] = identity.worker_id
    environ[WORKER_INDEX_ENV] = str(identity.index)
    environ[MEDIA_ROOT_ENV] = str(media_root)
    return media_root
