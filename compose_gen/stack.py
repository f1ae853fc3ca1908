"""The one door to Docker: every Compose and Docker call goes through here (python-on-whales).

python-on-whales is imported lazily so that `compose-gen env` (the hook path) never pays for
it. Failures become ComposeGenError subclasses that carry Compose's own error text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen import paths
from compose_gen.errors import ComposeCommandError, DockerUnavailableError

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
def _docker_errors(what: str, hint: str | None = None) -> Iterator[None]:
    """Turn python-on-whales exceptions into ours, keeping Compose's stderr."""
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except DockerException as err:
        stderr = (err.stderr or "").strip()
        if _daemon_unreachable(stderr):
            raise DockerUnavailableError(
                f"Docker is not reachable while trying to {what}: {_last_line(stderr)}",
                hint=_docker_host_hint()) from err
        raise ComposeCommandError(f"failed to {what}", command=list(err.docker_command),
                                  stderr=stderr, hint=hint) from err
    except FileNotFoundError as err:
        raise DockerUnavailableError(
            "the docker command was not found", hint="install Docker; see `compose-gen doctor`"
        ) from err


def _daemon_unreachable(stderr: str) -> bool:
    return any(text in stderr for text in (
        "Cannot connect to the Docker daemon", "error during connect",
        "Is the docker daemon running", "dial unix", "dial tcp"))


def _docker_host_hint() -> str:
    host = os.environ.get("DOCKER_HOST")
    context = os.environ.get("DOCKER_CONTEXT")
    where = f"DOCKER_HOST={host}" if host else (f"DOCKER_CONTEXT={context}" if context
                                                 else "the default socket")
    return f"is the daemon running? compose-gen used {where}"


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else text


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
        for name in sorted(set(_VAR_RE.findall(text))):
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
        spec_with_env = ComposeFiles(spec.project_dir, spec.files,
                                     (*[f for f in spec.env_files if f.is_file()], scratch))
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
