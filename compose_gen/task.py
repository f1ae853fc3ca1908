"""Task identity: validate a task ID, find it when not given, derive its names.

A task ID ends up in a directory name, a Compose project name, Docker labels, YAML and env
files, so it is checked against an allow-list before anything is created. Different IDs never
share a slug: the slug carries a short hash of the raw ID.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compose_gen.config import Config
from compose_gen.errors import InvalidTaskIdError, UsageError

TASK_ID_ENV = "ZENFLOW_TASK_ID"
WORKTREES_DIR = (".zenflow", "worktrees")
MAX_TASK_ID_LENGTH = 128
SLUG_LENGTH = 40
HASH_LENGTH = 8

_ALLOWED = re.compile(r"^[A-Za-z0-9._@+:-]+\Z")
_ALLOWED_TEXT = "letters, digits and . _ - @ + :"


@dataclass(frozen=True)
class TaskSpec:
    id: str
    slug: str
    project_name: str
    dir: Path

    @property
    def label(self) -> dict[str, str]:
        return {TASK_LABEL: self.id}


TASK_LABEL = "dev.compose-gen.task"
PROJECT_DIR_LABEL = "dev.compose-gen.project-dir"
# Which lease registry (state dir) made a stack: `gc` judges only its own registry's stacks.
REGISTRY_LABEL = "dev.compose-gen.registry"


def validate_task_id(task_id: str) -> str:
    """Return task_id unchanged, or raise InvalidTaskIdError saying exactly what is wrong."""
    if not task_id:
        raise InvalidTaskIdError("task ID is empty", hint="pass --task-id or set $ZENFLOW_TASK_ID")
    shown = task_id[:40].encode("unicode_escape").decode("ascii")
    if len(task_id) > MAX_TASK_ID_LENGTH:
        raise InvalidTaskIdError(
            f"task ID '{shown}...' is {len(task_id)} characters long; the limit is "
            f"{MAX_TASK_ID_LENGTH}")
    if ".." in task_id:
        raise InvalidTaskIdError(f"task ID '{shown}' contains '..'")
    if not _ALLOWED.match(task_id):
        bad = next(ch for ch in task_id if not _ALLOWED.match(ch))
        raise InvalidTaskIdError(
            f"task ID '{shown}' contains {bad!r}, which is not allowed "
            f"(allowed: {_ALLOWED_TEXT})")
    if task_id[0] in ".-":
        raise InvalidTaskIdError(f"task ID '{shown}' must not start with '{task_id[0]}'")
    return task_id


def slugify(task_id: str) -> str:
    """Lowercase [a-z0-9-], at most SLUG_LENGTH characters, plus a short hash of the raw ID."""
    import hashlib  # lazy: `compose-gen env` never needs a slug

    digest = hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    base = re.sub(r"[^a-z0-9]+", "-", task_id.lower()).strip("-")[:SLUG_LENGTH].strip("-")
    return f"{base}-{digest}" if base else digest


def task_dir(task_id: str, config: Config) -> Path:
    """Where the task's files live (validates the ID: it becomes a path component)."""
    return config.tasks_path / validate_task_id(task_id)


def make_task(task_id: str, config: Config) -> TaskSpec:
    validate_task_id(task_id)
    slug = slugify(task_id)
    return TaskSpec(
        id=task_id,
        slug=slug,
        project_name=f"{config.project_prefix}-{slug}",
        dir=config.tasks_path / task_id,
    )


class TaskIdSource(enum.Enum):
    """Where a task ID came from, in the order they are tried."""

    OPTION = "option"  # --task-id (the CLI) or --compose-gen-task (the pytest plugin)
    ENV = "env"  # $ZENFLOW_TASK_ID
    WORKTREE = "worktree"  # the <id> of a .zenflow/worktrees/<id>/ around the directory
    # The ID a worktree tool's hook (`compose-gen hooks run`) recorded in the git dir of the
    # linked worktree around the directory: Claude Code, Cursor, Conductor, git worktrees.
    GIT_WORKTREE = "git-worktree"


@dataclass(frozen=True)
class FoundTaskId:
    id: str
    source: TaskIdSource

    def describe(self, option: str = "--task-id") -> str:
        """How people name the source in a message: the option, `$ZENFLOW_TASK_ID`, or the path."""
        return {TaskIdSource.OPTION: option, TaskIdSource.ENV: f"${TASK_ID_ENV}",
                TaskIdSource.WORKTREE: "/".join(WORKTREES_DIR) + "/<id>/",
                TaskIdSource.GIT_WORKTREE: "the worktree's compose-gen hook"}[self.source]


def find_task_id(explicit: str | None = None, *, cwd: Path | None = None,
                 environ: Mapping[str, str] | None = None,
                 validate: bool = True) -> FoundTaskId | None:
    """The one task-ID discovery: the option, else $ZENFLOW_TASK_ID, else the worktree path,
    else the ID a worktree tool's hook recorded for the git worktree around the directory.

    None when there is no task at all. With `validate`, a found ID that is not a valid task ID
    raises InvalidTaskIdError naming where it came from. An explicit empty ID is a mistake to
    report, not a request for the fallbacks. Every caller (CLI, pytest plugin, the Zenflow
    hooks through `compose-gen zenflow setup`) uses this function.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        found = FoundTaskId(explicit, TaskIdSource.OPTION)
    elif env.get(TASK_ID_ENV):
        found = FoundTaskId(env[TASK_ID_ENV], TaskIdSource.ENV)
    else:
        here = cwd or Path.cwd()
        from_path = task_id_from_path(here)
        if from_path:
            found = FoundTaskId(from_path, TaskIdSource.WORKTREE)
        else:
            recorded = recorded_task_id(here)
            if not recorded:
                return None
            found = FoundTaskId(recorded, TaskIdSource.GIT_WORKTREE)
    if validate:
        try:
            validate_task_id(found.id)
        except InvalidTaskIdError as err:
            raise InvalidTaskIdError(f"{err.message} (from {found.describe()})",
                                     hint=err.hint) from None
    return found


def discover_task_id(explicit: str | None = None, *, cwd: Path | None = None,
                     environ: Mapping[str, str] | None = None,
                     validate: bool = True) -> FoundTaskId:
    """find_task_id, or a UsageError saying the three ways to give one."""
    found = find_task_id(explicit, cwd=cwd, environ=environ, validate=validate)
    if found is None:
        raise UsageError(
            "no task ID given",
            hint=f"pass --task-id ID, set ${TASK_ID_ENV}, or run inside .zenflow/worktrees/<id>/ "
            "or a worktree set up by `compose-gen hooks`")
    return found


def detect_task_id(explicit: str | None, *, cwd: Path | None = None,
                   environ: Mapping[str, str] | None = None) -> str:
    """The ID discover_task_id finds, unvalidated (make_task validates it where it is used)."""
    return discover_task_id(explicit, cwd=cwd, environ=environ, validate=False).id


def task_id_from_path(path: Path) -> str | None:
    parts = path.resolve().parts
    for i in range(len(parts) - 2):
        if parts[i:i + 2] == WORKTREES_DIR:
            return parts[i + 2]
    return None


# A linked git worktree's own git dir (`<common>/worktrees/<name>/`) holds this file when a
# worktree tool's hook set the worktree up: only such worktrees have a task, and git deletes the
# file with the worktree. Read without running git: `compose-gen env` must start fast.
TASK_MARKER = "compose-gen-task"


def linked_worktree(path: Path) -> tuple[Path, Path] | None:
    """(work tree root, its private git dir) of the linked worktree around `path`, else None
    (the main work tree, a submodule, or no git at all)."""
    here = path.resolve()
    for folder in (here, *here.parents):
        dotgit = folder / ".git"
        if dotgit.is_dir():
            return None
        if dotgit.is_file():
            try:
                text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return None
            if not text.startswith("gitdir:"):
                return None
            gitdir = (folder / text.partition(":")[2].strip()).resolve()
            return (folder, gitdir) if gitdir.parent.name == "worktrees" else None
    return None


def recorded_task_id(path: Path) -> str | None:
    """The task ID a hook recorded for the linked worktree around `path`, if any."""
    found = linked_worktree(path)
    if found is None:
        return None
    try:
        return (found[1] / TASK_MARKER).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None
