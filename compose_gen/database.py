"""The one door to PostgreSQL (psycopg): readiness, the seeded template, per-worker clones.

Admin work always connects to the `postgres` maintenance database, never to the template:
`CREATE DATABASE ... TEMPLATE t` fails (55006) while any session is connected to t.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
            conn.execute(script)  # type: ignore[arg-type] - a trusted project file
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
    from psycopg import sql

    started = time.perf_counter()
    with _connect(url) as conn:
        version = conn.info.server_version
        _terminate(conn, template)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        # FILE_COPY (PG 15+) copies files instead of WAL-logging every block: fastest for
        # small templates on a server with fsync off.
        strategy = sql.SQL(" STRATEGY FILE_COPY") if version >= 150000 else sql.SQL("")
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}{}").format(
            sql.Identifier(name), sql.Identifier(template), strategy))
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
