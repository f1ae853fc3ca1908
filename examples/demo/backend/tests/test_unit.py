"""Unit-Fast: the app's pure functions. No database, no files, no network: `-n 8 -m unit`."""

from __future__ import annotations

import datetime as dt

import app as demo_app
import pytest

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("raw", "expected"), [
    ("notes.pdf", "notes.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\me\\scan.png", "scan.png"),
    (".hidden", "hidden"),
    ("...dots", "dots"),
    ("exam (final).txt", "exam _final_.txt"),
    ("café.txt", "caf_.txt"),
    ("  spaced  ", "spaced"),
    ("a" * 250, "a" * 200),
], ids=["plain", "traversal", "windows-path", "hidden", "leading-dots", "brackets",
        "non-ascii", "spaces", "too-long"])
def test_safe_name_keeps_a_plain_name_inside_media_root(raw: str, expected: str) -> None:
    assert demo_app.safe_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "../", "...", None],
                         ids=["empty", "blank", "only-dir", "only-dots", "none"])
def test_safe_name_refuses_names_that_reduce_to_nothing(raw: str | None) -> None:
    with pytest.raises(demo_app.HTTPError) as err:
        demo_app.safe_name(raw)
    assert err.value.status == 400


def test_parse_multipart_splits_fields_and_files() -> None:
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nAlgebra\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n--XyZ--\r\n")
    fields, files = demo_app.parse_multipart("multipart/form-data; boundary=XyZ", body)
    assert fields == {"title": "Algebra"}
    assert files == [("a.txt", b"line 1\r\nline 2")]


def test_parse_multipart_skips_an_empty_file_input() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\"\r\n\r\n"
            b"\r\n--b--\r\n")
    assert demo_app.parse_multipart("multipart/form-data; boundary=b", body) == ({}, [])


def test_parse_multipart_needs_a_boundary() -> None:
    with pytest.raises(demo_app.HTTPError, match="boundary"):
        demo_app.parse_multipart("multipart/form-data", b"")


def test_exam_json_is_what_the_api_returns() -> None:
    created = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    row = {"id": 7, "title": "Physics", "created_at": created, "questions": 2, "extra": "x"}
    assert demo_app.exam_json(row) == {"id": 7, "title": "Physics",
                                       "created_at": "2026-01-02T03:04:05+00:00", "questions": 2}


def _route(method: str, path: str) -> tuple[str, tuple[str, ...]] | None:
    for route_method, pattern, handler in demo_app.ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, match.groups()
    return None


@pytest.mark.parametrize(("method", "path", "handler", "args"), [
    ("GET", "/", "index", ()),
    ("GET", "/healthz", "healthz", ()),
    ("GET", "/api/exams", "api_list_exams", ()),
    ("GET", "/api/exams/", "api_list_exams", ()),
    ("POST", "/api/exams", "api_create_exam", ()),
    ("GET", "/api/exams/42", "api_get_exam", ("42",)),
    ("DELETE", "/api/exams/42", "api_delete_exam", ("42",)),
    ("POST", "/exams/3/delete", "form_delete_exam", ("3",)),
    ("GET", "/api/uploads/scan.png", "api_get_upload", ("scan.png",)),
    ("GET", "/api/stats", "api_stats", ()),
], ids=lambda value: value if isinstance(value, str) else None)
def test_routes_dispatch_to_their_handler(method: str, path: str, handler: str,
                                          args: tuple[str, ...]) -> None:
    assert _route(method, path) == (handler, args)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/exams/abc"), ("PUT", "/api/exams/1"), ("GET", "/nowhere"),
    ("GET", "/api/uploads/a/b"),
])
def test_routes_reject_what_the_app_does_not_serve(method: str, path: str) -> None:
    assert _route(method, path) is None


def test_every_route_names_an_existing_handler() -> None:
    for _method, _pattern, handler in demo_app.ROUTES:
        assert callable(getattr(demo_app.Handler, handler)), handler
