"""compose-gen's pytest plugin (entry point `pytest11`, name `compose_gen`).

Laid out by job, as pytest-django is: `plugin` holds the hooks, `fixtures` the fixtures,
`discovery` finds the task and checks it can serve, `workers` says which test process this
is, `claims` keeps one live user per database and media dir, `django_settings` and
`django_databases` are the pytest-django side (a MEDIA_ROOT per worker; test databases cloned
from a migrated template), `worker_databases` the `compose_gen_worker` database.

Inert until a task is asked for: `--compose-gen-task ID`, else `$ZENFLOW_TASK_ID`, else the
`<id>` of a current directory inside `.zenflow/worktrees/<id>/`. Then the run is isolated on
the task's stack or stops before collecting, with one line that says what is missing. The
user-facing reference is docs/PARALLEL_TESTING_GUIDE.md. The plugin registers no markers:
those are the project's.

This module is the entry point, so it re-exports the hooks and fixtures. Importing it must
stay cheap (it loads in every pytest run where compose-gen is installed): psycopg,
python-on-whales, jinja2 and Django are only imported by the code that needs them.
"""

from compose_gen.pytest_plugin.fixtures import (
    ComposeGenWorker,
    _compose_gen_django,
    compose_gen_media_root,
    compose_gen_worker,
)
from compose_gen.pytest_plugin.plugin import (
    pytest_addoption,
    pytest_configure,
    pytest_configure_node,
    pytest_fixture_setup,
    pytest_load_initial_conftests,
    pytest_report_header,
    pytest_runtest_call,
    pytest_sessionfinish,
    pytest_unconfigure,
)

__all__ = [
    "ComposeGenWorker",
    "_compose_gen_django",
    "compose_gen_media_root",
    "compose_gen_worker",
    "pytest_addoption",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_fixture_setup",
    "pytest_load_initial_conftests",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_unconfigure",
]
