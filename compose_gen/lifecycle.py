"""A task's files and its end: render (the lease, the plan, the three files), down, reset.

`up` is in boot.py, the seed in seeding.py, status and gc in inventory.py.

This module composes the pure pieces (config, task, ports, leases, render) with the two doors
to the outside (stack for Docker, database for PostgreSQL). It never imports click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from compose_gen import paths, planning, render, stack
from compose_gen.config import Config
from compose_gen.envfile import read_env_file
from compose_gen.errors import (
    ComposeGenError,
    ConfigError,
    DockerUnavailableError,
    UsageError,
)
from compose_gen.leases import Lease, LeaseRegistry
from compose_gen.override import subnets_needed
from compose_gen.ports import PortBlock, block_for_slot, block_is_free
from compose_gen.seeding import copy_seeded_media, seed_digest
from compose_gen.task import TASK_LABEL, TaskSpec

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


def down(config: Config, task: TaskSpec, *, keep_volumes: bool = False,
         timeout: float = 120) -> list[stack.Resource]:
    """Remove the task's stack, files and lease. Idempotent; fine on a half-built stack."""
    registry = LeaseRegistry()
    with registry.locked_task(task, timeout, doing="tear down"):
        return teardown(config, task, registry, keep_volumes=keep_volumes)


def teardown(config: Config, task: TaskSpec, registry: LeaseRegistry, *,
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
