#!/usr/bin/env bash
# The demo's Playwright suite on its own compose-gen stack, torn down on every exit path.
#
#   compose-gen up --task-id ID --workers $E2E_WORKERS     (one backend, database, media per worker)
#   npx playwright test --workers=$E2E_WORKERS [ARGS...]     (each worker picks its backend)
#   compose-gen down --task-id ID                           (trap on EXIT, INT and TERM)
#
# Usage: scripts/e2e_parallel.sh [TASK_ID] [PLAYWRIGHT ARGS...]
#   TASK_ID   default $E2E_TASK_ID, else ci-${GITHUB_RUN_ID:-local}-<pid> (unique per run).
#             compose-gen validates it (exit 2 for a bad one, before anything is created).
#             An argument starting with "-" is a Playwright argument, e.g. --shard=1/4.
#
# Environment:
#   E2E_WORKERS       stack workers = Playwright workers (default 2)
#   E2E_RESULTS_DIR   reports (default examples/demo/e2e/results/<task id>/): junit.xml,
#                     html/ (HTML report), artifacts/ (screenshots of failures), proof/
#   E2E_PROVE_RUNS=N  run the suite N times against the one stack through `compose-gen prove`
#                     (proof_run<i>.txt + report.{md,json,html} in <results>/proof/)
#   E2E_PROJECT_DIR   the compose-gen project (default examples/demo)
#   COMPOSE_GEN_BIN   compose-gen to use (default .venv/bin/compose-gen, else on PATH)
#   PLAYWRIGHT_CHROMIUM_PATH / CHROME_PATH  a system Chromium (default, when Playwright has no
#                     browser of its own: chromium-headless-shell, else chromium, on PATH)
#
# Exit status: the tests' (Playwright's, or prove's). If the tests passed but the teardown
# failed or left resources labelled with the task, 1: a leak must not pass silently.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project_dir=${E2E_PROJECT_DIR:-$repo/examples/demo}
e2e_dir=$project_dir/e2e
workers=${E2E_WORKERS:-2}

say() { printf 'e2e_parallel: %s\n' "$*" >&2; }
die() { printf 'e2e_parallel: error: %s\n' "$*" >&2; exit 2; }

case "$workers" in '' | *[!0-9]*) die "E2E_WORKERS must be a positive integer, got '$workers'" ;; esac
[ "$workers" -ge 1 ] || die "E2E_WORKERS must be at least 1"

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  task_id=$1
  shift
else
  task_id=${E2E_TASK_ID:-ci-${GITHUB_RUN_ID:-local}-$$}
fi
playwright_args=("$@")

if [ -n "${COMPOSE_GEN_BIN:-}" ]; then
  compose_gen=$COMPOSE_GEN_BIN
elif [ -x "$repo/.venv/bin/compose-gen" ]; then
  compose_gen=$repo/.venv/bin/compose-gen
else
  compose_gen=$(command -v compose-gen) || die "compose-gen not found (pip install compose-gen, or set COMPOSE_GEN_BIN)"
fi
cg() { "$compose_gen" --project-dir "$project_dir" "$@"; }

[ -f "$e2e_dir/package.json" ] || die "no Playwright project in $e2e_dir"
if [ ! -d "$e2e_dir/node_modules/@playwright/test" ]; then
  say "installing the Playwright packages (npm ci, no browser download)"
  (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund) >&2
fi
# No browser of Playwright's own (`npx playwright install`)? Use the system's: the headless
# shell when installed (what Playwright runs headless, several times cheaper), else Chromium.
if [ -z "${PLAYWRIGHT_CHROMIUM_PATH:-}${CHROME_PATH:-}" ] \
   && ! ls -d "${PLAYWRIGHT_BROWSERS_PATH:-$HOME/.cache/ms-playwright}"/chromium* >/dev/null 2>&1; then
  PLAYWRIGHT_CHROMIUM_PATH=$(command -v chromium-headless-shell || command -v chromium || true)
  [ -z "$PLAYWRIGHT_CHROMIUM_PATH" ] || export PLAYWRIGHT_CHROMIUM_PATH
fi

# Created once compose-gen has accepted the task ID (it may not be a safe path segment).
results=${E2E_RESULTS_DIR:-$e2e_dir/results/$task_id}

# Run a command in the background, in its own process group, and wait for it: a signal to this
# script is then handled at once (bash defers traps while a foreground child runs), and
# stop_child can stop the whole group (npx does not pass SIGTERM on to Playwright).
if command -v setsid >/dev/null 2>&1; then own_group=(setsid); else own_group=(); fi
run() {
  local rc=0
  "${own_group[@]}" "$@" &
  child=$!
  wait "$child" || rc=$?
  child=
  return "$rc"
}
stop_child() {
  [ -n "$child" ] && kill -0 "$child" 2>/dev/null || return 0
  if [ "${#own_group[@]}" -gt 0 ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
  else
    kill -TERM "$child" 2>/dev/null || true
  fi
  wait "$child" 2>/dev/null || true
  child=
}

# --- teardown on every exit path -----------------------------------------------------------
status=0        # the tests' exit status
stack_up=0      # 1 once `up` may have created something
child=

teardown() {
  local rc=$? left
  # The teardown itself is not interruptible: a second Ctrl-C must not leave the stack behind.
  trap - EXIT
  trap '' INT TERM
  [ "$status" -ne 0 ] || status=$rc
  stop_child
  if [ "$stack_up" -eq 1 ]; then
    say "compose-gen down --task-id $task_id"
    if ! cg down --task-id "$task_id" >&2; then
      say "teardown of task '$task_id' failed"
      [ "$status" -ne 0 ] || status=1
    fi
    left=$( { docker ps -aq --filter "label=dev.compose-gen.task=$task_id"
              docker volume ls -q --filter "label=dev.compose-gen.task=$task_id"
              docker network ls -q --filter "label=dev.compose-gen.task=$task_id"; } 2>/dev/null | wc -l)
    if [ "$left" -ne 0 ]; then
      say "task '$task_id' left $left labelled Docker resources behind"
      [ "$status" -ne 0 ] || status=1
    fi
  fi
  say "reports in $results (exit $status)"
  exit "$status"
}
on_signal() {
  say "interrupted ($1): stopping the tests and tearing down"
  status=$2
  exit "$2"
}
trap teardown EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# --- up ----------------------------------------------------------------------------------------
say "task '$task_id': compose-gen up --workers $workers"
stack_up=1
rc=0
run "$compose_gen" --project-dir "$project_dir" up --task-id "$task_id" --workers "$workers" || rc=$?
if [ "$rc" -ne 0 ]; then
  # 2: the task ID or the options were refused before anything was created.
  [ "$rc" -ne 2 ] || stack_up=0
  say "compose-gen up failed (exit $rc)"
  status=$rc
  exit "$rc"
fi

# --- the tests ---------------------------------------------------------------------------------
mkdir -p "$results"
results=$(cd "$results" && pwd)
export E2E_TASK_ID=$task_id E2E_WORKERS=$workers E2E_RESULTS_DIR=$results
export COMPOSE_GEN_BIN=$compose_gen COMPOSE_GEN_PROJECT_DIR=$project_dir
export PLAYWRIGHT_JUNIT_OUTPUT_NAME=$results/junit.xml PLAYWRIGHT_HTML_OUTPUT_DIR=$results/html
unset COMPOSE_GEN_E2E_SHARED COMPOSE_GEN_WORKERS_JSON
cd "$e2e_dir"
playwright=(npx --no-install playwright test --workers="$workers" "${playwright_args[@]}")
runs=${E2E_PROVE_RUNS:-}
rc=0
if [ -z "$runs" ]; then
  run "${playwright[@]}" || rc=$?
else
  say "proving the suite over $runs runs: compose-gen prove"
  run "$compose_gen" prove --runs "$runs" --out "$results/proof" -- "${playwright[@]}" || rc=$?
fi
status=$rc
exit "$rc"
