"""The plugin's hooks: find the task, load its settings early, prepare each worker, clean up.

Order of events in one run:

1. `pytest_load_initial_conftests` (a wrapper, so before pytest-django imports the Django
   settings module): find the task; stop the run with one line if it is asked for and cannot
   be served; load its `.env.task` into `os.environ`; tell the process who it is.
2. `pytest_configure`: confirm the worker's identity from pytest-xdist.
3. Fixtures (fixtures.py) give each worker its database, media dir and Django settings;
   `pytest_fixture_setup` points pytest-django's test databases at a migrated template
   right before `django_db_setup` creates them; `pytest_runtest_call` has the media guard
   look at the MEDIA_ROOT each test ran with.
4. `pytest_sessionfinish` (controller): sweep what crashed workers left; `pytest_unconfigure`
   puts the environment back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from compose_gen.pytest_plugin import stash
from compose_gen.pytest_plugin.claims import SharedResourceError, claims_for, sweep_dead_claims
from compose_gen.pytest_plugin.discovery import apply_env, check_can_serve, load_task
from compose_gen.pytest_plugin.options import (
    MEDIA_ROOT_ENV,
    RUN_ENV,
    TASK_OPTION,
    WORKER_ID_ENV,
    WORKER_INDEX_ENV,
    add_options,
    db_template_mode,
    media_mode,
)
from compose_gen.pytest_plugin.workers import (
    configured_identity,
    early_identity,
    export_identity,
)

log = logging.getLogger("compose_gen.pytest_plugin")

NO_TASK = (f"compose-gen: inactive, no task asked for ({TASK_OPTION}, $ZENFLOW_TASK_ID or "
           ".zenflow/worktrees/<id>/): tests run against the project's own settings")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> Iterator[None]:
    # A wrapper runs before every plain implementation, pytest-django's tryfirst one included,
    # which imports the Django settings module: the task's env must be in place by then.
    known = early_config.known_args_namespace
    if getattr(known, "help", False) or getattr(known, "version", False):
        yield  # `pytest --help` must work even where the task is not rendered yet
        return
    task = load_task(getattr(known, "compose_gen_task", None), os.environ,
                     early_config.invocation_params.dir,
                     getattr(known, "compose_gen_config", None))
    if task is None:
        early_config.stash[stash.INERT] = NO_TASK
    else:
        identity = early_identity(os.environ)
        if not identity.is_xdist_worker:
            check_can_serve(task)  # once per run: its workers inherit the verdict
        keys = (*task.env, RUN_ENV, WORKER_ID_ENV, WORKER_INDEX_ENV, MEDIA_ROOT_ENV)
        early_config.stash[stash.SAVED_ENV] = {key: os.environ.get(key) for key in keys}
        task = apply_env(task, os.environ)
        if not identity.is_xdist_worker:
            os.environ[RUN_ENV] = identity.run  # inherited by the xdist workers it starts
        export_identity(task, identity, os.environ)
        early_config.stash[stash.TASK] = task
    yield


def pytest_configure(config: pytest.Config) -> None:
    task = config.stash.get(stash.TASK, None)
    if task is None:
        return
    media_mode(config)  # a bad ini value stops the run here, not in the first test
    db_template_mode(config)
    identity = configured_identity(config)
    export_identity(task, identity, os.environ)
    config.stash[stash.IDENTITY] = identity


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist controller: tell each worker which run it belongs to."""
    task = node.config.stash.get(stash.TASK, None)
    if task is not None:
        node.workerinput["compose_gen_run"] = node.config.stash[stash.IDENTITY].run


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    task = config.stash.get(stash.TASK, None)
    if task is None:
        inert = config.stash.get(stash.INERT, None)
        return [inert] if inert and config.get_verbosity() > 0 else None
    host, port = task.server
    lines = [f"compose-gen: task '{task.task_id}' (from {task.how}), project "
             f"{task.project_name}, database server {host}:{port}, settings {task.env_path}",
             f"compose-gen: per-worker media {media_mode(config).value}, pytest-django test "
             f"databases from template: {db_template_mode(config).value}"]
    if task.replaced:
        lines.append("compose-gen: the task's values replaced inherited "
                     + ", ".join(task.replaced))
    return lines


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    """Right before pytest-django's own `django_db_setup` creates the test databases (its
    option fixtures resolved, the xdist suffix applied), point them at a migrated template."""
    if fixturedef.argname == "django_db_setup" \
            and str(getattr(fixturedef.func, "__module__", "")).startswith("pytest_django"):
        task = request.config.stash.get(stash.TASK, None)
        if task is not None:
            _prepare_databases(task, request)
    return (yield)


def _prepare_databases(task: Any, request: pytest.FixtureRequest) -> None:
    from compose_gen.pytest_plugin.django_databases import TemplateError, prepare_test_databases

    identity = request.config.stash[stash.IDENTITY]
    try:
        prepared = prepare_test_databases(task, identity, request,
                                          db_template_mode(request.config))
    except TemplateError as err:
        pytest.fail(f"compose-gen: {err}", pytrace=False)
    request.config.stash[stash.TEMPLATES] = prepared
    for alias, template, built in prepared:
        log.info("compose-gen: worker %s clones DATABASES['%s'] from %s%s", identity.worker_id,
                 alias, template, " (built now)" if built else "")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After each test, while its own settings still hold, look at the MEDIA_ROOT it used."""
    try:
        return (yield)
    finally:
        guard = item.config.stash.get(stash.MEDIA_GUARD, None)
        if guard is not None:
            from compose_gen.pytest_plugin.django_settings import current_media_root

            try:
                guard.check(current_media_root())
            except SharedResourceError as err:
                pytest.fail(str(err), pytrace=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's controller (or the only process) frees its run's claims and sweeps what crashed
    workers left behind."""
    config = session.config
    task = config.stash.get(stash.TASK, None)
    if task is None or hasattr(config, "workerinput"):
        return
    identity = config.stash[stash.IDENTITY]
    try:
        claims_for(task, identity).end_run()
        swept = sweep_dead_claims(task, identity)
    except Exception as err:  # the run's result matters more than a leftover database
        warnings.warn(f"compose-gen: could not clean up after crashed workers: {err}",
                      stacklevel=1)
        return
    from compose_gen import media

    with contextlib.suppress(OSError):  # only when empty: another run may still use it
        media.task_scratch_dir(task.project_name).rmdir()
    if swept:
        log.info("compose-gen: removed %s left by workers that died", ", ".join(swept))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back the environment as it was: pytest may run again in the same process."""
    for key, value in config.stash.get(stash.SAVED_ENV, {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
