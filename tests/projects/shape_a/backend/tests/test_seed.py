import importlib.util
from pathlib import Path

import pytest
from core.models import Document

pytestmark = [pytest.mark.e2e, pytest.mark.django_db]

SEED = Path(__file__).resolve().parent.parent / "scripts" / "seed_e2e.py"


def load_seed():
    spec = importlib.util.spec_from_file_location("seed_e2e", SEED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_creates_users_and_files(settings):
    counts = load_seed().seed()
    assert counts == {"users": 3, "documents": 2}
    assert (Path(settings.MEDIA_ROOT) / "documents" / "page-001.png").read_bytes()[:4] == b"\x89PNG"


def test_seed_is_idempotent():
    seed = load_seed()
    seed.seed()
    assert seed.seed() == {"users": 3, "documents": 2}


def test_seeded_files_are_served(client):
    load_seed().seed()
    urls = [d["url"] for d in client.get("/api/documents").json()["documents"]]
    assert urls == ["/media/documents/page-001.png", "/media/documents/exam.pdf"]
    assert Document.objects.get(title="exam").kind == "pdf"
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content)
        response.close()
