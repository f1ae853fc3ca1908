import pytest
from core.models import Document

pytestmark = [pytest.mark.api, pytest.mark.django_db]


def test_empty_list(client):
    assert client.get("/api/documents").json() == {"documents": []}


def test_document_url_under_media(client):
    Document.objects.create(title="scan", file="documents/scan.png", kind="image")
    (doc,) = client.get("/api/documents").json()["documents"]
    assert doc["url"] == "/media/documents/scan.png"
