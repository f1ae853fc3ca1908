"""Compose commands of a task's project: read and validate its files, build, create, start,
run the seed, stop; the states and logs `up` judges readiness by."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.errors import (
    ComposeCommandError,
    ComposeGenError,
    DockerUnavailableError,
    SeedError,
    WaitTimeoutError,
)
from compose_gen.stack.client import (
    ComposeFiles,
    client,
    docker_errors,
    files_args,
    quote_command,
)

MIN_COMPOSE = (2, 24)  # !override / !reset YAML tags


_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def referenced_variables(text: str) -> set[str]:
    """Variables a compose file interpolates (${NAME}, $NAME)."""
    return set(_VAR_RE.findall(text))


def compose_version() -> tuple[int, ...]:
    """Compose's version, raising DockerUnavailableError when missing or older than 2.24."""
    if shutil.which("docker") is None:
        raise DockerUnavailableError("the docker command was not found",
                                     hint="install the Docker CLI and the Compose v2 plugin")
    with docker_errors("ask Compose for its version"):
        raw = client().compose.version()
    found = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", raw)
    if not found:
        raise DockerUnavailableError(f"cannot read the Compose version from {raw!r}")
    version = tuple(int(part) for part in found.groups() if part is not None)
    if version[:2] < MIN_COMPOSE:
        raise DockerUnavailableError(
            f"Compose {'.'.join(map(str, version))} is too old: compose-gen needs "
            f"{'.'.join(map(str, MIN_COMPOSE))} or newer for the !override tag",
            hint="install the Compose v2 plugin; scripts/ci/provision.sh compose does it")
    return version


def ping_daemon() -> str:
    """The daemon's version, or DockerUnavailableError naming DOCKER_HOST/context."""
    with docker_errors("reach the Docker daemon"):
        info = client().system.info()
    return str(info.server_version)


def read_compose_config(spec: ComposeFiles, interpolation: dict[str, str]) -> dict[str, Any]:
    """`docker compose config --format json` of the base files, cached by content hash.

    interpolation: values for variables the base files may use for host ports; they are
    replaced by the override anyway, but Compose must be able to parse the files.
    """
    # Keyed by everything that changes Compose's answer: the project directory (relative
    # paths resolve from it), the project name, the files and what they interpolate, the env
    # files, and files the compose files name (env_file:, extends:) found on disk.
    digest = hashlib.sha256(f"{spec.project_dir}\0{spec.project_name}\0".encode())
    for path in spec.files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ComposeCommandError(f"cannot read compose file {path}: {err.strerror}") from err
        digest.update(f"{path}\0{text}\0".encode())
        for name in sorted(referenced_variables(text)):
            value = interpolation.get(name, os.environ.get(name, ""))
            digest.update(f"{name}={value}\0".encode())
        for named in _named_files(text, (spec.project_dir, path.parent)):
            digest.update(f"{named}\0".encode() + named.read_bytes())
    for env_file in spec.env_files:
        if env_file.is_file():
            digest.update(f"{env_file}\0".encode() + env_file.read_bytes())
    cache = paths.cache_dir() / f"compose-config-{digest.hexdigest()[:24]}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(cache.read_text(encoding="utf-8"))

    scratch = paths.cache_dir() / f".interpolation-{os.getpid()}.env"
    paths.write_private(scratch, "".join(f"{k}={v}\n" for k, v in interpolation.items()))
    try:
        spec_with_env = dataclasses.replace(
            spec, env_files=(*[f for f in spec.env_files if f.is_file()], scratch))
        with docker_errors("read the project's compose files",
                            hint="check them with `docker compose config`"):
            data = client(spec_with_env).compose.config(return_json=True)
    finally:
        scratch.unlink(missing_ok=True)
    paths.write_private(cache, json.dumps(data))
    return data


_PATH_TOKEN = re.compile(r"[\w.@+-]*[./][\w./@+-]*")


def _named_files(text: str, bases: tuple[Path, ...]) -> list[Path]:
    """Small files a compose file may name (env_file:, extends: file), as found on disk."""
    found = []
    for token in sorted(set(_PATH_TOKEN.findall(text))):
        for base in bases:
            candidate = base / token
            with contextlib.suppress(OSError, ValueError):
                if candidate.is_file() and candidate.stat().st_size < 1 << 20:
                    found.append(candidate)
    return found


def validate_files(spec: ComposeFiles) -> dict[str, Any]:
    """Compose's own check of the base + override (the oracle): the merged model as JSON."""
    with docker_errors("validate the rendered override",
                        hint="this is a compose-gen bug or a template override error"):
        return client(spec).compose.config(return_json=True)


def build(spec: ComposeFiles, services: Sequence[str]) -> None:
    if not services:
        return
    with docker_errors(f"build {', '.join(services)}"):
        client(spec).compose.build(list(services), quiet=True)


def up(spec: ComposeFiles, services: Sequence[str], *, timeout: float,
       remove_orphans: bool = False, what: str | None = None) -> None:
    """`compose up --detach --wait` for services (not their profile-disabled bases)."""
    if not services:
        return
    import time

    started = time.monotonic()
    wait = max(1, int(timeout))
    hint = f"inspect with: {quote_command(files_args(spec))} logs"
    try:
        with docker_errors(f"start {', '.join(services)}", hint=hint):
            client(spec).compose.up(list(services), detach=True, wait=True, quiet=True,
                                     wait_timeout=wait, pull="missing",
                                     remove_orphans=remove_orphans)
    except ComposeCommandError as err:
        if time.monotonic() - started >= wait:
            raise WaitTimeoutError(f"{what or ', '.join(services)} did not become ready "
                                   f"within {wait} s: {err}", hint=hint) from err
        raise


def create(spec: ComposeFiles, services: Sequence[str]) -> None:
    """`compose create`: containers, networks and volumes (with Compose's labels), not started."""
    if not services:
        return
    with docker_errors(f"create {', '.join(services)}"):
        client(spec).compose.create(list(services), pull="missing")


# A constant script (no value is interpolated into it): empty the target, then copy.


@dataclass(frozen=True)
class ServiceState:
    """One container of a task's project, as `up` judges it after starting."""

    service: str
    container: str
    status: str  # running, exited, restarting, created …
    exit_code: int
    restarts: int
    health: str | None  # healthy, unhealthy, starting, or None without a healthcheck


def service_states(spec: ComposeFiles) -> list[ServiceState]:
    with docker_errors("list the task's containers"):
        containers = client(spec).compose.ps(all=True)
    states = []
    for c in containers:
        health = c.state.health.status if c.state.health else None
        states.append(ServiceState(
            service=c.config.labels.get("com.docker.compose.service", c.name),
            container=c.name, status=str(c.state.status), exit_code=int(c.state.exit_code or 0),
            restarts=int(c.restart_count or 0), health=str(health) if health else None))
    return states


def last_logs(spec: ComposeFiles, service: str, lines: int = 15) -> str:
    with docker_errors(f"read the logs of {service}"):
        text = client(spec).compose.logs([service], tail=str(lines), no_log_prefix=True)
    return str(text or "").strip()


def run_once(spec: ComposeFiles, service: str, command: Sequence[str],
             env: dict[str, str]) -> str:
    """A one-off container (`compose run --rm --no-deps`), its output returned.

    Not a service with `up --wait`: that exits 1 when a one-shot container exits 0
    (docker/compose#10596).
    """
    def failed(err: Any) -> ComposeGenError:
        output = "\n".join(part for part in ((err.stdout or "").strip(),
                                              (err.stderr or "").strip()) if part)
        return SeedError(f"the seed command {quote_command(command)} failed in service "
                         f"'{service}' (exit {err.return_code})", output=output)

    with docker_errors(f"run the seed in '{service}'", failure=failed):
        return str(client(spec).compose.run(service, list(command), envs=env, tty=False,
                                             dependencies=False, remove=True) or "")


def down(spec: ComposeFiles, *, volumes: bool = True) -> None:
    with docker_errors("stop the task's stack"):
        # Test stacks hold nothing worth a graceful shutdown; many images ignore SIGTERM as
        # PID 1, and Compose stops services one dependency level at a time.
        client(spec).compose.down(volumes=volumes, remove_orphans=True, quiet=True,
                                   timeout=1)


def connect_networks(spec: ComposeFiles, joins: dict[str, tuple[str, ...]]) -> None:
    """Connect each shared service's containers to worker networks (override keys), answering
    there to the service's name; already connected ones are left as they are."""
    if not joins:
        return
    docker = client(spec)
    project = spec.project_name or ""
    with docker_errors("connect shared services to the worker networks"):
        for container in docker.compose.ps(all=True):
            service = container.config.labels.get("com.docker.compose.service", "")
            wanted = [f"{project}_{key}" for key in joins.get(service, ())]
            have = set((container.network_settings.networks or {}).keys())
            for network in wanted:
                if network not in have:
                    docker.network.connect(network, container.id, alias=service)
