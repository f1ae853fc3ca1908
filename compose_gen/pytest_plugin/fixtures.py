"""The plugin's fixtures: a worker's own media dir and database, and its Django settings."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from compose_gen.pytest_plugin import stash
from compose_gen.pytest_plugin.claims import ClaimKind, SharedResourceError, claims_for
from compose_gen.pytest_plugin.discovery import ActiveTask
from compose_gen.pytest_plugin.options import TASK_OPTION, MediaMode, media_mode
from compose_gen.pytest_plugin.workers import (
    WorkerIdentity,
    worker_database_name,
    worker_media_root,
)


@dataclass(frozen=True)
class ComposeGenWorker:
    """What `compose_gen_worker` hands a test: this worker's own resources on the task's stack."""

    index: int
    worker_id: str
    task_id: str
    database: str
    database_url: str
    media_root: Path
    env: Mapping[str, str] = field(repr=False)


def _require_task(request: pytest.FixtureRequest) -> tuple[ActiveTask, WorkerIdentity]:
    task = request.config.stash.get(stash.TASK, None)
    if task is None:
        pytest.fail("compose-gen: no task for this run, so no per-worker database or media dir: "
                    f"pass {TASK_OPTION} ID, set $ZENFLOW_TASK_ID, or run inside "
                    ".zenflow/worktrees/<id>/", pytrace=False)
    return task, request.config.stash[stash.IDENTITY]


@pytest.fixture(scope="session")
def compose_gen_media_root(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This worker's own fresh media dir (task slug + xdist worker id + run in its path)."""
    from compose_gen import media

    task, identity = _require_task(request)
    path = worker_media_root(task, identity)
    claims = claims_for(task, identity)
    try:
        claims.take(ClaimKind.MEDIA_DIR, str(path), owned=True)
    except SharedResourceError as err:
        pytest.fail(str(err), pytrace=False)
    media.fresh_dir(path)
    try:
        yield path
    finally:
        media.remove_dir(path)
        claims.release(ClaimKind.MEDIA_DIR, str(path))


@pytest.fixture(scope="session")
def compose_gen_worker(request: pytest.FixtureRequest,
                       compose_gen_media_root: Path) -> Iterator[ComposeGenWorker]:
    """This xdist worker's own database (a clone of the task's seeded template) and media dir.

    Created the first time a test of this worker asks for it, so a crashed worker that comes
    back under a new id simply gets a database of its own; dropped at the end of the session.
    """
    from compose_gen.database import with_database
    from compose_gen.errors import ComposeGenError
    from compose_gen.pytest_plugin.worker_databases import admin_url, create_worker_database

    task, identity = _require_task(request)
    claims = claims_for(task, identity)
    try:
        name = worker_database_name(task.name_prefix, identity)
        claims.take(ClaimKind.DATABASE, name, owned=True)
        create_worker_database(task, name)
    except (ComposeGenError, SharedResourceError) as err:
        pytest.fail(f"compose-gen: no database for worker {identity.worker_id} of task "
                    f"'{task.task_id}': {err}", pytrace=False)
    try:
        yield ComposeGenWorker(
            index=identity.index, worker_id=identity.worker_id, task_id=task.task_id,
            database=name, database_url=with_database(task.env[task.url_env], name),
            media_root=compose_gen_media_root, env=task.env)
    finally:
        from compose_gen import database

        try:
            database.drop(admin_url(task), [name])
        except ComposeGenError as err:
            warnings.warn(f"compose-gen: could not drop {name}: {err}", stacklevel=1)
        else:
            claims.release(ClaimKind.DATABASE, name)


@pytest.fixture(scope="session", autouse=True)
def _compose_gen_django(request: pytest.FixtureRequest) -> Iterator[None]:
    """With pytest-django: test databases on the task's server and this worker's alone, and
    this worker's own MEDIA_ROOT, in place before the first test."""
    config = request.config
    task = config.stash.get(stash.TASK, None)
    if task is None or not config.pluginmanager.hasplugin("django"):
        yield
        return
    try:
        from pytest_django.lazy_django import django_settings_is_configured
    except ImportError:  # pragma: no cover - another plugin registered as "django"
        yield
        return
    if not django_settings_is_configured():
        yield
        return
    from compose_gen.pytest_plugin import django_settings

    # pytest-django's own fixture adds the xdist suffix (test_<name>_gw0) to the test names.
    request.getfixturevalue("django_db_modify_db_settings")
    from django.conf import settings

    identity = config.stash[stash.IDENTITY]
    try:
        taken = django_settings.check_django_settings(task, identity, settings.DATABASES)
    except SharedResourceError as err:
        pytest.fail(str(err), pytrace=False)
    override = guard = None
    if media_mode(config) is MediaMode.ON:
        started = time.time()
        root = request.getfixturevalue("compose_gen_media_root")
        override = django_settings.override_media_root(root)
        basetemp = request.getfixturevalue("tmp_path_factory").getbasetemp()
        guard = django_settings.MediaGuard(task, identity, [root, basetemp], started)
        config.stash[stash.MEDIA_GUARD] = guard
    try:
        yield
    finally:
        if guard is not None:
            del config.stash[stash.MEDIA_GUARD]
            guard.release()
        if override is not None:
            override.disable()
        claims = claims_for(task, identity)
        for kind, name in taken:
            claims.release(kind, name)
