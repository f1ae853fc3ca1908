#!/usr/bin/env bash
# compose-gen zenflow hook: teardown
#
# Removes a task's stack, files and lease: `compose-gen down` for the task of this worktree.
# Zenflow has no teardown hook (archiving a task deletes its worktree), so run this by hand or
# from your own cleanup; `compose-gen gc` also reaps every stack whose worktree is gone.
# Installed by `compose-gen zenflow init` as .zenflow/hooks/compose-gen-teardown.sh.
#
# The task ID: $ZENFLOW_TASK_ID, else <id> of the .zenflow/worktrees/<id>/ around $PWD.
# Idempotent; on failure, one line on stderr and compose-gen's exit code.
set -u

fail() {
  printf 'compose-gen teardown: %s\n' "$2" | tr -d '\r' | head -n 1 >&2
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

output=$("${cg[@]}" down --task-id "$task_id" 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
  reason=$(printf '%s\n' "$output" | sed -n 's/^compose-gen: //p' | tail -n 1)
  fail "$status" "down failed (exit $status): ${reason:-$(printf '%s\n' "$output" | tail -n 1)}"
fi
printf '%s\n' "$output"
