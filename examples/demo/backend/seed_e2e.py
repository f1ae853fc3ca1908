"""Create the demo's schema and insert the three seed exams the end-to-end tests expect.

Reads DATABASE_URL from the environment. Meant to run once into an empty database
(compose-gen runs it into a template database, then clones that for every task):

    docker compose run --rm --no-deps -e DATABASE_URL=<url> backend python seed_e2e.py

Running it again is harmless: tables are created if missing and rows that are already
there (matched by title) are left alone.
"""

import os
import sys

import psycopg

SCHEMA = """
CREATE TABLE IF NOT EXISTS exams (
    id         serial PRIMARY KEY,
    title      text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS questions (
    id       serial PRIMARY KEY,
    exam_id  integer NOT NULL REFERENCES exams (id) ON DELETE CASCADE,
    position integer NOT NULL,
    body     text NOT NULL,
    UNIQUE (exam_id, position)
);
"""

# Non-ASCII on purpose: a cluster that is not UTF-8 shows up at once.
SEED_EXAMS = [
    ("Algebra I — midterm", ["Solve 2x + 3 = 11.", "Factor x² − 9."]),
    ("Organic Chemistry — final", ["Name CH₃CH₂OH.", "Draw benzene.", "What is a chiral centre?"]),
    ("World History — quiz", ["When did the Berlin Wall fall?"]),
]


def main() -> int:
    url = os.environ.get("DATABASE_URL")
    if not url:
        print("seed_e2e: DATABASE_URL is not set", file=sys.stderr)
        return 2
    exams_added = questions_added = 0
    with psycopg.connect(url, connect_timeout=10) as conn:  # one transaction, committed on exit
        database = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(SCHEMA)
        for title, questions in SEED_EXAMS:
            # Look up first rather than ON CONFLICT: a conflicting insert would still use up
            # a sequence value, and the first exam added by a test should get id 4.
            row = conn.execute("SELECT id FROM exams WHERE title = %s", (title,)).fetchone()
            if row is None:
                row = conn.execute(
                    "INSERT INTO exams (title) VALUES (%s) RETURNING id", (title,)
                ).fetchone()
                exams_added += 1
            exam_id = row[0]
            for position, body in enumerate(questions, start=1):
                cur = conn.execute(
                    "INSERT INTO questions (exam_id, position, body) VALUES (%s, %s, %s)"
                    " ON CONFLICT (exam_id, position) DO NOTHING",
                    (exam_id, position, body),
                )
                questions_added += cur.rowcount
        total = conn.execute("SELECT count(*) FROM exams").fetchone()[0]
    print(
        f"seed_e2e: database {database!r}: schema ready (exams, questions); "
        f"inserted {exams_added} exams and {questions_added} questions; {total} exams in total"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
