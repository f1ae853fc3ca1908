"""What the commands do, end to end: render, up, down, reset, status, gc.

This module composes the pure pieces (config, task, ports, leases, render) with the two doors
to the outside (stack for Docker, database for PostgreSQL). It never imports click.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import override, paths, planning, readiness, render, stack
from compose_gen.config import Config
from compose_gen.envfile import read_env_file
from compose_gen.errors import (
    ComposeGenError,
    ConfigError,
    DockerUnavailableError,
    Interrupted,
    SubnetTakenError,
    UsageError,
)
from compose_gen.leases import Lease, LeaseRegistry, LeaseState
from compose_gen.override import subnets_needed
from compose_gen.ports import PortBlock, block_for_slot, block_is_free
from compose_gen.task import REGISTRY_LABEL, TASK_LABEL, TaskSpec

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Rendered:
    plan: planning.RenderPlan
    lease: Lease
    files: stack.ComposeFiles
    # What compose-gen changed in the user's project to render (e.g. a .dockerignore entry).
    notes: tuple[str, ...] = ()


def base_files(config: Config) -> stack.ComposeFiles:
    # A fixed project name: Compose would derive one from the directory and fail on names
    # like "été" or "@@@" that normalise to nothing.
    return stack.ComposeFiles(project_dir=config.compose_project_dir, files=config.compose_paths,
                              env_files=stack.env_files_for(config.compose_project_dir),
                              project_name=f"{config.project_prefix}-base")


def task_files(config: Config, task: TaskSpec) -> stack.ComposeFiles:
    """Base files + the task's override, its env file and project name: always all together."""
    return stack.ComposeFiles(
        project_dir=config.compose_project_dir,
        files=(*config.compose_paths, task.dir / paths.OVERRIDE_FILE),
        env_files=stack.env_files_for(config.compose_project_dir, task.dir / paths.ENV_FILE),
        project_name=task.project_name)


def _placeholder_ports(config: Config) -> dict[str, str]:
    # Base files may take host ports from ${POSTGRES_PORT} etc.; any value parses, and the
    # override replaces every published port anyway.
    return {name: "1" for name in config.ports.names.values()}


def read_base(config: Config) -> dict[str, Any]:
    """The project's compose files as Compose reads them (normalised, paths resolved)."""
    for path in config.compose_paths:
        try:
            found = path.is_file()
        except OSError:  # e.g. ENAMETOOLONG: not a file compose-gen can use either
            found = False
        if not found:
            raise ConfigError(f"{config.source_label}: compose file {path} does not exist",
                              hint="fix compose_files in the config")
    return stack.read_compose_config(base_files(config), _placeholder_ports(config))


def render_task(config: Config, task: TaskSpec, workers: int, *,
                registry: LeaseRegistry | None = None, recheck: bool = False,
                idle_health: str | None = None) -> Rendered:
    """Lease the task's port block and subnets and write its three files; nothing starts.
    idle_health: see override.Inputs (`up` passes idle_health_interval())."""
    registry = registry or LeaseRegistry()
    spec = base_files(config)
    base = read_base(config)
    # Validate against the base stack before taking a lease, so bad input leaves nothing.
    existing = registry.get(task.project_name)
    # A block of the configured size: the lease's own may be of an older block_size.
    planning.plan(config, task, _any_block(config), base, workers, "x")
    needed = subnets_needed(base, config.workers.services, workers)

    lease = registry.acquire(task, config, block_is_free=block_is_free, recheck=recheck,
                             subnets=needed)
    from compose_gen.database import building_name

    digest = seed_digest(config)
    seed_db = building_name(config.database.name_prefix, digest) if digest else None
    try:
        result = planning.plan(config, task, lease.block, base, workers, lease.password,
                             subnets=lease.subnets, seed_database=seed_db,
                             idle_health=idle_health)
        if _base_uses(config, result.env):
            # The base files interpolate task values (e.g. ${BACKEND_PORT}): read them again
            # with the real ones, once per worker, so that each copy carries its own.
            per_worker = {w.index: stack.read_compose_config(spec, _worker_values(result.env,
                                                                                  w.index))
                          for w in result.workers}
            result = planning.plan(config, task, lease.block, per_worker[0], workers,
                                 lease.password, subnets=lease.subnets,
                                 worker_bases=per_worker, seed_database=seed_db,
                                 idle_health=idle_health)
        files = render.render_files(config, result, list(config.compose_paths))
        render.write_files(task, files)
    except BaseException:
        if existing is None:
            registry.release(task.project_name)
        raise
    render.exclude_from_git(config)
    notes = tuple(render.keep_out_of_build_contexts(config, base))
    return Rendered(plan=result, lease=lease, files=task_files(config, task), notes=notes)


def _worker_values(env: Mapping[str, str], index: int) -> dict[str, str]:
    """The task's values as worker `index` sees them: BACKEND_PORT is its own BACKEND_PORT_W<i>."""
    suffix = f"_W{index}"
    values = dict(env)
    for key, value in env.items():
        if key.endswith(suffix):
            values[key[:-len(suffix)]] = value
    return values


def _any_block(config: Config) -> PortBlock:
    return block_for_slot(0, config.ports)


def _base_uses(config: Config, env: Mapping[str, str]) -> bool:
    return any(set(env) & stack.referenced_variables(path.read_text(encoding="utf-8"))
               for path in config.compose_paths)


# --- up ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpResult:
    rendered: Rendered
    template: str | None
    seeded: bool
    clone_seconds: tuple[float, ...]
    already_up: bool = False


def admin_url(rendered: Rendered, config: Config) -> str:
    from compose_gen.database import MAINTENANCE_DB, with_database

    return with_database(rendered.plan.env[config.database.url_env], MAINTENANCE_DB)


def seed_digest(config: Config) -> str | None:
    """What decides whether the template must be rebuilt: the seed and its input files."""
    from compose_gen.database import seed_hash

    db = config.database
    if not (db.seed_command or db.seed_sql):
        return None
    parts = [repr(db.seed_command).encode(), (db.seed_service or "").encode()]
    files: set[Path] = set()
    if db.seed_sql:
        sql = (config.project_dir / db.seed_sql).resolve()
        try:
            found = sql.is_file()
        except OSError:  # e.g. a name too long for the file system
            found = False
        if not found:
            raise ConfigError(f"{config.source_label}: database.seed_sql names {sql}, which "
                              "does not exist", hint="fix database.seed_sql in the config")
        files.add(sql)
    for pattern in db.seed_inputs:
        matches = glob.glob(str(config.project_dir / pattern), recursive=True)
        files.update(Path(m).resolve() for m in matches if Path(m).is_file())
    for path in sorted(files):
        parts.append(str(path.relative_to(config.project_dir)
                         if path.is_relative_to(config.project_dir) else path).encode())
        parts.append(path.read_bytes())
    return seed_hash(parts)


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
                and (digest is None or before.template == _template_for(config, digest)):
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


def _template_for(config: Config, digest: str) -> str:
    from compose_gen.database import template_name

    return template_name(config.database.name_prefix, digest)


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


IDLE_HEALTH_INTERVAL = "60s"
START_INTERVAL_ENGINE = 25  # Docker Engine 25 (API 1.44) added healthcheck.start_interval


def idle_health_interval() -> str | None:
    """IDLE_HEALTH_INTERVAL where the engine has start_interval, else None: Compose refuses
    start_interval on older engines, whose worker copies keep the base's healthcheck."""
    import re

    try:
        version = stack.ping_daemon()
    except ComposeGenError:
        return None
    found = re.match(r"\s*(\d+)", version)
    return IDLE_HEALTH_INTERVAL if found and int(found.group(1)) >= START_INTERVAL_ENGINE \
        else None


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
        template = _template_for(config, digest)
        if database.is_ready_template(url, template) and _media_seed_ready(rendered, digest):
            progress(f"reusing the seeded template {template}")
        else:
            progress(f"seeding the template {template}")
            _build_template(config, rendered, digest, template)
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


def _media_seed_ready(rendered: Rendered, digest: str) -> bool:
    """The media seed volume holds what this seed wrote (or no media is seeded)."""
    if not (rendered.plan.seed_copy and rendered.plan.workers[0].media_volume):
        return True
    return rendered.lease.media_seed == digest


def copy_seeded_media(config: Config, plan: planning.RenderPlan, index: int) -> None:
    """Worker `index`'s media volume becomes a copy of what the seed wrote."""
    worker = plan.workers[index]
    if worker.media_volume is None:
        return
    source = f"{plan.task.project_name}_{override.MEDIA_SEED_VOLUME}"
    stack.copy_volume(plan.copy_image, source, worker.media_volume,
                      {TASK_LABEL: plan.task.id, REGISTRY_LABEL: paths.registry_id()})


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


def _build_template(config: Config, rendered: Rendered, digest: str, template: str) -> None:
    """Seed under a temporary name, then rename: a template under its final name is complete.

    The seed runs in the seed service's own copy, whose media dir is the media seed volume
    (emptied first): what it writes there is the media template every worker gets a copy of.
    """
    from compose_gen import database

    db = config.database
    plan = rendered.plan
    url = admin_url(rendered, config)
    building = database.building_name(db.name_prefix, digest)
    database.create_empty(url, building)
    try:
        if db.seed_sql:
            database.run_sql_file(url, building, (config.project_dir / db.seed_sql).resolve())
        else:
            service = plan.seed_copy or db.seed_service or config.workers.services[0]
            if plan.workers[0].media_volume:
                stack.remove_volume(f"{plan.task.project_name}_{override.MEDIA_SEED_VOLUME}")
            password = rendered.lease.password
            in_network = (f"postgresql://{plan.database.user}:{password}@{db.service}:"
                          f"{db.port}/{building}")
            stack.run_once(rendered.files, service, db.seed_command, {db.url_env: in_network})
        database.finish_template(url, building, template)
    except BaseException:
        with contextlib.suppress(Exception):
            database.drop(url, [building])
        raise


def _task_containers_running(task: TaskSpec) -> bool:
    return any(r.kind == "container" and r.state == "running" and r.project == task.project_name
               for r in stack.labelled_resources(TASK_LABEL, task.id))


def _teardown_quietly(config: Config, task: TaskSpec, registry: LeaseRegistry) -> None:
    try:
        _teardown(config, task, registry, keep_volumes=False)
    except Exception as err:  # the original failure matters more
        log.warning("tearing down task '%s' failed too: %s", task.id, err)


# --- down ----------------------------------------------------------------------------------

def down(config: Config, task: TaskSpec, *, keep_volumes: bool = False,
         timeout: float = 120) -> list[stack.Resource]:
    """Remove the task's stack, files and lease. Idempotent; fine on a half-built stack."""
    registry = LeaseRegistry()
    with registry.locked_task(task, timeout, doing="tear down"):
        return _teardown(config, task, registry, keep_volumes=keep_volumes)


def _teardown(config: Config, task: TaskSpec, registry: LeaseRegistry, *,
              keep_volumes: bool) -> list[stack.Resource]:
    spec = task_files(config, task)
    # Our containers first, by label, with their anonymous volumes; then Compose without -v,
    # whose `down -v` removes every volume that has one of the project's volume names,
    # labelled by us or not. The named volumes go by label below.
    stack.remove_resources([r for r in stack.labelled_resources(TASK_LABEL, task.id)
                            if r.project == task.project_name and r.kind == "container"])
    if all(path.is_file() for path in spec.files):
        try:
            stack.down(spec, volumes=False)
        except DockerUnavailableError:
            raise
        except ComposeGenError as err:
            log.warning("compose down of task '%s' failed (%s); removing its resources by "
                        "label instead", task.id, err)
    # What Compose could not see (files gone, services of other files: compose#5246).
    leftovers = [r for r in stack.labelled_resources(TASK_LABEL, task.id)
                 if r.project == task.project_name
                 and not (keep_volumes and r.kind == "volume")]
    stack.remove_resources(leftovers)
    # The image tags Compose built for this project (`<project>-<service>`); their layers
    # stay cached for the next task's build.
    stack.untag_project_images(task.project_name)
    if task.dir.is_dir():
        paths.remove_generated(task.dir)
    registry.release(task.project_name)
    return leftovers


# --- reset ---------------------------------------------------------------------------------

def reset(config: Config, task: TaskSpec, worker: int, *, database_only: bool = False) -> float:
    """A pristine worker: its database re-cloned from the template (tens of ms) and, unless
    database_only, its media volume a fresh copy of what the seed wrote."""
    from compose_gen import database

    registry = LeaseRegistry()
    lease = registry.get(task.project_name)
    env_path = task.dir / paths.ENV_FILE
    if lease is None or not env_path.is_file():
        raise UsageError(f"task '{task.id}' is not up", hint=f"run `compose-gen up --task-id "
                                                             f"{task.id}` first")
    env = read_env_file(env_path)
    workers = int(env.get("E2E_WORKERS", "0"))
    if not 0 <= worker < workers:
        raise UsageError(f"task '{task.id}' has {workers} workers (0..{workers - 1}), "
                         f"not worker {worker}")
    url = database.with_database(env[config.database.url_env], database.MAINTENANCE_DB)
    name = planning.worker_database(config, worker)
    with registry.locked_task(task, 60, doing="reset"):
        if lease.template is None:
            database.create_empty(url, name)
            return 0.0
        # The spare swapped in (or a clone when there is none yet), then the next spare.
        took = database.warm_reset(url, lease.template, name).seconds
        database.prepare_spare(url, lease.template, name)
        if not database_only and lease.media_seed:
            base = read_base(config)
            plan = planning.plan(config, task, lease.block, base, workers, lease.password,
                               subnets=lease.subnets)
            if plan.seed_copy:
                copy_seeded_media(config, plan, worker)
        return took
