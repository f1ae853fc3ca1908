"""The consumer project's compose-gen settings: where they live, what they mean, their defaults.

Settings come from `[tool.compose-gen]` in the project's `pyproject.toml` or from the top level
of a `compose-gen.toml` (which wins when both exist), found in the current directory or its
parents. Scalar settings can be overridden by environment variables named
`COMPOSE_GEN_<SECTION>_<KEY>` (`COMPOSE_GEN_PORTS_RANGE_START=21000`) or `COMPOSE_GEN_<KEY>` for
top-level keys (`COMPOSE_GEN_PROJECT_PREFIX=ci`). Unknown keys are errors that name the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from compose_gen.coerce import (
    CoercionError,
    coerce,
    field_types,
    is_str_list,
    is_str_map,
    parse_text,
)
from compose_gen.errors import ConfigError

CONFIG_FILE_NAME = "compose-gen.toml"
PYPROJECT = "pyproject.toml"
PYPROJECT_TABLE = "compose-gen"
CONFIG_ENV = "COMPOSE_GEN_CONFIG"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_SQL_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_SERVICE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_SIZE_RE = re.compile(r"^[0-9]+[kmgKMG]?\Z")

DEFAULT_PORT_NAMES = {
    "db": "POSTGRES_PORT",
    "redis": "REDIS_PORT",
    "backend": "BACKEND_PORT",
    "frontend": "FRONTEND_PORT",
}


@dataclass(frozen=True)
class PortsConfig:
    range_start: int = 20000
    block_size: int = 20
    slots: int = 600
    # Index inside a block where the per-worker ports begin; shared services use 0.. below it.
    worker_offset: int = 10
    names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PORT_NAMES))

    @property
    def range_end(self) -> int:
        """Last port of the range (inclusive)."""
        return self.range_start + self.slots * self.block_size - 1

    def env_name(self, service: str) -> str:
        """The env var that carries `service`'s (first) published port."""
        if service in self.names:
            return self.names[service]
        return re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_PORT"


@dataclass(frozen=True)
class DatabaseConfig:
    service: str = "db"
    port: int = 5432
    # A superuser of the server and the database DATABASE_URL points at. Default: what the
    # database service's own environment says (POSTGRES_USER, POSTGRES_DB), else "postgres".
    user: str | None = None
    name: str | None = None
    password_env: str = "POSTGRES_PASSWORD"
    url_env: str = "DATABASE_URL"
    name_prefix: str = "test_e2e"
    seed_service: str | None = None
    seed_command: tuple[str, ...] = ()
    seed_sql: str | None = None
    seed_inputs: tuple[str, ...] = ()
    # Test-friendly server: fsync/synchronous_commit/full_page_writes off, data on tmpfs.
    fast: bool = True
    tmpfs: bool = True
    tmpfs_size: str = "1g"
    data_dir: str = "/var/lib/postgresql/data"
    # Seconds `up` waits for the server to accept connections.
    ready_timeout: float = 120.0


@dataclass(frozen=True)
class WorkersConfig:
    services: tuple[str, ...] = ()
    default: int = 2
    max: int = 8
    # The worker service whose first port is each worker's E2E_BASE_URL (default: the first).
    http_service: str | None = None
    # `up` returns once every worker's http_service answers HTTP (any status) at this path.
    ready_path: str = "/"
    ready_timeout: float = 120.0
    # Values rendered per worker into every worker copy's environment ({index}, {base_url}…).
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url_service(self) -> str | None:
        return self.http_service or (self.services[0] if self.services else None)


@dataclass(frozen=True)
class MediaConfig:
    # The named volume the worker services mount for media; each worker gets its own.
    volume: str | None = None
    # The media dir inside the worker services. Without `volume` (media in a bind-mounted
    # project folder) a per-worker volume is mounted there.
    path: str | None = None


@dataclass(frozen=True)
class NetworksConfig:
    # Each network of a task gets a subnet leased from this pool (issue 10 item 8). Docker's
    # default address pools (172.17.0.0/16-172.31.0.0/16 and 192.168.0.0/16 in /20s) hold
    # about 31 networks in all, and N tasks x (workers + 1) networks run them out. 10.199/16
    # is outside both, and outside the 10.x ranges most often taken by Kubernetes (10.96/12,
    # 10.244/16) and cloud VPC defaults (10.0/16); leasing also skips any subnet that
    # overlaps a host route or an existing Docker network. 256 /24s: 85 tasks of 2 workers.
    pool: str = "10.199.0.0/16"
    # The prefix length of each leased subnet (/24: 254 addresses per network).
    prefix: int = 24


@dataclass(frozen=True)
class Config:
    project_dir: Path
    source: Path | None
    compose_files: tuple[str, ...] = ("docker-compose.yml",)
    # Compose's --project-directory, relative to the config file. Default: Compose's own rule,
    # the first compose file's directory (relative paths in compose files resolve from there).
    project_directory: str | None = None
    project_prefix: str = "zf"
    tasks_dir: str = ".zenflow/tasks"
    ports: PortsConfig = field(default_factory=PortsConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    workers: WorkersConfig = field(default_factory=WorkersConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    networks: NetworksConfig = field(default_factory=NetworksConfig)

    @property
    def compose_paths(self) -> tuple[Path, ...]:
        return tuple((self.project_dir / f).resolve() for f in self.compose_files)

    @property
    def compose_project_dir(self) -> Path:
        """The directory Compose resolves relative paths against (its --project-directory)."""
        if self.project_directory is not None:
            return (self.project_dir / self.project_directory).resolve()
        return self.compose_paths[0].parent

    @property
    def tasks_path(self) -> Path:
        return (self.project_dir / self.tasks_dir).resolve()

    @property
    def source_label(self) -> str:
        return str(self.source) if self.source else "defaults"


_SECTIONS: dict[str, type] = {
    "ports": PortsConfig,
    "database": DatabaseConfig,
    "workers": WorkersConfig,
    "media": MediaConfig,
    "networks": NetworksConfig,
}
_TOP_LEVEL = ("compose_files", "project_directory", "project_prefix", "tasks_dir")


def find_config_file(start: Path) -> tuple[Path, Mapping[str, Any]] | None:
    """The nearest compose-gen.toml, or pyproject.toml with [tool.compose-gen], from start up."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate, _read_toml(candidate)
        candidate = directory / PYPROJECT
        if candidate.is_file():
            data = _read_toml(candidate)
            table = data.get("tool", {}).get(PYPROJECT_TABLE)
            if table is not None:
                if not isinstance(table, dict):
                    raise ConfigError(f"{candidate}: [tool.{PYPROJECT_TABLE}] must be a table")
                return candidate, table
    return None


def load_config(start: Path | None = None, *, config_file: Path | None = None,
                environ: Mapping[str, str] | None = None) -> Config:
    """Find, parse and validate the project's settings; raise ConfigError naming what is wrong."""
    environ = os.environ if environ is None else environ
    start = (start or Path.cwd()).resolve()
    explicit = config_file or (Path(environ[CONFIG_ENV]) if environ.get(CONFIG_ENV) else None)
    if explicit is not None:
        explicit = explicit.resolve()
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        data = _read_toml(explicit)
        if explicit.name == PYPROJECT:
            data = data.get("tool", {}).get(PYPROJECT_TABLE)
            if data is None:
                raise ConfigError(f"{explicit} has no [tool.{PYPROJECT_TABLE}] table")
        found: tuple[Path, Mapping[str, Any]] | None = (explicit, data)
    else:
        found = find_config_file(start)
    if found is None:
        raise ConfigError(
            f"no compose-gen configuration in {start} or its parents",
            hint=f"add a [tool.{PYPROJECT_TABLE}] table to pyproject.toml or create "
            f"{CONFIG_FILE_NAME} with at least: compose_files = [\"docker-compose.yml\"]; "
            "see the README's configuration reference",
        )
    path, table = found
    merged = _apply_env_overrides(dict(table), environ, path)
    return parse_config(merged, project_dir=path.parent, source=path)


def parse_config(data: Mapping[str, Any], *, project_dir: Path, source: Path | None) -> Config:
    where = str(source) if source else "config"
    top: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a table, got {_type_name(value)}")
            sections[key] = _parse_section(key, value, where)
            if key == "ports" and "block_size" in value and "slots" not in value:
                # A bigger block (a worker group publishing several ports) keeps the default
                # range's end: fewer, larger blocks instead of a range into the ephemeral ports.
                ports = sections[key]
                span = PortsConfig.slots * PortsConfig.block_size
                sections[key] = dataclasses.replace(
                    ports, slots=max(1, span // max(1, ports.block_size)))
        elif key in _TOP_LEVEL:
            top[key] = value
        else:
            known = [*_TOP_LEVEL, *_SECTIONS]
            # repr: a key is any TOML string; a line break in it must not split the message.
            raise ConfigError(f"{where}: unknown key {key!r}{_did_you_mean(key, known)}")

    compose_files = top.get("compose_files", list(Config.compose_files))
    if isinstance(compose_files, str):
        compose_files = [compose_files]
    _expect_str_list(compose_files, "compose_files", where, allow_empty=False)
    prefix = top.get("project_prefix", Config.project_prefix)
    if not isinstance(prefix, str) or not _NAME_RE.match(prefix) or len(prefix) > 20:
        raise ConfigError(
            f"{where}: 'project_prefix' must match ^[a-z0-9][a-z0-9_-]*$ and be at most 20 "
            f"characters (Compose project names), got {prefix!r}")
    tasks_dir = top.get("tasks_dir", Config.tasks_dir)
    if not isinstance(tasks_dir, str) or not tasks_dir.strip():
        raise ConfigError(f"{where}: 'tasks_dir' must be a non-empty path, got {tasks_dir!r}")
    project_directory = top.get("project_directory")
    if project_directory is not None and (not isinstance(project_directory, str)
                                          or not project_directory.strip()):
        raise ConfigError(f"{where}: 'project_directory' must be a non-empty path, "
                          f"got {project_directory!r}")

    config = Config(project_dir=project_dir.resolve(), source=source,
                    compose_files=tuple(compose_files), project_directory=project_directory,
                    project_prefix=prefix, tasks_dir=tasks_dir, **sections)
    from compose_gen.config_rules import validate

    validate(config, where)
    return config


def _parse_section(section: str, values: Mapping[str, Any], where: str) -> Any:
    cls = _SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {f'{section}.{key}'!r}"
                              f"{_did_you_mean(key, fields)}")
        kwargs[key] = _coerce(f"{section}.{key}", field_types(cls)[key], value, where)
    return cls(**kwargs)


def _coerce(name: str, hint: Any, value: Any, where: str) -> Any:
    if is_str_list(hint):
        if isinstance(value, str) and name == "database.seed_command":
            raise ConfigError(f"{where}: '{name}' must be a list of arguments, e.g. "
                              '["python", "seed.py"] (it never goes through a shell)')
        if isinstance(value, str):
            value = [value]
        _expect_str_list(value, name, where)
    try:
        return coerce(value, hint)
    except CoercionError as err:
        raise ConfigError(f"{where}: '{name}' must be {err.expected}, "
                          f"got {_type_name(value)}") from None


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str],
                         path: Path) -> dict[str, Any]:
    """COMPOSE_GEN_<KEY> / COMPOSE_GEN_<SECTION>_<KEY> override scalar settings."""
    for section, cls in _SECTIONS.items():
        for fld in dataclasses.fields(cls):
            env = f"COMPOSE_GEN_{section}_{fld.name}".upper()
            if env in environ:
                current = data.get(section) or {}
                if not isinstance(current, dict):
                    continue  # parse_config reports the wrong type, naming the file
                table = dict(current)
                table[fld.name] = _parse_env_value(env, field_types(cls)[fld.name], environ[env])
                data[section] = table
    for key in _TOP_LEVEL:
        env = f"COMPOSE_GEN_{key}".upper()
        if env in environ:
            data[key] = _parse_env_value(env, field_types(Config)[key], environ[env])
    return data


def _parse_env_value(env: str, hint: Any, raw: str) -> Any:
    try:
        return parse_text(raw, hint)
    except CoercionError as err:
        if is_str_map(hint):
            raise ConfigError(f"${env} must look like service=ENV_NAME,service2=ENV_NAME2") \
                from None
        raise ConfigError(f"${env} must be {err.expected}, got {raw!r}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from err
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err


def _expect_str_list(value: Any, name: str, where: str, *, allow_empty: bool = True) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{name}' must be a list of non-empty strings, "
                          f"got {_type_name(value)}")
    if not allow_empty and not value:
        raise ConfigError(f"{where}: '{name}' must name at least one file")


def _did_you_mean(key: str, choices: Any) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
