"""Postgres: server-wide behaviour of the task's PostgreSQL (`-n 1 -m postgres`).

These tests create and drop databases and look at the whole server (templates, settings, the
list of databases), so they run alone: with more workers, the other workers' databases would
show up in what they count. Each test that writes works on a scratch clone of the template.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from compose_gen import database

pytestmark = pytest.mark.postgres

BACKEND = Path(__file__).resolve().parent.parent


@pytest.fixture
def admin(compose_gen_worker) -> str:
    return database.with_database(compose_gen_worker.database_url, database.MAINTENANCE_DB)


@pytest.fixture
def template(admin: str) -> str:
    prefix = f"test_e2e{database.TEMPLATE_INFIX}"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datistemplate "
                            "AND datname LIKE %s", (prefix + "%",)).fetchall()
    assert len(rows) == 1, rows
    return rows[0][0]


@pytest.fixture
def scratch(admin: str, template: str, compose_gen_worker):
    """A private clone of the seeded template for one test, dropped afterwards."""
    name = f"{compose_gen_worker.database}_s"
    database.clone(admin, template, name)
    yield database.with_database(compose_gen_worker.database_url, name)
    database.drop(admin, [name])


def test_the_server_is_the_tasks_own(compose_gen_worker) -> None:
    with psycopg.connect(compose_gen_worker.database_url) as conn:
        port = conn.info.port
    assert str(port) == os.environ["POSTGRES_PORT"]


def test_the_template_is_frozen(admin: str, template: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute("SELECT datistemplate, datallowconn FROM pg_database "
                           "WHERE datname = %s", (template,)).fetchone()
    assert row == (True, False)


def test_only_this_workers_database_exists_for_this_run(admin: str, compose_gen_worker) -> None:
    run = re.sub(r"_(gw\d+|master)$", "", compose_gen_worker.database)
    ours = [name for name in database.list_databases(admin) if name.startswith(run + "_")]
    assert ours == [compose_gen_worker.database]


def test_the_server_runs_without_fsync(compose_gen_worker) -> None:
    with psycopg.connect(compose_gen_worker.database_url) as conn:
        assert conn.execute("SHOW fsync").fetchone() == ("off",)


def test_a_clone_has_exactly_the_seed(scratch: str) -> None:
    with psycopg.connect(scratch) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM exams), "
                              "(SELECT count(*) FROM questions)").fetchone()
    assert counts == (3, 6)


def test_running_the_seed_again_changes_nothing(scratch: str) -> None:
    result = subprocess.run([sys.executable, "seed_e2e.py"], cwd=BACKEND, capture_output=True,
                            text=True, env={**os.environ, "DATABASE_URL": scratch}, check=True)
    assert "inserted 0 exams and 0 questions; 3 exams in total" in result.stdout


def test_deleting_an_exam_deletes_its_questions(scratch: str) -> None:
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("DELETE FROM exams WHERE id = 2")
        left = conn.execute("SELECT count(*) FROM questions").fetchone()[0]
    assert left == 3


def test_titles_are_unique(scratch: str) -> None:
    with psycopg.connect(scratch, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute("INSERT INTO exams (title) VALUES ('World History — quiz')")
