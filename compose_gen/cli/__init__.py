"""The command line: parse options, call the core, map failures to exit codes. Nothing else.

This package is the only place that imports click: the group, its shared options and the one
error handler are here; the commands live in `stack_commands` (a task's stack) and
`tool_commands` (hooks, Zenflow, MCP, prove).

Heavy libraries (python-on-whales, psycopg, jinja2) are imported by the commands that need
them, never here: `compose-gen env` runs in hooks and must start fast.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

from compose_gen import __version__
from compose_gen.errors import ComposeGenError, ExitCode, UsageError

DEBUG_ENV = "COMPOSE_GEN_DEBUG"


class _State:
    def __init__(self, config_file: Path | None, project_dir: Path | None) -> None:
        self.config_file = config_file
        self.project_dir = project_dir

    def config(self):  # noqa: ANN201
        from compose_gen.config import load_config

        return load_config(self.project_dir, config_file=self.config_file)

    def task(self, config, task_id: str | None):  # noqa: ANN001, ANN201
        from compose_gen.task import discover_task_id, make_task

        return make_task(discover_task_id(task_id).id, config)


task_option = click.option(
    "--task-id", "-t", metavar="ID", envvar=None,
    help="The task. Default: $ZENFLOW_TASK_ID, else the <id> of .zenflow/worktrees/<id>/ "
         "around the current directory, else the task `compose-gen hooks` recorded for the "
         "git worktree around it.")
workers_option = click.option(
    "--workers", "-w", type=int, default=None, metavar="N",
    help="Parallel test workers: one database, media volume and copy of each worker service "
         "per worker. Default: workers.default from the config.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="compose-gen")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False),
              help="The config file (compose-gen.toml or pyproject.toml). Default: the nearest "
                   "one upwards from the project dir. Also $COMPOSE_GEN_CONFIG.")
@click.option("--project-dir", "-C", type=click.Path(path_type=Path, file_okay=False),
              help="Where to look for the config. Default: the current directory.")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs on failure.")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None, project_dir: Path | None,
        debug: bool) -> None:
    """An isolated Docker Compose test environment per parallel task.

    Every task gets its own block of ports on 127.0.0.1, its own Compose project, one
    PostgreSQL database per test worker cloned from a seeded template, one media volume per
    worker, and a teardown that leaves nothing behind.

    \b
    Typical use:
      compose-gen up --task-id my-task --workers 4   # boot, seed once, clone per worker
      compose-gen env --task-id my-task --worker 0   # settings for test worker 0
      compose-gen down --task-id my-task             # remove everything of the task

    Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 Docker unavailable,
    4 no free port block or subnet, 5 timeout, 130 interrupted.
    """
    ctx.obj = _State(config_file, project_dir)


def _workers(config, workers: int | None) -> int:  # noqa: ANN001
    count = config.workers.default if workers is None else workers
    if not 1 <= count <= config.workers.max:
        raise UsageError(f"--workers must be between 1 and {config.workers.max} "
                         f"(workers.max), got {count}")
    return count


def _progress(message: str) -> None:
    """Progress of the long steps, on a terminal only (CI logs get the summary)."""
    if sys.stderr.isatty():
        click.echo(f"compose-gen: {message}...", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one error handler for every command."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get(DEBUG_ENV) == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="compose-gen: %(levelname)s: %(message)s")
    # A CI cancel or `timeout` sends SIGTERM: treat it like Ctrl-C so `up` tears down. SIGINT
    # too, even when inherited as ignored (a background job of a script): `docker compose`
    # takes it back and stops, and `up` must then stop and tear down with it.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, _terminate)
                for signum in (signal.SIGTERM, signal.SIGINT)} if in_main_thread else {}
    try:
        result = cli.main(args=args, prog_name="compose-gen", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("compose-gen: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        return ExitCode.USAGE
    except ComposeGenError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        output = getattr(exc, "output", "")
        if output:  # e.g. the seed's own output: what the user needs to fix it
            click.echo(output.rstrip(), err=True)
        click.echo(f"compose-gen: error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("compose-gen: interrupted", err=True)
        return ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line, the traceback with --debug
        if debug:
            raise
        click.echo(f"compose-gen: internal error: {exc.__class__.__name__}: {exc} "
                   "(rerun with --debug for the traceback and report it)", err=True)
        return ExitCode.FAILURE
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return int(result or 0)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# The commands register themselves on `cli` when their modules are imported.
from compose_gen.cli import stack_commands, tool_commands  # noqa: E402, F401
