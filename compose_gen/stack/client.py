"""The client every Docker call goes through: python-on-whales, with its failures turned into
compose-gen's errors (Compose's stderr kept, the daemon's absence named).

python-on-whales is imported lazily so that `compose-gen env` (the hook path) never pays for it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compose_gen.errors import (
    ComposeCommandError,
    ComposeGenError,
    DockerUnavailableError,
    SubnetTakenError,
)


@dataclass(frozen=True)
class ComposeFiles:
    """What identifies one task's Compose project: always passed together (compose#5246)."""

    project_dir: Path
    files: tuple[Path, ...]
    env_files: tuple[Path, ...] = ()
    project_name: str | None = None


def client(spec: ComposeFiles | None = None) -> Any:
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
def docker_errors(what: str, hint: str | None = None, *,
                   passthrough: tuple[type[Exception], ...] = (),
                   failure: Callable[[Any], ComposeGenError] | None = None) -> Iterator[None]:
    """Turn python-on-whales exceptions into ours, keeping Compose's stderr.

    passthrough: python-on-whales' typed errors the caller handles itself (NoSuchVolume …);
    failure: builds the error for a failed command (default: ComposeCommandError).
    """
    from python_on_whales.client_config import ClientNotFoundError
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except passthrough:
        raise
    except ClientNotFoundError as err:
        raise DockerUnavailableError(
            "the docker command was not found", hint="install Docker; see `compose-gen doctor`"
        ) from err
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
