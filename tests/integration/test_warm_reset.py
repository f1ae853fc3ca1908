"""Warm clones on a real PostgreSQL 15 (the local image, data on tmpfs as compose-gen runs it):
a reset through a spare gives a database equal to the template, the worker's name never names
a missing or half-made database, other workers are untouched, a new template discards spares.

The server is a bare container, not a task stack: these are database.py's promises, and the
stack tests (test_stack.py) cover `compose-gen reset` end to end.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from compose_gen import database
from tests.integration.helpers import local_images

PASSWORD = "warm-test-pw"
ROWS = 2000


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The admin URL of a fresh PostgreSQL container, removed afterwards."""
    name = f"cg-warm-{uuid.uuid4().hex[:8]}"
    image = local_images()["DEMO_POSTGRES_IMAGE"]
    subprocess.run(["docker", "run", "-d", "--name", name, "--label", "dev.compose-gen.test=1",
                    "--tmpfs", "/var/lib/postgresql/data", "-e", f"POSTGRES_PASSWORD={PASSWORD}",
                    "-p", "127.0.0.1::5432", image], check=True, capture_output=True, timeout=120)
    try:
        port = subprocess.run(["docker", "port", name, "5432/tcp"], check=True, text=True,
                              capture_output=True, timeout=60).stdout.split(":")[-1].strip()
        url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
        database.wait_until_ready(url, timeout=120, what="the test's PostgreSQL")
        database.tune_for_tests(url)
        yield url
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120)


def seed(url: str, prefix: str, marker: str) -> str:
    """A template of ROWS rows plus a `done` row written last: a copy without it is half-made."""
    digest = database.seed_hash([marker.encode()])
    building = database.building_name(prefix, digest)
    database.create_empty(url, building)
    with psycopg.connect(database.with_database(url, building), autocommit=True) as conn:
        conn.execute("CREATE TABLE item (id serial PRIMARY KEY, label text)")
        conn.execute("INSERT INTO item (label) SELECT %s || i FROM generate_series(1, %s) i",
                     (marker, ROWS))
        conn.execute("CREATE TABLE done (marker text)")
        conn.execute("INSERT INTO done VALUES (%s)", (marker,))
    template = database.template_name(prefix, digest)
    database.finish_template(url, building, template)
    return template


def content(url: str, name: str) -> tuple[int, str | None, int]:
    """(rows, the done marker, the next id the sequence hands out) of database `name`."""
    with psycopg.connect(database.with_database(url, name), autocommit=True,
                         connect_timeout=10) as conn:
        rows = conn.execute("SELECT count(*) FROM item").fetchone()[0]
        marker = conn.execute("SELECT marker FROM done").fetchone()
        next_id = conn.execute("SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) "
                               "FROM item_id_seq").fetchone()[0]
    return rows, marker[0] if marker else None, next_id


def names(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:6]}"


def test_a_warm_reset_gives_the_template_back_and_leaves_other_workers_alone(
        server: str, prefix: str) -> None:
    template = seed(server, prefix, "v1")
    w0, w1 = f"{prefix}_w0", f"{prefix}_w1"
    for name in (w0, w1):
        database.clone(server, template, name)
    pristine = content(server, w0)
    assert pristine == (ROWS, "v1", ROWS + 1)

    # No spare yet: the reset clones (not warm); then the spare is made under its own name.
    assert database.warm_reset(server, template, w0).warm is False
    database.prepare_spare(server, template, w0)
    assert database.spare_name(w0, template) in names(server)

    other = psycopg.connect(database.with_database(server, w1), autocommit=True)
    session = psycopg.connect(database.with_database(server, w0), autocommit=True)
    try:
        session.execute("DELETE FROM item WHERE id <= 10")
        session.execute("INSERT INTO item (label) VALUES ('dirty')")
        other.execute("INSERT INTO item (label) VALUES ('w1 keeps this')")

        reset = database.warm_reset(server, template, w0)

        assert reset.warm is True
        assert content(server, w0) == pristine  # rows, marker and the sequence alike
        assert session.closed or _is_terminated(session)  # its session was ended
        other.execute("SELECT 1")  # w1's session lives on, its write is there
        assert content(server, w1)[0] == ROWS + 1
    finally:
        session.close()
        other.close()
    # The swap left the old database aside and no spare: prepare_spare tidies and refills.
    left = names(server)
    assert database.spare_name(w0, template) not in left
    assert [n for n in left if database.is_aside_of(n, w0)]
    database.prepare_spare(server, template, w0)
    left = names(server)
    assert not [n for n in left if database.is_aside_of(n, w0)]
    assert database.spare_name(w0, template) in left
    assert {w1} == {n for n in left if n.startswith(w1)}  # nothing of w0's work touched w1


def _is_terminated(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_the_workers_name_never_names_a_missing_or_half_made_database(
        server: str, prefix: str) -> None:
    template = seed(server, prefix, "v1")
    worker = f"{prefix}_w0"
    database.clone(server, template, worker)
    seen: list[object] = []
    stop = threading.Event()

    def watch() -> None:
        """Poll the worker's name as fast as possible while resets run."""
        with psycopg.connect(server, autocommit=True) as admin:
            while not stop.is_set():
                present = admin.execute("SELECT datallowconn FROM pg_database WHERE datname = %s",
                                        (worker,)).fetchone()
                if present is None:
                    seen.append("missing")
                    continue
                try:
                    seen.append(content(server, worker))
                except psycopg.OperationalError:
                    seen.append("closed")  # refused or terminated while being swapped

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        warm = 0
        for _ in range(6):
            database.prepare_spare(server, template, worker)
            warm += database.warm_reset(server, template, worker).warm
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert warm == 6
    contents = [s for s in seen if isinstance(s, tuple)]
    assert "missing" not in seen
    assert contents, seen[:5]
    assert set(contents) == {(ROWS, "v1", ROWS + 1)}, set(contents)


def test_a_changed_template_discards_the_spares_of_the_old_one(server: str, prefix: str) -> None:
    v1 = seed(server, prefix, "v1")
    worker = f"{prefix}_w0"
    database.clone(server, v1, worker)
    database.prepare_spare(server, v1, worker)
    old_spare = database.spare_name(worker, v1)
    assert old_spare in names(server)

    v2 = seed(server, prefix, "v2")
    # A reset against the new template never swaps in the old template's spare.
    assert database.warm_reset(server, v2, worker).warm is False
    assert content(server, worker)[1] == "v2"
    database.prepare_spare(server, v2, worker)
    left = names(server)
    assert old_spare not in left and database.spare_name(worker, v2) in left
    assert database.warm_reset(server, v2, worker).warm is True
    assert content(server, worker) == (ROWS, "v2", ROWS + 1)

    database.discard_spares(server, [worker])
    assert {n for n in names(server) if n.startswith(worker)} == {worker}
