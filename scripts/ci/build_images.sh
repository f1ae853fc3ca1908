#!/usr/bin/env bash
# Build the demo stack's images locally, without any container registry:
#
#   compose-gen-local/base:bookworm   debootstrap (minbase) rootfs, `docker import`ed
#   compose-gen-local/postgres:15     behaves like the official postgres image (env, PGDATA, args)
#   compose-gen-local/python:3        python3 + psycopg 3 + redis client, `python` on PATH
#   compose-gen-local/redis:7         redis-server in the foreground, all addresses, no protected mode
#   compose-gen-local/django:5        python:3 + Django 5, Celery, django-environ, psycopg 3.3
#                                     (for tests/projects/; wheels cached outside the repo)
#
# The Dockerfiles and entrypoints live in scripts/ci/images/<name>/. Every image carries a
# label with a hash of its inputs (the package list for the base; the build context plus the
# base image id for the others) and is rebuilt only when it is missing or that hash changed,
# so a warm run takes about a second. FORCE=1 rebuilds everything.
# Switch the demo to these images with:  set -a; . scripts/ci/local-images.env; set +a
#
# Usage: scripts/ci/build_images.sh        (needs root only when something must be built)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

log_dir=${COMPOSE_GEN_PROVISION_LOG_DIR:-/tmp/compose-gen-provision}
mkdir -p "$log_dir"
say() { printf 'build_images: %s\n' "$*" >&2; }
die() { printf 'build_images: error: %s\n' "$*" >&2; exit 1; }

prefix=compose-gen-local
base_image=$prefix/base:bookworm
suite=bookworm
# What the derived images need from the base. python-is-python3 gives `python`;
# util-linux (essential) gives setpriv, used by the entrypoints to drop root.
packages=(
  ca-certificates
  postgresql-15
  redis-server
  redis-tools
  python3
  python3-psycopg
  python3-redis
  python-is-python3
)
base_path=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# name:tag -> build context under scripts/ci/images/
derived=(
  "$prefix/postgres:15=postgres"
  "$prefix/python:3=python"
  "$prefix/redis:7=redis"
  # image=context=parent: built FROM another derived image instead of the base
  "$prefix/django:5=django=$prefix/python:3"
)
label=org.compose-gen.inputs

command -v docker >/dev/null 2>&1 || die "docker client not found (run scripts/ci/provision.sh docker compose)"
docker info >/dev/null 2>&1 || die "docker engine not running (run scripts/ci/provision.sh docker)"

# Parallel CI jobs on one machine: build once, the others wait and then find the images.
exec 9>"$log_dir/build_images.lock"
flock 9

# The previous version of a rebuilt image is left untagged: remove it at the end, children
# before the base, unless a container still uses it. (Not by label: images built FROM ours
# inherit the label.)
replaced=()
note_replaced() {  # old image id (may be empty), image name
  local new
  new=$(image_id "$2")
  if [ -n "$1" ] && [ "$1" != "$new" ]; then replaced=("$1" "${replaced[@]}"); fi
}

image_id() {
  docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true
}

image_label() {  # image -> value of our inputs label, empty when the image is missing
  docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true
}

base_inputs() {
  printf '%s\n' "$suite" "$base_path" "${packages[@]}" | sha256sum | cut -c1-16
}

context_inputs() {  # context dir, base image id
  (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; printf '%s\n' "$2") \
    | sha256sum | cut -c1-16
}

rootfs=
cleanup() {
  [ -n "$rootfs" ] && [ -d "$rootfs" ] || return 0
  # debootstrap mounts proc/sys inside the target; never rm -rf through a mount.
  local m
  awk -v r="$rootfs" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r | while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

build_base() {
  local want=$1
  [ "$(id -u)" -eq 0 ] || die "building $base_image needs root (debootstrap)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    say "base: installing debootstrap (log: $log_dir/apt-debootstrap.log)"
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; } \
      >"$log_dir/apt-debootstrap.log" 2>&1 || die "installing debootstrap failed, see $log_dir/apt-debootstrap.log"
  fi
  local mirror
  mirror=$(debian_mirror) || die "no Debian mirror configured in /etc/apt"
  rootfs=$(mktemp -d /var/tmp/compose-gen-rootfs.XXXXXX)
  local t0=$SECONDS
  say "base: debootstrap --variant=minbase $suite (log: $log_dir/debootstrap.log)"
  # Downloaded .debs are kept between runs, so a rebuild after `docker system prune` is quicker.
  local cache=/var/cache/compose-gen-debootstrap
  mkdir -p "$cache"
  local inc
  inc=$(IFS=,; printf '%s' "${packages[*]}")
  debootstrap --variant=minbase --include="$inc" --cache-dir="$cache" \
    "$suite" "$rootfs" "$mirror" >"$log_dir/debootstrap.log" 2>&1 \
    || { tail -n 20 "$log_dir/debootstrap.log" >&2; die "debootstrap failed, see $log_dir/debootstrap.log"; }
  # The package scripts create a default cluster; the postgres image initialises its own.
  rm -rf "$rootfs"/var/lib/postgresql/15 "$rootfs"/etc/postgresql/15
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  say "base: debootstrap done in $((SECONDS - t0)) s; importing"
  tar -C "$rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
    | docker import \
        -c "ENV PATH=$base_path" \
        -c 'ENV LANG=C.UTF-8' \
        -c "LABEL $label=$want" \
        -c 'CMD ["bash"]' \
        - "$base_image" >"$log_dir/import.log" 2>&1 \
    || die "docker import failed, see $log_dir/import.log"
  cleanup
  rootfs=
}

# A context with a requirements.txt gets those wheels in wheels/: downloaded once per
# requirements file with the host's pip and its configured index (no host name here), kept
# outside the repository, copied into a temporary context for the build.
wheel_cache=${COMPOSE_GEN_WHEEL_CACHE:-/var/cache/compose-gen-wheels}
fetch_wheels() {  # requirements file -> prints the directory holding its wheels
  local req=$1 dir
  dir=$wheel_cache/$(sha256sum "$req" | cut -c1-16)
  if [ ! -f "$dir/.complete" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      # A clean Debian host has python3 but no pip; its pip reads the machine's pip config.
      [ "$(id -u)" -eq 0 ] || die "python3 -m pip not found (needed to download wheels for $req)"
      say "wheels: installing python3-pip (log: $log_dir/apt-pip.log)"
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip; } \
        >"$log_dir/apt-pip.log" 2>&1 || die "installing python3-pip failed, see $log_dir/apt-pip.log"
    fi
    mkdir -p "$dir"
    say "wheels: downloading $(basename "$(dirname "$req")")'s requirements (log: $log_dir/wheels.log)"
    # The image's Python: Debian bookworm's 3.11 on x86_64, binary wheels only.
    python3 -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux_2_5_x86_64 --platform any \
      -d "$dir" -r "$req" >"$log_dir/wheels.log" 2>&1 \
      || { tail -n 20 "$log_dir/wheels.log" >&2; die "pip download for $req failed, see $log_dir/wheels.log"; }
    touch "$dir/.complete"
  fi
  printf '%s\n' "$dir"
}

# The legacy builder: it takes FROM from the local image store without asking a registry,
# and the Docker 28 client here has no buildx plugin for BuildKit.
build_derived() {  # image context want [parent image]
  local image=$1 ctx=$here/images/$2 want=$3 parent=${4:-$base_image} logf=$log_dir/build-$2.log
  local build_ctx=$ctx staged=
  if [ -f "$ctx/requirements.txt" ]; then
    local wheels
    wheels=$(fetch_wheels "$ctx/requirements.txt")
    staged=$(mktemp -d /var/tmp/compose-gen-context.XXXXXX)
    cp -a "$ctx/." "$staged/"
    mkdir -p "$staged/wheels"
    cp "$wheels"/*.whl "$staged/wheels/"
    build_ctx=$staged
  fi
  DOCKER_BUILDKIT=0 docker build --label "$label=$want" --build-arg "BASE_IMAGE=$parent" \
    -t "$image" "$build_ctx" >"$logf" 2>&1 \
    || { [ -n "$staged" ] && rm -rf "$staged"; tail -n 20 "$logf" >&2; die "docker build $image failed, see $logf"; }
  [ -z "$staged" ] || rm -rf "$staged"
}

t_start=$SECONDS
force=${FORCE:-0}

want=$(base_inputs)
if [ "$force" != 1 ] && [ "$(image_label "$base_image")" = "$want" ]; then
  say "$base_image: up to date"
else
  old=$(image_id "$base_image")
  build_base "$want"
  note_replaced "$old" "$base_image"
  say "$base_image: built"
fi

for entry in "${derived[@]}"; do
  image=${entry%%=*} ctx=${entry#*=} parent=$base_image
  case $ctx in *=*) parent=${ctx#*=} ctx=${ctx%%=*} ;; esac
  want=$(context_inputs "$here/images/$ctx" "$(docker image inspect -f '{{.Id}}' "$parent")")
  if [ "$force" != 1 ] && [ "$(image_label "$image")" = "$want" ]; then
    say "$image: up to date"
  else
    old=$(image_id "$image")
    build_derived "$image" "$ctx" "$want" "$parent"
    note_replaced "$old" "$image"
    say "$image: built"
  fi
done

for old in "${replaced[@]}"; do
  docker image rm "$old" >/dev/null 2>&1 || true
done

say "done in $((SECONDS - t_start)) s"
