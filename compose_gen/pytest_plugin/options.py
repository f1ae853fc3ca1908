"""The plugin's names: command-line options, ini keys and environment variables, in one place.

Only the standard library and pytest: this module loads in every pytest run.
"""

from __future__ import annotations

import enum

import pytest

TASK_OPTION = "--compose-gen-task"
CONFIG_OPTION = "--compose-gen-config"
MEDIA_OPTION = "--compose-gen-media"
DB_TEMPLATE_OPTION = "--compose-gen-db-template"
MEDIA_INI = "compose_gen_media"
DB_TEMPLATE_INI = "compose_gen_db_template"

RUN_ENV = "COMPOSE_GEN_PYTEST_RUN"
WORKER_ID_ENV = "COMPOSE_GEN_WORKER_ID"
WORKER_INDEX_ENV = "COMPOSE_GEN_WORKER_INDEX"
MEDIA_ROOT_ENV = "COMPOSE_GEN_MEDIA_ROOT"


class MediaMode(str, enum.Enum):
    """Whether the plugin gives each worker its own MEDIA_ROOT and watches for shared ones."""

    ON = "on"
    OFF = "off"  # the project handles media itself


class DbTemplateMode(str, enum.Enum):
    """Where pytest-django's per-worker test databases come from."""

    MIGRATED = "migrated"  # a clone of a template migrated once per migration state
    SEEDED = "seeded"  # a clone of the task's E2E seed template, then Django's migrate
    OFF = "off"  # pytest-django's own way: every worker runs every migration


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("compose-gen", "compose-gen: a task's own stack per test worker")
    group.addoption(
        TASK_OPTION, metavar="ID", default=None,
        help="Run against this compose-gen task's stack (default: $ZENFLOW_TASK_ID, else the "
             "<id> of .zenflow/worktrees/<id>/ around the current directory). Loads its "
             ".env.task and gives each xdist worker its own database and media dir.")
    group.addoption(
        CONFIG_OPTION, metavar="PATH", default=None,
        help="The compose-gen config (compose-gen.toml or a pyproject.toml with "
             "[tool.compose-gen]); default: $COMPOSE_GEN_CONFIG, else the nearest one in the "
             "current directory or its parents.")
    group.addoption(
        MEDIA_OPTION, choices=[m.value for m in MediaMode], default=None,
        help="'on' (default): each xdist worker gets its own Django MEDIA_ROOT and "
             "$COMPOSE_GEN_MEDIA_ROOT, and a MEDIA_ROOT written by two workers is an error; "
             f"'off': the project handles media itself. Ini: {MEDIA_INI}.")
    group.addoption(
        DB_TEMPLATE_OPTION, choices=[m.value for m in DbTemplateMode], default=None,
        help="'migrated' (default): pytest-django's test database of each xdist worker is a "
             "clone of a template migrated once per migration state on the task's server; "
             "'seeded': a clone of the task's E2E seed template; 'off': pytest-django "
             f"migrates every worker's database itself. Ini: {DB_TEMPLATE_INI}.")
    parser.addini(MEDIA_INI, help=f"Default of {MEDIA_OPTION} (on/off).", default="on")
    parser.addini(DB_TEMPLATE_INI, help=f"Default of {DB_TEMPLATE_OPTION}.",
                  default=DbTemplateMode.MIGRATED.value)


def media_mode(config: pytest.Config) -> MediaMode:
    return MediaMode(_choice(config, MEDIA_OPTION, MEDIA_INI, MediaMode))


def db_template_mode(config: pytest.Config) -> DbTemplateMode:
    return DbTemplateMode(_choice(config, DB_TEMPLATE_OPTION, DB_TEMPLATE_INI, DbTemplateMode))


def _choice(config: pytest.Config, option: str, ini: str, kind: type[enum.Enum]) -> str:
    value = config.getoption(option) or str(config.getini(ini)).strip().lower()
    allowed = [member.value for member in kind]
    if value not in allowed:
        raise pytest.UsageError(f"compose-gen: ini option {ini} = {value!r}; use one of "
                                f"{', '.join(allowed)}")
    return value
