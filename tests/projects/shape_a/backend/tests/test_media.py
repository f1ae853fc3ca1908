from pathlib import Path

import pytest

pytestmark = [pytest.mark.api, pytest.mark.django_db]


def test_media_file_is_served(client, settings):
    target = Path(settings.MEDIA_ROOT) / "documents" / "hello.txt"
    target.parent.mkdir(parents=True)
    target.write_text("hello", encoding="utf-8")
    response = client.get("/media/documents/hello.txt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"
    response.close()


def test_missing_media_is_404(client):
    assert client.get("/media/documents/nothing.png").status_code == 404


def test_media_root_is_per_test(settings, tmp_path):
    assert Path(settings.MEDIA_ROOT).is_relative_to(tmp_path)
