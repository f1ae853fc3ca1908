"""Which task this pytest run works for, what its `.env.task` says, and whether it can serve.

When a task is asked for (the option, `$ZENFLOW_TASK_ID` or a `.zenflow/worktrees/<id>/`
directory) the run is either isolated or stopped: every way this can fail raises
`pytest.UsageError` with one line that says what is missing and the command that fixes it,
before any test is collected. A run that asks for no task gets nothing from here.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from compose_gen.pytest_plugin.options import CONFIG_OPTION, TASK_OPTION

# How long the controller gives the task's database server to accept a TCP connection.
REACHABLE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ActiveTask:
    """The task this pytest run works for, with what its `.env.task` says."""

    task_id: str
    how: str  # where the ID came from, as people write it, for headers and errors
    project_name: str
    slug: str
    env_path: Path
    env: Mapping[str, str]
    url_env: str
    name_prefix: str
    # Inherited environment variables the task's file replaced (a stale export of another task).
    replaced: tuple[str, ...] = ()
    config: Any = field(default=None, repr=False, compare=False)

    @property
    def server(self) -> tuple[str, int | None]:
        parts = urlsplit(self.env.get(self.url_env, ""))
        return parts.hostname or "", parts.port

    @property
    def dir(self) -> Path:
        return self.env_path.parent


def _stop(message: str) -> pytest.UsageError:
    return pytest.UsageError(" ".join(f"compose-gen: {message}".split()))


def load_task(option: str | None, environ: Mapping[str, str], cwd: Path,
              config_file: str | None = None) -> ActiveTask | None:
    """The task of this run, or None when none is asked for (the plugin then stays inert).

    A task asked for in any way must be served or stop the run: the config is searched from
    `cwd` up through its parents (a suite run from `backend/` finds the repository's config),
    unless --compose-gen-config or $COMPOSE_GEN_CONFIG names it.
    """
    from compose_gen.config import CONFIG_ENV, load_config
    from compose_gen.envfile import read_env_file
    from compose_gen.errors import ComposeGenError, ConfigError
    from compose_gen.paths import ENV_FILE
    from compose_gen.task import find_task_id, make_task

    try:
        found = find_task_id(option, cwd=cwd, environ=environ, validate=False)
    except ComposeGenError as err:
        raise _stop(str(err)) from err
    if found is None:
        return None
    task_id, how = found.id, found.describe(TASK_OPTION)
    named = config_file or environ.get(CONFIG_ENV)
    try:
        config = load_config(cwd, config_file=Path(config_file) if config_file else None,
                             environ=environ)
    except ConfigError as err:
        fix = (f"fix the path given by {CONFIG_OPTION} or ${CONFIG_ENV}" if named else
               f"run pytest inside the project, or pass {CONFIG_OPTION} PATH or set "
               f"${CONFIG_ENV}")
        raise _stop(f"task '{task_id}' (from {how}) is asked for but cannot be isolated: "
                    f"{err.message}; {fix} (or unset the task / `-p no:compose_gen` to run "
                    "without compose-gen)") from err
    except ComposeGenError as err:
        raise _stop(f"task '{task_id}' (from {how}): {err}") from err
    try:
        task = make_task(task_id, config)
    except ComposeGenError as err:
        raise _stop(f"task '{task_id}' (from {how}): {err}") from err
    env_path = task.dir / ENV_FILE
    if not env_path.is_file():
        raise _stop(
            f"task '{task.id}' (from {how}) has no {ENV_FILE} in {task.dir}: its tests would run "
            f"against fixed ports and a shared database (run `compose-gen up --task-id "
            f"{task.id}` first, or `-p no:compose_gen` to run without compose-gen)")
    values = read_env_file(env_path)
    if config.database.url_env not in values:
        raise _stop(f"{env_path} has no {config.database.url_env}; render the task again with "
                    f"`compose-gen render --task-id {task.id}`")
    return ActiveTask(task_id=task.id, how=how, project_name=task.project_name, slug=task.slug,
                      env_path=env_path, env=values, url_env=config.database.url_env,
                      name_prefix=config.database.name_prefix, config=config)


def apply_env(task: ActiveTask, environ: MutableMapping[str, str]) -> ActiveTask:
    """Put the task's settings into `environ`; the task's file wins over inherited values."""
    replaced = tuple(sorted(key for key, value in task.env.items()
                            if key in environ and environ[key] != value))
    environ.update(task.env)
    return dataclasses.replace(task, replaced=replaced)


def task_lease(task: ActiveTask) -> Any:
    """The task's lease, or None (another state dir, or an unreadable registry)."""
    from compose_gen.errors import ComposeGenError
    from compose_gen.leases import LeaseRegistry

    try:
        return LeaseRegistry().get(task.project_name)
    except (ComposeGenError, OSError):
        return None


def lease_state(lease: Any) -> str:
    """The lease's state as text, whether leases keep it as a string or an enum."""
    state = getattr(lease, "state", "")
    return str(getattr(state, "value", state))


def check_can_serve(task: ActiveTask, *, timeout: float = REACHABLE_TIMEOUT) -> None:
    """Stop the run unless the task is up and its database server accepts connections.

    A plain TCP connection, not a PostgreSQL session: the controller stays free of psycopg,
    and a server that answers but refuses the task's password still fails loudly, in the
    first fixture that connects.
    """
    lease = task_lease(task)
    if lease is not None and lease_state(lease) == "rendered":
        raise _stop(f"task '{task.task_id}' (from {task.how}) is rendered but not up: run "
                    f"`compose-gen up --task-id {task.task_id}`")
    host, port = task.server
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port or 5432), timeout=1.0):
                return
        except OSError as err:
            if time.monotonic() >= deadline:
                raise _stop(
                    f"the database server of task '{task.task_id}' (from {task.how}) does not "
                    f"answer at {host}:{port} ({err.strerror or err}): run `compose-gen up "
                    f"--task-id {task.task_id}` (see `compose-gen status`)") from err
        time.sleep(0.1)
