"""The commands of a task's stack: render, env, up, down, status, ls, reset, gc, doctor."""

from __future__ import annotations

import json

import click

from compose_gen.cli import _progress, _State, _workers, cli, task_option, workers_option
from compose_gen.errors import ExitCode


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
    from compose_gen.boot import up as boot

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
