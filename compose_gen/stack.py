"""The one door to Docker: every Compose and Docker call goes through here (python-on-whales).

python-on-whales is imported lazily so that `compose-gen env` (the hook path) never pays for
it. Failures become ComposeGenError subclasses that carry Compose's own error text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.errors import (
    ComposeCommandError,
    ComposeGenError,
    DockerUnavailableError,
    SeedError,
    SubnetTakenError,
    WaitTimeoutError,
)

MIN_COMPOSE = (2, 24)  # !override / !reset YAML tags
_VAR_RE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ComposeFiles:
    """What identifies one task's Compose project: always passed together (compose#5246)."""

    project_dir: Path
    files: tuple[Path, ...]
    env_files: tuple[Path, ...] = ()
    project_name: str | None = None


def _docker(spec: ComposeFiles | None = None) -> Any:
    from python_on_whales import DockerClient

    if spec is None:
        return DockerClient()
    return DockerClient(
        compose_files=list(spec.files),
        compose_env_files=list(spec.env_files),
        compose_project_name=spec.project_name,
        compose_project_directory=spec.project_dir,
    )


@contextlib.contextmanager
def _docker_errors(what: str, hint: str | None = None, *,
                   passthrough: tuple[type[Exception], ...] = (),
                   failure: Callable[[Any], ComposeGenError] | None = None) -> Iterator[None]:
    """Turn python-on-whales exceptions into ours, keeping Compose's stderr.

    passthrough: python-on-whales' typed errors the caller handles itself (NoSuchVolume …);
    failure: builds the error for a failed command (default: ComposeCommandError).
    """
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except passthrough:
        raise
    except DockerException as err:
        stderr = (err.stderr or "").strip()
        if _daemon_unreachable(stderr):
            raise DockerUnavailableError(
                f"Docker is not reachable while trying to {what}: {_last_line(stderr)}",
                hint=_docker_host_hint()) from err
        if _SUBNET_TAKEN in stderr:
            raise SubnetTakenError(f"failed to {what}: a subnet leased for it was taken",
                                   command=list(err.docker_command), stderr=stderr,
                                   hint=hint) from err
        if failure is not None:
            raise failure(err) from err
        raise ComposeCommandError(f"failed to {what}", command=list(err.docker_command),
                                  stderr=stderr, hint=hint) from err
    except FileNotFoundError as err:
        raise DockerUnavailableError(
            "the docker command was not found", hint="install Docker; see `compose-gen doctor`"
        ) from err


# Docker's only word for a network whose subnet overlaps another's (no typed error exists).
_SUBNET_TAKEN = "Pool overlaps with other one on this address space"


def _daemon_unreachable(stderr: str) -> bool:
    # Not "dial tcp": a failed image pull says that too, with a running daemon.
    return any(text in stderr for text in (
        "Cannot connect to the Docker daemon", "error during connect",
        "Is the docker daemon running"))


def _docker_host_hint() -> str:
    host = os.environ.get("DOCKER_HOST")
    context = os.environ.get("DOCKER_CONTEXT")
    where = f"DOCKER_HOST={host}" if host else (f"DOCKER_CONTEXT={context}" if context
                                                 else "the default socket")
    return f"is the daemon running? compose-gen used {where}"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else text


def referenced_variables(text: str) -> set[str]:
    """Variables a compose file interpolates (${NAME}, $NAME)."""
    return set(_VAR_RE.findall(text))


# --- versions -------------------------------------------------------------------------------

def compose_version() -> tuple[int, ...]:
    """Compose's version, raising DockerUnavailableError when missing or older than 2.24."""
    if shutil.which("docker") is None:
        raise DockerUnavailableError("the docker command was not found",
                                     hint="install the Docker CLI and the Compose v2 plugin")
    with _docker_errors("ask Compose for its version"):
        raw = _docker().compose.version()
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
    with _docker_errors("reach the Docker daemon"):
        info = _docker().system.info()
    return str(info.server_version)


# --- reading the base stack (no daemon needed) ---------------------------------------------

def read_compose_config(spec: ComposeFiles, interpolation: dict[str, str]) -> dict[str, Any]:
    """`docker compose config --format json` of the base files, cached by content hash.

    interpolation: values for variables the base files may use for host ports; they are
    replaced by the override anyway, but Compose must be able to parse the files.
    """
    digest = hashlib.sha256()
    for path in spec.files:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ComposeCommandError(f"cannot read compose file {path}: {err.strerror}") from err
        digest.update(f"{path}\0{text}\0".encode())
        for name in sorted(referenced_variables(text)):
            value = interpolation.get(name, os.environ.get(name, ""))
            digest.update(f"{name}={value}\0".encode())
    for env_file in spec.env_files:
        if env_file.is_file():
            digest.update(env_file.read_bytes())
    cache = paths.cache_dir() / f"compose-config-{digest.hexdigest()[:24]}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(cache.read_text(encoding="utf-8"))

    scratch = paths.cache_dir() / f".interpolation-{os.getpid()}.env"
    paths.write_private(scratch, "".join(f"{k}={v}\n" for k, v in interpolation.items()))
    try:
        spec_with_env = dataclasses.replace(
            spec, env_files=(*[f for f in spec.env_files if f.is_file()], scratch))
        with _docker_errors("read the project's compose files",
                            hint="check them with `docker compose config`"):
            data = _docker(spec_with_env).compose.config(return_json=True)
    finally:
        scratch.unlink(missing_ok=True)
    paths.write_private(cache, json.dumps(data))
    return data


def validate_files(spec: ComposeFiles) -> dict[str, Any]:
    """Compose's own check of the base + override (the oracle): the merged model as JSON."""
    with _docker_errors("validate the rendered override",
                        hint="this is a compose-gen bug or a template override error"):
        return _docker(spec).compose.config(return_json=True)


def files_args(spec: ComposeFiles) -> list[str]:
    """The same files as CLI arguments, for messages that tell users what to run."""
    args = ["docker", "compose", "--project-directory", str(spec.project_dir)]
    for path in spec.files:
        args += ["-f", str(path)]
    for env_file in spec.env_files:
        args += ["--env-file", str(env_file)]
    if spec.project_name:
        args += ["-p", spec.project_name]
    return args


def env_files_for(project_dir: Path, *extra: Path) -> tuple[Path, ...]:
    """The project's own .env keeps working next to ours (passing --env-file disables it)."""
    own = project_dir / ".env"
    return (*((own,) if own.is_file() else ()), *extra)


def quote_command(args: Sequence[str]) -> str:
    import shlex

    return shlex.join(args)


# --- running a task's stack ------------------------------------------------------------------

def build(spec: ComposeFiles, services: Sequence[str]) -> None:
    if not services:
        return
    with _docker_errors(f"build {', '.join(services)}"):
        _docker(spec).compose.build(list(services), quiet=True)


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
        with _docker_errors(f"start {', '.join(services)}", hint=hint):
            _docker(spec).compose.up(list(services), detach=True, wait=True, quiet=True,
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
    with _docker_errors(f"create {', '.join(services)}"):
        _docker(spec).compose.create(list(services), pull="missing")


# A constant script (no value is interpolated into it): empty the target, then copy.
_COPY_SCRIPT = "find /to -mindepth 1 -delete && cp -a /from/. /to/"


def copy_volume(image: str, source: str, target: str, labels: dict[str, str]) -> None:
    """Make volume `target` a copy of volume `source`, in a throw-away container of `image`
    (any image with a POSIX shell, find and cp: the database's image is always at hand)."""
    with _docker_errors(f"copy volume {source} into {target}"):
        _docker().run(image, ["-c", _COPY_SCRIPT], entrypoint="sh", remove=True,
                      volumes=[(source, "/from", "ro"), (target, "/to")], labels=labels,
                      user="0")


def remove_volume(name: str) -> None:
    from python_on_whales.exceptions import NoSuchVolume

    with _docker_errors(f"remove volume {name}", passthrough=(NoSuchVolume,)), \
            contextlib.suppress(NoSuchVolume):
        _docker().volume.remove(name)


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
    with _docker_errors("list the task's containers"):
        containers = _docker(spec).compose.ps(all=True)
    states = []
    for c in containers:
        health = c.state.health.status if c.state.health else None
        states.append(ServiceState(
            service=c.config.labels.get("com.docker.compose.service", c.name),
            container=c.name, status=str(c.state.status), exit_code=int(c.state.exit_code or 0),
            restarts=int(c.restart_count or 0), health=str(health) if health else None))
    return states


def last_logs(spec: ComposeFiles, service: str, lines: int = 15) -> str:
    with _docker_errors(f"read the logs of {service}"):
        text = _docker(spec).compose.logs([service], tail=str(lines), no_log_prefix=True)
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

    with _docker_errors(f"run the seed in '{service}'", failure=failed):
        return str(_docker(spec).compose.run(service, list(command), envs=env, tty=False,
                                             dependencies=False, remove=True) or "")


def down(spec: ComposeFiles, *, volumes: bool = True) -> None:
    with _docker_errors("stop the task's stack"):
        # Test stacks hold nothing worth a graceful shutdown; many images ignore SIGTERM as
        # PID 1, and Compose stops services one dependency level at a time.
        _docker(spec).compose.down(volumes=volumes, remove_orphans=True, quiet=True,
                                   timeout=1)


def running_services(spec: ComposeFiles) -> dict[str, str]:
    """service -> container state, for the task's project."""
    with _docker_errors("list the task's containers"):
        containers = _docker(spec).compose.ps(all=True)
    return {c.config.labels.get("com.docker.compose.service", c.name): c.state.status
            for c in containers}


@dataclass(frozen=True)
class Resource:
    kind: str  # container | volume | network
    name: str
    project: str
    task_id: str
    labels: dict[str, str]
    state: str = ""
    ports: tuple[str, ...] = ()


def labelled_resources(label: str, value: str | None = None) -> list[Resource]:
    """Every container, volume and network carrying our label (optionally with a value)."""
    from python_on_whales.exceptions import NoSuchContainer, NoSuchNetwork, NoSuchVolume

    for attempt in range(5):
        try:
            return _list_labelled(label, value)
        except (NoSuchContainer, NoSuchNetwork, NoSuchVolume):
            # python-on-whales lists, then inspects: a resource that another task's `down`
            # removed in between fails the inspect. List again.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _list_labelled(label: str, value: str | None) -> list[Resource]:
    docker = _docker()
    selector = f"{label}={value}" if value is not None else label
    found: list[Resource] = []
    from python_on_whales.exceptions import NoSuchContainer, NoSuchNetwork, NoSuchVolume

    with _docker_errors("list compose-gen's containers, volumes and networks",
                        passthrough=(NoSuchContainer, NoSuchNetwork, NoSuchVolume)):
        for c in docker.container.list(all=True, filters=[("label", selector)]):
            labels = dict(c.config.labels or {})
            ports = tuple(sorted(
                f"{binding['HostIp']}:{binding['HostPort']}->{container_port}"
                for container_port, bindings in (c.network_settings.ports or {}).items()
                for binding in (bindings or [])))
            found.append(Resource("container", c.name,
                                  labels.get("com.docker.compose.project", ""),
                                  labels.get(label, ""), labels, c.state.status, ports))
        for v in docker.volume.list(filters=[("label", selector)]):
            labels = dict(v.labels or {})
            found.append(Resource("volume", v.name, labels.get("com.docker.compose.project", ""),
                                  labels.get(label, ""), labels))
        for n in docker.network.list(filters=[("label", selector)]):
            labels = dict(n.labels or {})
            found.append(Resource("network", n.name,
                                  labels.get("com.docker.compose.project", ""),
                                  labels.get(label, ""), labels))
    return found


def remove_resources(resources: Sequence[Resource]) -> None:
    """Containers first, then networks and volumes they held; each only if still labelled."""
    from python_on_whales.exceptions import (
        DockerException,
        NoSuchContainer,
        NoSuchNetwork,
        NoSuchVolume,
    )

    docker = _docker()
    order = {"container": 0, "network": 1, "volume": 2}
    anonymous: list[str] = []
    for res in sorted(resources, key=lambda r: order[r.kind]):
        with _docker_errors(f"remove {res.kind} {res.name}"):
            try:
                if res.kind == "container":
                    anonymous += _anonymous_volumes(docker, res.name)
                    docker.container.remove(res.name, force=True, volumes=True)
                elif res.kind == "network":
                    docker.network.remove(res.name)
                else:
                    docker.volume.remove(res.name)
            except (NoSuchContainer, NoSuchNetwork, NoSuchVolume):
                pass  # gone already: another `down` or `gc` got there first
    # When Compose recreates a container it hands the old one's anonymous volumes (an image's
    # VOLUME, e.g. redis's /data) to the new one as mounts by name, so `rm -v` keeps them.
    # They were made for our container: remove them unless something else still uses them.
    for name in anonymous:
        with contextlib.suppress(DockerException):
            docker.volume.remove(name)


_ANONYMOUS_VOLUME = re.compile(r"^[0-9a-f]{64}$")


def _anonymous_volumes(docker: Any, container: str) -> list[str]:
    """Volumes of the container with Docker's generated names (and no labels of their own)."""
    from python_on_whales.exceptions import DockerException

    try:
        mounts = docker.container.inspect(container).mounts or []
    except DockerException:
        return []
    names = [m.name for m in mounts
             if m.type == "volume" and m.name and _ANONYMOUS_VOLUME.match(m.name)]
    try:
        return [name for name in names if not docker.volume.inspect(name).labels]
    except DockerException:
        return []


@dataclass(frozen=True)
class DockerNetwork:
    name: str
    project: str  # its Compose project label; "" for a network Compose did not make
    subnets: tuple[str, ...]  # IPv4 only


def list_networks() -> list[DockerNetwork]:
    """Every Docker network with its IPv4 subnets: the subnet lease avoids them."""
    import ipaddress

    from python_on_whales.exceptions import NoSuchNetwork
    from python_on_whales.utils import run

    # One `inspect` for all networks (python-on-whales would run one per network); another
    # task may remove a network between `ls` and `inspect`, so that race is retried.
    docker_cmd = _docker().client_config.docker_cmd
    for _attempt in range(5):
        try:
            with _docker_errors("list Docker networks"):
                ids = run([*docker_cmd, "network", "ls", "--quiet", "--no-trunc"]).split()
                raw = run([*docker_cmd, "network", "inspect", *ids]) if ids else "[]"
            break
        except ComposeCommandError as err:
            if not isinstance(err.__cause__, NoSuchNetwork):
                raise
    else:
        raise ComposeCommandError("failed to list Docker networks: they kept changing")
    found = []
    for net in json.loads(raw):
        subnets = []
        for entry in (net.get("IPAM") or {}).get("Config") or ():
            with contextlib.suppress(ValueError, TypeError):
                if ipaddress.ip_network(entry.get("Subnet")).version == 4:
                    subnets.append(entry["Subnet"])
        labels = net.get("Labels") or {}
        found.append(DockerNetwork(net.get("Name", ""),
                                   labels.get("com.docker.compose.project", ""),
                                   tuple(subnets)))
    return found


def untag_project_images(project: str) -> None:
    """Remove the tags of images Compose built for `project` (it labels them with the project;
    our project names are ours alone), keeping their layers as build cache."""
    from python_on_whales.exceptions import NoSuchImage

    docker = _docker()
    with _docker_errors(f"remove the images built for {project}", passthrough=(NoSuchImage,)):
        images = docker.image.list(filters=[("label", f"com.docker.compose.project={project}")])
        for image in images:
            for tag in image.repo_tags or []:
                with contextlib.suppress(NoSuchImage):
                    docker.image.remove(tag, prune=False)
