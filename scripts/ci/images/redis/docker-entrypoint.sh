#!/usr/bin/env bash
# Entry point of compose-gen-local/redis:7, modelled on the official image's.
set -euo pipefail

# `command: ["--appendonly", "yes"]` or `command: ["/etc/redis.conf"]` mean redis-server ...
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = 'redis-server' ]; then
  shift
  conf=()
  if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then conf=("$1"); shift; fi
  # The official image is built with protected mode off; Debian's is not. Given first,
  # so a later `--protected-mode yes` from the command still wins. Redis 7 without a
  # config file already binds to all addresses ("* -::*").
  set -- redis-server "${conf[@]}" --protected-mode no "$@"
  if [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    export HOME=/var/lib/redis
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi

exec "$@"
