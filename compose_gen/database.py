"""The one door to PostgreSQL (psycopg): readiness, the seeded template, per-worker clones.

Admin work always connects to the `postgres` maintenance database, never to the template:
`CREATE DATABASE ... TEMPLATE t` fails (55006) while any session is connected to t.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from compose_gen.errors import ComposeGenError, SeedError, WaitTimeoutError

MAINTENANCE_DB = "postgres"
MAX_NAME_BYTES = 63
TEMPLATE_INFIX = "_tpl_"
BUILDING_INFIX = "_build_"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _where(url: str) -> str:
    """host:port/db of a URL, without the password, for messages."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}{parts.path}"


@contextmanager
def _connect(url: str, database: str = MAINTENANCE_DB, *, timeout: float = 10) -> Iterator[Any]:
    import psycopg

    try:
        conn = psycopg.connect(with_database(url, database), autocommit=True,
                               connect_timeout=max(1, int(timeout)))
    except psycopg.OperationalError as err:
        raise ComposeGenError(f"cannot connect to PostgreSQL at {_where(url)}: "
                              f"{str(err).strip().splitlines()[-1]}") from err
    try:
        yield conn
    finally:
        conn.close()


def wait_until_ready(url: str, *, timeout: float, what: str) -> None:
    """Retry connecting (only connection errors) until a query answers or the deadline passes."""
    import psycopg
    import tenacity

    last_error: list[str] = ["no attempt finished"]

    def attempt() -> None:
        try:
            with psycopg.connect(with_database(url, MAINTENANCE_DB), autocommit=True,
                                 connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as err:
            last_error[0] = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
            raise

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(psycopg.OperationalError),
        stop=tenacity.stop_after_delay(timeout),
        wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
        reraise=False)
    try:
        retrying(attempt)
    except tenacity.RetryError as err:
        raise WaitTimeoutError(
            f"{what} did not accept connections at {_where(url)} within {timeout:.0f} s; "
            f"last error: {last_error[0]}",
            hint="see `docker compose logs` of the database service") from err


def tune_for_tests(url: str) -> None:
    """fsync, synchronous_commit and full_page_writes off: a test server loses nothing of value.

    ALTER SYSTEM + reload works with any PostgreSQL image, whatever its command line.
    """
    with _connect(url) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")


def seed_hash(parts: list[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def template_name(prefix: str, digest: str) -> str:
    name = f"{prefix}{TEMPLATE_INFIX}{digest[:12]}"
    assert len(name.encode()) <= MAX_NAME_BYTES, name
    return name


def building_name(prefix: str, digest: str) -> str:
    return f"{prefix}{BUILDING_INFIX}{digest[:12]}"


def list_databases(url: str) -> list[str]:
    with _connect(url) as conn:
        rows = conn.execute("SELECT datname FROM pg_database ORDER BY datname").fetchall()
    return [row[0] for row in rows]


def is_ready_template(url: str, name: str) -> bool:
    with _connect(url) as conn:
        row = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s",
                           (name,)).fetchone()
    return bool(row and row[0])


def create_empty(url: str, name: str) -> None:
    from psycopg import sql

    with _connect(url) as conn:
        _terminate(conn, name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_sql_file(url: str, database: str, path: Path) -> None:
    import psycopg

    script = path.read_text(encoding="utf-8")
    with _connect(url, database) as conn:
        try:
            conn.execute(script)  # a trusted project file
        except psycopg.Error as err:
            raise SeedError(f"the seed SQL {path} failed: {str(err).strip()}",
                            output=str(err)) from err


def finish_template(url: str, building: str, final: str) -> None:
    """Close every session, rename, and freeze: a template under its final name is complete."""
    from psycopg import sql

    with _connect(url) as conn:
        _terminate(conn, building)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(final)))
        conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(building), sql.Identifier(final)))
        conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
                     .format(sql.Identifier(final)))


def clone(url: str, template: str, name: str) -> float:
    """Drop `name` if present and create it from `template`; returns the seconds it took."""
    with _connect(url) as conn:
        return clone_on(conn, template, name)


def clone_on(conn: Any, template: str, name: str) -> float:
    """clone on an open admin connection."""
    started = time.perf_counter()
    with _worker_lock(conn, name):
        _clone_on(conn, template, name)
    return time.perf_counter() - started


def drop(url: str, names: list[str]) -> None:
    from psycopg import sql

    with _connect(url) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


def drop_template(url: str, name: str) -> None:
    """Drop a template database: PostgreSQL refuses while it is still marked IS_TEMPLATE."""
    from psycopg import sql

    with _connect(url) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE false").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _terminate(conn: Any, database: str) -> None:
    """End sessions on `database` (left by a crashed seed or test), instead of failing 55006."""
    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))


# --- warm clones (one spare per worker, IntegreSQL-style) -----------------------------------
#
# A reset that clones blocks the test for a CREATE DATABASE (two checkpoints) and a DROP (one
# more). With a spare made ahead of time from the same template, the reset is an atomic swap:
# in ONE transaction the worker's database is renamed aside and the spare renamed into its
# place (ALTER DATABASE ... RENAME may run in a transaction block; CREATE/DROP may not). So
# the worker's name always names a complete database: the old one or the pristine spare, never
# nothing, never a half-made one. A spare is complete when it has its spare name at all:
# CREATE DATABASE makes the row visible only when it commits. The next spare and the drop of
# the old database happen after the swap, off the test's clock (`prepare_spare`).
#
# Names, all derived from the worker's database name and nothing else, so a reset can touch no
# other worker's database (and the server is the task's own, so no other task's):
#   <worker>_s<10 hex of the template digest>  the spare: a spare of another template is stale
#   <worker>_o<8 hex random>                   renamed aside by a swap, dropped afterwards
# Readers of the same protocol (the Playwright fixture's reset.cjs) use the same names, the
# same lock (LOCK_SQL) and the same order of statements.

SPARE_MARK = "_s"
ASIDE_MARK = "_o"
SPARE_DIGEST_LENGTH = 10
ASIDE_TOKEN_LENGTH = 8
# Serialises every reset and spare of one worker database, across processes and languages.
LOCK_SQL = "SELECT pg_advisory_lock(hashtextextended('compose-gen:' || %s, 0))"
UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtextextended('compose-gen:' || %s, 0))"
_HEX = frozenset("0123456789abcdef")


def template_digest(template: str) -> str:
    """The seed digest a template's name carries (template_name), as spares carry it."""
    head, infix, digest = template.rpartition(TEMPLATE_INFIX)
    if not (head and infix and digest and set(digest) <= _HEX):
        raise ValueError(f"{template!r} is not a compose-gen template name")
    return digest[:SPARE_DIGEST_LENGTH]


def spare_name(worker_db: str, template: str) -> str:
    name = f"{worker_db}{SPARE_MARK}{template_digest(template)}"
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ComposeGenError(f"the spare of database {worker_db} would need a name over "
                              f"{MAX_NAME_BYTES} bytes", hint="shorten database.name_prefix")
    return name


def aside_name(worker_db: str) -> str:
    import secrets

    return f"{worker_db}{ASIDE_MARK}{secrets.token_hex(ASIDE_TOKEN_LENGTH // 2)}"


def _suffix_is(name: str, worker_db: str, mark: str, length: int) -> bool:
    rest = name[len(worker_db):]
    return (name.startswith(worker_db) and rest.startswith(mark)
            and len(rest) == len(mark) + length and set(rest[len(mark):]) <= _HEX)


def is_spare_of(name: str, worker_db: str) -> bool:
    return _suffix_is(name, worker_db, SPARE_MARK, SPARE_DIGEST_LENGTH)


def is_aside_of(name: str, worker_db: str) -> bool:
    return _suffix_is(name, worker_db, ASIDE_MARK, ASIDE_TOKEN_LENGTH)


def leftovers(names: list[str], worker_db: str, template: str | None) -> list[str]:
    """What of `names` the worker no longer needs: spares of another template (or of any,
    with template None) and databases renamed aside by earlier swaps."""
    keep = spare_name(worker_db, template) if template else None
    return [n for n in names if (is_spare_of(n, worker_db) and n != keep)
            or is_aside_of(n, worker_db)]


@contextmanager
def _worker_lock(conn: Any, worker_db: str) -> Iterator[None]:
    conn.execute(LOCK_SQL, (worker_db,))
    try:
        yield
    finally:
        conn.execute(UNLOCK_SQL, (worker_db,))


def _clone_on(conn: Any, template: str, name: str) -> None:
    from psycopg import sql

    _terminate(conn, template)
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    # FILE_COPY (PG 15+) copies files instead of WAL-logging every block: fastest for small
    # templates on a server with fsync off.
    strategy = sql.SQL(" STRATEGY FILE_COPY") if conn.info.server_version >= 150000 \
        else sql.SQL("")
    conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
        sql.Identifier(name), sql.Identifier(template), strategy))


def _close_sessions(conn: Any, name: str, timeout: float) -> None:
    """No session on `name`, and none can open: a database is renamed only when unused.
    pg_terminate_backend only signals; the sessions are waited for, with a deadline."""
    from psycopg import sql

    # One round trip for both: on a loaded machine every round trip costs a scheduling delay.
    conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false; "
                         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = {} AND pid <> pg_backend_pid()").format(
        sql.Identifier(name), sql.Literal(name)))
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT 1 FROM pg_stat_activity WHERE datname = %s AND "
                       "pid <> pg_backend_pid() LIMIT 1", (name,)).fetchone():
        if time.monotonic() > deadline:
            # Left as it was: the worker keeps its (used) database rather than none.
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                sql.Identifier(name)))
            raise ComposeGenError(f"sessions on database {name} did not end within "
                                  f"{timeout:.0f} s of being terminated")
        time.sleep(0.002)


@dataclass(frozen=True)
class Reset:
    """One reset: how long it blocked its caller, and whether a spare was swapped in."""

    seconds: float
    warm: bool


def warm_reset(url: str, template: str, name: str, *, timeout: float = 10) -> Reset:
    """Worker database `name` becomes a pristine copy of `template`: the ready spare swapped in
    atomically, or (no spare yet) a clone. The next spare is prepare_spare's job."""
    with _connect(url) as conn:
        return warm_reset_on(conn, template, name, timeout=timeout)


# The whole swap in one round trip (on a loaded machine each round trip costs milliseconds of
# scheduling delay): one transaction that takes the worker's lock (released at its end, also
# on error), refuses without a spare, ends the worker's sessions and waits for them
# (pg_terminate_backend's timeout, PG 14+), then renames the worker's database aside and the
# spare into its place. Any error rolls all of it back. reset.cjs sends the same block.
SWAP_SQL = """DO $compose_gen$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('compose-gen:' || {worker}, 0));
  IF NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = {spare}) THEN
    RAISE EXCEPTION 'compose-gen: no spare %', {spare} USING ERRCODE = 'P0002';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_database WHERE datname = {worker}) THEN
    PERFORM pg_terminate_backend(pid, {wait_ms}) FROM pg_stat_activity
      WHERE datname = {worker} AND pid <> pg_backend_pid();
    EXECUTE format('ALTER DATABASE %I RENAME TO %I', {worker}, {aside});
  END IF;
  EXECUTE format('ALTER DATABASE %I RENAME TO %I', {spare}, {worker});
END $compose_gen$"""


def warm_reset_on(conn: Any, template: str, name: str, *, timeout: float = 10) -> Reset:
    """warm_reset on an open admin connection (autocommit, maintenance database): what a
    long-lived client (a test worker) calls, without a connection's start per reset."""
    import psycopg
    from psycopg import sql

    started = time.perf_counter()
    spare = spare_name(name, template)
    if conn.info.server_version >= 140000:
        try:
            conn.execute(sql.SQL(SWAP_SQL).format(
                worker=sql.Literal(name), spare=sql.Literal(spare),
                aside=sql.Literal(aside_name(name)),
                wait_ms=sql.Literal(int(timeout * 1000))))
            return Reset(time.perf_counter() - started, warm=True)
        except psycopg.errors.NoDataFound:
            return Reset(clone_on(conn, template, name) + time.perf_counter() - started,
                         warm=False)
        except psycopg.errors.ObjectInUse:
            pass  # a session came back before the rename: the careful way below
    with _worker_lock(conn, name):
        row = conn.execute("SELECT count(*) FILTER (WHERE datname = %s), "
                           "count(*) FILTER (WHERE datname = %s) FROM pg_database",
                           (spare, name)).fetchone()
        if not row[0]:
            _clone_on(conn, template, name)
            return Reset(time.perf_counter() - started, warm=False)
        if row[1]:
            _close_sessions(conn, name, timeout)
            conn.execute(sql.SQL("BEGIN; ALTER DATABASE {} RENAME TO {}; "
                                 "ALTER DATABASE {} RENAME TO {}; COMMIT").format(
                sql.Identifier(name), sql.Identifier(aside_name(name)),
                sql.Identifier(spare), sql.Identifier(name)))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(spare), sql.Identifier(name)))
    return Reset(time.perf_counter() - started, warm=True)


def prepare_spare(url: str, template: str, name: str) -> float:
    """Drop what earlier swaps and templates left of worker `name`, and make its spare of
    `template` unless it is there; the seconds it took (off the test's clock)."""
    with _connect(url, timeout=30) as conn:
        return prepare_spare_on(conn, template, name)


def prepare_spare_on(conn: Any, template: str, name: str) -> float:
    """prepare_spare on an open admin connection."""
    from psycopg import sql

    started = time.perf_counter()
    with _worker_lock(conn, name):
        names = [row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()]
        for old in leftovers(names, name, template):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(old)))
        spare = spare_name(name, template)
        if spare not in names:
            _clone_on(conn, template, spare)
    return time.perf_counter() - started


def discard_spares(url: str, names: list[str]) -> None:
    """Drop every spare and set-aside database of the worker databases `names`."""
    from psycopg import sql

    with _connect(url) as conn:
        present = [row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()]
        for name in names:
            with _worker_lock(conn, name):
                for old in leftovers(present, name, None):
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(old)))
