from pathlib import Path

import pytest
from django.core.management import call_command

from shape_b.core.models import Document

pytestmark = pytest.mark.django_db


def test_seed_writes_media_and_rows(settings, client):
    call_command("seed_e2e")
    call_command("seed_e2e")
    assert Document.objects.count() == 2
    assert (Path(settings.MEDIA_ROOT) / "documents" / "cover.png").read_bytes()[:4] == b"\x89PNG"
    for doc in client.get("/api/documents").json()["documents"]:
        response = client.get(doc["url"])
        assert response.status_code == 200
        b"".join(response.streaming_content)
        response.close()
