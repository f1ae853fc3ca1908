"""Reading a task's .env.task and printing it for shells and tools, and the hook path's cache.

Kept free of heavy imports (no pathlib, re, shlex, tomllib or dataclasses at import time):
`compose-gen env` runs in hooks and at the start of every test run, and must cost little more
than starting Python. What `env` needs from the config (the tasks dir and the database URL's
variable name) is kept in a small marshal cache in the state dir, so a repeated call reads no
TOML and builds no dataclasses: see `cached_settings`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing, collections.abc and pathlib cost the hook path milliseconds
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

# The same names as compose_gen.paths (tests/unit/test_env_cache.py checks): importing it here
# would import pathlib on the hook path.
ENV_FILE = ".env.task"
WORKERS_FILE = "workers.json"
STATE_DIR_ENV = "COMPOSE_GEN_STATE_DIR"
CONFIG_FILE_NAME = "compose-gen.toml"
PYPROJECT = "pyproject.toml"

FORMATS = ("shell", "dotenv", "json")
# Added to what `env` prints: where the task's workers.json is, so that tools (the Playwright
# package, scripts) read it from compose-gen instead of re-deriving <tasks_dir>/<task id>/.
WORKERS_JSON_ENV = "COMPOSE_GEN_WORKERS_JSON"


def task_env(task_id: str, task_dir: Path | str, url_env: str,
             worker: int | None = None) -> dict[str, str]:
    """What `render`/`up` wrote for the task, optionally with one worker's generic names.

    Takes the task's dir rather than a TaskSpec: the hook path skips deriving the slug.
    """
    env_path = os.path.join(task_dir, ENV_FILE)
    if not os.path.isfile(env_path):
        from compose_gen.errors import UsageError

        raise UsageError(f"task '{task_id}' has no {ENV_FILE} in {task_dir}",
                         hint=f"run `compose-gen render --task-id {task_id}` or `up` first")
    values = read_env_file(env_path)
    values.setdefault(WORKERS_JSON_ENV, os.path.abspath(os.path.join(task_dir, WORKERS_FILE)))
    if worker is None:
        return values
    count = int(values.get("E2E_WORKERS", "0"))
    if not 0 <= worker < count:
        from compose_gen.errors import UsageError

        raise UsageError(f"task '{task_id}' has {count} workers (0..{count - 1}), "
                         f"not worker {worker}")
    return worker_view(values, worker, url_env)


def read_env_file(path: Path | str) -> dict[str, str]:
    """Parse a .env.task written by compose-gen (KEY='value' lines, # comments)."""
    values: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def worker_view(values: Mapping[str, str], worker: int, url_env: str) -> dict[str, str]:
    """The task's settings plus worker `worker`'s under the generic names."""
    view = dict(values)
    view["E2E_WORKER_INDEX"] = str(worker)
    for key in ("E2E_BASE_URL", "MEDIA_VOLUME"):
        if f"{key}_W{worker}" in values:
            view[key] = values[f"{key}_W{worker}"]
    view[url_env] = values[f"DATABASE_URL_W{worker}"]
    return view


# shlex.quote's safe set (`[\w@%+=:,./-]` in ASCII), without importing shlex and re.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def shell_quote(value: str) -> str:
    """shlex.quote, character for character (tests/unit/test_env_cache.py compares them)."""
    if not value:
        return "''"
    if all(ch in _SAFE for ch in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"


def format_env(values: Mapping[str, str], fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps(dict(values), indent=2) + "\n"
    prefix = "export " if fmt == "shell" else ""
    return "".join(f"{prefix}{key}={shell_quote(value)}\n" for key, value in values.items())


# --- the hook path's cache -------------------------------------------------------------------
#
# One marshal file in the state dir: {key: (tasks_path, url_env, stamps)}. The key is what
# decides which config `load_config` reads and how: the working directory and every
# COMPOSE_GEN_* variable (overrides, the config's path). `stamps` are (path, (mtime_ns, size,
# inode) or None) of every config candidate `load_config` looked at: an edit, a new nearer
# config or a removed one changes a stamp and the entry is not used. Render needs no hook:
# the .env.task itself is read afresh by every call.

CACHE_VERSION = 1
CACHE_FILE = "env-cache.marshal"
CACHE_ENTRIES = 64


def _state_dir_without_imports() -> str | None:
    """paths.state_dir() where it can be had without platformdirs (Linux), else None."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return os.path.expanduser(configured)
    import sys

    if not sys.platform.startswith("linux"):
        return None
    base = os.environ.get("XDG_STATE_HOME", "").strip() or os.path.expanduser("~/.local/state")
    return os.path.join(base, "compose-gen")


def cache_key(cwd: str, environ: Mapping[str, str]) -> str:
    parts = [f"v{CACHE_VERSION}", cwd]
    parts += sorted(f"{k}={v}" for k, v in environ.items() if k.startswith("COMPOSE_GEN_"))
    return "\0".join(parts)


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def config_stamps(cwd: str, config_source: str, explicit: bool) -> tuple[Any, ...]:
    """The stamps of what load_config read, and of every nearer candidate it passed over."""
    if explicit:
        return ((config_source, _stamp(config_source)),)
    stamps = []
    directory = cwd
    found_dir = os.path.dirname(config_source)
    while True:
        for name in (CONFIG_FILE_NAME, PYPROJECT):
            path = os.path.join(directory, name)
            stamps.append((path, _stamp(path)))
            if path == config_source:
                return tuple(stamps)
        parent = os.path.dirname(directory)
        if directory == found_dir or parent == directory:
            return tuple(stamps)  # the source is not where the search would find it
        directory = parent


def _cache_path() -> str | None:
    state = _state_dir_without_imports()
    return os.path.join(state, "cache", CACHE_FILE) if state else None


def _read_cache(path: str) -> dict[str, Any]:
    import marshal

    try:
        with open(path, "rb") as fh:
            data = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def cached_settings(cwd: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """(tasks_path, url_env) from the cache when every stamp still holds, else None."""
    path = _cache_path()
    if path is None:
        return None
    entry = _read_cache(path).get(cache_key(cwd, environ))
    try:
        tasks_path, url_env, stamps = entry  # type: ignore[misc]
        fresh = all(_stamp(p) == (tuple(s) if s is not None else None) for p, s in stamps)
    except (TypeError, ValueError):
        return None
    return (tasks_path, url_env) if fresh else None


def remember_settings(cwd: str, environ: Mapping[str, str], config_source: str,
                      explicit: bool, tasks_path: str, url_env: str) -> None:
    """Store what the full path found; any failure only costs the next call its speed."""
    import marshal

    path = _cache_path()
    if path is None:
        return
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        data = _read_cache(path)
        data.pop(cache_key(cwd, environ), None)
        while len(data) >= CACHE_ENTRIES:  # oldest first: dicts keep insertion order
            data.pop(next(iter(data)))
        data[cache_key(cwd, environ)] = (tasks_path, url_env,
                                         config_stamps(cwd, config_source, explicit))
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            marshal.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass
