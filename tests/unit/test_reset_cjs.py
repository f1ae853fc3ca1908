"""The Playwright fixture's direct reset (packages/playwright/reset.cjs) speaks the protocol of
compose_gen/database.py: the same spare and set-aside names, the same leftovers, the same
one-statement swap. Run with Node, on the pure functions (no server)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from compose_gen import database
from tests._support.paths import REPO

RESET_CJS = REPO / "packages" / "playwright" / "reset.cjs"
TEMPLATE = database.template_name("test_e2e", "0123456789abcdef" * 4)
OTHER = database.template_name("test_e2e", "fedcba9876543210" * 4)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node")


def node(script: str) -> object:
    """Run `script` with reset.cjs as `r` (and a fake client that quotes like pg's)."""
    prelude = f"""
const r = require({json.dumps(str(RESET_CJS))});
const client = {{
  escapeLiteral: (s) => "'" + s.replace(/'/g, "''") + "'",
  escapeIdentifier: (s) => '"' + s.replace(/"/g, '""') + '"',
}};
"""
    out = subprocess.run(["node", "-e", prelude + f"console.log(JSON.stringify({script}))"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_spare_names_and_digests_agree() -> None:
    for worker in ("test_e2e_w0", "test_e2e_w11"):
        for template in (TEMPLATE, OTHER):
            assert node(f"r.spareName({json.dumps(worker)}, {json.dumps(template)})") == \
                database.spare_name(worker, template)
    assert node(f"r.templateDigest({json.dumps(TEMPLATE)})") == database.template_digest(TEMPLATE)


def test_leftovers_agree() -> None:
    names = ["postgres", TEMPLATE, "test_e2e_w1", "test_e2e_w11",
             database.spare_name("test_e2e_w1", TEMPLATE),
             database.spare_name("test_e2e_w1", OTHER), database.aside_name("test_e2e_w1"),
             database.spare_name("test_e2e_w11", OTHER), database.aside_name("test_e2e_w11"),
             "test_e2e_w1_s0123", "test_e2e_w1_oXYZXYZXY"]
    for template in (TEMPLATE, None):
        got = node(f"r.leftovers({json.dumps(names)}, 'test_e2e_w1', {json.dumps(template)})")
        assert got == database.leftovers(names, "test_e2e_w1", template)


def test_the_swap_is_the_same_statement() -> None:
    from psycopg import sql

    worker, spare, aside = "test_e2e_w0", database.spare_name("test_e2e_w0", TEMPLATE), \
        "test_e2e_w0_o0a1b2c3d"
    expected = sql.SQL(database.SWAP_SQL).format(
        worker=sql.Literal(worker), spare=sql.Literal(spare), aside=sql.Literal(aside),
        wait_ms=sql.Literal(10_000)).as_string(None)
    got = node(f"r.swapSql(client, {json.dumps(worker)}, {json.dumps(spare)}, "
               f"{json.dumps(aside)})")
    assert " ".join(str(got).split()) == " ".join(expected.split())


def test_the_admin_url_is_the_workers_on_the_maintenance_database() -> None:
    url = "postgresql://app:p%40ss@127.0.0.1:21140/test_e2e_w1"
    assert node(f"r.adminUrl({json.dumps(url)})") == \
        database.with_database(url, database.MAINTENANCE_DB)
