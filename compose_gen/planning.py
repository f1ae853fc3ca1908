"""Planning a task (pure): from the config, the task, its port block and the base stack to
its ports, its environment, each worker's facts and the override's data.

Plain data in, plain data out: nothing here touches the disk, Docker or PostgreSQL.
`render.py` writes what this plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compose_gen import override as overrides
from compose_gen import paths, placeholders
from compose_gen.config import Config
from compose_gen.errors import ConfigError, UsageError
from compose_gen.ports import PortBlock
from compose_gen.task import PROJECT_DIR_LABEL, REGISTRY_LABEL, TASK_LABEL, TaskSpec

DISABLED_PROFILE = overrides.DISABLED_PROFILE
WORKER_LABEL = overrides.WORKER_LABEL
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class PublishedPort:
    service: str
    target: int
    protocol: str
    host_port: int
    env_name: str
    # True when the base stack does not publish this port: compose-gen adds it (the database
    # must be reachable from the host whatever the base does).
    added: bool = False

    @property
    def spec(self) -> str:
        return f"{LOOPBACK}:{self.host_port}:{self.target}/{self.protocol}"


@dataclass(frozen=True)
class WorkerEnv:
    index: int
    database: str
    database_url: str
    base_url: str | None
    media_volume: str | None
    services: Mapping[str, str]  # base service -> its copy for this worker
    ports: tuple[PublishedPort, ...]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "base_url": self.base_url, "database": self.database,
                "database_url": self.database_url, "media_volume": self.media_volume,
                "services": dict(self.services),
                "ports": {p.env_name: p.host_port for p in self.ports}}


@dataclass(frozen=True)
class DatabaseFacts:
    """The task's server as the base stack and the config describe it."""

    user: str
    name: str
    base_password: str | None
    host_port: int


@dataclass(frozen=True)
class RenderPlan:
    task: TaskSpec
    block: PortBlock
    range_start: int
    database: DatabaseFacts
    shared_ports: tuple[PublishedPort, ...]
    workers: tuple[WorkerEnv, ...]
    env: Mapping[str, str]
    override: overrides.Override = field(repr=False)
    # Services built from a Dockerfile: built once before their copies start.
    build_services: tuple[str, ...] = ()
    # The worker services' copies that `up` waits on until they answer HTTP.
    http_copies: tuple[str, ...] = ()
    # An image with sh, find and cp that is always at hand: the database service's.
    copy_image: str = ""

    @property
    def database_port(self) -> int:
        return self.database.host_port

    @property
    def start_services(self) -> tuple[str, ...]:
        """What `up` starts after the database: shared services and every worker copy."""
        shared = [s.name for s in self.override.services if not s.disabled]
        copies = [c.name for c in self.override.copies
                  if overrides.DISABLED_PROFILE not in (c.definition.get("profiles") or ())]
        return (*shared, *copies)

    @property
    def network_joins(self) -> dict[str, tuple[str, ...]]:
        """Shared service -> the worker networks (override keys) `up` connects it to."""
        return {s.name: s.joins for s in self.override.services if s.joins}

    @property
    def seed_copy(self) -> str | None:
        return next((c.name for c in self.override.copies
                     if c.name.endswith(overrides.SEED_SUFFIX)
                     and overrides.DISABLED_PROFILE in (c.definition.get("profiles") or ())),
                    None)


def worker_database(config: Config, index: int) -> str:
    return f"{config.database.name_prefix}_w{index}"


def plan(config: Config, task: TaskSpec, block: PortBlock, base: Mapping[str, Any],
         workers: int, password: str, *, subnets: tuple[str, ...] = (),
         worker_bases: Mapping[int, Mapping[str, Any]] | None = None,
         seed_database: str | None = None, idle_health: str | None = None) -> RenderPlan:
    """The task's ports, env and override (pure). seed_database: where the seed writes (the
    template under construction), for the seed's own copy of the seed service."""
    services: Mapping[str, Any] = base.get("services") or {}
    _check_services(config, services, workers)
    db = config.database
    worker_services = list(config.workers.services)
    shared = [name for name in services if name not in worker_services]
    # Fixed order inside the block: the database first, then the others by name.
    shared.sort(key=lambda name: (name != db.service, name))

    shared_ports: list[PublishedPort] = []
    for name in shared:
        for n, (target, protocol, added) in enumerate(_host_ports(config, name,
                                                                  services[name])):
            index = len(shared_ports)
            if index >= config.ports.worker_offset:
                raise ConfigError(
                    f"{config.source_label}: the shared services publish more than "
                    f"ports.worker_offset={config.ports.worker_offset} ports",
                    hint="raise ports.worker_offset and ports.block_size")
            env_name = config.ports.env_name(name) + (f"_{target}" if n else "")
            shared_ports.append(PublishedPort(name, target, protocol, block.port(index),
                                              env_name, added))

    per_worker = [(name, n, target, protocol) for name in worker_services
                  for n, (target, protocol) in enumerate(_published(services[name]))]
    needed = config.ports.worker_offset + config.workers.max * len(per_worker)
    if needed > config.ports.block_size:
        raise ConfigError(
            f"{config.source_label}: a block of {config.ports.block_size} ports cannot hold "
            f"{config.workers.max} workers x {len(per_worker)} ports after "
            f"ports.worker_offset={config.ports.worker_offset}",
            hint=f"set ports.block_size to at least {needed} or lower workers.max")

    db_port = next(p for p in sorted(shared_ports, key=lambda p: p.target != db.port)
                   if p.service == db.service)
    facts = _database_facts(config, services[db.service], db_port.host_port)

    http = config.workers.base_url_service
    worker_envs, worker_facts = [], []
    for i in range(workers):
        ports = []
        for k, (name, n, target, protocol) in enumerate(per_worker):
            port = block.port(config.ports.worker_offset + i * len(per_worker) + k)
            env_name = config.ports.env_name(name) + (f"_{target}" if n else "") + f"_W{i}"
            ports.append(PublishedPort(f"{name}_w{i}", target, protocol, port, env_name))
        base_url = next((f"http://{LOOPBACK}:{p.host_port}" for p in ports
                         if p.service == f"{http}_w{i}"), None)
        database = worker_database(config, i)
        copies = {name: f"{name}_w{i}" for name in worker_services}
        media = config.media.volume or ("media" if config.media.path else None)
        worker_envs.append(WorkerEnv(
            index=i, database=database,
            database_url=_url(facts.user, password, LOOPBACK, facts.host_port, database),
            base_url=base_url,
            media_volume=f"{task.project_name}_{media}_w{i}" if media else None,
            services=copies, ports=tuple(ports)))
        values = {"index": str(i), "worker": f"w{i}", "base_url": base_url or "",
                  "host": LOOPBACK, "database": database,
                  "database_url": _url(facts.user, password, db.service, db.port, database)}
        for name in worker_services:
            first = next((p for p in ports if p.service == copies[name]), None)
            values[f"{placeholders.service_key(name)}_port"] = \
                str(first.host_port) if first else ""
        worker_facts.append(overrides.WorkerFacts(
            index=i, database=database,
            ports={name: [p.spec for p in ports if p.service == copies[name]]
                   for name in worker_services},
            env={key: placeholders.render_value(template, values)
                 for key, template in config.workers.env.items()},
            services=copies))

    inputs = overrides.Inputs(
        labels={TASK_LABEL: task.id, PROJECT_DIR_LABEL: str(config.project_dir),
                REGISTRY_LABEL: paths.registry_id()},
        db_service=db.service, db_port=db.port, db_user=facts.user, password=password,
        base_password=facts.base_password, password_env=db.password_env, url_env=db.url_env,
        base_database=facts.name, seed_database=seed_database,
        worker_services=tuple(worker_services),
        shared_ports={name: [p.spec for p in shared_ports if p.service == name]
                      for name in shared},
        media_volume=config.media.volume, media_path=config.media.path,
        masked_dir=config.tasks_path,
        tmpfs_data=f"{db.data_dir}:size={db.tmpfs_size}" if db.tmpfs else None,
        data_dir=db.data_dir, project_name=task.project_name,
        seed_service=(db.seed_service or worker_services[0]) if db.seed_command
        and (db.seed_service or worker_services) else None,
        subnets=subnets, workers=tuple(worker_facts), worker_bases=worker_bases,
        idle_health=idle_health)
    override = overrides.build(base, inputs)
    build_services = tuple(name for name in services if "build" in services[name]
                           and (name in worker_services or name == inputs.seed_service))
    env = _env(config, task, block, facts, tuple(shared_ports), worker_envs, password)
    return RenderPlan(
        task=task, block=block, range_start=config.ports.range_start, database=facts,
        shared_ports=tuple(shared_ports), workers=tuple(worker_envs), env=env,
        override=override, build_services=build_services,
        http_copies=tuple(f"{http}_w{i}" for i in range(workers)
                          if http and worker_envs[i].base_url),
        copy_image=str(services[db.service].get("image") or f"{task.project_name}-{db.service}"))


def _database_facts(config: Config, definition: Mapping[str, Any],
                    host_port: int) -> DatabaseFacts:
    """User, database and base password: the config's, else the database service's own
    environment (env_file included), else the official image's defaults."""
    environment = definition.get("environment") or {}
    user = config.database.user or environment.get("POSTGRES_USER") or "postgres"
    name = config.database.name or environment.get("POSTGRES_DB") or user
    return DatabaseFacts(user=str(user), name=str(name),
                         base_password=environment.get(config.database.password_env),
                         host_port=host_port)


def _check_services(config: Config, services: Mapping[str, Any], workers: int) -> None:
    where = config.source_label
    if not 1 <= workers <= config.workers.max:
        raise UsageError(f"--workers must be between 1 and workers.max={config.workers.max}, "
                         f"got {workers}", hint="raise workers.max in the config for more")
    known = sorted(services)
    wanted = [("database.service", config.database.service)]
    wanted += [("workers.services", s) for s in config.workers.services]
    if config.database.seed_service:
        wanted.append(("database.seed_service", config.database.seed_service))
    for key, name in wanted:
        if name not in services:
            raise ConfigError(f"{where}: {key} names '{name}', which the compose files do not "
                              f"define (services: {', '.join(known) or 'none'})")


def _published(service: Mapping[str, Any]) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    for entry in service.get("ports") or ():
        item = (int(entry["target"]), str(entry.get("protocol") or "tcp"))
        if item not in seen:
            seen.append(item)
    return seen


def _host_ports(config: Config, name: str,
                service: Mapping[str, Any]) -> list[tuple[int, str, bool]]:
    """The ports of a shared service that get a host port: what the base publishes, and the
    database's port even when the base publishes none (only its app talks to it there)."""
    ports = [(target, protocol, False) for target, protocol in _published(service)]
    if name == config.database.service and not any(
            target == config.database.port for target, _, _ in ports):
        ports.insert(0, (config.database.port, "tcp", True))
    return ports


def _url(user: str, password: str, host: str, port: int, database: str) -> str:
    return f"postgresql://{user}:{password}@{host}:{port}/{database}"


def _env(config: Config, task: TaskSpec, block: PortBlock, facts: DatabaseFacts,
         shared_ports: tuple[PublishedPort, ...], workers: list[WorkerEnv],
         password: str) -> dict[str, str]:
    env = {
        "ZENFLOW_TASK_ID": task.id,
        "ZENFLOW_PORT_OFFSET": str(block.start - config.ports.range_start),
        "COMPOSE_PROJECT_NAME": task.project_name,
    }
    for port in shared_ports:
        env[port.env_name] = str(port.host_port)
    for worker in workers:
        for port in worker.ports:
            env.setdefault(port.env_name.rsplit("_W", 1)[0], str(port.host_port))
    for worker in workers:
        for port in worker.ports:
            env[port.env_name] = str(port.host_port)
    env[config.database.password_env] = password
    env[config.database.url_env] = _url(facts.user, password, LOOPBACK, facts.host_port,
                                        facts.name)
    env["E2E_WORKERS"] = str(len(workers))
    for worker in workers:
        if worker.base_url:
            env[f"E2E_BASE_URL_W{worker.index}"] = worker.base_url
        env[f"DATABASE_URL_W{worker.index}"] = worker.database_url
        if worker.media_volume:
            env[f"MEDIA_VOLUME_W{worker.index}"] = worker.media_volume
    return env
