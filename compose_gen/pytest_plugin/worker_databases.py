"""The database of `compose_gen_worker`: a clone of the task's seeded (E2E) template.

For suites that are not Django's (or want the E2E seed data): pytest-django's own test
databases are prepared in `django_databases`.
"""

from __future__ import annotations

from typing import Any

from compose_gen.pytest_plugin.discovery import ActiveTask, lease_state, task_lease

# How long a new worker waits for the task's server to answer before its first clone.
READY_TIMEOUT = 60.0


def admin_url(task: ActiveTask) -> str:
    from compose_gen.database import MAINTENANCE_DB, with_database

    return with_database(task.env[task.url_env], MAINTENANCE_DB)


def find_template(task: ActiveTask, url: str, lease: Any = None) -> str | None:
    """The task's seeded template: the one its lease records, else the only ready one.

    None when the project has no seed, or the task was brought up with `--no-seed`: workers
    then get empty databases, as `up` gives its own workers.
    """
    from compose_gen import database
    from compose_gen.errors import UsageError

    seeded = bool(task.config and (task.config.database.seed_command
                                   or task.config.database.seed_sql))
    if lease and lease.template and database.is_ready_template(url, lease.template):
        return str(lease.template)
    pattern = f"{task.name_prefix}{database.TEMPLATE_INFIX}"
    ready = [name for name in database.list_databases(url)
             if name.startswith(pattern) and database.is_ready_template(url, name)]
    if len(ready) > 1 and task.config is not None:
        from compose_gen.lifecycle import seed_digest

        digest = seed_digest(task.config)
        current = database.template_name(task.name_prefix, digest) if digest else None
        ready = [name for name in ready if name == current] or ready
    if len(ready) == 1:
        return ready[0]
    if ready:
        raise UsageError(f"task '{task.task_id}' has several seeded templates "
                         f"({', '.join(ready)}) and its lease names none",
                         hint=f"run `compose-gen up --task-id {task.task_id}` again")
    if seeded and not (lease and lease_state(lease) == "up"):
        raise UsageError(f"task '{task.task_id}' has no seeded template database on its server",
                         hint=f"run `compose-gen up --task-id {task.task_id}`")
    return None


def create_worker_database(task: ActiveTask, name: str) -> float:
    """Clone the template into `name` (or create it empty without a seed); returns seconds."""
    from compose_gen import database
    from compose_gen.errors import UsageError

    lease = task_lease(task)
    if lease is not None and lease_state(lease) == "rendered":
        # `render` only (e.g. COMPOSE_GEN_SKIP_UP=1): no server to wait for.
        raise UsageError(f"task '{task.task_id}' is rendered but not up",
                         hint=f"run `compose-gen up --task-id {task.task_id}`")
    url = admin_url(task)
    database.wait_until_ready(url, timeout=READY_TIMEOUT,
                              what=f"the database server of task '{task.task_id}'")
    template = find_template(task, url, lease)
    if template is None:
        database.create_empty(url, name)
        return 0.0
    return database.clone(url, template, name)
