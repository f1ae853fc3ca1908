#!/usr/bin/env bash
# Provision what compose-gen's tests need on a clean Debian machine, idempotently:
#   Docker engine (started if not running), the Compose v2 plugin, the example's
#   images built offline (no container registry here), Chromium and npm packages, shellcheck.
# Every step first checks whether its result is already there, so a second run is cheap.
# Package mirrors are read from this machine's own apt configuration, never hard-coded.
#
# Usage: scripts/ci/provision.sh [docker|compose|images|browser|lint|all]...   (default: all)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
log_dir=${COMPOSE_GEN_PROVISION_LOG_DIR:-/tmp/compose-gen-provision}
mkdir -p "$log_dir"

say() { printf 'provision: %s\n' "$*" >&2; }
die() { printf 'provision: error: %s\n' "$*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root (run with sudo)"; }

apt_updated=0
apt_install() {
  need_root "installing $*"
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log_dir/apt-update.log" 2>&1 \
      || die "apt-get update failed, see $log_dir/apt-update.log"
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    >>"$log_dir/apt-install.log" 2>&1 || die "apt-get install $* failed, see $log_dir/apt-install.log"
}

# debian_mirror: the mirror URI from this machine's apt configuration.
. "$here/lib.sh"

wait_for_docker() {
  local deadline=$((SECONDS + ${1:-60}))
  until docker info >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

provision_docker() {
  if docker info >/dev/null 2>&1; then say "docker engine: running"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    say "docker engine: installing docker.io"
    apt_install docker.io iptables
  fi
  need_root "starting dockerd"
  say "docker engine: starting dockerd (log: $log_dir/dockerd.log)"
  # setsid: dockerd must outlive this script and the CI step that ran it.
  setsid dockerd >"$log_dir/dockerd.log" 2>&1 < /dev/null &
  wait_for_docker 90 || { tail -n 30 "$log_dir/dockerd.log" >&2; die "dockerd did not answer within 90 s"; }
  say "docker engine: $(docker version --format '{{.Server.Version}}')"
}

compose_ok() {
  # Compose >= 2.24 is needed for the !override/!reset tags the rendered override uses.
  local v
  v=$(docker compose version --short 2>/dev/null) || return 1
  v=${v#v}
  local major=${v%%.*} rest=${v#*.}; local minor=${rest%%.*}
  [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 24 ]; }
}

provision_compose() {
  if compose_ok; then say "compose: $(docker compose version --short)"; return; fi
  need_root "installing the Compose plugin"
  . /etc/os-release
  if [ "${VERSION_CODENAME:-}" != "bookworm" ] && apt-cache policy docker-compose 2>/dev/null | grep -q 'Candidate: 2'; then
    apt_install docker-compose
  else
    # bookworm only has the Python docker-compose 1.29; trixie's Go build of 2.x needs
    # only libc6 >= 2.34 and runs here. Fetch that one .deb through a throw-away sources dir.
    local work mirror
    work=$(mktemp -d)
    mirror=$(debian_mirror)
    mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial"
    cat >"$work/sources/trixie.sources" <<SRC
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources"
                -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
    say "compose: fetching docker-compose 2.x from the trixie suite"
    apt-get "${opts[@]}" update -qq >"$log_dir/apt-trixie.log" 2>&1 || die "apt-get update (trixie) failed, see $log_dir/apt-trixie.log"
    (cd "$work" && apt-get "${opts[@]}" download docker-compose >>"$log_dir/apt-trixie.log" 2>&1) \
      || die "apt-get download docker-compose failed, see $log_dir/apt-trixie.log"
    dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
    mkdir -p /usr/libexec/docker/cli-plugins
    install -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" /usr/libexec/docker/cli-plugins/docker-compose
    rm -rf "$work"
  fi
  compose_ok || die "Compose >= 2.24 still not available after install"
  say "compose: $(docker compose version --short)"
}

provision_images() {
  "$here/build_images.sh"
}

provision_browser() {
  # chromium-headless-shell is the same build without the desktop browser's layer: what
  # Playwright itself runs for headless tests, and several times cheaper per page on 2 cores.
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromium-headless-shell >/dev/null 2>&1; then
    say "browser: installing chromium and chromium-headless-shell"
    apt_install chromium chromium-headless-shell
  fi
  say "browser: $(chromium --version 2>/dev/null | head -n1)"
  # The E2E config builds a small LD_PRELOAD shim (packages/playwright/no-netlink.c)
  # that keeps Chromium from aborting navigations whenever Docker changes the interfaces.
  if ! command -v cc >/dev/null 2>&1; then
    say "browser: installing a C compiler for the E2E netlink shim"
    apt_install gcc libc6-dev
  fi
  local e2e="$repo/examples/demo/e2e"
  if [ -f "$e2e/package.json" ]; then
    # npm copies @compose-gen/playwright from packages/playwright (install-links) and keeps
    # that copy while the version is unchanged: refresh it when the source differs.
    local installed="$e2e/node_modules/@compose-gen/playwright" file
    for file in "$repo"/packages/playwright/*; do
      if ! cmp -s "$file" "$installed/$(basename "$file")"; then
        rm -rf "$installed"
        break
      fi
    done
    if [ ! -d "$e2e/node_modules/@playwright/test" ] || [ ! -d "$installed" ]; then
      say "browser: npm install in examples/demo/e2e"
      # No browser download: there is none to be had here; we use the system Chromium.
      (cd "$e2e" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund >"$log_dir/npm.log" 2>&1) \
        || die "npm install failed, see $log_dir/npm.log"
    fi
  fi
}

provision_lint() {
  # Debian's shellcheck package: scripts/test.sh checks every shell script of the repository.
  if ! command -v shellcheck >/dev/null 2>&1; then
    say "lint: installing shellcheck"
    apt_install shellcheck
  fi
  say "lint: $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
}

steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(all)
for step in "${steps[@]}"; do
  case "$step" in
    docker) provision_docker ;;
    compose) provision_compose ;;
    images) provision_images ;;
    browser) provision_browser ;;
    lint) provision_lint ;;
    all) provision_docker; provision_compose; provision_images; provision_browser; provision_lint ;;
    *) die "unknown step '$step' (expected docker, compose, images, browser, lint or all)" ;;
  esac
done
