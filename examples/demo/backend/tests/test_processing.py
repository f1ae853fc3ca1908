"""Processing: files in this worker's own media dir (`-n 2 -m processing --dist loadscope`).

The fixture files in fixtures/media/ are read-only for everyone: each test works on copies in
`compose_gen_media_root`, a fresh directory whose path holds the task's slug and the xdist
worker id, so neither two workers nor two tasks ever touch the same file. Listings are
asserted exactly: a file dropped in by anyone else would fail them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from compose_gen.media import copy_files

pytestmark = pytest.mark.processing

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_FILES = sorted(p.name for p in (FIXTURES / "media").iterdir() if p.is_file())


@pytest.fixture
def media(served_app, compose_gen_media_root: Path):
    """This worker's media dir holding fresh copies of the fixture files; emptied afterwards."""
    _empty(compose_gen_media_root)
    copy_files(FIXTURES / "media", compose_gen_media_root)
    yield served_app, compose_gen_media_root
    _empty(compose_gen_media_root)


def _empty(directory: Path) -> None:
    for item in directory.iterdir():
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()


def _listing(client) -> list[str]:
    response = client.get("/api/uploads")
    assert response.status == 200
    return [entry["name"] for entry in response.json()]


class TestMediaIsolation:
    def test_the_media_dir_names_the_task_and_the_worker(self, compose_gen_media_root: Path
                                                         ) -> None:
        worker = os.environ["COMPOSE_GEN_WORKER_ID"]
        assert worker in compose_gen_media_root.name
        assert os.environ["COMPOSE_GEN_MEDIA_ROOT"] == str(compose_gen_media_root)
        project = os.environ["COMPOSE_PROJECT_NAME"]  # <prefix>-<task slug>, from .env.task
        assert compose_gen_media_root.parent.name == project

    def test_the_app_serves_exactly_the_copied_files(self, media) -> None:
        client, _ = media
        assert _listing(client) == FIXTURE_FILES

    def test_the_originals_are_never_written(self, media) -> None:
        client, root = media
        (root / "scan-001.txt").write_text("changed by this worker", encoding="utf-8")
        assert (FIXTURES / "media" / "scan-001.txt").read_text(encoding="utf-8") \
            .startswith("Algebra I")
        assert client.get("/api/uploads/scan-001.txt").body == b"changed by this worker"


class TestProcessing:
    def test_upload_adds_exactly_one_file(self, media) -> None:
        client, root = media
        response = client.request("POST", "/api/uploads?name=report.txt", body=b"3 exams\n")
        assert response.status == 201
        assert response.json() == {"uploaded": [{"name": "report.txt", "size": 8}]}
        assert _listing(client) == sorted([*FIXTURE_FILES, "report.txt"])
        assert (root / "report.txt").read_bytes() == b"3 exams\n"

    def test_download_returns_the_bytes_of_every_file(self, media) -> None:
        client, _ = media
        for name in FIXTURE_FILES:
            original = (FIXTURES / "media" / name).read_bytes()
            assert client.get(f"/api/uploads/{name}").body == original, name

    def test_a_checksum_manifest_covers_exactly_the_files(self, media) -> None:
        client, root = media
        manifest = {}
        for name in _listing(client):
            body = client.get(f"/api/uploads/{name}").body
            manifest[name] = hashlib.sha256(body).hexdigest()
        client.request("POST", "/api/uploads?name=manifest.json",
                       body=json.dumps(manifest).encode())
        assert sorted(manifest) == FIXTURE_FILES
        assert json.loads((root / "manifest.json").read_text()) == manifest

    def test_answers_are_parsed_from_the_csv(self, media) -> None:
        client, _ = media
        lines = client.get("/api/uploads/answers.csv").body.decode().splitlines()
        assert lines[0] == "exam,question,answer"
        assert len(lines) == 4

    def test_delete_removes_exactly_one_file(self, media) -> None:
        client, root = media
        assert client.delete("/api/uploads/stamp.png").status == 204
        assert _listing(client) == [n for n in FIXTURE_FILES if n != "stamp.png"]
        assert not (root / "stamp.png").exists()
        assert client.delete("/api/uploads/stamp.png").status == 404

    def test_a_png_is_served_as_an_image(self, media) -> None:
        client, _ = media
        response = client.get("/api/uploads/stamp.png")
        assert response.headers["Content-Type"] == "image/png"
        assert response.body.startswith(b"\x89PNG\r\n\x1a\n")
