"""pytest-django's per-worker test databases, cloned from a template migrated once.

pytest-django makes every xdist worker create `test_<name>_gw<N>` and run every migration on
it. Under a task the plugin instead keeps, on the task's own server, a template migrated once
per migration state (named by a hash of the migration files, Django's version and the alias),
and points Django's `TEST["TEMPLATE"]` at it: `CREATE DATABASE ... TEMPLATE` copies it in a
fraction of a second, and `TEST["MIGRATE"] = False` tells Django there is nothing to migrate.
pytest-django's options keep their meaning:

- `--create-db` and the default: each worker's database is created anew, as a clone;
- `--reuse-db`: an existing database is kept and Django's migrate brings it up to date, as
  usual; a missing one is created as a clone (so migrate finds nothing to do);
- `--no-migrations`: pytest-django builds tables from the models; no template is involved.

The first worker to need a template builds it under a file lock in the task's dir; the others
(and other runs of the task) wait for it and clone. The template is separate from the E2E
seed template unless `--compose-gen-db-template=seeded` asks for that one.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from compose_gen.pytest_plugin.claims import claims_for
from compose_gen.pytest_plugin.discovery import ActiveTask, task_lease
from compose_gen.pytest_plugin.django_settings import is_postgresql, on_task_server
from compose_gen.pytest_plugin.options import DB_TEMPLATE_OPTION, DbTemplateMode
from compose_gen.pytest_plugin.workers import WorkerIdentity

TEMPLATE_INFIX = "_mig_"
BUILDING_INFIX = "_migb_"
# Migrating a big project from scratch can take minutes; the other workers wait that long.
BUILD_TIMEOUT = 900.0


class TemplateError(Exception):
    """The migrated template could not be built or found; the message is for people."""


def migration_digest(alias: str) -> str:
    """A hash of what a migrated database depends on: every migration file, Django's version,
    the models of apps without migrations, and the alias (routers may differ per alias)."""
    import django
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    from compose_gen.database import seed_hash

    loader = MigrationLoader(None, ignore_no_migrations=True)
    parts = [f"django {django.__version__}".encode(), f"alias {alias}".encode()]
    for key in sorted(loader.disk_migrations):
        module = sys.modules.get(type(loader.disk_migrations[key]).__module__)
        parts.append("/".join(key).encode())
        parts.append(_source(getattr(module, "__file__", None)))
    for label in sorted(loader.unmigrated_apps):
        models = apps.get_app_config(label).models_module if label in apps.app_configs else None
        parts.append(f"unmigrated {label}".encode())
        parts.append(_source(getattr(models, "__file__", None)))
    return seed_hash(parts)


def _source(path: str | None) -> bytes:
    try:
        return Path(path).read_bytes() if path else b""
    except OSError:
        return b""


def template_name(prefix: str, alias: str, digest: str) -> str:
    from compose_gen.database import MAX_NAME_BYTES

    name = f"{prefix}{TEMPLATE_INFIX}{_alias_tag(alias)}_{digest[:12]}"
    if len(name.encode()) > MAX_NAME_BYTES:
        raise TemplateError(f"the template name {name} is longer than PostgreSQL's "
                            f"{MAX_NAME_BYTES} bytes; shorten database.name_prefix")
    return name


def _alias_tag(alias: str) -> str:
    return hashlib.sha256(alias.encode()).hexdigest()[:4]


def migrate_into(alias: str, database_name: str) -> None:
    """Run Django's migrate for `alias` against another database of the same server."""
    from django.core.management import call_command
    from django.db import connections

    connection = connections[alias]
    saved = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = database_name
    try:
        call_command("migrate", database=alias, interactive=False, verbosity=0,
                     run_syncdb=True)
    finally:
        connection.close()
        connection.settings_dict["NAME"] = saved


def ensure_migrated_template(task: ActiveTask, identity: WorkerIdentity, alias: str,
                             admin_url: str) -> tuple[str, bool]:
    """The migrated template of `alias` on the task's server, built if missing.

    Returns (name, whether this process built it). Built under a temporary name and renamed
    when complete, as the E2E seed template is; older templates of the alias are dropped.
    """
    from filelock import Timeout

    from compose_gen import database

    digest = migration_digest(alias)
    name = template_name(task.name_prefix, alias, digest)
    claims = claims_for(task, identity)
    try:
        with claims.lock(f"template-{name}.lock", timeout=BUILD_TIMEOUT):
            if database.is_ready_template(admin_url, name):
                return name, False
            building = name.replace(TEMPLATE_INFIX, BUILDING_INFIX, 1)
            database.create_empty(admin_url, building)
            try:
                migrate_into(alias, building)
            except BaseException:
                database.drop(admin_url, [building])
                raise
            database.finish_template(admin_url, building, name)
            stale = f"{task.name_prefix}{TEMPLATE_INFIX}{_alias_tag(alias)}_"
            for other in database.list_databases(admin_url):
                if other.startswith(stale) and other != name:
                    database.drop_template(admin_url, other)
            return name, True
    except Timeout as err:
        raise TemplateError(
            f"waited {BUILD_TIMEOUT:.0f} s for another worker to build the migrated template "
            f"{name} of task '{task.task_id}' (a stuck run? or use "
            f"{DB_TEMPLATE_OPTION}=off)") from err


def aliases_for_setup(session: Any) -> list[str]:
    """The aliases pytest-django will create test databases for (all, if it cannot say)."""
    from django.db import connections

    try:
        from pytest_django.fixtures import _get_databases_for_setup

        aliases, _ = _get_databases_for_setup(session.items)
        return sorted(aliases)
    except (ImportError, TypeError, ValueError):  # an older or newer pytest-django
        return list(connections)


def prepare_test_databases(task: ActiveTask, identity: WorkerIdentity, request: Any,
                           mode: DbTemplateMode) -> list[tuple[str, str, bool]]:
    """Point each PostgreSQL test database of the task's server at a template; returns
    (alias, template, built here) for each one prepared. Runs right before pytest-django's
    `django_db_setup`, whose option fixtures are ready by then."""
    from compose_gen.errors import ComposeGenError
    from compose_gen.pytest_plugin.worker_databases import admin_url, find_template

    if mode is DbTemplateMode.OFF or not request.getfixturevalue("django_db_use_migrations"):
        return []
    keepdb = bool(request.getfixturevalue("django_db_keepdb")
                  and not request.getfixturevalue("django_db_createdb"))
    blocker = request.getfixturevalue("django_db_blocker")
    from django.db import connections

    url = admin_url(task)
    prepared = []
    for alias in aliases_for_setup(request.session):
        settings_dict = connections[alias].settings_dict
        test = settings_dict.setdefault("TEST", {})
        if not is_postgresql(settings_dict) or test.get("MIRROR") or test.get("TEMPLATE") \
                or not on_task_server(task, settings_dict):
            continue  # another engine, a mirror, the project's own template, or not ours
        try:
            if mode is DbTemplateMode.SEEDED:
                template = find_template(task, url, task_lease(task))
                if template is None:
                    raise TemplateError(f"task '{task.task_id}' has no seeded template (its "
                                        f"config has no seed); use {DB_TEMPLATE_OPTION}="
                                        "migrated")
                built = False  # Django's migrate still runs: the seed may lag the code
            else:
                with blocker.unblock():
                    template, built = ensure_migrated_template(task, identity, alias, url)
                if not keepdb:
                    test["MIGRATE"] = False  # the clone is at the current migration state
        except ComposeGenError as err:
            raise TemplateError(f"no template for DATABASES['{alias}'] of task "
                                f"'{task.task_id}': {err}") from err
        test["TEMPLATE"] = template
        prepared.append((alias, template, built))
    return prepared
