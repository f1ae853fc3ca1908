#!/usr/bin/env bash
# The pytest plugin's tests on pytest 9. compose-gen's own venv (.venv) has pytest 8 (its [test]
# extra pins <9 for its Docker-heavy suite); users' projects may pin pytest 9, and the plugin
# must work on both majors. This builds a second venv with pytest 9 + pytest-django +
# pytest-xdist + Django + compose-gen (editable: the plugin under test is this checkout's), and
# runs the plugin's tests there.
#
# Usage: scripts/test_pytest9.sh [pytest args]
#   default args: the plugin's unit tests and its Django integration tests, -n 2
# Env: PYTEST9_VENV (default .venv-pytest9), PYTHON (default: .venv's python, else python3).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/dev_env.sh"
venv="${PYTEST9_VENV:-$repo/.venv-pytest9}"
if [ -n "${PYTHON:-}" ]; then
  python=$PYTHON
elif [ -x "$repo/.venv/bin/python" ]; then
  python=$repo/.venv/bin/python
else
  python=$(command -v python3)
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.compose-gen-installed"
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ] || [ "${BASH_SOURCE[0]}" -nt "$stamp" ]; then
  # Only what the plugin's tests need; no [test] extra (it pins pytest 8). celery and
  # django-environ: what the shape fixture projects' backends (tests/projects) import.
  "$venv/bin/python" -m pip install -q -e "$repo" "pytest>=9,<10" "pytest-django>=4.8" \
    "pytest-xdist>=3.5" "django>=4.2" celery django-environ
  touch "$stamp"
fi
version=$("$venv/bin/python" -c 'import pytest; print(pytest.__version__)')
case "$version" in
  9.*) echo "== the pytest plugin's tests on pytest $version ($venv)" ;;
  *) echo "test_pytest9.sh: $venv has pytest $version, not 9.x" >&2; exit 1 ;;
esac
export COMPOSE_GEN_REQUIRE_DOCKER="${COMPOSE_GEN_REQUIRE_DOCKER:-1}"
if [ "$#" -eq 0 ]; then
  set -- -n 2 tests/unit/test_pytest_plugin.py tests/integration/test_plugin_django_shapes.py
fi
cd "$repo"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
