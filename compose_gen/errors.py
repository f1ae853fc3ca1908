"""Every failure compose-gen reports, each with the exit code the CLI maps it to.

The CLI catches `ComposeGenError` once and prints `str(err)` as one line; anything else is a
bug and is shown with its traceback only under `--debug`.
"""

from __future__ import annotations

import enum
import re


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    DOCKER_UNAVAILABLE = 3
    NO_FREE_PORTS = 4
    TIMEOUT = 5
    INTERRUPTED = 130


class ComposeGenError(Exception):
    """Root of all expected failures: a message for people and an exit code."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(ComposeGenError):
    """Bad input: a task ID, an option, a config key."""

    exit_code = ExitCode.USAGE


class ConfigError(UsageError):
    """The project's compose-gen configuration is missing or invalid."""


class InvalidTaskIdError(UsageError):
    """A task ID that cannot be used safely as a name, a path or a label."""


class DockerUnavailableError(ComposeGenError):
    """No Docker daemon answers, or Compose is missing or too old."""

    exit_code = ExitCode.DOCKER_UNAVAILABLE


class NoFreePortBlockError(ComposeGenError):
    """Every slot of the port range is leased or has a port in use."""

    exit_code = ExitCode.NO_FREE_PORTS


class NoFreeSubnetError(ComposeGenError):
    """The subnet pool (networks.pool) has no room left for a task's networks."""

    exit_code = ExitCode.NO_FREE_PORTS  # the same remedy as for ports: gc, or a wider pool


class WaitTimeoutError(ComposeGenError):
    """Something did not become ready before its deadline."""

    exit_code = ExitCode.TIMEOUT


class ComposeCommandError(ComposeGenError):
    """A `docker compose` command failed; carries the command and Compose's own error text."""

    def __init__(self, message: str, *, command: list[str] | None = None, stderr: str = "",
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.command = command or []
        self.stderr = stderr

    def __str__(self) -> str:
        # Compose writes its progress ("Container x  Started") to stderr as well: the message
        # keeps only the lines that explain the failure, on one line (all of it stays in
        # self.stderr).
        detail = "; ".join(line.strip() for line in self.stderr.splitlines()
                           if line.strip() and not _COMPOSE_PROGRESS.match(line))
        text = super().__str__()
        return f"{text}: {detail}" if detail else text


class SubnetTakenError(ComposeCommandError):
    """Docker refused a network's leased subnet: a network created since the lease was taken
    (by a task of another lease registry: another user or state dir) overlaps it."""


_COMPOSE_PROGRESS = re.compile(
    r"^\s*(?:Container|Network|Volume|Image|Service)\s+\S+\s+(?:Creating|Created|Starting|"
    r"Started|Waiting|Healthy|Stopping|Stopped|Removing|Removed|Recreate|Recreated|Running|"
    r"Pulling|Pulled|Building|Built)\s*$")


class SeedError(ComposeGenError):
    """The project's seed command failed; carries its output."""

    def __init__(self, message: str, *, output: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.output = output


class Interrupted(ComposeGenError):
    """Ctrl-C: what was started has been torn down."""

    exit_code = ExitCode.INTERRUPTED


class ServiceFailedError(ComposeGenError):
    """A service of the task's stack crashed, restarted or turned unhealthy while starting."""

    def __init__(self, message: str, *, service: str, logs: str = "",
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.service = service
        self.logs = logs
