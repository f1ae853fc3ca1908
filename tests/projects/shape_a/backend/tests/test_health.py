import pytest

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]


def test_index_answers(client):
    assert client.get("/").json()["app"] == "shape-a"


def test_health(client):
    assert client.get("/api/health").json() == {"ok": True}
