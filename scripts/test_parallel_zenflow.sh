#!/usr/bin/env bash
# Run a backend's pytest suites in parallel against this task's own stack (PRD §4.2).
#
# When a task is detected ($ZENFLOW_TASK_ID, else the <id> of the .zenflow/worktrees/<id>/
# around the current directory), its settings (.env.task: POSTGRES_PORT, DATABASE_URL, ...)
# are loaded into the environment first; compose-gen's pytest plugin then gives each xdist
# worker its own database and media dir on that stack. Without a task, pytest runs as it is.
#
# Usage (from the directory your pytest configuration is in):
#   scripts/test_parallel_zenflow.sh [pytest args]      e.g.  -m api --dist loadscope
# Environment: PYTEST_WORKERS (default auto), PYTEST (default pytest),
#   COMPOSE_GEN (default compose-gen, else `python3 -m compose_gen`).
set -euo pipefail

if [ -n "${COMPOSE_GEN:-}" ]; then
  cg=("$COMPOSE_GEN")
elif command -v compose-gen >/dev/null 2>&1; then
  cg=(compose-gen)
else
  cg=(python3 -m compose_gen)
fi

task_id=${ZENFLOW_TASK_ID:-}
if [ -z "$task_id" ]; then
  here=$(pwd -P)
  case "$here/" in
    */.zenflow/worktrees/?*/*)
      rest=${here#*/.zenflow/worktrees/}
      task_id=${rest%%/*}
      ;;
  esac
fi

if [ -n "$task_id" ]; then
  settings=$(mktemp)
  trap 'rm -f "$settings"' EXIT
  # dotenv format: KEY='value' lines, quoted by compose-gen for sh; nothing here is eval'ed.
  if ! "${cg[@]}" env --task-id "$task_id" --format dotenv >"$settings"; then
    echo "test_parallel_zenflow: no settings for task $task_id: run \`compose-gen up --task-id <id>\` first" >&2
    exit 2
  fi
  set -a
  # shellcheck disable=SC1090
  . "$settings"
  set +a
  export ZENFLOW_TASK_ID="$task_id"
  echo "test_parallel_zenflow: task $task_id (project ${COMPOSE_PROJECT_NAME:-?}, PostgreSQL on 127.0.0.1:${POSTGRES_PORT:-?})" >&2
else
  echo "test_parallel_zenflow: no task detected (no \$ZENFLOW_TASK_ID, not in .zenflow/worktrees/<id>/): running without compose-gen's isolation" >&2
fi

# Not exec: the EXIT trap removes the settings copy (it holds the task's password).
status=0
"${PYTEST:-pytest}" -n "${PYTEST_WORKERS:-auto}" "$@" || status=$?
exit "$status"
