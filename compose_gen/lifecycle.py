"""What the commands do, end to end: render, up, down, reset, status, gc.

This module composes the pure pieces (config, task, ports, leases, render) with the two doors
to the outside (stack for Docker, database for PostgreSQL). It never imports click.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from compose_gen import paths, render, stack
from compose_gen.config import Config
from compose_gen.envfile import read_env_file
from compose_gen.errors import (
    ComposeGenError,
    ConfigError,
    DockerUnavailableError,
    Interrupted,
    UsageError,
    WaitTimeoutError,
)
from compose_gen.leases import Lease, LeaseRegistry, LeaseState
from compose_gen.ports import PortBlock, block_for_slot, block_is_free
from compose_gen.task import PROJECT_DIR_LABEL, REGISTRY_LABEL, TASK_LABEL, TaskSpec

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Rendered:
    plan: render.RenderPlan
    lease: Lease
    files: stack.ComposeFiles


def base_files(config: Config) -> stack.ComposeFiles:
    # A fixed project name: Compose would derive one from the directory and fail on names
    # like "été" or "@@@" that normalise to nothing.
    return stack.ComposeFiles(project_dir=config.project_dir, files=config.compose_paths,
                              env_files=stack.env_files_for(config.project_dir),
                              project_name=f"{config.project_prefix}-base")


def task_files(config: Config, task: TaskSpec) -> stack.ComposeFiles:
    """Base files + the task's override, its env file and project name: always all together."""
    return stack.ComposeFiles(
        project_dir=config.project_dir,
        files=(*config.compose_paths, task.dir / paths.OVERRIDE_FILE),
        env_files=stack.env_files_for(config.project_dir, task.dir / paths.ENV_FILE),
        project_name=task.project_name)


def _placeholder_ports(config: Config) -> dict[str, str]:
    # Base files may take host ports from ${POSTGRES_PORT} etc.; any value parses, and the
    # override replaces every published port anyway.
    return {name: "1" for name in config.ports.names.values()}


def render_task(config: Config, task: TaskSpec, workers: int, *,
                registry: LeaseRegistry | None = None, recheck: bool = False) -> Rendered:
    """Lease the task's port block and write its three files; nothing is started."""
    registry = registry or LeaseRegistry()
    for path in config.compose_paths:
        try:
            found = path.is_file()
        except OSError:  # e.g. ENAMETOOLONG: not a file compose-gen can use either
            found = False
        if not found:
            raise ConfigError(f"{config.source_label}: compose file {path} does not exist",
                              hint="fix compose_files in the config")
    spec = base_files(config)
    base = stack.read_compose_config(spec, _placeholder_ports(config))
    # Validate against the base stack before taking a lease, so bad input leaves nothing.
    existing = registry.get(task.project_name)
    # A block of the configured size: the lease's own may be of an older block_size.
    render.plan(config, task, _any_block(config), base, workers, "x")

    lease = registry.acquire(task, config, block_is_free=block_is_free, recheck=recheck)
    try:
        result = render.plan(config, task, lease.block, base, workers, lease.password)
        if _base_uses(config, result.env):
            # The base files interpolate task values (e.g. ${BACKEND_PORT}): read them again
            # with the real ones so that the worker copies carry them.
            base = stack.read_compose_config(spec, dict(result.env))
            result = render.plan(config, task, lease.block, base, workers, lease.password)
        files = render.render_files(config, result, list(config.compose_paths))
        render.write_files(task, files)
    except BaseException:
        if existing is None:
            registry.release(task.project_name)
        raise
    render.exclude_from_git(config)
    return Rendered(plan=result, lease=lease, files=task_files(config, task))


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
        files.add((config.project_dir / db.seed_sql).resolve())
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
                               recheck=not was_running)
        digest = seed_digest(config) if seed else None
        if was_running and before and before.state == LeaseState.UP and before.workers == workers \
                and (digest is None or before.template == _template_for(config, digest)):
            progress(f"task '{task.id}' is already up")
            return UpResult(rendered, before.template, False, (), already_up=True)
        registry.update(task.project_name, state=LeaseState.STARTING, pid=os.getpid())
        try:
            result = _boot(config, task, rendered, workers, digest, deadline, progress,
                           registry)
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


def _boot(config: Config, task: TaskSpec, rendered: Rendered, workers: int,
          digest: str | None, deadline: float, progress: Progress,
          registry: LeaseRegistry) -> UpResult:
    from compose_gen import database

    db = config.database
    spec, plan = rendered.files, rendered.plan
    progress(f"starting the database service '{db.service}' of task '{task.id}'")
    try:
        stack.up(spec, [db.service], timeout=_remaining(deadline))
    except ComposeGenError as err:
        if "timeout" in str(err).lower() or "deadline" in str(err).lower():
            raise WaitTimeoutError(f"the database service '{db.service}' of task '{task.id}' "
                                   f"did not become healthy in time: {err}") from err
        raise
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
        if database.is_ready_template(url, template):
            progress(f"reusing the seeded template {template}")
        else:
            progress(f"seeding the template {template}")
            _build_template(config, rendered, digest, template)
            seeded = True
            previous = rendered.lease.template
            if previous and previous != template:
                # Superseded by a changed seed: kept, every edit would add a copy to the tmpfs.
                database.drop_template(url, previous)
        registry.update(task.project_name, template=template)

    progress(f"creating {workers} worker database(s)")
    existing = set(database.list_databases(url))
    timings = []
    for worker in plan.workers:
        if template is None:
            if worker.database not in existing:
                database.create_empty(url, worker.database)
            continue
        if seeded or worker.database not in existing:
            timings.append(database.clone(url, template, worker.database))
    # Fewer workers than the last `up`: drop the databases only that `up` recorded.
    wanted = {worker.database for worker in plan.workers}
    surplus = [name for name in rendered.lease.databases if name not in wanted]
    if surplus:
        database.drop(url, surplus)
    progress(f"starting {', '.join(plan.start_services) or 'nothing else'}")
    # remove_orphans: worker copies of a previous `up` with more workers are no longer defined.
    stack.up(spec, plan.start_services, timeout=_remaining(deadline), remove_orphans=True)
    return UpResult(rendered, template, seeded, tuple(timings))


def _build_template(config: Config, rendered: Rendered, digest: str, template: str) -> None:
    """Seed under a temporary name, then rename: a template under its final name is complete."""
    from compose_gen import database

    db = config.database
    url = admin_url(rendered, config)
    building = database.building_name(db.name_prefix, digest)
    database.create_empty(url, building)
    try:
        if db.seed_sql:
            database.run_sql_file(url, building, (config.project_dir / db.seed_sql).resolve())
        else:
            service = db.seed_service or config.workers.services[0]
            password = rendered.lease.password
            in_network = f"postgresql://{db.user}:{password}@{db.service}:{db.port}/{building}"
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
    if task.dir.is_dir():
        shutil.rmtree(task.dir, ignore_errors=True)
    registry.release(task.project_name)
    return leftovers


# --- reset ---------------------------------------------------------------------------------

def reset(config: Config, task: TaskSpec, worker: int) -> float:
    """Re-clone one worker's database from the template: a pristine database in tens of ms."""
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
    from compose_gen.database import MAINTENANCE_DB, with_database

    url = with_database(env[config.database.url_env], MAINTENANCE_DB)
    name = render.worker_database(config, worker)
    with registry.locked_task(task, 60, doing="reset"):
        if lease.template is None:
            database.create_empty(url, name)
            return 0.0
        return database.clone(url, lease.template, name)


# --- status, ls, gc ------------------------------------------------------------------------

@dataclass(frozen=True)
class StackInfo:
    project: str
    task_id: str
    project_dir: str
    state: str
    containers: tuple[stack.Resource, ...]
    volumes: tuple[str, ...]
    networks: tuple[str, ...]
    lease: Lease | None
    registry: str = ""

    def as_json(self) -> dict[str, object]:
        lease = self.lease
        return {
            "project": self.project, "task_id": self.task_id,
            "project_dir": self.project_dir, "state": self.state,
            "ports": None if lease is None else [lease.block_start,
                                                 lease.block_start + lease.block_size - 1],
            "workers": lease.workers if lease else None,
            "databases": list(lease.databases) if lease else [],
            "containers": [{"name": c.name, "state": c.state, "ports": list(c.ports),
                            "service": c.labels.get("com.docker.compose.service")}
                           for c in self.containers],
            "volumes": list(self.volumes), "networks": list(self.networks),
        }


def stacks(task_id: str | None = None) -> list[StackInfo]:
    """Every compose-gen stack on this Docker host (by label), with its lease if any."""
    resources = stack.labelled_resources(TASK_LABEL, task_id)
    leases = LeaseRegistry().all()
    projects: dict[str, list[stack.Resource]] = {}
    for res in resources:
        projects.setdefault(res.project, []).append(res)
    for name, lease in leases.items():
        if task_id is None or lease.task_id == task_id:
            projects.setdefault(name, [])
    result = []
    for project, items in sorted(projects.items()):
        containers = tuple(r for r in items if r.kind == "container")
        lease = leases.get(project)
        states = {c.state for c in containers}
        if not containers:
            state = lease.state if lease and lease.state == "rendered" else "no containers"
        elif states == {"running"}:
            state = "running"
        else:
            state = ", ".join(f"{sum(c.state == s for c in containers)} {s}"
                              for s in sorted(states))
        any_labels = items[0].labels if items else {}
        result.append(StackInfo(
            project=project,
            task_id=lease.task_id if lease else any_labels.get(TASK_LABEL, ""),
            project_dir=lease.project_dir if lease else any_labels.get(PROJECT_DIR_LABEL, ""),
            state=state, containers=containers,
            volumes=tuple(r.name for r in items if r.kind == "volume"),
            networks=tuple(r.name for r in items if r.kind == "network"),
            lease=lease, registry=any_labels.get(REGISTRY_LABEL, "")))
    return result


@dataclass(frozen=True)
class GcItem:
    project: str
    task_id: str
    reason: str
    resources: tuple[stack.Resource, ...]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gc_reason(info: StackInfo) -> str | None:
    """Why a stack is garbage, or None when its task is still alive.

    A stack made through another lease registry (another $COMPOSE_GEN_STATE_DIR or user) is
    only collected when its project dir is gone: its leases are not ours to judge.
    """
    lease = info.lease
    if lease is None:
        if info.project_dir and not Path(info.project_dir).is_dir():
            return f"its project dir {info.project_dir} is gone"
        if info.registry == paths.registry_id():
            return "no lease (released, or lost with the lease registry)"
        return None
    if not Path(lease.project_dir).is_dir():
        return f"its project dir {lease.project_dir} is gone"
    if lease.state == "starting" and not _pid_alive(lease.pid):
        return f"its `up` (pid {lease.pid}) died before finishing"
    return None


def gc(*, dry_run: bool = False) -> list[GcItem]:
    """Remove stacks (containers, volumes, networks) and leases whose task is gone."""
    registry = LeaseRegistry()
    found = []
    for info in stacks():
        reason = gc_reason(info)
        if reason is None:
            continue
        resources = tuple(r for r in stack.labelled_resources(TASK_LABEL, info.task_id or None)
                          if r.project == info.project) if info.task_id else ()
        found.append(GcItem(info.project, info.task_id, reason, resources))
        if dry_run:
            continue
        stack.remove_resources(resources)
        if info.lease is not None:
            task_dir = Path(info.lease.task_dir)
            if task_dir.is_dir() and task_dir.name == info.lease.task_id:
                shutil.rmtree(task_dir, ignore_errors=True)
        registry.release(info.project)
    return found
