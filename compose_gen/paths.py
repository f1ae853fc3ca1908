"""Every place compose-gen keeps state, derived in one spot (tests point them at tmp_path).

- state dir: `$COMPOSE_GEN_STATE_DIR`, else the user's state dir (XDG on Linux): the lease
  registry, per-task locks and the cache of parsed compose files live there.
- task dir: `<project>/<tasks_dir>/<task_id>/`: the rendered files of one task.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "COMPOSE_GEN_STATE_DIR"

OVERRIDE_FILE = "docker-compose.zenflow.yml"
ENV_FILE = ".env.task"
WORKERS_FILE = "workers.json"


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        path = Path(configured).expanduser()
    else:
        import platformdirs  # lazy: only the commands that keep state pay for it

        path = Path(platformdirs.user_state_dir("compose-gen", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def registry_id() -> str:
    """A short stable ID of this state dir, put on every resource as a label."""
    import hashlib

    return hashlib.sha256(str(state_dir().resolve()).encode()).hexdigest()[:12]


def leases_file() -> Path:
    return state_dir() / "leases.json"


def locks_dir() -> Path:
    path = state_dir() / "locks"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def cache_dir() -> Path:
    path = state_dir() / "cache"
    path.mkdir(exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write atomically (temp file in the same dir, then rename) with `mode` from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed or O_CREAT kept an old mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# What compose-gen writes into a task dir. `down` and `gc` remove these and nothing else:
# proof files, reports and history that `prove` left there outlive the stack.
CLAIMS_DIR = "pytest-claims"
GENERATED = (OVERRIDE_FILE, ENV_FILE, WORKERS_FILE, CLAIMS_DIR)


def remove_generated(task_dir: Path) -> None:
    """Remove compose-gen's own files from a task dir, and the dir when nothing else is left."""
    import shutil

    for name in GENERATED:
        path = task_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for leftover in task_dir.glob(".*.tmp"):  # an interrupted write_private
        leftover.unlink(missing_ok=True)
    import contextlib

    with contextlib.suppress(OSError):  # not empty: the user's (or prove's) files stay
        task_dir.rmdir()
