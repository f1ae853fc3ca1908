"""The task's override of the project's compose files, as plain data (pure).

For every service of the base stack: its published ports moved into the task's block on
127.0.0.1, the task's database password wherever the base carries the old one, a fixed
`container_name` dropped, our labels. Worker services are disabled in place and copied once
per worker (`backend_w0`, `backend_w1`, …), each copy on its worker's networks where it
answers to the base name, with its own database URL, media volume and `[workers.env]` values.
The template `docker-compose.zenflow.yml.j2` writes this data (YAML tags need a template).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from compose_gen.credentials import Credentials
from compose_gen.healthchecks import idle_healthcheck

DISABLED_PROFILE = "compose-gen-disabled"
WORKER_LABEL = "dev.compose-gen.worker"
SEED_SUFFIX = "_seed"
MEDIA_SEED_VOLUME = "media_seed"


@dataclass(frozen=True)
class ServiceEntry:
    """What the override changes in one service of the base stack."""

    name: str
    labels: Mapping[str, str]
    # A worker service: kept defined (the seed may run in it), never started; copies run.
    disabled: bool = False
    reset_container_name: bool = False
    ports: tuple[str, ...] | None = None
    depends_on: Mapping[str, Any] | None = None
    environment: Mapping[str, str] | None = None
    tmpfs: tuple[str, ...] | None = None
    volumes: tuple[Any, ...] | None = None
    # Docker's init as PID 1 (see _needs_init).
    init: bool = False
    # Worker networks (keys of the override's networks) this shared service must join. Not
    # written into the override: a change there would make Compose recreate the service (and
    # lose a database on tmpfs) whenever the worker count changes; `up` connects them instead.
    joins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceCopy:
    """A whole service definition added by the override (a worker's copy, the seed's copy)."""

    name: str
    definition: Mapping[str, Any]


@dataclass(frozen=True)
class Override:
    services: tuple[ServiceEntry, ...]
    copies: tuple[ServiceCopy, ...]
    volumes: Mapping[str, Any]
    networks: Mapping[str, Any]


@dataclass(frozen=True)
class WorkerFacts:
    """What one worker's copies need, computed by the planner."""

    index: int
    database: str
    ports: Mapping[str, Sequence[str]]  # base service -> its copy's port specs
    env: Mapping[str, str]  # [workers.env] rendered for this worker
    services: Mapping[str, str]  # base service -> copy name


@dataclass(frozen=True)
class Inputs:
    """Everything `build` needs besides the base stack, from the config and the plan."""

    labels: Mapping[str, str]
    db_service: str
    db_port: int
    db_user: str
    password: str
    base_password: str | None
    password_env: str
    url_env: str
    base_database: str
    worker_services: tuple[str, ...]
    shared_ports: Mapping[str, Sequence[str]]  # shared service -> port specs
    media_volume: str | None
    media_path: str | None
    masked_dir: Path | None  # the tasks dir: hidden from every container's bind mounts
    tmpfs_data: str | None  # "<data_dir>:size=<n>" for the database service, or None
    data_dir: str
    project_name: str
    seed_service: str | None
    # The database the seed writes into (the template under construction).
    seed_database: str | None = None
    subnets: Sequence[str] = ()
    workers: Sequence[WorkerFacts] = field(default_factory=tuple)
    # Per worker index: the base stack read with that worker's values (a base that
    # interpolates ${BACKEND_PORT} gets each worker's own port); None: the one base.
    worker_bases: Mapping[int, Mapping[str, Any]] | None = None
    # Health checks of worker copies probe at this interval once healthy, and at the base's
    # interval only while starting (start_interval: Engine >= 25): idle workers then cost
    # next to nothing. None: the base's healthcheck as it is (older engines refuse it).
    idle_health: str | None = None


def build(base: Mapping[str, Any], inputs: Inputs) -> Override:
    services: Mapping[str, Any] = base.get("services") or {}
    worker_services = set(inputs.worker_services)
    worker_nets = _worker_networks(services, inputs.worker_services)
    entries = []
    for name, definition in services.items():
        entries.append(_shared_entry(name, definition, inputs, worker_services, worker_nets))

    copies = []
    for worker in inputs.workers:
        worker_base = (inputs.worker_bases or {}).get(worker.index, base)
        for name in inputs.worker_services:
            definition = (worker_base.get("services") or {}).get(name) or services[name]
            copies.append(ServiceCopy(worker.services[name],
                                      _worker_copy(name, definition, worker, inputs, worker_nets)))
    if inputs.seed_service:
        copies.append(ServiceCopy(inputs.seed_service + SEED_SUFFIX,
                                  _seed_copy(services[inputs.seed_service], inputs)))

    subnets = list(inputs.subnets)
    volumes = {key: {"labels": dict(inputs.labels)}
               for key, spec in (base.get("volumes") or {}).items()
               if not (spec or {}).get("external")}
    if inputs.media_volume or inputs.media_path:
        for worker in inputs.workers:
            volumes[media_volume_key(inputs, worker.index)] = {
                "labels": {**inputs.labels, WORKER_LABEL: str(worker.index)}}
        if inputs.seed_service:
            volumes[MEDIA_SEED_VOLUME] = {"labels": dict(inputs.labels)}
    networks: dict[str, Any] = {}
    for key, spec in (base.get("networks") or {}).items():
        if (spec or {}).get("external"):
            continue
        networks[key] = _network(spec or {}, inputs.labels, subnets)
    for worker in inputs.workers:
        if worker.index == 0:
            continue
        for net in worker_nets:
            spec = (base.get("networks") or {}).get(net) or {}
            networks[worker_network(net, worker.index)] = _network(
                {k: v for k, v in spec.items() if k in ("driver", "driver_opts")},
                {**inputs.labels, WORKER_LABEL: str(worker.index)}, subnets)
    return Override(tuple(entries), tuple(copies), volumes, networks)


def subnets_needed(base: Mapping[str, Any], worker_services: Sequence[str], workers: int) -> int:
    """How many subnets `build` hands out: the base's own networks and the worker networks."""
    services: Mapping[str, Any] = base.get("services") or {}
    own = [spec for spec in (base.get("networks") or {}).values()
           if not (spec or {}).get("external") and not _has_own_ipam(spec or {})]
    return len(own) + (workers - 1) * len(_worker_networks(services, worker_services))


def media_volume_key(inputs: Inputs, index: int) -> str:
    return f"{inputs.media_volume or 'media'}_w{index}"


def worker_network(net: str, index: int) -> str:
    return f"{net}_w{index}"


# --- pieces ----------------------------------------------------------------------------------

def _has_own_ipam(spec: Mapping[str, Any]) -> bool:
    return bool((spec.get("ipam") or {}).get("config"))


def _network(spec: Mapping[str, Any], labels: Mapping[str, str], subnets: list[str]) -> Any:
    result: dict[str, Any] = {**spec, "labels": dict(labels)}
    result.pop("name", None)  # Compose names it <project>_<key>; the base's `name` is the base's
    result.pop("ipam", None)
    if subnets and not _has_own_ipam(spec):
        # A subnet of our own pool: Docker's default pools hold only ~31 bridge networks.
        result["ipam"] = {"config": [{"subnet": subnets.pop(0)}]}
    elif _has_own_ipam(spec):
        result["ipam"] = spec["ipam"]
    return result


def _worker_networks(services: Mapping[str, Any], worker_services: Sequence[str]) -> list[str]:
    """The base networks the worker services join: each gets one copy per extra worker."""
    nets: list[str] = []
    for name in worker_services:
        for net in (services[name].get("networks") or {"default": None}):
            if net not in nets:
                nets.append(net)
    return nets


def _service_networks(definition: Mapping[str, Any]) -> dict[str, Any]:
    return dict(definition.get("networks") or {"default": None})


def _shared_entry(name: str, definition: Mapping[str, Any], inputs: Inputs,
                  worker_services: set[str], worker_nets: list[str]) -> ServiceEntry:
    labels = dict(inputs.labels)
    reset_name = bool(definition.get("container_name"))
    if name in worker_services:
        return ServiceEntry(name, labels, disabled=True, reset_container_name=reset_name)
    ports = tuple(inputs.shared_ports.get(name, ()))
    depends = definition.get("depends_on") or {}
    depends_on = None
    if any(dep in worker_services for dep in depends):
        depends_on = {(f"{dep}_w0" if dep in worker_services else dep): spec
                      for dep, spec in depends.items()}
    environment = _credentials(inputs).rewritten(definition.get("environment") or {})
    if name == inputs.db_service:
        environment = {**(environment or {}), inputs.password_env: inputs.password}
    tmpfs = _masks(definition, inputs)
    volumes = None
    if name == inputs.db_service and inputs.tmpfs_data:
        tmpfs = (*tmpfs, inputs.tmpfs_data)
        mounts = definition.get("volumes") or []
        if any(m.get("target") == inputs.data_dir for m in mounts):
            volumes = tuple(m for m in mounts if m.get("target") != inputs.data_dir)
    # A shared service on a network of the worker services joins each worker's copy of it,
    # so that worker i's copies reach it by its name.
    own_nets = _service_networks(definition)
    joins = tuple(worker_network(net, w.index) for w in inputs.workers if w.index
                  for net in worker_nets if net in own_nets)
    return ServiceEntry(
        name, labels, reset_container_name=reset_name,
        ports=ports if (ports or definition.get("ports")) else None,
        depends_on=depends_on, environment=environment or None, tmpfs=tmpfs or None,
        volumes=volumes, init=name == inputs.db_service and _needs_init(definition),
        joins=joins)


def _needs_init(definition: Mapping[str, Any]) -> bool:
    """Whether the database service gets Docker's init (tini) as PID 1.

    Run as PID 1, PostgreSQL reaps every orphan of its container, and takes any that dies of
    a signal for a crashed backend: it ends every session and restarts ("the database system
    is in recovery mode"). Orphans are common: a health probe that times out on a loaded
    machine leaves its `pg_isready` behind, which dies of SIGPIPE on the closed output pipe.
    tini reaps them instead. A base that sets `init` itself keeps its choice.
    """
    return "init" not in definition


def _credentials(inputs: Inputs) -> Credentials:
    return Credentials(inputs.password_env, inputs.password, inputs.base_password,
                       inputs.base_database)


def _masks(definition: Mapping[str, Any], inputs: Inputs) -> tuple[str, ...]:
    """tmpfs mounts that hide the tasks dir where a bind mount would show it (passwords of
    every task of this checkout) to a container."""
    if inputs.masked_dir is None:
        return ()
    masks = []
    for mount in definition.get("volumes") or []:
        if mount.get("type") != "bind" or not mount.get("source"):
            continue
        source = Path(mount["source"])
        if inputs.masked_dir == source or source in inputs.masked_dir.parents:
            target = Path(mount["target"]) / inputs.masked_dir.relative_to(source)
            masks.append(f"{target.as_posix()}:size=1m,mode=0700")
    return tuple(masks)


def _copy_of(name: str, base_def: Mapping[str, Any], inputs: Inputs,
             database: str | None) -> dict[str, Any]:
    """A runnable copy of a base service: Compose's normalised definition without the keys
    that would clash, built once from the base service's image, password rewritten."""
    definition = copy.deepcopy(dict(base_def))
    for key in ("container_name", "profiles", "ports", "scale", "build", "deploy"):
        definition.pop(key, None)
    if "build" in base_def:
        # Built once (`compose build <service>` before `up`), shared by all copies.
        definition["image"] = base_def.get("image") or f"{inputs.project_name}-{name}"
        definition["pull_policy"] = "never"
    environment = dict(definition.get("environment") or {})
    environment.update(_escape_all(_credentials(inputs).rewritten(
        base_def.get("environment") or {}, database)))
    if database is not None:
        environment[inputs.url_env] = _escape(database_url(inputs, database))
    definition["environment"] = environment
    masks = _masks(base_def, inputs)
    if masks:
        definition["tmpfs"] = [*(definition.get("tmpfs") or []), *masks]
    return definition


def _with_media(definition: dict[str, Any], inputs: Inputs, volume: str) -> None:
    mounts = []
    swapped = False
    for mount in definition.get("volumes") or []:
        if inputs.media_volume and mount.get("type") == "volume" \
                and mount.get("source") == inputs.media_volume:
            mount = {**mount, "source": volume}
            swapped = True
        elif inputs.media_path and mount.get("target") == inputs.media_path:
            continue  # replaced by the worker's own volume below
        mounts.append(mount)
    if not swapped and inputs.media_path:
        mounts.append({"type": "volume", "source": volume, "target": inputs.media_path})
    definition["volumes"] = mounts


def _worker_copy(name: str, base_def: Mapping[str, Any], worker: WorkerFacts, inputs: Inputs,
                 worker_nets: list[str]) -> dict[str, Any]:
    """One worker's copy of a worker service.

    Values in base_def come from `compose config`, which keeps `$$` escaped, so they are
    written back as they are; everything compose-gen adds is escaped here.
    """
    definition = _copy_of(name, base_def, inputs, worker.database)
    definition["ports"] = list(worker.ports.get(name, ()))
    definition["environment"].update(_escape_all(worker.env))
    if inputs.media_volume or inputs.media_path:
        _with_media(definition, inputs, media_volume_key(inputs, worker.index))
    definition["labels"] = {**(definition.get("labels") or {}), **_escape_all(inputs.labels),
                            WORKER_LABEL: str(worker.index)}
    if inputs.idle_health:
        idle_healthcheck(definition, inputs.idle_health)
    depends = definition.get("depends_on") or {}
    if depends:
        definition["depends_on"] = {worker.services.get(dep, dep): spec
                                    for dep, spec in depends.items()}
    # On its worker's networks the copy answers to the base name (`backend`), so the other
    # copies of the same worker reach it there; worker 0 uses the base networks themselves.
    networks = {}
    for net, spec in _service_networks(base_def).items():
        key = worker_network(net, worker.index) if worker.index and net in worker_nets else net
        spec = dict(spec or {})
        spec["aliases"] = [*(spec.get("aliases") or []), name]
        networks[key] = spec
    definition["networks"] = networks
    return definition


def _seed_copy(base_def: Mapping[str, Any], inputs: Inputs) -> dict[str, Any]:
    """The seed's own copy of the seed service: never started by `up`, run once with
    `compose run`; what it writes under the media path lands in the media seed volume."""
    definition = _copy_of(inputs.seed_service or "", base_def, inputs, inputs.seed_database)
    definition["profiles"] = [DISABLED_PROFILE]
    definition["labels"] = {**(definition.get("labels") or {}), **_escape_all(inputs.labels)}
    definition.pop("depends_on", None)
    if inputs.media_volume or inputs.media_path:
        _with_media(definition, inputs, MEDIA_SEED_VOLUME)
    return definition


def database_url(inputs: Inputs, database: str, host: str | None = None,
                 port: int | None = None) -> str:
    """A URL of the task's server: in the network by default, or at host:port."""
    where = f"{host or inputs.db_service}:{port or inputs.db_port}"
    return (f"postgresql://{quote(inputs.db_user, safe='')}:{quote(inputs.password, safe='')}"
            f"@{where}/{database}")


def _escape(value: Any) -> Any:
    """Escape Compose interpolation in a value compose-gen writes: `$` → `$$`."""
    return value.replace("$", "$$") if isinstance(value, str) else value


def _escape_all(values: Mapping[str, str]) -> dict[str, str]:
    return {k: _escape(v) for k, v in values.items()}
