"""The seed: what decides whether it must run again, running it into a template database
built under a temporary name, and the media it wrote, copied into each worker's volume."""

from __future__ import annotations

import contextlib
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from compose_gen import override, paths, planning, stack
from compose_gen.config import Config
from compose_gen.errors import ConfigError
from compose_gen.task import REGISTRY_LABEL, TASK_LABEL

if TYPE_CHECKING:
    from compose_gen.lifecycle import Rendered


def seed_digest(config: Config) -> str | None:
    """What decides whether the template must be rebuilt: the seed and its input files."""
    from compose_gen.database import seed_hash

    db = config.database
    if not (db.seed_command or db.seed_sql):
        return None
    parts = [repr(db.seed_command).encode(), (db.seed_service or "").encode()]
    files: set[Path] = set()
    if db.seed_sql:
        sql = (config.project_dir / db.seed_sql).resolve()
        try:
            found = sql.is_file()
        except OSError:  # e.g. a name too long for the file system
            found = False
        if not found:
            raise ConfigError(f"{config.source_label}: database.seed_sql names {sql}, which "
                              "does not exist", hint="fix database.seed_sql in the config")
        files.add(sql)
    for pattern in db.seed_inputs:
        matches = glob.glob(str(config.project_dir / pattern), recursive=True)
        files.update(Path(m).resolve() for m in matches if Path(m).is_file())
    for path in sorted(files):
        parts.append(str(path.relative_to(config.project_dir)
                         if path.is_relative_to(config.project_dir) else path).encode())
        parts.append(path.read_bytes())
    return seed_hash(parts)


def template_for(config: Config, digest: str) -> str:
    from compose_gen.database import template_name

    return template_name(config.database.name_prefix, digest)


def media_seed_ready(rendered: Rendered, digest: str) -> bool:
    """The media seed volume holds what this seed wrote (or no media is seeded)."""
    if not (rendered.plan.seed_copy and rendered.plan.workers[0].media_volume):
        return True
    return rendered.lease.media_seed == digest


def copy_seeded_media(config: Config, plan: planning.RenderPlan, index: int) -> None:
    """Worker `index`'s media volume becomes a copy of what the seed wrote."""
    worker = plan.workers[index]
    if worker.media_volume is None:
        return
    source = f"{plan.task.project_name}_{override.MEDIA_SEED_VOLUME}"
    stack.copy_volume(plan.copy_image, source, worker.media_volume,
                      {TASK_LABEL: plan.task.id, REGISTRY_LABEL: paths.registry_id()})


def build_template(config: Config, rendered: Rendered, digest: str, template: str) -> None:
    """Seed under a temporary name, then rename: a template under its final name is complete.

    The seed runs in the seed service's own copy, whose media dir is the media seed volume
    (emptied first): what it writes there is the media template every worker gets a copy of.
    """
    from compose_gen import database

    db = config.database
    plan = rendered.plan
    from compose_gen.lifecycle import admin_url

    url = admin_url(rendered, config)
    building = database.building_name(db.name_prefix, digest)
    database.create_empty(url, building)
    try:
        if db.seed_sql:
            database.run_sql_file(url, building, (config.project_dir / db.seed_sql).resolve())
        else:
            service = plan.seed_copy or db.seed_service or config.workers.services[0]
            if plan.workers[0].media_volume:
                stack.remove_volume(f"{plan.task.project_name}_{override.MEDIA_SEED_VOLUME}")
            password = rendered.lease.password
            in_network = (f"postgresql://{plan.database.user}:{password}@{db.service}:"
                          f"{db.port}/{building}")
            stack.run_once(rendered.files, service, db.seed_command, {db.url_env: in_network})
        database.finish_template(url, building, template)
    except BaseException:
        with contextlib.suppress(Exception):
            database.drop(url, [building])
        raise
