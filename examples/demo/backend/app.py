"""The compose-gen demo backend: a small exam manager on PostgreSQL, Redis and a media dir.

Standard library HTTP server plus psycopg 3 (and the redis client), no framework.
Configuration comes from the environment:

    DATABASE_URL  postgresql://user:password@host:5432/dbname   (required)
    REDIS_URL     redis://host:6379/0                           (optional: page visit counter)
    MEDIA_ROOT    directory for uploaded files                   (default /app/media)
    PORT          port to listen on                              (default 8000)

The schema is created by seed_e2e.py, not here. Every request opens its own database
connection: correctness over speed. Endpoints are listed in ../README.md.
"""

import html
import json
import mimetypes
import os
import re
import signal
import sys
import urllib.parse
from email.parser import HeaderParser
from email.policy import HTTP as HTTP_POLICY
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

try:
    import redis
except ImportError:  # the visit counter is optional
    redis = None

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", "/app/media"))
PORT = int(os.environ.get("PORT", "8000"))
MAX_BODY = 20 * 1024 * 1024
VISITS_KEY = "demo:visits"

_redis = (
    redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    if (redis and REDIS_URL)
    else None
)


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --------------------------------------------------------------------------- data access


def db():
    if not DATABASE_URL:
        raise HTTPError(HTTPStatus.SERVICE_UNAVAILABLE, "DATABASE_URL is not set")
    return psycopg.connect(DATABASE_URL, autocommit=True, connect_timeout=5, row_factory=dict_row)


def exam_json(row):
    return {
        "id": row["id"],
        "title": row["title"],
        "created_at": row["created_at"].isoformat(),
        "questions": row["questions"],
    }


EXAMS_SQL = """
    SELECT e.id, e.title, e.created_at,
           (SELECT count(*) FROM questions q WHERE q.exam_id = e.id)::int AS questions
    FROM exams e
"""


def list_exams(conn=None):
    if conn is None:
        with db() as conn:
            return list_exams(conn)
    return [exam_json(r) for r in conn.execute(EXAMS_SQL + " ORDER BY e.id")]


def get_exam(exam_id):
    with db() as conn:
        row = conn.execute(EXAMS_SQL + " WHERE e.id = %s", (exam_id,)).fetchone()
    if row is None:
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no exam with id {exam_id}")
    return exam_json(row)


def create_exam(title):
    title = (title or "").strip()
    if not title:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "title is required")
    if len(title) > 200:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "title is longer than 200 characters")
    try:
        with db() as conn:
            row = conn.execute(
                "INSERT INTO exams (title) VALUES (%s) RETURNING id", (title,)
            ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise HTTPError(HTTPStatus.CONFLICT, f"an exam titled {title!r} already exists") from None
    return get_exam(row["id"])


def delete_exam(exam_id):
    with db() as conn:
        cur = conn.execute("DELETE FROM exams WHERE id = %s", (exam_id,))
    if cur.rowcount == 0:
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no exam with id {exam_id}")


def stats():
    with db() as conn:
        row = conn.execute(
            "SELECT count(*)::int AS exams, current_database() AS database FROM exams"
        ).fetchone()
    return {
        "exams": row["exams"],
        "uploads": len(list_uploads()),
        "database": row["database"],
        "media_root": str(MEDIA_ROOT),
    }


def count_visit():
    """Increment and return the page visit counter in Redis (None without Redis)."""
    if _redis is None:
        return None
    try:
        return int(_redis.incr(VISITS_KEY))
    except redis.RedisError:
        return None


def visits():
    if _redis is None:
        return None
    try:
        return int(_redis.get(VISITS_KEY) or 0)
    except redis.RedisError:
        return None


# --------------------------------------------------------------------------- media files

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_name(name):
    """A plain file name inside MEDIA_ROOT: no directories, no leading dots."""
    name = Path((name or "").replace("\\", "/")).name
    name = _UNSAFE.sub("_", name).strip().lstrip(".")
    if not name:
        raise HTTPError(
            HTTPStatus.BAD_REQUEST, "a file name is required (?name=... or a multipart filename)"
        )
    return name[:200]


def list_uploads():
    if not MEDIA_ROOT.is_dir():
        return []
    return [
        {"name": p.name, "size": p.stat().st_size}
        for p in sorted(MEDIA_ROOT.iterdir())
        if p.is_file() and not p.name.startswith(".")
    ]


def save_upload(name, data):
    name = safe_name(name)
    MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    tmp = MEDIA_ROOT / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(MEDIA_ROOT / name)
    return {"name": name, "size": len(data)}


def upload_path(name):
    path = MEDIA_ROOT / safe_name(name)
    if not path.is_file():
        raise HTTPError(HTTPStatus.NOT_FOUND, f"no upload named {name!r}")
    return path


def parse_multipart(content_type, body):
    """(fields, files) of a multipart/form-data body; files is a list of (filename, bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise HTTPError(HTTPStatus.BAD_REQUEST, "multipart body without a boundary")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields, files = {}, []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = HeaderParser(policy=HTTP_POLICY).parsestr(head.decode("utf-8", "replace"))
        field = headers.get_param("name", header="content-disposition")
        filename = headers.get_filename()
        if filename is not None:
            if filename:  # an empty file input sends filename=""
                files.append((filename, data))
        elif field:
            fields[field] = data.decode("utf-8", "replace")
    return fields, files


# --------------------------------------------------------------------------- HTML


def render_index(notice="", error=""):
    with db() as conn:
        exams = list_exams(conn)
        database = conn.execute("SELECT current_database() AS d").fetchone()["d"]
    uploads = list_uploads()
    count = count_visit()
    esc = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8"><title>compose-gen demo — exams</title>',
        "<style>body{font-family:sans-serif;max-width:46rem;margin:2rem auto}"
        "li{margin:.3rem 0}li form{display:inline}.error{color:#b00}.notice{color:#060}</style>",
        "</head><body>",
        '<h1 data-testid="page-title">Exams</h1>',
    ]
    if notice:
        parts.append(f'<p class="notice" role="status" data-testid="notice">{esc(notice)}</p>')
    if error:
        parts.append(f'<p class="error" role="alert" data-testid="error">{esc(error)}</p>')
    if exams:
        parts.append('<ul data-testid="exam-list">')
        for e in exams:
            title = esc(e["title"])
            parts.append(
                f'<li data-testid="exam-item" data-exam-id="{e["id"]}">'
                f'<span data-testid="exam-title">{title}</span> '
                f'(<span data-testid="exam-questions">{e["questions"]}</span> questions) '
                f'<form method="post" action="/exams/{e["id"]}/delete">'
                f'<button type="submit" data-testid="exam-delete" aria-label="Delete {title}">'
                "Delete</button></form></li>"
            )
        parts.append("</ul>")
    else:
        parts.append(
            '<ul data-testid="exam-list"></ul><p data-testid="exam-empty">No exams yet.</p>'
        )
    parts += [
        '<form method="post" action="/exams" data-testid="exam-form">',
        '<label>New exam <input name="title" required maxlength="200"'
        ' data-testid="exam-title-input"></label> ',
        '<button type="submit" data-testid="exam-submit">Add exam</button></form>',
        "<h2>Uploads</h2>",
        '<form method="post" action="/uploads" enctype="multipart/form-data"'
        ' data-testid="upload-form">',
        '<input type="file" name="file" required data-testid="upload-input"> ',
        '<button type="submit" data-testid="upload-submit">Upload</button></form>',
        '<ul data-testid="upload-list">',
    ]
    for u in uploads:
        href = "/api/uploads/" + urllib.parse.quote(u["name"])
        parts.append(
            f'<li data-testid="upload-item">'
            f'<a href="{esc(href)}" data-testid="upload-link">{esc(u["name"])}</a>'
            f' (<span data-testid="upload-size">{u["size"]}</span> bytes)</li>'
        )
    parts.append("</ul>")
    parts += [
        '<h2>Stats</h2><dl data-testid="stats">',
        f'<dt>Exams</dt><dd data-testid="stats-exams">{len(exams)}</dd>',
        f'<dt>Uploads</dt><dd data-testid="stats-uploads">{len(uploads)}</dd>',
        f'<dt>Database</dt><dd data-testid="stats-database">{esc(database)}</dd>',
        f'<dt>Media root</dt><dd data-testid="stats-media-root">{esc(str(MEDIA_ROOT))}</dd>',
        "<dt>Page visits (Redis)</dt>"
        f'<dd data-testid="stats-visits">{"n/a" if count is None else count}</dd>',
        "</dl></body></html>",
    ]
    return "\n".join(parts)


# --------------------------------------------------------------------------- HTTP

EXAM_ID = r"(\d+)"
ROUTES = [
    ("GET", r"/healthz", "healthz"),
    ("GET", r"/", "index"),
    ("POST", r"/exams", "form_create_exam"),
    ("POST", rf"/exams/{EXAM_ID}/delete", "form_delete_exam"),
    ("POST", r"/uploads", "form_upload"),
    ("GET", r"/api/exams", "api_list_exams"),
    ("POST", r"/api/exams", "api_create_exam"),
    ("GET", rf"/api/exams/{EXAM_ID}", "api_get_exam"),
    ("DELETE", rf"/api/exams/{EXAM_ID}", "api_delete_exam"),
    ("GET", r"/api/uploads", "api_list_uploads"),
    ("POST", r"/api/uploads", "api_upload"),
    ("GET", r"/api/uploads/([^/]+)", "api_get_upload"),
    ("DELETE", r"/api/uploads/([^/]+)", "api_delete_upload"),
    ("GET", r"/api/stats", "api_stats"),
    ("GET", r"/api/visits", "api_visits"),
]
ROUTES = [(m, re.compile(p + r"/?" if p != "/" else p), h) for m, p, h in ROUTES]


class Handler(BaseHTTPRequestHandler):
    server_version = "compose-gen-demo/1"

    # -- plumbing

    def _dispatch(self, method):
        self._body_read = False
        url = urllib.parse.urlsplit(self.path)
        self.query = urllib.parse.parse_qs(url.query)
        path = urllib.parse.unquote(url.path)
        allowed = []
        for m, pattern, handler in ROUTES:
            match = pattern.fullmatch(path)
            if match:
                if m == method:
                    return self._run(handler, *match.groups())
                allowed.append(m)
        self._drain()
        if allowed:
            return self.send_json(
                {"error": f"{method} not allowed"},
                HTTPStatus.METHOD_NOT_ALLOWED,
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        return self.send_json({"error": f"no route for {path}"}, HTTPStatus.NOT_FOUND)

    def _run(self, handler, *args):
        try:
            getattr(self, handler)(*args)
            return
        except HTTPError as e:
            self.send_error_json(e.message, e.status)
        except psycopg.errors.UndefinedTable as e:
            self.send_error_json(
                f"database schema missing ({e.diag.message_primary}): run `python seed_e2e.py`",
                HTTPStatus.SERVICE_UNAVAILABLE,
            )
        except psycopg.OperationalError as e:
            self.send_error_json(f"database unavailable: {e}", HTTPStatus.SERVICE_UNAVAILABLE)
        except Exception as e:  # keep serving; report the failure
            self.log_error("%s failed: %r", handler, e)
            self.send_error_json(f"internal error: {e!r}", HTTPStatus.INTERNAL_SERVER_ERROR)

    def send_error_json(self, error, status):
        self._drain()
        self.send_json({"error": error}, status)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_HEAD(self):
        self._dispatch("GET")

    def _drain(self):
        """Read an unread request body before answering, so the client can finish sending."""
        if getattr(self, "_body_read", False):
            return
        self._body_read = True
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)

    def read_body(self):
        self._body_read = True
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise HTTPError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body larger than {MAX_BODY} bytes"
            )
        return self.rfile.read(length) if length > 0 else b""

    def read_json(self):
        body = self.read_body()
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise HTTPError(HTTPStatus.BAD_REQUEST, "body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HTTPError(HTTPStatus.BAD_REQUEST, "expected a JSON object")
        return data

    def read_form(self):
        body = self.read_body().decode("utf-8", "replace")
        return {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}

    def send_bytes(self, body, content_type, status=HTTPStatus.OK, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, data, status=HTTPStatus.OK, headers=None):
        self.send_bytes(
            json.dumps(data, ensure_ascii=False).encode(),
            "application/json; charset=utf-8",
            status,
            headers,
        )

    def send_empty(self, status=HTTPStatus.NO_CONTENT):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def redirect_home(self, notice="", error=""):
        query = urllib.parse.urlencode(
            {k: v for k, v in (("notice", notice), ("error", error)) if v}
        )
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/" + ("?" + query if query else ""))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        if not self.path.startswith("/healthz"):  # the healthcheck polls every second
            super().log_message(fmt, *args)

    # -- pages and form posts (browser: POST, then 303 back to /)

    def healthz(self):
        try:
            with db() as conn:
                name = conn.execute("SELECT current_database() AS d").fetchone()["d"]
        except psycopg.Error as e:
            return self.send_json(
                {"status": "error", "error": str(e)}, HTTPStatus.SERVICE_UNAVAILABLE
            )
        self.send_json({"status": "ok", "database": name})

    def index(self):
        q = self.query
        page = render_index(notice=q.get("notice", [""])[0], error=q.get("error", [""])[0])
        self.send_bytes(page.encode(), "text/html; charset=utf-8")

    def form_create_exam(self):
        title = self.read_form().get("title", "")
        try:
            exam = create_exam(title)
        except HTTPError as e:
            return self.redirect_home(error=e.message)
        self.redirect_home(notice=f"Added exam {exam['title']!r}")

    def form_delete_exam(self, exam_id):
        self.read_body()
        try:
            delete_exam(int(exam_id))
        except HTTPError as e:
            return self.redirect_home(error=e.message)
        self.redirect_home(notice=f"Deleted exam {exam_id}")

    def form_upload(self):
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            self.read_body()
            return self.redirect_home(error="upload form must be multipart/form-data")
        _, files = parse_multipart(ctype, self.read_body())
        if not files:
            return self.redirect_home(error="choose a file to upload")
        try:
            saved = [save_upload(name, data) for name, data in files]
        except HTTPError as e:
            return self.redirect_home(error=e.message)
        self.redirect_home(notice="Uploaded " + ", ".join(f["name"] for f in saved))

    # -- JSON API

    def api_list_exams(self):
        self.send_json(list_exams())

    def api_create_exam(self):
        exam = create_exam(self.read_json().get("title"))
        self.send_json(exam, HTTPStatus.CREATED, headers={"Location": f"/api/exams/{exam['id']}"})

    def api_get_exam(self, exam_id):
        self.send_json(get_exam(int(exam_id)))

    def api_delete_exam(self, exam_id):
        self.read_body()
        delete_exam(int(exam_id))
        self.send_empty()

    def api_list_uploads(self):
        self.send_json(list_uploads())

    def api_upload(self):
        """Raw body with ?name=FILE, or multipart/form-data (every file part is stored)."""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            _, files = parse_multipart(ctype, self.read_body())
            if not files:
                raise HTTPError(HTTPStatus.BAD_REQUEST, "no file part in the multipart body")
        else:
            files = [(self.query.get("name", [""])[0], self.read_body())]
        self.send_json(
            {"uploaded": [save_upload(name, data) for name, data in files]}, HTTPStatus.CREATED
        )

    def api_get_upload(self, name):
        path = upload_path(name)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.send_bytes(path.read_bytes(), ctype)

    def api_delete_upload(self, name):
        self.read_body()
        upload_path(name).unlink()
        self.send_empty()

    def api_stats(self):
        self.send_json(stats())

    def api_visits(self):
        self.send_json({"visits": visits()})


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True

    # PID 1 in a container gets no default SIGTERM handling: exit promptly on `docker stop`.
    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    print(f"demo backend listening on :{PORT} (media: {MEDIA_ROOT})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
