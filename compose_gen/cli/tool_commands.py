"""The commands around the stack: Zenflow and worktree hooks, the MCP server, prove."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from compose_gen.cli import _progress, _State, cli, task_option
from compose_gen.errors import UsageError


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
