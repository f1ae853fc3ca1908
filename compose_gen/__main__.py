"""The `compose-gen` entry point.

`compose-gen env` runs in Zenflow hooks and at the start of every test run, so it must cost
little more than starting Python (target: at most 3x `python -c pass`). Importing click alone
costs more than that, so the plain forms of `env` (only --task-id, --worker, --format) are
parsed here and served by the same core functions; everything else, including any error in
those options and `--help`, goes through the click CLI in compose_gen/cli.py. A repeated call
does not even load the config: envfile.cached_settings keeps the two settings it needs, checked
against the stamps of the config files.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and collections.abc cost the hook path milliseconds
if TYPE_CHECKING:
    from collections.abc import Sequence

_ENV_OPTIONS = {"--task-id": "task_id", "-t": "task_id", "--worker": "worker",
                "-i": "worker", "--format": "fmt"}


def _plain_env_args(args: Sequence[str]) -> dict[str, str] | None:
    """The options of a plain `env` call, or None when click should handle it."""
    from compose_gen.envfile import FORMATS

    options: dict[str, str] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in _ENV_OPTIONS or (not eq and not rest):
            return None
        if not eq:
            value = rest.pop(0)
        key = _ENV_OPTIONS[name]
        if key in options:
            return None
        options[key] = value
    if "worker" in options and not options["worker"].isdigit():
        return None
    if options.get("fmt", "shell") not in FORMATS:
        return None
    return options


_TASK_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+:-")


def _plainly_valid_task_id(task_id: str) -> bool:
    """compose_gen.task.validate_task_id's rules, without importing it (it imports the config).
    Anything it refuses goes to the full path, which says why."""
    return (0 < len(task_id) <= 128 and ".." not in task_id and task_id[0] not in ".-"
            and all(ch in _TASK_ID_CHARS for ch in task_id))


def _cached_env(options: dict[str, str]) -> int | None:
    """Serve `env` from the settings cache (no TOML, no dataclasses, no click), or None when
    anything is not plain: no cache entry, a stale one, a task ID to find or to refuse, no
    .env.task, an unknown worker. The full path then answers, errors included."""
    from compose_gen import envfile

    task_id = options.get("task_id")
    if task_id is None:
        task_id = os.environ.get("ZENFLOW_TASK_ID") or None
    if task_id is None or not _plainly_valid_task_id(task_id):
        return None
    cwd = os.getcwd()
    settings = envfile.cached_settings(cwd, os.environ)
    if settings is None:
        return None
    tasks_path, url_env = settings
    directory = os.path.join(tasks_path, task_id)
    if not os.path.isfile(os.path.join(directory, envfile.ENV_FILE)):
        return None
    values = envfile.read_env_file(os.path.join(directory, envfile.ENV_FILE))
    values.setdefault(envfile.WORKERS_JSON_ENV,
                      os.path.abspath(os.path.join(directory, envfile.WORKERS_FILE)))
    if "worker" in options:
        worker = int(options["worker"])
        if not 0 <= worker < int(values.get("E2E_WORKERS", "0")) \
                or f"DATABASE_URL_W{worker}" not in values:
            return None
        values = envfile.worker_view(values, worker, url_env)
    sys.stdout.write(envfile.format_env(values, options.get("fmt", "shell")))
    return 0


def _fast_env(options: dict[str, str]) -> int:
    cached = _cached_env(options)
    if cached is not None:
        return cached
    from compose_gen.config import CONFIG_ENV, load_config
    from compose_gen.envfile import format_env, remember_settings, task_env
    from compose_gen.errors import ComposeGenError
    from compose_gen.task import detect_task_id, task_dir

    try:
        cwd = os.getcwd()
        config = load_config()
        task_id = detect_task_id(options.get("task_id"))
        worker = int(options["worker"]) if "worker" in options else None
        values = task_env(task_id, task_dir(task_id, config), config.database.url_env, worker)
        sys.stdout.write(format_env(values, options.get("fmt", "shell")))
    except ComposeGenError as exc:
        sys.stderr.write(f"compose-gen: error: {exc}\n")
        return exc.exit_code
    if config.source is not None:
        remember_settings(cwd, os.environ, str(config.source),
                          bool(os.environ.get(CONFIG_ENV)), str(config.tasks_path),
                          config.database.url_env)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["env"] and os.environ.get("COMPOSE_GEN_DEBUG") != "1":
        options = _plain_env_args(args[1:])
        if options is not None:
            return _fast_env(options)
    from compose_gen.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
