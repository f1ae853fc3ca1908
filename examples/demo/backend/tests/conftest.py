"""Fixtures of the demo backend's suites: the app served in-process, once per xdist worker.

compose-gen's pytest plugin supplies the isolation: `compose_gen_worker` is this worker's own
database (cloned from the task's seeded template on first use, dropped at the end) and
`compose_gen_media_root` its own fresh media dir. The app reads its settings from module
globals, so each worker points its copy of the app at its own database and directory and
serves it on a free port of 127.0.0.1. Nothing here is shared between workers or tasks.

$DEMO_API_REPORT_DIR (optional): each worker writes `<worker>.json` there at the end, with its
database and exact row counts, so a caller can check the isolation from outside.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import app as demo_app
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SEED_EXAMS = 3  # what seed_e2e.py inserts: every worker database starts with exactly these


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self):  # noqa: ANN201 - whatever the endpoint answers
        return json.loads(self.body)


@dataclass
class Client:
    """A tiny HTTP client for the app (standard library only, never follows redirects)."""

    base_url: str

    def request(self, method: str, path: str, *, body: bytes | None = None,
                json_body: object = None, headers: dict[str, str] | None = None) -> Response:
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base_url + path, data=body, method=method,
                                     headers=headers)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=10) as resp:
                return Response(resp.status, resp.read(), dict(resp.headers))
        except urllib.error.HTTPError as err:
            return Response(err.code, err.read(), dict(err.headers))

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post_json(self, path: str, data: object) -> Response:
        return self.request("POST", path, json_body=data)

    def delete(self, path: str) -> Response:
        return self.request("DELETE", path)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


@pytest.fixture(scope="session")
def served_app(compose_gen_media_root: Path):
    """The app on a free port of 127.0.0.1, with this worker's media dir; no database yet."""
    demo_app.MEDIA_ROOT = compose_gen_media_root
    demo_app.DATABASE_URL = ""
    demo_app._redis = None  # the visit counter is not under test; keep Redis out
    server = ThreadingHTTPServer(("127.0.0.1", 0), demo_app.Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="demo-app", daemon=True)
    thread.start()
    try:
        yield Client(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Ledger:
    """What this worker did to its own database, to assert exact counts and ids.

    Any row another worker (or another task) wrote into this database would break the counts:
    that is the point of asserting them exactly.
    """

    database: str
    exams: int = SEED_EXAMS
    # The id the next INSERT gets: seed ids are 1..3; a failed INSERT (duplicate title) uses
    # up a sequence value too.
    next_id: int = SEED_EXAMS + 1
    inserted: int = 0
    deleted: int = 0
    titles: list[str] = field(default_factory=list)

    def created(self, title: str) -> int:
        exam_id = self.next_id
        self.next_id += 1
        self.exams += 1
        self.inserted += 1
        self.titles.append(title)
        return exam_id

    def rejected_duplicate(self) -> None:
        self.next_id += 1


@pytest.fixture(scope="session")
def api(served_app: Client, compose_gen_worker):
    """The served app on this worker's own database, and the ledger of what the worker did."""
    demo_app.DATABASE_URL = compose_gen_worker.database_url
    ledger = Ledger(database=compose_gen_worker.database)
    yield served_app, ledger
    final = served_app.get("/api/stats").json()
    report_dir = os.environ.get("DEMO_API_REPORT_DIR")
    if report_dir:
        report = {"worker_id": compose_gen_worker.worker_id, "task_id": compose_gen_worker.task_id,
                  "server_port": urllib.parse.urlsplit(compose_gen_worker.database_url).port,
                  "database": final["database"], "exams": final["exams"],
                  "expected_exams": ledger.exams, "inserted": ledger.inserted,
                  "deleted": ledger.deleted, "media_root": str(compose_gen_worker.media_root)}
        Path(report_dir, f"{compose_gen_worker.worker_id}.json").write_text(
            json.dumps(report, indent=2), encoding="utf-8")
    # Checked once more at the very end: a row written by anyone else shows up here.
    assert final["exams"] == ledger.exams, (
        f"worker {compose_gen_worker.worker_id} expected {ledger.exams} exams in "
        f"{ledger.database}, found {final['exams']}: another worker wrote into its database")
