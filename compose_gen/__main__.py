"""The `compose-gen` entry point.

`compose-gen env` runs in Zenflow hooks and at the start of every test run, so it must cost
little more than starting Python (target: at most 4x `python -c pass`). Importing click alone
costs about that much, so the plain forms of `env` (only --task-id, --worker, --format) are
parsed here and served by the same core functions; everything else, including any error in
those options and `--help`, goes through the click CLI in compose_gen/cli.py.
"""

from __future__ import annotations

import os
import sys
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


def _fast_env(options: dict[str, str]) -> int:
    from compose_gen.config import load_config
    from compose_gen.envfile import format_env, task_env
    from compose_gen.errors import ComposeGenError
    from compose_gen.task import detect_task_id, task_dir

    try:
        config = load_config()
        task_id = detect_task_id(options.get("task_id"))
        worker = int(options["worker"]) if "worker" in options else None
        values = task_env(task_id, task_dir(task_id, config), config.database.url_env, worker)
        sys.stdout.write(format_env(values, options.get("fmt", "shell")))
    except ComposeGenError as exc:
        sys.stderr.write(f"compose-gen: error: {exc}\n")
        return exc.exit_code
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
