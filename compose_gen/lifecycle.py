"""What the commands do, end to end: render, up, down, reset, status, gc.

This module composes the pure pieces (config, task, ports, leases, render) with the two doors
to the outside (stack for Docker, database for PostgreSQL). It never imports click.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from compose_gen import paths, render, stack
from compose_gen.config import Config
from compose_gen.leases import Lease, LeaseRegistry
from compose_gen.ports import block_is_free
from compose_gen.task import TaskSpec


@dataclass(frozen=True)
class Rendered:
    plan: render.RenderPlan
    lease: Lease
    files: stack.ComposeFiles


def base_files(config: Config) -> stack.ComposeFiles:
    return stack.ComposeFiles(project_dir=config.project_dir, files=config.compose_paths,
                              env_files=stack.env_files_for(config.project_dir))


def task_files(config: Config, task: TaskSpec) -> stack.ComposeFiles:
    """Base files + the task's override, its env file and project name: always all together."""
    return stack.ComposeFiles(
        project_dir=config.project_dir,
        files=(*config.compose_paths, task.dir / paths.OVERRIDE_FILE),
        env_files=stack.env_files_for(config.project_dir, task.dir / paths.ENV_FILE),
        project_name=task.project_name)


def _placeholder_ports(config: Config) -> dict[str, str]:
    # Base files may take host ports from ${POSTGRES_PORT} etc.; any value parses, and the
    # override replaces every published port anyway.
    return {name: "1" for name in config.ports.names.values()}


def render_task(config: Config, task: TaskSpec, workers: int, *,
                registry: LeaseRegistry | None = None, recheck: bool = False) -> Rendered:
    """Lease the task's port block and write its three files; nothing is started."""
    registry = registry or LeaseRegistry()
    for path in config.compose_paths:
        if not path.is_file():
            from compose_gen.errors import ConfigError

            raise ConfigError(f"{config.source_label}: compose file {path} does not exist",
                              hint="fix compose_files in the config")
    spec = base_files(config)
    base = stack.read_compose_config(spec, _placeholder_ports(config))
    # Validate against the base stack before taking a lease, so bad input leaves nothing.
    existing = registry.get(task.project_name)
    probe_block = existing.block if existing else _any_block(config)
    render.plan(config, task, probe_block, base, workers, "x")

    lease = registry.acquire(task, config, block_is_free=block_is_free, recheck=recheck)
    try:
        result = render.plan(config, task, lease.block, base, workers, lease.password)
        if _base_uses(config, result.env):
            # The base files interpolate task values (e.g. ${BACKEND_PORT}): read them again
            # with the real ones so that the worker copies carry them.
            base = stack.read_compose_config(spec, dict(result.env))
            result = render.plan(config, task, lease.block, base, workers, lease.password)
        files = render.render_files(config, result, list(config.compose_paths))
        render.write_files(task, files)
    except BaseException:
        if existing is None:
            registry.release(task.project_name)
        raise
    render.exclude_from_git(config)
    return Rendered(plan=result, lease=lease, files=task_files(config, task))


def _any_block(config: Config):  # noqa: ANN202 - a PortBlock for validation only
    from compose_gen.ports import block_for_slot

    return block_for_slot(0, config.ports)


def _base_uses(config: Config, env: dict[str, str] | object) -> bool:
    names = set(env)  # type: ignore[arg-type]
    for path in config.compose_paths:
        text = path.read_text(encoding="utf-8")
        if names & set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text)):
            return True
    return False


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
