#!/usr/bin/env bash
# compose-gen zenflow hook: bootstrap
#
# Zenflow's setup_script: runs in a task's new worktree (.zenflow/worktrees/<task_id>/) and
# gives that task its own Compose stack. Installed into a repository by `compose-gen zenflow
# init` (as .zenflow/hooks/compose-gen-bootstrap.sh); see zenflow/README.md in compose-gen.
#
#   1. the task ID: $ZENFLOW_TASK_ID, else <id> of the .zenflow/worktrees/<id>/ around $PWD;
#   2. compose-gen render: lease the task's port block, write .zenflow/tasks/<id>/.env.task;
#   3. compose-gen up (skipped with COMPOSE_GEN_SKIP_UP=1): boot, seed once, clone per worker.
#
# Settings (environment): COMPOSE_GEN (the command, default compose-gen, else
# `python3 -m compose_gen`), COMPOSE_GEN_SKIP_UP=1, COMPOSE_GEN_UP_TIMEOUT (seconds, default
# 300), and every COMPOSE_GEN_* config override (e.g. COMPOSE_GEN_WORKERS_DEFAULT=4).
# On failure: one line on stderr saying what failed, and compose-gen's exit code.
#
# The task ID only ever travels as one quoted argument; it never meets eval or `sh -c`.
set -u

fail() {
  # $1: exit code, $2: the message (one line)
  printf 'compose-gen bootstrap: %s\n' "$2" | tr -d '\r' | head -n 1 >&2
  exit "$1"
}

if [ -n "${COMPOSE_GEN:-}" ]; then
  cg=("$COMPOSE_GEN")
elif command -v compose-gen >/dev/null 2>&1; then
  cg=(compose-gen)
elif command -v python3 >/dev/null 2>&1 && python3 -c 'import compose_gen' 2>/dev/null; then
  cg=(python3 -m compose_gen)
else
  fail 127 "compose-gen is not installed here (not on PATH, not importable by python3); install it or set COMPOSE_GEN=/path/to/compose-gen"
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
[ -n "$task_id" ] || fail 2 "no task ID: set ZENFLOW_TASK_ID or run inside .zenflow/worktrees/<task_id>/ (here: $(pwd))"

# Runs one compose-gen step; on failure, its last error line becomes our one line.
step() {
  local name=$1 output status
  shift
  output=$("${cg[@]}" "$@" 2>&1)
  status=$?
  if [ "$status" -ne 0 ]; then
    reason=$(printf '%s\n' "$output" | sed -n 's/^compose-gen: //p' | tail -n 1)
    [ -n "$reason" ] || reason=$(printf '%s\n' "$output" | grep -v '^[[:space:]]*$' | tail -n 1)
    fail "$status" "$name failed (exit $status): ${reason:-no output}"
  fi
  [ -z "$output" ] || printf '%s\n' "$output"
}

step render render --task-id "$task_id"
if [ "${COMPOSE_GEN_SKIP_UP:-0}" = 1 ]; then
  # The ID passed compose-gen's checks above: letters, digits and . _ - @ + : only.
  printf 'compose-gen bootstrap: COMPOSE_GEN_SKIP_UP=1: rendered only; start it with: compose-gen up --task-id %s\n' "$task_id"
else
  step up up --task-id "$task_id" --timeout "${COMPOSE_GEN_UP_TIMEOUT:-300}"
fi
step env env --task-id "$task_id" --format json >/dev/null
printf "compose-gen bootstrap: task %s is ready; its settings: compose-gen env --task-id %s\n" "$task_id" "$task_id"
