#!/usr/bin/env bash
# The README's first quick-start command: on a fresh machine, install what is missing
# (Docker engine, Compose v2, the demo's images, compose-gen itself) and bring up the bundled
# example for one task. Safe to run again: it reports the running stack.
#
# Usage: scripts/quickstart.sh [TASK_ID] [WORKERS]      (default: demo 2)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/dev_env.sh"
task_id=${1:-demo}
workers=${2:-2}
cd "$repo/examples/demo"
compose-gen up --task-id "$task_id" --workers "$workers"
cat <<NEXT

Next:
  cd examples/demo && ../../.venv/bin/compose-gen status --task-id $task_id
  eval "\$(../../.venv/bin/compose-gen env --task-id $task_id --worker 0)" && curl "\$E2E_BASE_URL/api/stats"
  ../../.venv/bin/compose-gen down --task-id $task_id
NEXT
