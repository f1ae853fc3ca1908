#!/usr/bin/env bash
# compose-gen's whole test suite, on a fresh machine or a warm one:
#   1. provisions what is missing: Docker engine (started), Compose v2, the example images
#      (built offline), Chromium and the Playwright packages;
#   2. installs compose-gen into .venv;
#   3. shellcheck, ruff, mypy, then the unit tests, the integration tests (real Docker, real
#      PostgreSQL) and the end-to-end tests, independent suites in parallel with pytest-xdist;
#   4. the flake proofs: the E2E suite (4 workers) and the demo backend's suites, each over
#      PROVE_RUNS=5 consecutive runs with `compose-gen prove`, proof files under results/.
# COMPOSE_GEN_REQUIRE_DOCKER=1 is set: a Docker test that cannot run fails instead of skipping.
#
# Usage: scripts/test.sh [pytest args]   (with args: only that pytest run: no scale test,
#        no pytest 9 run, no proofs)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/dev_env.sh"
"$repo/scripts/ci/provision.sh" browser

export COMPOSE_GEN_REQUIRE_DOCKER=1
# The E2E tests (tests/e2e) run Playwright at 4 workers on the system browser: Debian's
# headless shell (what Playwright uses for headless runs, far cheaper on 2 cores), else Chromium.
export E2E_WORKERS=${E2E_WORKERS:-4}
PLAYWRIGHT_CHROMIUM_PATH=${PLAYWRIGHT_CHROMIUM_PATH:-$(command -v chromium-headless-shell || command -v chromium || true)}
export PLAYWRIGHT_CHROMIUM_PATH
started=$SECONDS
echo "== shellcheck"; "$repo/scripts/ci/provision.sh" lint; git ls-files -z '*.sh' | xargs -0 shellcheck
echo "== ruff"
ruff check .
echo "== mypy"
mypy
if [ "$#" -gt 0 ]; then
  echo "== pytest $*"
  exec pytest -n "${PYTEST_WORKERS:-4}" --dist loadgroup "$@"
fi
echo "== pytest (unit, integration, e2e)"
pytest -n "${PYTEST_WORKERS:-4}" --dist loadgroup -m "not scale"
# 40 tasks at once saturate the machine alone: run once, after the rest, not beside it.
echo "== pytest: scale (40 tasks x 2 workers on one host)"
pytest -m scale
echo "== pytest: the plugin's tests on pytest 9 (a second venv)"
"$repo/scripts/test_pytest9.sh"
# The flake proofs (compose-gen prove): N consecutive runs, 0 flaky, proof files kept as
# artifacts in results/ (proof_run<i>.txt, report.{md,json,html}).
export PROVE_RUNS=${PROVE_RUNS:-5}
echo "== proof: the E2E suite, $PROVE_RUNS runs at $E2E_WORKERS workers"
E2E_PROVE_RUNS=$PROVE_RUNS E2E_RESULTS_DIR="$repo/results/e2e" \
  "$repo/scripts/e2e_parallel.sh" "ci-e2e-proof-$$"
echo "== proof: the demo backend's suites, $PROVE_RUNS runs"
PROVE_RESULTS_DIR="$repo/results/backend" "$repo/scripts/prove_backend.sh" "ci-backend-proof-$$"
echo "== done in $((SECONDS - started)) s"
