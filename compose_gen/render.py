"""Rendering: from the base stack, the task and its port block to the task's three files.

- docker-compose.zenflow.yml: an override of the project's compose files (every published port
  moved into the task's block on 127.0.0.1, worker services copied per worker);
- .env.task (0600): the task's ports, URLs and database settings;
- workers.json: the per-worker facts for test fixtures.

Planning is pure (plain data in, plain data out); only `render_task` touches the disk.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.config import Config
from compose_gen.errors import ConfigError, UsageError
from compose_gen.ports import PortBlock
from compose_gen.task import PROJECT_DIR_LABEL, REGISTRY_LABEL, TASK_LABEL, TaskSpec

DISABLED_PROFILE = "compose-gen-disabled"
WORKER_LABEL = "dev.compose-gen.worker"
TEMPLATE_NAMES = ("docker-compose.zenflow.yml.j2", "env.task.j2", "workers.json.j2")


@dataclass(frozen=True)
class PublishedPort:
    service: str
    target: int
    protocol: str
    host_port: int
    env_name: str

    @property
    def spec(self) -> str:
        return f"127.0.0.1:{self.host_port}:{self.target}/{self.protocol}"


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
class RenderPlan:
    task: TaskSpec
    block: PortBlock
    range_start: int
    database_port: int | None
    shared_ports: tuple[PublishedPort, ...]
    workers: tuple[WorkerEnv, ...]
    env: Mapping[str, str]
    override: Mapping[str, Any] = field(repr=False)
    # Worker services built from a Dockerfile: built once before their copies start.
    build_services: tuple[str, ...] = ()

    @property
    def start_services(self) -> tuple[str, ...]:
        """What `up` starts after the database: shared services and every worker copy."""
        shared = [s["name"] for s in self.override["services"] if "disabled" not in s]
        return (*shared, *(c["name"] for c in self.override["copies"]))


# --- planning (pure) -----------------------------------------------------------------------

def worker_database(config: Config, index: int) -> str:
    return f"{config.database.name_prefix}_w{index}"


def plan(config: Config, task: TaskSpec, block: PortBlock, base: Mapping[str, Any],
         workers: int, password: str) -> RenderPlan:
    services: Mapping[str, Any] = base.get("services") or {}
    _check_services(config, services, workers)
    db = config.database
    worker_services = list(config.workers.services)
    shared = [name for name in services if name not in worker_services]
    # Fixed order inside the block: the database first, then the others by name.
    shared.sort(key=lambda name: (name != db.service, name))

    shared_ports: list[PublishedPort] = []
    index = 0
    for name in shared:
        for n, (target, protocol) in enumerate(_published(services[name])):
            if index >= config.ports.worker_offset:
                raise ConfigError(
                    f"{config.source_label}: the shared services publish more than "
                    f"ports.worker_offset={config.ports.worker_offset} ports",
                    hint="raise ports.worker_offset and ports.block_size")
            env_name = config.ports.env_name(name) + (f"_{target}" if n else "")
            shared_ports.append(PublishedPort(name, target, protocol, block.port(index), env_name))
            index += 1

    per_worker = [(name, n, target, protocol) for name in worker_services
                  for n, (target, protocol) in enumerate(_published(services[name]))]
    needed = config.ports.worker_offset + config.workers.max * len(per_worker)
    if needed > config.ports.block_size:
        raise ConfigError(
            f"{config.source_label}: a block of {config.ports.block_size} ports cannot hold "
            f"{config.workers.max} workers x {len(per_worker)} ports after "
            f"ports.worker_offset={config.ports.worker_offset}",
            hint=f"set ports.block_size to at least {needed} or lower workers.max")

    db_port = next((p for p in shared_ports
                    if p.service == db.service and p.target == db.port), None)
    if db_port is None:
        db_port = next((p for p in shared_ports if p.service == db.service), None)
    host_db_port = db_port.host_port if db_port else None

    worker_envs = []
    for i in range(workers):
        ports = []
        for k, (name, n, target, protocol) in enumerate(per_worker):
            port = block.port(config.ports.worker_offset + i * len(per_worker) + k)
            env_name = config.ports.env_name(name) + (f"_{target}" if n else "") + f"_W{i}"
            ports.append(PublishedPort(f"{name}_w{i}", target, protocol, port, env_name))
        http = config.workers.base_url_service
        base_url = next((f"http://127.0.0.1:{p.host_port}" for p in ports
                         if p.service == f"{http}_w{i}"), None)
        database = worker_database(config, i)
        worker_envs.append(WorkerEnv(
            index=i, database=database,
            database_url=_url(config, password, "127.0.0.1", host_db_port, database),
            base_url=base_url,
            media_volume=(f"{task.project_name}_{config.media.volume}_w{i}"
                          if config.media.volume else None),
            services={name: f"{name}_w{i}" for name in worker_services},
            ports=tuple(ports)))

    result = RenderPlan(
        task=task, block=block, range_start=config.ports.range_start,
        database_port=host_db_port, shared_ports=tuple(shared_ports),
        workers=tuple(worker_envs), env={}, override={},
        build_services=tuple(name for name in worker_services if "build" in services[name]))
    env = _env(config, result, password)
    override = _override(config, result, services, base, password)
    return RenderPlan(**{**result.__dict__, "env": env, "override": override})


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


def _url(config: Config, password: str, host: str, port: int | None, database: str) -> str:
    db = config.database
    where = f"{host}:{port}" if port else host
    return f"postgresql://{db.user}:{password}@{where}/{database}"


def _env(config: Config, result: RenderPlan, password: str) -> dict[str, str]:
    task = result.task
    env = {
        "ZENFLOW_TASK_ID": task.id,
        "ZENFLOW_PORT_OFFSET": str(result.block.start - result.range_start),
        "COMPOSE_PROJECT_NAME": task.project_name,
    }
    for port in result.shared_ports:
        env[port.env_name] = str(port.host_port)
    for worker in result.workers:
        for port in worker.ports:
            env.setdefault(port.env_name.rsplit("_W", 1)[0], str(port.host_port))
    for worker in result.workers:
        for port in worker.ports:
            env[port.env_name] = str(port.host_port)
    env[config.database.password_env] = password
    env[config.database.url_env] = _url(config, password, "127.0.0.1", result.database_port,
                                        config.database.name)
    env["E2E_WORKERS"] = str(len(result.workers))
    for worker in result.workers:
        if worker.base_url:
            env[f"E2E_BASE_URL_W{worker.index}"] = worker.base_url
        env[f"DATABASE_URL_W{worker.index}"] = worker.database_url
        if worker.media_volume:
            env[f"MEDIA_VOLUME_W{worker.index}"] = worker.media_volume
    return env


def _override(config: Config, result: RenderPlan, services: Mapping[str, Any],
              base: Mapping[str, Any], password: str) -> dict[str, Any]:
    """The override as plain data; the template writes it (YAML tags need a template)."""
    task, db = result.task, config.database
    labels = {TASK_LABEL: task.id, PROJECT_DIR_LABEL: str(config.project_dir),
              REGISTRY_LABEL: paths.registry_id()}
    worker_services = set(config.workers.services)
    entries: list[dict[str, Any]] = []
    for name, definition in services.items():
        entry: dict[str, Any] = {"name": name, "labels": labels}
        if definition.get("container_name"):
            # A fixed container name would make the second task's stack fail to start.
            entry["reset_container_name"] = True
        if name in worker_services:
            entry["disabled"] = True
        else:
            ports = [p.spec for p in result.shared_ports if p.service == name]
            if ports or definition.get("ports"):
                entry["ports"] = ports
            depends = definition.get("depends_on") or {}
            if any(dep in worker_services for dep in depends):
                entry["depends_on"] = {
                    (f"{dep}_w0" if dep in worker_services else dep): spec
                    for dep, spec in depends.items()}
        if name == db.service:
            entry["environment"] = {db.password_env: password}
            if db.tmpfs:
                entry["tmpfs"] = [f"{db.data_dir}:size={db.tmpfs_size}"]
                mounts = definition.get("volumes") or []
                if any(m.get("target") == db.data_dir for m in mounts):
                    entry["volumes"] = [m for m in mounts if m.get("target") != db.data_dir]
        entries.append(entry)

    copies = []
    for worker in result.workers:
        for name in config.workers.services:
            copies.append({"name": worker.services[name],
                           "definition": _worker_copy(config, task, name, services[name],
                                                      worker, labels, password)})

    volumes = {key: {"labels": labels} for key, spec in (base.get("volumes") or {}).items()
               if not (spec or {}).get("external")}
    if config.media.volume:
        for worker in result.workers:
            volumes[f"{config.media.volume}_w{worker.index}"] = {"labels": labels}
    networks = {key: {"labels": labels} for key, spec in (base.get("networks") or {}).items()
                if not (spec or {}).get("external")}
    return {"services": entries, "copies": copies, "volumes": volumes, "networks": networks}


def _worker_copy(config: Config, task: TaskSpec, name: str, base_def: Mapping[str, Any],
                 worker: WorkerEnv, labels: Mapping[str, str], password: str) -> dict[str, Any]:
    """One worker's copy of a worker service, from Compose's normalised definition.

    Values in base_def come from `compose config`, which keeps `$$` escaped, so they are
    written back as they are; everything compose-gen adds is escaped by the template filter.
    """
    definition = copy.deepcopy(dict(base_def))
    for key in ("container_name", "profiles", "ports", "scale", "build"):
        definition.pop(key, None)
    if "build" in base_def:
        # Built once (`compose build <service>` before `up`), shared by all copies.
        definition["image"] = base_def.get("image") or f"{task.project_name}-{name}"
        definition["pull_policy"] = "never"
    definition["ports"] = [p.spec for p in worker.ports if p.service == worker.services[name]]
    environment = dict(definition.get("environment") or {})
    db = config.database
    environment[db.url_env] = _escape(_url(config, password, db.service, db.port,
                                           worker.database))
    definition["environment"] = environment
    media = config.media.volume
    if media:
        volumes = []
        for mount in definition.get("volumes") or []:
            if mount.get("type") == "volume" and mount.get("source") == media:
                mount = {**mount, "source": f"{media}_w{worker.index}"}
            volumes.append(mount)
        definition["volumes"] = volumes
    definition["labels"] = {**(definition.get("labels") or {}),
                            **{k: _escape(v) for k, v in labels.items()},
                            WORKER_LABEL: str(worker.index)}
    depends = definition.get("depends_on") or {}
    if depends:
        definition["depends_on"] = {
            (worker.services.get(dep, dep)): spec for dep, spec in depends.items()}
    if worker.index == 0:
        # Keep the base service's host name resolvable (e.g. a proxy to http://backend).
        networks = definition.get("networks") or {"default": None}
        definition["networks"] = {
            net: {**(spec or {}), "aliases": [*((spec or {}).get("aliases") or []), name]}
            for net, spec in networks.items()}
    return definition


# --- writing -------------------------------------------------------------------------------

def _escape(value: Any) -> Any:
    """Escape Compose interpolation in a value compose-gen writes: `$` → `$$`."""
    return value.replace("$", "$$") if isinstance(value, str) else value


def _yaml(value: Any) -> str:
    """A YAML flow value (JSON is YAML): quoting and escaping are JSON's, `$` is escaped."""
    return _json(_escape_deep(value))


# An escaped backslash (kept) or the \uD8xx\uDCxx pair JSON writes for a character past U+FFFF.
_SURROGATE_PAIR = re.compile(r"\\(?:(\\)|u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2}))")


def _json(value: Any, indent: int | None = None) -> str:
    """JSON that is also YAML: ASCII escapes, except characters past U+FFFF, written as they
    are, since YAML (Compose's go-yaml) refuses JSON's surrogate-pair escapes for them."""
    def unpair(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)
        high, low = int(match.group(2), 16), int(match.group(3), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))

    return _SURROGATE_PAIR.sub(unpair, json.dumps(value, ensure_ascii=True, indent=indent))


def _escape_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {_escape(k): _escape_deep(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape_deep(v) for v in value]
    return _escape(value)


# No quote, NUL or line break of any kind (`str.splitlines` also splits on \v, \f, \x1c-\x1e,
# \x85, \u2028, \u2029, and it is what reads .env.task back), and no trailing backslash:
# Compose's dotenv reader takes `\'` as an escaped quote ("unterminated quoted value").
_DOTENV_SAFE = re.compile(r"^[^'\0\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*(?<!\\)\Z")


def _dotenv(value: Any) -> str:
    """A single-quoted dotenv value: literal for Compose's parser and for `sh`'s `.`."""
    text = str(value)
    if not _DOTENV_SAFE.match(text):
        raise UsageError(f"cannot write {text!r} to .env.task: quotes, line breaks and a "
                         "trailing backslash are not allowed in values")
    return f"'{text}'"


def _raw_json(value: Any, indent: int | None = None) -> str:
    return _json(value, indent)


def template_dirs(config: Config | None = None) -> list[Path]:
    package = Path(__file__).resolve().parent
    shipped = package / "templates"
    if not shipped.is_dir():  # running from a source checkout / editable install
        shipped = package.parent / "templates"
    dirs = [shipped]
    if config is not None:
        own = config.project_dir / ".compose-gen" / "templates"
        if own.is_dir():
            dirs.insert(0, own)
    return dirs


def jinja_env(config: Config | None = None) -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs(config)]),
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yaml=_yaml, dotenv=_dotenv, rawjson=_raw_json)
    return env


def render_files(config: Config, result: RenderPlan, compose_files: list[Path]) -> dict[str, str]:
    env = jinja_env(config)
    task = result.task
    context = {
        "task_id": task.id, "project_name": task.project_name,
        "compose_files": [str(p) for p in compose_files],
        "override": result.override, "env": result.env,
        "workers": [w.as_json() for w in result.workers],
    }
    return {
        paths.OVERRIDE_FILE: env.get_template(TEMPLATE_NAMES[0]).render(context),
        paths.ENV_FILE: env.get_template(TEMPLATE_NAMES[1]).render(context),
        paths.WORKERS_FILE: env.get_template(TEMPLATE_NAMES[2]).render(context),
    }


def write_files(task: TaskSpec, files: Mapping[str, str]) -> None:
    try:
        task.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, text in files.items():
            paths.write_private(task.dir / name, text)
    except OSError as err:  # e.g. tasks_dir names a file, or a read-only checkout
        raise ConfigError(f"cannot write the files of task '{task.id}' into {task.dir}: "
                          f"{err.strerror or err}",
                          hint="check tasks_dir in the config and its permissions") from err


def exclude_from_git(config: Config) -> None:
    """Keep generated task files out of `git status` (they hold a password)."""
    try:
        top = subprocess.run(["git", "-C", str(config.project_dir), "rev-parse",
                              "--show-toplevel", "--git-path", "info/exclude"],
                             capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return
    lines = top.stdout.splitlines()
    if len(lines) < 2:
        return
    root = Path(lines[0])
    exclude = Path(lines[1])
    if not exclude.is_absolute():
        exclude = (config.project_dir / exclude).resolve()
    try:
        relative = config.tasks_path.relative_to(root.resolve())
    except ValueError:
        return
    pattern = f"/{relative.as_posix()}/"
    try:
        current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    except OSError:
        return
    if pattern in current.splitlines():
        return
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as fh:
        if current and not current.endswith("\n"):
            fh.write("\n")
        fh.write(f"# compose-gen's per-task files (ports, passwords)\n{pattern}\n")
