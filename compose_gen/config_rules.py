"""The rules a parsed config must satisfy: ranges, names, paths, combinations of settings.

Each broken rule is one ConfigError naming the key (and the file it came from).
"""

from __future__ import annotations

import ipaddress
import re

from compose_gen.config import Config, NetworksConfig
from compose_gen.errors import ConfigError

_SQL_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_SERVICE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_SIZE_RE = re.compile(r"^[0-9]+[kmgKMG]?\Z")


def validate(config: Config, where: str) -> None:
    """Raise ConfigError naming the first setting that cannot work, and why."""
    ports, db, workers = config.ports, config.database, config.workers
    _validate_networks(config.networks, where)
    for name, value in (("ports.range_start", ports.range_start),
                        ("ports.block_size", ports.block_size), ("ports.slots", ports.slots)):
        if value < 1:
            raise ConfigError(f"{where}: '{name}' must be at least 1, got {value}")
    if ports.range_start < 1024:
        raise ConfigError(f"{where}: 'ports.range_start' must be at least 1024 (unprivileged), "
                          f"got {ports.range_start}")
    if ports.range_end > 65535:
        raise ConfigError(
            f"{where}: the port range {ports.range_start}-{ports.range_end} "
            f"(range_start + slots * block_size) goes past 65535; lower 'ports.slots' or "
            "'ports.block_size'")
    if not 0 <= ports.worker_offset < ports.block_size:
        raise ConfigError(f"{where}: 'ports.worker_offset' must be within the block "
                          f"(0..{ports.block_size - 1}), got {ports.worker_offset}")
    for service, env in ports.names.items():
        if not _ENV_NAME_RE.match(env):
            raise ConfigError(
                f"{where}: {f'ports.names.{service}'!r} must be an env var name, got {env!r}")
    identifiers: list[tuple[str, str | None]] = [
        ("database.user", db.user), ("database.name", db.name),
        ("database.name_prefix", db.name_prefix)]
    for name, ident in identifiers:
        if ident is None:
            continue
        if not _SQL_IDENT_RE.match(ident) or len(ident) > 40:
            raise ConfigError(f"{where}: '{name}' must be a plain identifier "
                              f"([A-Za-z_][A-Za-z0-9_]*, at most 40 characters), got {ident!r}")
    for name, env_name in (("database.password_env", db.password_env),
                           ("database.url_env", db.url_env)):
        if not _ENV_NAME_RE.match(env_name):
            raise ConfigError(f"{where}: '{name}' must be an env var name, got {env_name!r}")
    services = [("database.service", db.service)]
    services += [(f"workers.services[{i}]", s) for i, s in enumerate(workers.services)]
    if db.seed_service:
        services.append(("database.seed_service", db.seed_service))
    for name, service in services:
        if not _SERVICE_RE.match(service):
            raise ConfigError(f"{where}: '{name}' is not a valid service name: {service!r}")
    if db.service in workers.services:
        raise ConfigError(f"{where}: the database service '{db.service}' cannot also be a "
                          "worker service (each task has one server; workers get databases)")
    if not 1 <= db.port <= 65535:
        raise ConfigError(f"{where}: 'database.port' must be a port number, got {db.port}")
    # A NUL byte cannot be in a file name: the OS calls on these paths would raise ValueError.
    path_settings = [("tasks_dir", config.tasks_dir), ("database.seed_sql", db.seed_sql or ""),
                     ("project_directory", config.project_directory or ""),
                     ("media.path", config.media.path or "")]
    path_settings += [("compose_files", name) for name in config.compose_files]
    path_settings += [("database.seed_inputs", name) for name in db.seed_inputs]
    for name, path in path_settings:
        if "\0" in path:
            raise ConfigError(f"{where}: '{name}' must not contain a NUL character, "
                              f"got {path!r}")
    if db.seed_command and db.seed_sql:
        raise ConfigError(f"{where}: set either 'database.seed_command' or 'database.seed_sql', "
                          "not both")
    if db.seed_command and not (db.seed_service or workers.services):
        raise ConfigError(f"{where}: 'database.seed_command' needs 'database.seed_service' "
                          "(the service whose image runs it)")
    if not _SIZE_RE.match(db.tmpfs_size):
        raise ConfigError(f"{where}: 'database.tmpfs_size' must look like 512m or 2g, "
                          f"got {db.tmpfs_size!r}")
    if db.ready_timeout <= 0:
        raise ConfigError(f"{where}: 'database.ready_timeout' must be positive")
    if workers.max < 1 or not 1 <= workers.default <= workers.max:
        raise ConfigError(f"{where}: need 1 <= workers.default <= workers.max, "
                          f"got default={workers.default}, max={workers.max}")
    if workers.http_service and workers.http_service not in workers.services:
        raise ConfigError(f"{where}: 'workers.http_service' must be one of workers.services "
                          f"{list(workers.services)}, got {workers.http_service!r}")
    if config.media.volume is not None and not _SERVICE_RE.match(config.media.volume):
        raise ConfigError(f"{where}: 'media.volume' is not a valid volume name: "
                          f"{config.media.volume!r}")
    if config.media.path is not None and not config.media.path.startswith("/"):
        raise ConfigError(f"{where}: 'media.path' must be an absolute path inside the "
                          f"containers, got {config.media.path!r}")
    if not workers.ready_path.startswith("/"):
        raise ConfigError(f"{where}: 'workers.ready_path' must start with '/', "
                          f"got {workers.ready_path!r}")
    if workers.ready_timeout <= 0:
        raise ConfigError(f"{where}: 'workers.ready_timeout' must be positive")
    for key, template in workers.env.items():
        if not _ENV_NAME_RE.match(key):
            raise ConfigError(f"{where}: {f'workers.env.{key}'!r} must be an env var name")
        from compose_gen.placeholders import PlaceholderError, check_template

        try:
            check_template(template, workers.services)
        except PlaceholderError as err:
            raise ConfigError(f"{where}: {f'workers.env.{key}'!r}: {err}") from None


def _validate_networks(networks: NetworksConfig, where: str) -> None:
    try:
        pool = ipaddress.IPv4Network(networks.pool)
    except ValueError as err:
        raise ConfigError(f"{where}: 'networks.pool' must be an IPv4 network like "
                          f"10.199.0.0/16, got {networks.pool!r} ({err})") from None
    # /29 leaves Docker 5 addresses (gateway + 4 containers): anything smaller is useless.
    if not pool.prefixlen <= networks.prefix <= 29:
        raise ConfigError(f"{where}: 'networks.prefix' must be between the pool's own prefix "
                          f"and 29 ({pool.prefixlen}..29), got {networks.prefix}")
