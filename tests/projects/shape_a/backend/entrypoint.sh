#!/bin/sh
# Every container of the backend image (server, Celery worker, one-off commands) migrates
# first. The server and the worker start together: when both migrate a fresh database at
# once, one of them fails on a duplicate table and simply tries again.
set -e
tries=0
until python manage.py migrate --noinput; do
  tries=$((tries + 1))
  if [ "$tries" -ge 5 ]; then
    echo "entrypoint: migrate failed $tries times" >&2
    exit 1
  fi
  sleep 1
done
exec "$@"
