"""Reading a task's .env.task and printing it for shells and tools.

Kept free of heavy imports: `compose-gen env` runs in hooks and test start-up, and must cost
little more than starting Python.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from compose_gen.errors import UsageError
from compose_gen.paths import ENV_FILE, WORKERS_FILE

FORMATS = ("shell", "dotenv", "json")
# Added to what `env` prints: where the task's workers.json is, so that tools (the Playwright
# package, scripts) read it from compose-gen instead of re-deriving <tasks_dir>/<task id>/.
WORKERS_JSON_ENV = "COMPOSE_GEN_WORKERS_JSON"


def task_env(task_id: str, task_dir: Path, url_env: str,
             worker: int | None = None) -> dict[str, str]:
    """What `render`/`up` wrote for the task, optionally with one worker's generic names.

    Takes the task's dir rather than a TaskSpec: the hook path skips deriving the slug.
    """
    env_path = task_dir / ENV_FILE
    if not env_path.is_file():
        raise UsageError(f"task '{task_id}' has no {ENV_FILE} in {task_dir}",
                         hint=f"run `compose-gen render --task-id {task_id}` or `up` first")
    values = read_env_file(env_path)
    values.setdefault(WORKERS_JSON_ENV, os.path.abspath(task_dir / WORKERS_FILE))
    if worker is None:
        return values
    count = int(values.get("E2E_WORKERS", "0"))
    if not 0 <= worker < count:
        raise UsageError(f"task '{task_id}' has {count} workers (0..{count - 1}), "
                         f"not worker {worker}")
    return worker_view(values, worker, url_env)


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a .env.task written by compose-gen (KEY='value' lines, # comments)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
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


def format_env(values: Mapping[str, str], fmt: str) -> str:
    if fmt == "json":
        import json

        return json.dumps(dict(values), indent=2) + "\n"
    prefix = "export " if fmt == "shell" else ""
    return "".join(f"{prefix}{key}={shlex.quote(value)}\n" for key, value in values.items())
