#!/usr/bin/env bash
# Entry point of compose-gen-local/postgres:15, modelled on the official image's:
#   - as root: own $PGDATA (may be an empty root-owned tmpfs or volume), drop to `postgres`
#   - first start: initdb (UTF-8, C.UTF-8 locale), password auth from any host,
#     listen on all addresses, create $POSTGRES_DB, run /docker-entrypoint-initdb.d/*
#   - then exec the command (`postgres` plus any args) in the foreground.
set -Eeuo pipefail

# `command: ["-c", "fsync=off"]` means `postgres -c fsync=off`.
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA" || :
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_USER:=postgres}"
  : "${POSTGRES_DB:=$POSTGRES_USER}"
  : "${POSTGRES_PASSWORD:=}"
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != 'trust' ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD to a non-empty value for the superuser, or set
       POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a password.
MSG
    exit 1
  fi

  # Without -E/--locale the minbase system (no locales) yields a SQL_ASCII cluster and
  # psycopg then returns bytes for text columns. POSTGRES_INITDB_ARGS come last and win.
  read -r -a extra_args <<<"${POSTGRES_INITDB_ARGS:-}"
  initdb_args=(-D "$PGDATA" --username="$POSTGRES_USER" -E UTF8 --locale=C.UTF-8 "${extra_args[@]}")
  if [ -n "$POSTGRES_PASSWORD" ]; then
    # The process substitution must stay on this command line: its fd closes after it.
    initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD")
  else
    initdb "${initdb_args[@]}"
  fi

  sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '*'!" "$PGDATA/postgresql.conf"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

  # A private, socket-only server for the setup steps.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  export PGPASSWORD=$POSTGRES_PASSWORD
  psql=(psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password)
  if [ "$POSTGRES_DB" != 'postgres' ]; then
    exists=$("${psql[@]}" --dbname postgres -tA --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh)
        # shellcheck disable=SC1090  # the image user's init scripts, known only at run time
        if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
      *.sql) echo "$0: running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  unset PGPASSWORD
  echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
