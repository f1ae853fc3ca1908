"""The command line: parse options, call the core, map failures to exit codes. Nothing else.

Heavy libraries (python-on-whales, psycopg, jinja2) are imported by the commands that need
them, never here: `compose-gen env` runs in hooks and must start fast.
"""

from __future__ import annotations

import json
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
    _print_changes(rendered)


def _print_changes(rendered) -> None:  # noqa: ANN001 - lifecycle.Rendered, imported lazily
    """What compose-gen did beyond the base files: said, never silent."""
    for port in rendered.plan.shared_ports:
        if port.added:
            click.echo(f"  added port {port.host_port} on 127.0.0.1 for {port.service}:"
                       f"{port.target} (the base publishes none; {port.env_name})")
    for note in rendered.notes:
        click.echo(f"  {note}")


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

    It runs in hooks and test start-up, so it starts without the Docker and PostgreSQL
    libraries (and, given only the options below, without click: see __main__.py).

    \b
    Examples:
      eval "$(compose-gen env --task-id my-task --worker 0)"
      compose-gen env --format json | jq .POSTGRES_PORT
    """
    from compose_gen.envfile import format_env, task_env

    config = state.config()
    task = state.task(config, task_id)
    values = task_env(task.id, task.dir, config.database.url_env, worker)
    click.echo(format_env(values, fmt), nl=False)


def _progress(message: str) -> None:
    """Progress of the long steps, on a terminal only (CI logs get the summary)."""
    if sys.stderr.isatty():
        click.echo(f"compose-gen: {message}...", err=True)


@cli.command()
@task_option
@workers_option
@click.option("--timeout", type=float, default=300, show_default=True, metavar="S",
              help="Seconds to wait for everything to be up (exit 5 when exceeded).")
@click.option("--no-seed", is_flag=True,
              help="Skip the seed: workers get empty databases.")
@click.pass_obj
def up(state: _State, task_id: str | None, workers: int | None, timeout: float,
       no_seed: bool) -> None:
    """Boot the task's stack: render, start the database, seed once, clone per worker.

    \b
    1. render the task's files (its port block is kept while its lease lives);
    2. start the database service and wait until it accepts connections;
    3. build the template database with the seed (reused while the seed inputs are unchanged);
    4. create <name_prefix>_w<i> from the template for every worker;
    5. start every other service and each worker's copies, waiting for their health checks.

    A failure or Ctrl-C tears down what this call started. Running it again on a running
    stack with the same workers reports it and changes nothing.
    """
    from compose_gen.lifecycle import up as boot

    config = state.config()
    task = state.task(config, task_id)
    result = boot(config, task, _workers(config, workers), timeout=timeout, seed=not no_seed,
                  progress=_progress)
    plan = result.rendered.plan
    block = result.rendered.lease.block
    verb = "is already up" if result.already_up else "is up"
    click.echo(f"task '{task.id}' {verb}: project {task.project_name}, ports "
               f"{block.start}-{block.end} on 127.0.0.1")
    _print_changes(result.rendered)
    for port in plan.shared_ports:
        click.echo(f"  {port.env_name:<16} {port.host_port}  ({port.service}:{port.target})")
    if result.template:
        how = "seeded now" if result.seeded else "reused"
        click.echo(f"  template         {result.template} ({how})")
    for worker in plan.workers:
        url = worker.base_url or "-"
        click.echo(f"  worker {worker.index:<9} {url}  database {worker.database}")
    click.echo(f"  settings         {task.dir / '.env.task'}")


@cli.command()
@task_option
@click.option("--keep-volumes", is_flag=True,
              help="Keep the task's named volumes (media, data) for a later `up`.")
@click.pass_obj
def down(state: _State, task_id: str | None, keep_volumes: bool) -> None:
    """Remove the task's containers, networks, volumes, files and lease.

    Idempotent: fine on a half-built stack or one that is already gone. Only resources that
    carry the task's label are removed.
    """
    from compose_gen.lifecycle import down as teardown

    config = state.config()
    task = state.task(config, task_id)
    teardown(config, task, keep_volumes=keep_volumes)
    click.echo(f"task '{task.id}' is down")


def _print_stacks(infos: list, as_json: bool) -> None:  # noqa: ANN001
    if as_json:
        click.echo(json.dumps([info.as_json() for info in infos], indent=2))
        return
    if not infos:
        click.echo("no compose-gen stacks on this Docker host")
        return
    for info in infos:
        data = info.as_json()
        ports = "-" if data["ports"] is None else f"{data['ports'][0]}-{data['ports'][1]}"
        workers = data["workers"] if data["workers"] is not None else "-"
        click.echo(f"{info.task_id or '?':<40} {info.state:<14} ports {ports:<12} "
                   f"workers {workers}  {info.project}")
        for container in data["containers"]:
            bound = ", ".join(container["ports"]) or "no ports"
            click.echo(f"    {container['service'] or container['name']:<24} "
                       f"{container['state']:<10} {bound}")


@cli.command()
@task_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(task_id: str | None, as_json: bool) -> None:
    """Show one task's stack (or every stack) with its state, ports and workers.

    Needs no config: stacks are found by their `dev.compose-gen.task` label.
    """
    from compose_gen.inventory import stacks
    from compose_gen.task import find_task_id

    found = find_task_id(task_id or None)
    _print_stacks(stacks(found.id if found else None), as_json)


@cli.command(name="ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_stacks(as_json: bool) -> None:
    """List every compose-gen stack on this Docker host."""
    from compose_gen.inventory import stacks

    _print_stacks(stacks(), as_json)


@cli.command()
@task_option
@click.option("--worker", "-i", type=int, required=True, metavar="I",
              help="The worker whose database (and media) is re-created from the template.")
@click.option("--database-only", is_flag=True,
              help="Keep the worker's media volume as it is; only re-clone its database.")
@click.pass_obj
def reset(state: _State, task_id: str | None, worker: int, database_only: bool) -> None:
    """Give worker I a pristine database again (a fresh clone of the seeded template) and a
    fresh copy of the seeded media.

    Use it between test files; the database takes tens of milliseconds.
    """
    from compose_gen.lifecycle import reset as reclone

    config = state.config()
    task = state.task(config, task_id)
    seconds = reclone(config, task, worker, database_only=database_only)
    what = "database" if database_only else "database and media"
    click.echo(f"worker {worker} of task '{task.id}' has a fresh {what} "
               f"({seconds * 1000:.0f} ms)")


@cli.command()
@click.option("--dry-run", "-n", is_flag=True, help="Only list what would be removed.")
def gc(dry_run: bool) -> None:
    """Remove stacks and leases whose task is gone.

    A task is gone when its lease is missing, its worktree (recorded by a worktree tool's
    hook) or project dir was deleted, or its `up` died before finishing. Only resources
    labelled by compose-gen are considered; stacks of another lease registry are left alone
    unless their dir is gone.
    """
    from compose_gen.inventory import gc as collect

    items = collect(dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for item in items:
        click.echo(f"{verb} {item.project} (task '{item.task_id}', {len(item.resources)} "
                   f"resources): {item.reason}")
    if not items:
        click.echo("nothing to collect")


@cli.group()
def zenflow() -> None:
    """Wire compose-gen into Zenflow: every new task worktree gets its own stack."""


@zenflow.command(name="init")
@click.option("--repo", "repo", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=None, help="The repository. Default: the git work tree around the "
                                 "current directory.")
def zenflow_init(repo: Path | None) -> None:
    """Point Zenflow's setup_script at `compose-gen zenflow setup`.

    Writes a small stub into the repository's git dir (shared by every worktree; it records
    this Python) and writes or merges .zenflow/settings.json: its other keys are kept, and an
    existing setup_script still runs, after ours. Nothing has to be committed before a new
    worktree bootstraps. Replaces the shell hooks of older versions. Running it again changes
    nothing.
    """
    from compose_gen.zenflow import describe, init

    for line in describe(init(repo)):
        click.echo(line)


def _hook_context(state: _State):  # noqa: ANN202
    from compose_gen.zenflow import hook_context

    return hook_context(state.config, click.echo, _progress)


@zenflow.command(name="setup")
@click.pass_obj
def zenflow_setup(state: _State) -> int:
    """Zenflow's setup_script: bring up the stack of the current worktree's task.

    \b
    The task: $ZENFLOW_TASK_ID, else the <id> of .zenflow/worktrees/<id>/ around here.
    Renders its files, then runs `up` (unless COMPOSE_GEN_SKIP_UP=1: render only), with
    the config's default workers and COMPOSE_GEN_UP_TIMEOUT seconds (default 300).
    On failure one line on stderr, `compose-gen: error: <step> failed (exit N): <why>`, and
    the step's exit code.
    """
    from compose_gen.zenflow import setup

    return int(setup(_hook_context(state)))


@zenflow.command(name="teardown")
@click.pass_obj
def zenflow_teardown(state: _State) -> int:
    """`compose-gen down` for the current worktree's task (Zenflow calls nothing on archive)."""
    from compose_gen.zenflow import teardown

    return int(teardown(_hook_context(state)))


@cli.group()
def hooks() -> None:
    """Wire compose-gen into a worktree tool: every new worktree gets its own stack.

    Tools: zenflow, claude (Claude Code), cursor, conductor, git. Each install merges into
    the tool's own config file, keeps every other key, and changes nothing when run again.
    See docs/worktree-tools.md.
    """


tool_option = click.option("--for", "tool", required=True, metavar="TOOL",
                           help="zenflow, claude, cursor, conductor or git.")
repo_option = click.option(
    "--repo", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
    help="The repository. Default: the git work tree around the current directory.")


@hooks.command(name="install")
@tool_option
@repo_option
def hooks_install(tool: str, repo: Path | None) -> None:
    """Make TOOL run `compose-gen hooks run TOOL setup` (and teardown) for its worktrees."""
    from compose_gen.hooks import install

    for line in install(tool, repo or Path.cwd()) or [f"{tool}: already installed"]:
        click.echo(line)


@hooks.command(name="uninstall")
@tool_option
@repo_option
def hooks_uninstall(tool: str, repo: Path | None) -> None:
    """Take compose-gen out of TOOL's config again (the user's own entries stay)."""
    from compose_gen.hooks import uninstall

    for line in uninstall(tool, repo or Path.cwd()) or [f"{tool}: not installed"]:
        click.echo(line)


@hooks.command(name="status")
@click.option("--for", "tool", default=None, metavar="TOOL", help="Only this tool.")
@repo_option
def hooks_status(tool: str | None, repo: Path | None) -> None:
    """Which tools are wired in this repository, where, and what tears their stacks down."""
    from compose_gen.hooks import TOOLS, status

    for item in status(repo or Path.cwd(), (tool,) if tool else TOOLS):
        state = "installed" if item.installed else "not installed"
        click.echo(f"{item.tool:<10} {state:<14} {item.config}; teardown: {item.teardown}")


@hooks.command(name="run")
@click.argument("tool")
@click.argument("event", type=click.Choice(["setup", "teardown"]))
@click.pass_obj
def hooks_run(state: _State, tool: str, event: str) -> int:
    """What TOOL's config calls: set up (render, `up`) or tear down its worktree's stack.

    Reads what TOOL gives: Claude Code's JSON on stdin, Conductor's $CONDUCTOR_* variables,
    the worktree as the current directory. COMPOSE_GEN_SKIP_UP=1 renders only. On failure one
    line on stderr and a non-zero exit.
    """
    from compose_gen.config import load_config
    from compose_gen.hooks import HookRun, run

    hook = HookRun(cwd=Path.cwd(), environ=os.environ, echo=click.echo, progress=_progress,
                   load_config=lambda where: load_config(state.project_dir or where,
                                                         config_file=state.config_file),
                   stdin=sys.stdin.read)
    return int(run(tool, event, hook))


@cli.command()
@click.pass_obj
def mcp(state: _State) -> None:
    """An MCP server on stdio for coding agents: status, env, up, reset, down, prove.

    Needs the optional extra: pip install 'compose-gen[mcp]'. The task defaults as for every
    command (the worktree around the server's directory).
    """
    from compose_gen.mcp_server import serve

    serve(state.project_dir, state.config_file)


@cli.command()
@click.pass_obj
def doctor(state: _State) -> None:
    """Check Docker, Compose, the config, the base files and the port range.

    One line per finding; exits 1 when something would make `up` fail.
    """
    from compose_gen.doctor import run_checks

    blocking = 0
    for finding in run_checks(state.project_dir, state.config_file):
        click.echo(f"{finding.level:<5} {finding.text}")
        blocking += finding.level == "error"
    if blocking:
        raise click.exceptions.Exit(ExitCode.FAILURE)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--runs", "-n", type=click.IntRange(min=1), default=5, show_default=True,
              help="Consecutive runs of the command.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where proof_run<i>.txt and report.{md,json,html} go. Default: the task's "
                   "dir when a task is known, else ./proof.")
@task_option
@click.option("--junit", "junit_glob", metavar="GLOB",
              help="JUnit XML files the command writes (for runners other than pytest and "
                   "Playwright, whose JUnit output is switched on automatically).")
@click.option("--keep-going", is_flag=True,
              help="Run all N runs even after one failed, to measure how flaky a suite is.")
@click.option("--history", "show_history", is_flag=True,
              help="List the tests with the highest flake rate across past proofs, and exit.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def prove(state: _State, runs: int, out_dir: Path | None, task_id: str | None,
          junit_glob: str | None, keep_going: bool, show_history: bool,
          command: tuple[str, ...]) -> int:
    """Run CMD N times and prove it has no flaky test (0 flaky over N consecutive runs).

    Per-test results come from JUnit XML, never from grepping output. Each run writes
    proof_run<i>.txt (full output, timings, and a closing line `<P> passed, <F> failed,
    <K> flaky`); report.md/json/html list each test's outcome per run, flaky and failing
    tests first, and each suite's duration per run. Exits 0 only when every run passed
    with no flaky test. By default it stops at the first failed run (--keep-going runs all).

    \b
    Examples:
      compose-gen prove --runs 5 -- pytest -n 4 -m api
      compose-gen prove --runs 5 --task-id T -- npx playwright test --workers=4
      compose-gen prove --history
    """
    from compose_gen import paths
    from compose_gen.proof import flake_history
    from compose_gen.proof import prove as run_proof

    history_dir = paths.state_dir() / "history"
    if show_history:
        records = flake_history(history_dir)
        for record in records:
            click.echo(f"{record.rate:6.1%}  {record.flaky_invocations}/{record.invocations} "
                       f"proofs flaky  {record.test_id}")
        if not records:
            click.echo("no flaky test recorded")
        return 0
    if not command:
        raise UsageError("no command to prove", hint="e.g. compose-gen prove -- pytest -q")
    env: dict[str, str] = {}
    if out_dir is None or task_id is not None:
        task = _optional_task(state, task_id)
        if task is not None:
            env["ZENFLOW_TASK_ID"] = task.id
            out_dir = out_dir or task.dir
    result = run_proof(list(command), runs=runs, out_dir=out_dir or Path("proof"),
                       junit_glob=junit_glob, keep_going=keep_going, env=env,
                       echo=click.echo, history_dir=history_dir)
    click.echo(result.summary(), err=not result.ok)
    click.echo(f"proof files and report in {result.out_dir}")
    return int(result.exit_code)


def _optional_task(state: _State, task_id: str | None):  # noqa: ANN202
    """The task when one is given or detected, else None (prove works without a task)."""
    from compose_gen.errors import ConfigError
    from compose_gen.task import find_task_id

    if find_task_id(task_id, validate=False) is None:
        return None
    try:
        config = state.config()
    except ConfigError:
        if task_id is not None:
            raise
        return None
    return state.task(config, task_id)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one error handler for every command."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get(DEBUG_ENV) == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="compose-gen: %(levelname)s: %(message)s")
    # A CI cancel or `timeout` sends SIGTERM: treat it like Ctrl-C so `up` tears down.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
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
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return int(result or 0)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
