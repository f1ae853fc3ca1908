# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/quickstart.sh: provision the machine, install
# compose-gen into .venv, and pick the example images.
#
# COMPOSE_GEN_IMAGES=local (default): images built here by scripts/ci/build_images.sh, no
#   container registry needed (our CI machines have none).
# COMPOSE_GEN_IMAGES=public: the examples' defaults (postgres:16-alpine, python:3.12-slim,
#   redis:7-alpine) pulled from your registry.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || return 1

"$repo/scripts/ci/provision.sh" docker compose
if [ "${COMPOSE_GEN_IMAGES:-local}" = local ]; then
  "$repo/scripts/ci/build_images.sh"
  set -a
  # shellcheck source=ci/local-images.env
  . "$repo/scripts/ci/local-images.env"
  set +a
fi

if [ ! -x "$repo/.venv/bin/python" ]; then
  python3 -m venv "$repo/.venv"
fi
# Reinstall only when the package metadata changed since the last install.
stamp="$repo/.venv/.compose-gen-installed"
if [ ! -f "$stamp" ] || [ "$repo/pyproject.toml" -nt "$stamp" ]; then
  "$repo/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "${repo}[test]" \
    || { echo "pip install of compose-gen failed" >&2; exit 1; }
  touch "$stamp"
fi
export PATH="$repo/.venv/bin:$PATH"
