"""`up`: boot a task's stack — the database, the seeded template, one clone per worker, the
rest — and say "up" only when every service runs and every worker answers. A failure or
Ctrl-C tears down what this call started."""

from __future__ import annotations

import contextlib
import logging
import os
import time

from compose_gen import override, readiness, stack
from compose_gen.config import Config
from compose_gen.errors import Interrupted, SubnetTakenError
from compose_gen.leases import LeaseRegistry, LeaseState
from compose_gen.lifecycle import (
    Progress,
    Rendered,
    UpResult,
    admin_url,
    idle_health_interval,
    render_task,
    teardown,
)
from compose_gen.seeding import (
    build_template,
    copy_seeded_media,
    media_seed_ready,
    seed_digest,
    template_for,
)
from compose_gen.task import TASK_LABEL, TaskSpec

log = logging.getLogger(__name__)


def up(config: Config, task: TaskSpec, workers: int, *, timeout: float = 300,
       seed: bool = True, progress: Progress = lambda _msg: None) -> UpResult:
    """Boot the task's stack: database, template (seeded once), one clone per worker, the rest.

    A failure or Ctrl-C tears down what this call started; a stack that was already running
    when it began is left running.
    """
    registry = LeaseRegistry()
    deadline = time.monotonic() + timeout
    stack.compose_version()
    held = contextlib.ExitStack()
    held.enter_context(registry.locked_task(task, timeout, doing="start"))
    try:
        was_running = _task_containers_running(task)
        before = registry.get(task.project_name)
        rendered = render_task(config, task, workers, registry=registry,
                               recheck=not was_running, idle_health=idle_health_interval())
        digest = seed_digest(config) if seed else None
        if was_running and before and before.state == LeaseState.UP and before.workers == workers \
                and (digest is None or before.template == template_for(config, digest)):
            progress(f"task '{task.id}' is already up")
            return UpResult(rendered, before.template, False, (), already_up=True)
        registry.update(task.project_name, state=LeaseState.STARTING, pid=os.getpid())
        try:
            result = _boot_leasing_again(config, task, rendered, workers, digest, deadline,
                                         progress, registry)
        except KeyboardInterrupt as err:
            if not was_running:
                progress("interrupted: tearing down what was started")
                _teardown_quietly(config, task, registry)
            raise Interrupted(f"interrupted while starting task '{task.id}'"
                              + ("; torn down" if not was_running else "")) from err
        except BaseException:
            if not was_running:
                progress("failed: tearing down what was started")
                _teardown_quietly(config, task, registry)
            raise
        registry.update(task.project_name, state=LeaseState.UP, workers=workers,
                        template=result.template,
                        databases=tuple(w.database for w in rendered.plan.workers))
        return result
    finally:
        held.close()


def _remaining(deadline: float) -> float:
    return max(1.0, deadline - time.monotonic())


SUBNET_ATTEMPTS = 4


def _boot_leasing_again(config: Config, task: TaskSpec, rendered: Rendered, workers: int,
                        digest: str | None, deadline: float, progress: Progress,
                        registry: LeaseRegistry) -> UpResult:
    """_boot; when Docker refuses a leased subnet, lease and render again, then retry.

    The lease checks Docker's networks, but a task of another lease registry (another user,
    another state dir) may create an overlapping network before ours exists: Docker is the
    only arbiter all registries share. The new lease sees that network and moves past it;
    the task's networks that exist keep their subnets.
    """
    for attempt in range(1, SUBNET_ATTEMPTS + 1):
        try:
            return _boot(config, task, rendered, workers, digest, deadline, progress,
                         registry)
        except SubnetTakenError:
            if attempt == SUBNET_ATTEMPTS:
                raise
            progress(f"a subnet of task '{task.id}' was taken meanwhile; leasing another")
            rendered = render_task(config, task, workers, registry=registry,
                                   idle_health=idle_health_interval())
    raise AssertionError("unreachable")  # pragma: no cover


def _boot(config: Config, task: TaskSpec, rendered: Rendered, workers: int,
          digest: str | None, deadline: float, progress: Progress,
          registry: LeaseRegistry) -> UpResult:
    from compose_gen import database

    db = config.database
    spec, plan = rendered.files, rendered.plan
    progress(f"starting the database service '{db.service}' of task '{task.id}'")
    stack.up(spec, [db.service], timeout=_remaining(deadline),
             what=f"the database service '{db.service}' of task '{task.id}'")
    url = admin_url(rendered, config)
    database.wait_until_ready(url, timeout=min(db.ready_timeout, _remaining(deadline)),
                              what=f"the database service '{db.service}' of task '{task.id}'")
    if db.fast:
        database.tune_for_tests(url)
    if plan.build_services:
        progress(f"building {', '.join(plan.build_services)}")
        stack.build(spec, plan.build_services)

    template, seeded = None, False
    if digest is not None:
        template = template_for(config, digest)
        if database.is_ready_template(url, template) and media_seed_ready(rendered, digest):
            progress(f"reusing the seeded template {template}")
        else:
            progress(f"seeding the template {template}")
            build_template(config, rendered, digest, template)
            seeded = True
            previous = rendered.lease.template
            if previous and previous != template:
                # Superseded by a changed seed: kept, every edit would add a copy to the tmpfs.
                database.drop_template(url, previous)
        registry.update(task.project_name, template=template, media_seed=digest)
        if seeded and plan.database.name not in (database.MAINTENANCE_DB,
                                                 *(w.database for w in plan.workers)):
            # The base database (what shared services such as a Celery beat read) is as ready
            # as the workers': the seeded template, not an empty or unmigrated database.
            database.clone(url, template, plan.database.name)

    progress(f"creating {workers} worker database(s)")
    existing = set(database.list_databases(url))
    timings = []
    fresh = []
    for worker in plan.workers:
        if template is None:
            if worker.database not in existing:
                database.create_empty(url, worker.database)
            continue
        if seeded or worker.database not in existing:
            timings.append(database.clone(url, template, worker.database))
            fresh.append(worker.index)
    # Fewer workers than the last `up`: drop the databases only that `up` recorded.
    wanted = {worker.database for worker in plan.workers}
    surplus = [name for name in rendered.lease.databases if name not in wanted]
    if surplus:
        database.drop(url, surplus)
        database.discard_spares(url, surplus)
    # One spare per worker (database.warm_reset), made while the services start: the first
    # reset of each worker is already a swap.
    spares = _SpareMaker(url, template, [w.database for w in plan.workers]) if template else None
    # Containers, networks and volumes first (Compose's labels on all of them), then what
    # Compose cannot express without recreating shared services, then start.
    stack.create(spec, plan.start_services)
    stack.connect_networks(spec, plan.network_joins)
    if template is not None and plan.seed_copy and plan.workers[0].media_volume and fresh:
        progress("copying the seeded media into worker(s) "
                 + ", ".join(str(i) for i in fresh))
        for index in fresh:
            copy_seeded_media(config, rendered.plan, index)
    progress(f"starting {', '.join(plan.start_services) or 'nothing else'}")
    # remove_orphans: worker copies of a previous `up` with more workers are no longer defined.
    stack.up(spec, plan.start_services, timeout=_remaining(deadline), remove_orphans=True,
             what=f"the services of task '{task.id}'")
    _remove_surplus(task, workers)
    readiness.wait_until_serving(spec, plan, config.workers.ready_path,
                                 timeout=min(config.workers.ready_timeout,
                                             _remaining(deadline)),
                                 what=f"task '{task.id}'")
    if spares is not None:
        spares.join()
    return UpResult(rendered, template, seeded, tuple(timings))


class _SpareMaker:
    """database.prepare_spare for each worker in a thread; join() re-raises its failure."""

    def __init__(self, url: str, template: str, names: list[str]) -> None:
        import threading

        from compose_gen import database

        self.error: BaseException | None = None

        def run() -> None:
            try:
                for name in names:
                    database.prepare_spare(url, template, name)
            except BaseException as err:  # handed to join(), in the caller's thread
                self.error = err

        self.thread = threading.Thread(target=run, name="compose-gen-spares", daemon=True)
        self.thread.start()

    def join(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _remove_surplus(task: TaskSpec, workers: int) -> None:
    """Fewer workers than the last `up`: their media volumes and networks go too."""
    surplus = [r for r in stack.labelled_resources(TASK_LABEL, task.id)
               if r.project == task.project_name and r.kind in ("volume", "network")
               and (_worker_index(r) or 0) >= max(workers, 1)]  # None: not a worker's
    for network in (r for r in surplus if r.kind == "network"):
        stack.disconnect_all(network.name)  # shared services were connected by `up`
    stack.remove_resources(surplus)


def _worker_index(resource: stack.Resource) -> int | None:
    raw = resource.labels.get(override.WORKER_LABEL)
    return int(raw) if raw is not None and raw.isdigit() else None


def _task_containers_running(task: TaskSpec) -> bool:
    return any(r.kind == "container" and r.state == "running" and r.project == task.project_name
               for r in stack.labelled_resources(TASK_LABEL, task.id))


def _teardown_quietly(config: Config, task: TaskSpec, registry: LeaseRegistry) -> None:
    try:
        teardown(config, task, registry, keep_volumes=False)
    except Exception as err:  # the original failure matters more
        log.warning("tearing down task '%s' failed too: %s", task.id, err)
