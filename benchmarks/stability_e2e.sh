#!/usr/bin/env bash
# Stability record (issue: hardening): the demo's E2E suite proved over RUNS consecutive runs
# (default 20) at E2E_WORKERS workers (default 4) on one stack, with `compose-gen prove`.
# Run by hand, not in every CI run; the result goes into docs/PERFORMANCE.md.
#
# Usage: benchmarks/stability_e2e.sh [RUNS]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/scripts/dev_env.sh"
"$repo/scripts/ci/provision.sh" browser
runs=${1:-20}
export E2E_WORKERS=${E2E_WORKERS:-4}
PLAYWRIGHT_CHROMIUM_PATH=${PLAYWRIGHT_CHROMIUM_PATH:-$(command -v chromium-headless-shell || command -v chromium || true)}
export PLAYWRIGHT_CHROMIUM_PATH
results=${E2E_RESULTS_DIR:-$repo/results/stability-$(date +%Y%m%d-%H%M%S)}
started=$SECONDS
E2E_PROVE_RUNS=$runs E2E_RESULTS_DIR=$results "$repo/scripts/e2e_parallel.sh" "stability-$$"
echo "stability: $runs runs at $E2E_WORKERS workers in $((SECONDS - started)) s; proof in $results/proof"
