#!/usr/bin/env bash
# Prove the demo backend's pytest suites stable: N consecutive runs (default 5) of each, on one
# compose-gen stack, with `compose-gen prove` (proof_run<i>.txt + report.{md,json,html}).
#
#   compose-gen up --task-id ID --workers 1                        (the task's database server)
#   compose-gen prove --runs N -- pytest -n 4 -m "not postgres"    (unit, api, processing)
#   compose-gen prove --runs N -- pytest -n 1 -m postgres          (server-wide tests, alone)
#   compose-gen down --task-id ID                                  (trap on every exit path)
#
# Usage: scripts/prove_backend.sh [TASK_ID]
# Environment: PROVE_RUNS (default 5), PROVE_RESULTS_DIR (default results/backend/<task id>).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
project_dir=$repo/examples/demo
task_id=${1:-ci-backend-${GITHUB_RUN_ID:-local}-$$}
runs=${PROVE_RUNS:-5}
results=${PROVE_RESULTS_DIR:-$repo/results/backend/$task_id}
compose_gen=${COMPOSE_GEN_BIN:-$(command -v compose-gen || echo "$repo/.venv/bin/compose-gen")}
pytest_bin=$(command -v pytest || echo "$repo/.venv/bin/pytest")
cg() { "$compose_gen" --project-dir "$project_dir" "$@"; }

teardown() {
  local status=$?
  trap - EXIT INT TERM
  cg down --task-id "$task_id" >&2 || status=1
  exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$results"
cg up --task-id "$task_id" --workers 1
cd "$project_dir/backend"
cg prove --runs "$runs" --task-id "$task_id" --out "$results/parallel" -- \
  "$pytest_bin" -p no:cacheprovider -n 4 --dist loadscope -m "not postgres"
cg prove --runs "$runs" --task-id "$task_id" --out "$results/postgres" -- \
  "$pytest_bin" -p no:cacheprovider -n 1 -m postgres
