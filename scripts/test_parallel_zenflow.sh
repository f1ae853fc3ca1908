#!/usr/bin/env bash
# Run a backend's pytest suites in parallel against this task's own stack (the guide's four suites), for a
# pytest WITHOUT compose-gen's plugin. With the plugin installed, plain `pytest -n 4` inside
# the task does all of this and more (the task found by env or worktree path, its .env.task
# loaded, a database and media dir per xdist worker): use that.
#
# The task and its settings come from compose-gen itself (`compose-gen env`: the task from
# $ZENFLOW_TASK_ID, else the .zenflow/worktrees/<id>/ around the current directory, exactly as
# every compose-gen command finds it). They are loaded into the environment, then pytest runs.
#
# Usage (from the directory your pytest configuration is in):
#   scripts/test_parallel_zenflow.sh [pytest args]      e.g.  -m api --dist loadscope
# Environment: PYTEST_WORKERS (default auto), PYTEST (default pytest),
#   COMPOSE_GEN_BIN (default compose-gen on PATH, else `python3 -m compose_gen`).
set -euo pipefail

if [ -n "${COMPOSE_GEN_BIN:-}" ]; then
  cg=("$COMPOSE_GEN_BIN")
elif command -v compose-gen >/dev/null 2>&1; then
  cg=(compose-gen)
else
  cg=(python3 -m compose_gen)
fi

settings=$(mktemp)
trap 'rm -f "$settings"' EXIT
# dotenv format: KEY='value' lines, quoted by compose-gen for sh; nothing here is eval'ed.
# On failure compose-gen has said why in one line (no task, or not rendered/up yet).
status=0
"${cg[@]}" env --format dotenv >"$settings" || status=$?
if [ "$status" -ne 0 ]; then
  echo "test_parallel_zenflow: no task settings (above); run inside the task's worktree or set ZENFLOW_TASK_ID, after \`compose-gen up\`" >&2
  exit "$status"
fi
set -a
# shellcheck disable=SC1090  # the file compose-gen just wrote
. "$settings"
set +a
echo "test_parallel_zenflow: task ${ZENFLOW_TASK_ID:-?} (project ${COMPOSE_PROJECT_NAME:-?}, PostgreSQL on 127.0.0.1:${POSTGRES_PORT:-?})" >&2

# Not exec: the EXIT trap removes the settings copy (it holds the task's password).
"${PYTEST:-pytest}" -n "${PYTEST_WORKERS:-auto}" "$@" || status=$?
exit "$status"
