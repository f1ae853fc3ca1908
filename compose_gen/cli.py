"""The command line: parse options, call the core, map failures to exit codes. Nothing else.

Heavy libraries (python-on-whales, psycopg, jinja2) are imported by the commands that need
them, never here: `compose-gen env` runs in hooks and must start fast.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
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
        from compose_gen.task import detect_task_id, make_task

        return make_task(detect_task_id(task_id), config)


task_option = click.option(
    "--task-id", "-t", metavar="ID", envvar=None,
    help="The task. Default: $ZENFLOW_TASK_ID, else the <id> of .zenflow/worktrees/<id>/ "
         "around the current directory.")
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
    4 no free port block, 5 timeout, 130 interrupted.
    """
    ctx.obj = _State(config_file, project_dir)


def _workers(config, workers: int | None) -> int:  # noqa: ANN001
    count = config.workers.default if workers is None else workers
    if not 1 <= count <= config.workers.max:
        raise UsageError(f"--workers must be between 1 and {config.workers.max} "
                         f"(workers.max), got {count}")
    return count


@cli.command()
@task_option
@workers_option
@click.pass_obj
def render(state: _State, task_id: str | None, workers: int | None) -> None:
    """Write the task's files without starting anything.

    Leases the task's port block and writes docker-compose.zenflow.yml, .env.task (mode 0600)
    and workers.json into <tasks_dir>/<task id>/. Needs the Compose CLI, not a Docker daemon.
    """
    from compose_gen.lifecycle import render_task

    config = state.config()
    task = state.task(config, task_id)
    rendered = render_task(config, task, _workers(config, workers))
    block = rendered.lease.block
    click.echo(f"rendered task '{task.id}' (project {task.project_name}, ports "
               f"{block.start}-{block.end}) into {task.dir}")


@cli.command()
@task_option
@click.option("--worker", "-i", type=int, default=None, metavar="I",
              help="Add worker I's settings under the generic names (E2E_BASE_URL, "
                   "the database URL env, MEDIA_VOLUME, E2E_WORKER_INDEX).")
@click.option("--format", "fmt", type=click.Choice(["shell", "dotenv", "json"]),
              default="shell", show_default=True,
              help="shell: export lines for eval; dotenv: KEY='value'; json: an object.")
@click.pass_obj
def env(state: _State, task_id: str | None, worker: int | None, fmt: str) -> None:
    """Print the task's settings (what `render` or `up` wrote), for a shell or a test runner.

    \b
    Examples:
      eval "$(compose-gen env --task-id my-task --worker 0)"
      compose-gen env --format json | jq .POSTGRES_PORT
    """
    from compose_gen import paths
    from compose_gen.lifecycle import read_env_file

    config = state.config()
    task = state.task(config, task_id)
    env_path = task.dir / paths.ENV_FILE
    if not env_path.is_file():
        raise UsageError(f"task '{task.id}' has no {paths.ENV_FILE} in {task.dir}",
                         hint=f"run `compose-gen render --task-id {task.id}` or `up` first")
    values = read_env_file(env_path)
    if worker is not None:
        count = int(values.get("E2E_WORKERS", "0"))
        if not 0 <= worker < count:
            raise UsageError(f"task '{task.id}' has {count} workers (0..{count - 1}), "
                             f"not worker {worker}")
        values["E2E_WORKER_INDEX"] = str(worker)
        for key in ("E2E_BASE_URL", "MEDIA_VOLUME"):
            if f"{key}_W{worker}" in values:
                values[key] = values[f"{key}_W{worker}"]
        values[config.database.url_env] = values[f"DATABASE_URL_W{worker}"]
    if fmt == "json":
        click.echo(json.dumps(values, indent=2))
    elif fmt == "dotenv":
        click.echo("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()), nl=False)
    else:
        click.echo("".join(f"export {k}={shlex.quote(v)}\n" for k, v in values.items()),
                   nl=False)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one error handler for every command."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get(DEBUG_ENV) == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="compose-gen: %(levelname)s: %(message)s")
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
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
